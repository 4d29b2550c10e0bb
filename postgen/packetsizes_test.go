package postgen

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// The model gave the UDP packets the large lengths and the TCP segments
// the small ones, where the real chunk's TCP segments are the large
// packets: the TCP packets take the large real lengths, the UDP ones the
// small, each in the model's order, and the block holds the chunk's
// lengths.
func TestCalibratePacketSizes(t *testing.T) {
	var ps []trace.Packet
	for i := range 10 {
		ps = append(ps, trace.Packet{Proto: trace.ProtoTCP, Len: uint16(40 + i)}) // small, rising
		ps = append(ps, trace.Packet{Proto: trace.ProtoUDP, Len: uint16(1000 + 10*i)})
	}
	ps = append(ps, trace.Packet{Proto: trace.ProtoICMP, Len: 84}) // no knots of its own
	knots := encoding.PacketSizes{
		All: logKnots(60, 60, 1500), // half of the 21 small, half large
		ByProto: map[uint8][]float64{
			trace.ProtoTCP: logKnots(1400, 1500),
			trace.ProtoUDP: logKnots(60, 80),
		},
	}
	if n := CalibratePacketSizes(knots, nil, 0, ps, rand.New(rand.NewPCG(1, 2))); n != len(ps) {
		t.Errorf("%d packets changed length, want all %d", n, len(ps))
	}
	var tcp, udp []uint16
	for _, p := range ps {
		switch p.Proto {
		case trace.ProtoTCP:
			tcp = append(tcp, p.Len)
		case trace.ProtoUDP:
			udp = append(udp, p.Len)
		}
	}
	if !slices.IsSorted(tcp) {
		t.Errorf("TCP lengths %v: want the model's order kept", tcp)
	}
	if slices.Min(tcp) <= slices.Max(udp) {
		t.Errorf("TCP lengths %v, UDP %v: want every TCP segment larger", tcp, udp)
	}
	// The block's lengths are the chunk's quantiles (r + ½)/n of All.
	var got, want []uint16
	for r := range ps {
		got = append(got, ps[r].Len)
		want = append(want, uint16(encoding.At(knots.All, (float64(r)+0.5)/float64(len(ps)))))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("lengths %v, want the chunk's %v", got, want)
	}
	// The ICMP packet, of a protocol without knots, ranks by its own 84
	// bytes among the UDP packets' provisional 60-80 and the TCP ones'
	// 1,400-1,500: above every UDP packet, below every TCP one.
	icmp := ps[len(ps)-1].Len
	if icmp < slices.Max(udp) || icmp > slices.Min(tcp) {
		t.Errorf("ICMP length %d, UDP up to %d, TCP from %d", icmp, slices.Max(udp), slices.Min(tcp))
	}
}

// Without knots nothing changes.
func TestCalibratePacketSizesWithoutKnots(t *testing.T) {
	ps := []trace.Packet{{Proto: trace.ProtoTCP, Len: 40}, {Proto: trace.ProtoUDP, Len: 1000}}
	for _, k := range []encoding.PacketSizes{{}, {All: logKnots(60, 1500)}, {ByProto: map[uint8][]float64{trace.ProtoTCP: logKnots(1500, 1500)}}} {
		if n := CalibratePacketSizes(k, nil, 0, ps, rand.New(rand.NewPCG(1, 2))); n != 0 || ps[0].Len != 40 || ps[1].Len != 1000 {
			t.Errorf("knots %+v: %d changed, lengths %d, %d", k, n, ps[0].Len, ps[1].Len)
		}
	}
}

// Within a protocol, the services' packets are ordered as the real ones:
// the model gave the SSH session's packets the small lengths and the
// telnet scan's SYNs the large ones; the SSH packets take the protocol's
// large lengths, the SYNs its small ones, and the protocol keeps its
// lengths. A chunk the counts do not hold is ordered by protocol alone.
func TestCalibratePacketSizesByService(t *testing.T) {
	mk := func() []trace.Packet {
		var ps []trace.Packet
		for i := range 20 {
			ps = append(ps, trace.Packet{Proto: trace.ProtoTCP, DstPort: 22, Len: uint16(40 + i)})
			ps = append(ps, trace.Packet{Proto: trace.ProtoTCP, DstPort: 23, Len: uint16(1000 + i)})
		}
		return ps
	}
	knots := encoding.PacketSizes{
		All:     logKnots(40, 1500),
		ByProto: map[uint8][]float64{trace.ProtoTCP: logKnots(40, 1500)},
	}
	svc := NewPortPacketSizes(2)
	var real []trace.Packet
	for range 20 {
		real = append(real, trace.Packet{Proto: trace.ProtoTCP, DstPort: 22, Len: 1400}, trace.Packet{Proto: trace.ProtoTCP, DstPort: 23, Len: 44})
	}
	real = append(real, trace.Packet{Proto: trace.ProtoUDP, DstPort: 53, Len: 60}) // too few for knots
	for i := range real {
		svc.Add(&real[i])
	}
	svc.Knots(0, 16)
	if len(svc.Chunks[0][trace.ProtoTCP]) != 2 || svc.Chunks[0][trace.ProtoUDP] != nil {
		t.Fatalf("chunk 0's knots %v: want TCP to ports 22 and 23 alone", svc.Chunks[0])
	}
	mean := func(ps []trace.Packet, port uint16) float64 {
		s, n := 0.0, 0.0
		for _, p := range ps {
			if p.DstPort == port {
				s, n = s+float64(p.Len), n+1
			}
		}
		return s / n
	}
	ps := mk()
	CalibratePacketSizes(knots, svc, 0, ps, rand.New(rand.NewPCG(1, 2)))
	if ssh, telnet := mean(ps, 22), mean(ps, 23); ssh <= telnet {
		t.Errorf("mean lengths: SSH %.0f, telnet %.0f; want the SSH packets the larger", ssh, telnet)
	}
	var got, want []uint16
	for r, p := range ps {
		got = append(got, p.Len)
		want = append(want, uint16(encoding.At(knots.All, (float64(r)+0.5)/float64(len(ps)))))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("lengths %v, want the chunk's %v", got, want)
	}
	// Chunk 1 holds no counts: the model's order within the protocol.
	ps = mk()
	CalibratePacketSizes(knots, svc, 1, ps, rand.New(rand.NewPCG(1, 2)))
	if ssh, telnet := mean(ps, 22), mean(ps, 23); ssh >= telnet {
		t.Errorf("chunk without counts: SSH %.0f, telnet %.0f; want the model's order", ssh, telnet)
	}
}
