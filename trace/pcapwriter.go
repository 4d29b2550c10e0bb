package trace

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netshare-go/netshare/internal/atomicfile"
)

// PcapOptions control the pcap writer.
type PcapOptions struct {
	// ZeroPayload writes each packet in full, the bytes after the headers
	// being zeros, instead of the headers only. The headers (and their
	// checksums) are the same either way. Zeros are not a valid message of
	// every upper protocol (IP in IP, IGMP, SCTP, DHCP, ...), so tshark's
	// dissectors may call such payloads malformed; the header-only file,
	// the default, opens cleanly whatever the records hold.
	ZeroPayload bool
}

// PcapWriter writes packets as a libpcap file (microsecond timestamps,
// link type 101, raw IP: each record is an IPv4 packet with no link-layer
// header). Each packet gets a well-formed IPv4 header from every Packet
// field (TOS, ID, flags, fragment offset, TTL) and, unless it is a non-first
// fragment, a TCP (20 bytes), UDP (8 bytes) or ICMP (8 bytes) header; other
// protocols get the IPv4 header only. Only the headers are captured: the
// record's original length is the IP total length (Packet.Len, raised to the
// header size when smaller), and the TCP, UDP and ICMP checksums are those of
// the whole packet with a zero payload, so they verify against the full
// packet a capture of the headers stands for.
//
// TCP headers carry Packet.TCPFlags, a 65535-byte window, and sequence and
// acknowledgement numbers that the writer keeps per connection over the
// packets written, as the two ends would (see tcpSeq); ICMP headers take
// type and code from DstPort (type*256+code) with a zero rest-of-header.
type PcapWriter struct {
	pw  *pcapgo.Writer
	opt PcapOptions
	buf []byte
	n   int64
	tcp tcpSeq
}

// pcapSnapLen is the snapshot length written in the file header.
const pcapSnapLen = 65535

// NewPcapWriter writes a pcap file header to w and returns a packet writer.
func NewPcapWriter(w io.Writer, opt PcapOptions) (*PcapWriter, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkTypeRaw); err != nil {
		return nil, err
	}
	return &PcapWriter{pw: pw, opt: opt, buf: make([]byte, 0, 1<<16)}, nil
}

// Count returns the number of packets written.
func (w *PcapWriter) Count() int64 { return w.n }

// Write writes one packet.
func (w *PcapWriter) Write(p *Packet) error {
	if p.TS < 0 || p.TS/1_000_000 > 0xffffffff {
		return fmt.Errorf("packet %s: timestamp %d µs does not fit a pcap file", p.Key(), p.TS)
	}
	var h tcpHeader
	if p.Proto == ProtoTCP && p.FragOff == 0 {
		h = w.tcp.next(p)
	}
	b := appendHeaders(w.buf[:0], p, h)
	total := int(binary.BigEndian.Uint16(b[2:]))
	if w.opt.ZeroPayload {
		for len(b) < total {
			b = append(b, 0)
		}
	}
	w.buf = b
	ci := gopacket.CaptureInfo{Timestamp: time.UnixMicro(p.TS), CaptureLength: len(b), Length: total}
	if err := w.pw.WritePacket(ci, b); err != nil {
		return err
	}
	w.n++
	return nil
}

// l4HeaderLen is the transport header length the writer emits for p,
// a TCP segment's with options of h.opt bytes.
func l4HeaderLen(p *Packet, h tcpHeader) int {
	if p.FragOff != 0 {
		return 0
	}
	switch p.Proto {
	case ProtoTCP:
		return 20 + h.opt
	case ProtoUDP, ProtoICMP:
		return 8
	}
	return 0
}

// tcpOptionLen is the length of the options the writer gives TCP segment
// p: none, except in a SYN, whose bytes past the two 20-byte headers are
// options (up to 40 bytes, in whole 4-byte words), as a real SYN's are
// (MSS, window scale, SACK permitted, timestamps), not data. Counted as
// data, they made each SYN carry 4 to 20 bytes that its SYN-ACK then
// acknowledged, which protocol analysers take for TCP Fast Open.
func tcpOptionLen(p *Packet) int {
	if p.TCPFlags&TCPSyn == 0 {
		return 0
	}
	return min(40, max(0, int(p.Len)-40)&^3)
}

// synOption are the options of a Linux SYN, in its order: maximum segment
// size 1460, SACK permitted, timestamps (values filled in), a
// no-operation and window scale 7.
var synOption = [][]byte{{2, 4, 1460 >> 8, 1460 & 0xff}, {4, 2}, {8, 10, 0, 0, 0, 0, 0, 0, 0, 0}, {1}, {3, 3, 7}}

// synTimestampLen is the shortest SYN options that hold the timestamps
// (synOptions): a SYN with fewer bytes of options offers none, as a
// Windows SYN (12 bytes) does not, and a Linux (20) or macOS (24) one does.
const synTimestampLen = 16

