package trace

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netshare-go/netshare/internal/splitmix"
)

// IP protocol numbers used throughout netshare.
const (
	ProtoICMP = 1
	ProtoIPIP = 4
	ProtoTCP  = 6
	ProtoUDP  = 17
	ProtoIPv6 = 41
	ProtoRSVP = 46
	ProtoGRE  = 47
	ProtoESP  = 50
)

// TCP flag bits, as in the TCP header's flags byte.
const (
	TCPFin = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
)

// Key is a flow's 5-tuple. IPv4 addresses are held as uint32 in network
// order of significance (a.b.c.d is a<<24|b<<16|c<<8|d), as NetShare does.
type Key struct {
	Src, Dst         uint32
	SrcPort, DstPort uint16
	Proto            uint8
}

// String renders the key as "src:sport>dst:dport/proto".
func (k Key) String() string {
	return fmt.Sprintf("%s:%d>%s:%d/%s", IPString(k.Src), k.SrcPort, IPString(k.Dst), k.DstPort, ProtoName(k.Proto))
}

// Connection returns the key of k's connection, the two directions of a
// 5-tuple together (the one with the lower address, then port, as
// source), and k's direction in it: 0 when k is that key, 1 when it is
// the reverse.
func (k Key) Connection() (Key, int) {
	if k.Src < k.Dst || (k.Src == k.Dst && k.SrcPort <= k.DstPort) {
		return k, 0
	}
	return Key{Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort, Proto: k.Proto}, 1
}

// Uniform is a number in [0, 1), uniform over seeds and keys, fixed by
// the seed and the key: a draw that every record of one flow shares.
func (k Key) Uniform(seed uint64) float64 {
	h := seed ^ 0x9e3779b97f4a7c15
	h = splitmix.Mix(h ^ uint64(k.Src)<<32 ^ uint64(k.Dst))
	h = splitmix.Mix(h ^ uint64(k.SrcPort)<<24 ^ uint64(k.DstPort)<<8 ^ uint64(k.Proto))
	return float64(h>>11) / (1 << 53)
}

// Packet is one IPv4 packet header. TS is in microseconds since the Unix
// epoch. For ICMP, SrcPort is 0 and DstPort is type*256+code (the NetFlow
// convention); for protocols without ports both are 0.
type Packet struct {
	TS               int64
	Src, Dst         uint32
	SrcPort, DstPort uint16
	Proto            uint8
	Len              uint16 // IP total length in bytes
	TOS              uint8
	ID               uint16
	Flags            uint8  // the 3 IP flag bits (bit 1 = DF, bit 0 = MF)
	FragOff          uint16 // 13-bit fragment offset, in 8-byte units
	TTL              uint8
	TCPFlags         uint8
}

// Key returns the packet's 5-tuple.
func (p *Packet) Key() Key {
	return Key{Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort, Proto: p.Proto}
}

// Time returns the packet's timestamp in microseconds since the epoch.
func (p *Packet) Time() int64 { return p.TS }

// Flow is one unidirectional flow record. Start and Dur are in microseconds.
type Flow struct {
	Start            int64
	Dur              int64
	Src, Dst         uint32
	SrcPort, DstPort uint16
	Proto            uint8
	Packets          uint64
	Bytes            uint64
	TCPFlags         uint8
	TOS              uint8
	Fwd              uint8 // NetFlow forwarding status, kept for UGR16 round trips
	Label            string
}

// Key returns the flow's 5-tuple.
func (f *Flow) Key() Key {
	return Key{Src: f.Src, Dst: f.Dst, SrcPort: f.SrcPort, DstPort: f.DstPort, Proto: f.Proto}
}

// Time returns the flow's start in microseconds since the epoch.
func (f *Flow) Time() int64 { return f.Start }

// End returns the flow's end in microseconds since the epoch.
func (f *Flow) End() int64 { return f.Start + f.Dur }

// Kind says whether a trace holds packets or flow records.
type Kind int

