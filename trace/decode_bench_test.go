package trace

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decodeBenchFrames are Ethernet frames of TCP, UDP and ICMP packets.
func decodeBenchFrames() [][]byte {
	var frames [][]byte
	for i := 0; i < 1024; i++ {
		p := Packet{Src: uint32(i), Dst: uint32(i * 7), SrcPort: uint16(i), DstPort: 443, Proto: ProtoTCP, Len: 1500, TTL: 64}
		switch i % 3 {
		case 1:
			p.Proto = ProtoUDP
		case 2:
			p.Proto, p.SrcPort, p.DstPort = ProtoICMP, 0, 8<<8
		}
		frames = append(frames, AppendPacketHeaders(append(make([]byte, 12), 0x08, 0x00), &p))
	}
	return frames
}

// BenchmarkDecodeFrame is the hand-written header decoder the readers use.
func BenchmarkDecodeFrame(b *testing.B) {
	frames := decodeBenchFrames()
	var p Packet
	i := 0
	for b.Loop() {
		if r, _ := decodeFrame(LinkEthernet, frames[i&1023], &p); r != "" {
			b.Fatal(r)
		}
		i++
	}
}

// BenchmarkDecodeGopacketDLP decodes the same frames with gopacket's
// DecodingLayerParser into preallocated layers, the fastest gopacket path,
// copying the same fields out; kept to justify the choice of decoder.
func BenchmarkDecodeGopacketDLP(b *testing.B) {
	frames := decodeBenchFrames()
	var (
		eth  layers.Ethernet
		dot1 layers.Dot1Q
		ip4  layers.IPv4
		tcp  layers.TCP
		udp  layers.UDP
		icmp layers.ICMPv4
		pl   gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1, &ip4, &tcp, &udp, &icmp, &pl)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	var p Packet
	i := 0
	for b.Loop() {
		if err := parser.DecodeLayers(frames[i&1023], &decoded); err != nil {
			b.Fatal(err)
		}
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeIPv4:
				p.Src = uint32(ip4.SrcIP[0])<<24 | uint32(ip4.SrcIP[1])<<16 | uint32(ip4.SrcIP[2])<<8 | uint32(ip4.SrcIP[3])
				p.Dst = uint32(ip4.DstIP[0])<<24 | uint32(ip4.DstIP[1])<<16 | uint32(ip4.DstIP[2])<<8 | uint32(ip4.DstIP[3])
				p.Proto, p.Len, p.TOS, p.ID, p.TTL = uint8(ip4.Protocol), ip4.Length, ip4.TOS, ip4.Id, ip4.TTL
				p.Flags, p.FragOff = uint8(ip4.Flags), ip4.FragOffset
			case layers.LayerTypeTCP:
				p.SrcPort, p.DstPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
			case layers.LayerTypeUDP:
				p.SrcPort, p.DstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
			case layers.LayerTypeICMPv4:
				p.DstPort = uint16(icmp.TypeCode)
			}
		}
		i++
	}
}