// synOptions fills opt (a SYN's options, whole words) with those of
// synOption that fit, in order, the timestamps with tsVal and tsEcr, and
// ends the list with end-of-options and zeros where it is longer.
func synOptions(opt []byte, tsVal, tsEcr uint32) {
	n := 0
	for _, o := range synOption {
		if n+len(o) <= len(opt) {
			if o[0] == 8 {
				timestamps(opt[n:], tsVal, tsEcr)
			} else {
				copy(opt[n:], o)
			}
			n += len(o)
		}
	}
	clear(opt[n:]) // 0 is end-of-options, then padding
}

// timestamps writes the timestamps option (10 bytes) at the start of b.
func timestamps(b []byte, tsVal, tsEcr uint32) {
	b[0], b[1] = 8, 10
	binary.BigEndian.PutUint32(b[2:], tsVal)
	binary.BigEndian.PutUint32(b[6:], tsEcr)
}

// AppendPacketHeaders appends p's IPv4 header and transport header (see
// [PcapWriter]) with correct checksums. A TCP header gets sequence and
// acknowledgement numbers 0: numbering them takes the connection's earlier
// packets, which the PcapWriter keeps; a SYN gets options, with zero
// timestamps, and other segments none.
func AppendPacketHeaders(b []byte, p *Packet) []byte {
	var h tcpHeader
	if p.Proto == ProtoTCP {
		h.opt = tcpOptionLen(p)
	}
	return appendHeaders(b, p, h)
}

// appendHeaders is AppendPacketHeaders with a TCP segment's header fields
// h (unused for other protocols).
func appendHeaders(b []byte, p *Packet, h tcpHeader) []byte {
	l4n := l4HeaderLen(p, h)
	hdr := 20 + l4n
	total := int(p.Len)
	if total < hdr {
		total = hdr
	}
	start := len(b)
	b = append(b, make([]byte, hdr)...)
	ip := b[start : start+20]
	ip[0] = 0x45
	ip[1] = p.TOS
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	binary.BigEndian.PutUint16(ip[4:], p.ID)
	binary.BigEndian.PutUint16(ip[6:], uint16(p.Flags&7)<<13|p.FragOff&0x1fff)
	ip[8] = p.TTL
	ip[9] = p.Proto
	binary.BigEndian.PutUint32(ip[12:], p.Src)
	binary.BigEndian.PutUint32(ip[16:], p.Dst)
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(ip, 0)))
	if l4n == 0 {
		return b
	}
	l4 := b[start+20 : start+hdr]
	l4len := total - 20 // the transport segment's length, payload included
	switch p.Proto {
	case ProtoTCP:
		binary.BigEndian.PutUint16(l4[0:], p.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], p.DstPort)
		binary.BigEndian.PutUint32(l4[4:], h.seq)
		binary.BigEndian.PutUint32(l4[8:], h.ack)
		l4[12] = byte(l4n/4) << 4
		if opt := l4[20:]; p.TCPFlags&TCPSyn != 0 {
			synOptions(opt, h.tsVal, h.tsEcr)
		} else if len(opt) == tcpTimestampLen {
			opt[0], opt[1] = 1, 1 // no-operations, so the values align
			timestamps(opt[2:], h.tsVal, h.tsEcr)
		}
		l4[13] = p.TCPFlags
		binary.BigEndian.PutUint16(l4[14:], 65535)
		binary.BigEndian.PutUint16(l4[16:], ^fold(sum16(l4, pseudoSum(p, l4len))))
	case ProtoUDP:
		binary.BigEndian.PutUint16(l4[0:], p.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], p.DstPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len))
		c := ^fold(sum16(l4, pseudoSum(p, l4len)))
		if c == 0 {
			c = 0xffff // 0 means "no checksum" in UDP
		}
		binary.BigEndian.PutUint16(l4[6:], c)
	case ProtoICMP:
		l4[0] = byte(p.DstPort >> 8)
		l4[1] = byte(p.DstPort)
		binary.BigEndian.PutUint16(l4[2:], ^fold(sum16(l4, 0)))
	}
	return b
}

// pseudoSum is the one's-complement sum of the IPv4 pseudo-header.
func pseudoSum(p *Packet, l4len int) uint32 {
	return p.Src>>16 + p.Src&0xffff + p.Dst>>16 + p.Dst&0xffff + uint32(p.Proto) + uint32(l4len)
}

// sum16 adds b's big-endian 16-bit words to s (b has even length).
func sum16(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	return s
}

// fold folds a 32-bit one's-complement sum into 16 bits.
func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// WritePcapFile atomically writes packets to path as a pcap file.
func WritePcapFile(path string, packets []Packet, opt PcapOptions) error {
	return WritePcapFileFunc(path, opt, func(w *PcapWriter) error {
		for i := range packets {
			if err := w.Write(&packets[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// WritePcapFileFunc atomically writes a pcap file to path with whatever
// fill writes, streaming: path is replaced only when fill returns nil.
func WritePcapFileFunc(path string, opt PcapOptions, fill func(w *PcapWriter) error) error {
	return atomicfile.Write(path, 0o644, func(out io.Writer) error {
		pw, err := NewPcapWriter(out, opt)
		if err != nil {
			return err
		}
		return fill(pw)
	})
}