const (
	KindPackets Kind = iota + 1
	KindFlows
)

func (k Kind) String() string {
	switch k {
	case KindPackets:
		return "packets"
	case KindFlows:
		return "flows"
	}
	return "unknown"
}

// ParseKind parses a kind's name: "packets" or "flows".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "packets":
		return KindPackets, nil
	case "flows":
		return KindFlows, nil
	}
	return 0, fmt.Errorf("unknown trace kind %q (want packets or flows)", s)
}

// MarshalText writes the kind's name; the zero Kind (not known yet) is
// written as the empty string.
func (k Kind) MarshalText() ([]byte, error) {
	switch k {
	case 0:
		return nil, nil
	case KindPackets, KindFlows:
		return []byte(k.String()), nil
	}
	return nil, fmt.Errorf("unknown trace kind %d", int(k))
}

// UnmarshalText reads a kind's name, or the empty string as the zero Kind.
func (k *Kind) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*k = 0
		return nil
	}
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// IPString formats a uint32 IPv4 address as dotted quad.
func IPString(a uint32) string {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
}

// ParseIPv4 parses a dotted-quad IPv4 address into its uint32 form. IPv6
// addresses (including IPv4-mapped ones) are rejected with ErrIPv6.
func ParseIPv4(s string) (uint32, error) {
	if v, ok := parseDottedQuad(s); ok {
		return v, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return 0, fmt.Errorf("invalid IP address %q", s)
	}
	if !a.Is4() {
		return 0, ErrIPv6
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// parseDottedQuad parses the dotted quads netip.ParseAddr takes (four
// decimal octets of at most 255, without leading zeros) without its
// generality; ok is false for anything else.
func parseDottedQuad(s string) (v uint32, ok bool) {
	var oct, digits, dots int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && oct == 0 {
				return 0, false // a leading zero
			}
			oct = oct*10 + int(c-'0')
			digits++
			if oct > 255 {
				return 0, false
			}
		case c == '.' && digits > 0 && dots < 3:
			v = v<<8 | uint32(oct)
			oct, digits = 0, 0
			dots++
		default:
			return 0, false
		}
	}
	if dots != 3 || digits == 0 {
		return 0, false
	}
	return v<<8 | uint32(oct), true
}

var protoNames = map[uint8]string{
	ProtoICMP: "ICMP", ProtoIPIP: "IPIP", ProtoTCP: "TCP", ProtoUDP: "UDP",
	ProtoIPv6: "IPv6", ProtoRSVP: "RSVP", ProtoGRE: "GRE", ProtoESP: "ESP",
	2: "IGMP", 51: "AH", 58: "ICMP6", 89: "OSPF", 103: "PIM", 132: "SCTP",
}

var protoNumbers = func() map[string]uint8 {
	m := make(map[string]uint8, len(protoNames)+2)
	for n, s := range protoNames {
		m[strings.ToUpper(s)] = n
	}
	m["IPV6-ICMP"] = 58
	m["IPINIP"] = ProtoIPIP
	return m
}()

// ProtoName returns the conventional upper-case name of an IP protocol
// number ("TCP", "UDP", ...), or the number itself as a decimal string.
func ProtoName(p uint8) string {
	if s, ok := protoNames[p]; ok {
		return s
	}
	return strconv.Itoa(int(p))
}

// ParseProto parses a protocol given by name (case-insensitive) or by
// number (0-255).
func ParseProto(s string) (uint8, error) {
	switch s { // the common names, without a map look-up
	case "TCP", "tcp":
		return ProtoTCP, nil
	case "UDP", "udp":
		return ProtoUDP, nil
	case "ICMP", "icmp":
		return ProtoICMP, nil
	}
	s = strings.TrimSpace(s)
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		if n, err := strconv.ParseUint(s, 10, 8); err == nil {
			return uint8(n), nil
		}
	} else if p, ok := protoNumbers[s]; ok {
		return p, nil
	}
	if p, ok := protoNumbers[strings.ToUpper(s)]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}
