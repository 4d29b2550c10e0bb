// Package protocol checks that packets and flow records obey the protocols
// their headers name: valid protocol numbers, ports only where the protocol
// has them, defined ICMP types, plausible addresses, IP lengths that hold the
// headers, consistent fragment fields, legal TCP flag combinations and, within
// a flow, time order, a stable TTL, advancing IP ids and TCP flags in
// handshake order. For flow records: packets, bytes and duration consistent
// with one another.
//
// [Packets] and [Flows] measure one trace; [Compare] puts the real and the
// synthetic trace's figures side by side. Every check is named and defined in
// docs/metrics.md ("Protocol validity"). Everything is one pass over the
// records (packet traces keep one small state per 5-tuple).
//
// [RepairPackets] and [RepairFlows] rewrite synthetic records so that they
// pass the checks while keeping each field's marginal distribution as far as
// the repair allows (see their documentation).
package protocol

import "github.com/netshare-go/netshare/trace"

// Check describes one protocol check.
type Check struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Check names.
const (
	CheckProto        = "proto_valid"
	CheckPorts        = "ports"
	CheckICMP         = "icmp_type"
	CheckSrcAddr      = "src_addr"
	CheckDstAddr      = "dst_addr"
	CheckIPLength     = "ip_length"
	CheckMTU          = "mtu"
	CheckFragment     = "fragment"
	CheckTTL          = "ttl"
	CheckTCPFlags     = "tcp_flags"
	CheckTimeOrder    = "time_order"
	CheckTTLStable    = "ttl_stable"
	CheckIPID         = "ip_id"
	CheckTCPOrder     = "tcp_order"
	CheckFlowPackets  = "flow_packets"
	CheckFlowBytes    = "flow_bytes"
	CheckFlowDuration = "flow_duration"
	CheckAddrDistinct = "addr_distinct"
	CheckSYNLength    = "syn_length"
)

// Limits used by the checks.
const (
	// MTU is the largest IP total length the mtu check accepts: a jumbo
	// frame's payload.
	MTU = 9000
	// TTLSpread is how far a packet's TTL may lie from the first TTL of its
	// flow.
	TTLSpread = 2
	// IDStep is the largest forward step (modulo 2^16) of the IP id from
	// one packet of a flow to the next.
	IDStep = 2048
	// SYNMaxLen is the largest IP total length of a SYN the syn_length
	// check accepts: the IPv4 and TCP headers with 40 bytes of options,
	// the most TCP allows. A longer SYN carries data, which only TCP Fast
	// Open sends.
	SYNMaxLen = 80
)

// Bits of a failure mask; the order is that of packetChecks and flowChecks.
const (
	bProto = 1 << iota
	bPorts
	bICMP
	bSrcAddr
	bDstAddr
	bIPLength
	bMTU
	bFragment
	bTTL
	bTCPFlags
	bTimeOrder
	bTTLStable
	bIPID
	bTCPOrder
	bFlowPackets
	bFlowBytes
	bFlowDuration
	bAddrDistinct
	bSYNLength
)

type checkDef struct {
	Check
	bit uint32
}

var (
	defProto    = checkDef{Check{CheckProto, "IP protocol number assigned by IANA and valid in IPv4"}, bProto}
	defPorts    = checkDef{Check{CheckPorts, "TCP/UDP ports nonzero; ICMP source port and other protocols' ports zero"}, bPorts}
	defICMP     = checkDef{Check{CheckICMP, "ICMP type and code defined"}, bICMP}
	defSrcAddr  = checkDef{Check{CheckSrcAddr, "source not in 0/8, 127/8, multicast 224/4 or reserved 240/4 (broadcast)"}, bSrcAddr}
	defDstAddr  = checkDef{Check{CheckDstAddr, "destination not in 0/8 or 127/8"}, bDstAddr}
	defTCPFlags = checkDef{Check{CheckTCPFlags, "legal TCP flag combination; no TCP flags on other protocols"}, bTCPFlags}
	// Last in both lists but for syn_length after it: pre-processing
	// records a real trace's failures by position, and runs recorded
	// before a check existed keep their order.
	defAddrDistinct = checkDef{Check{CheckAddrDistinct, "source and destination addresses differ (a packet to itself is a LAND attack)"}, bAddrDistinct}

	packetChecks = []checkDef{
		defProto, defPorts, defICMP, defSrcAddr, defDstAddr,
		{Check{CheckIPLength, "IP total length at least the IP and transport headers (20 + 20 TCP, 8 UDP or ICMP)"}, bIPLength},
		{Check{CheckMTU, "IP total length at most 9000 (jumbo frame)"}, bMTU},
		{Check{CheckFragment, "fragment fields consistent: reserved bit clear, no DF on a fragment, MF fragments carry a multiple of 8 bytes, end within 65535"}, bFragment},
		{Check{CheckTTL, "TTL nonzero"}, bTTL},
		defTCPFlags,
		{Check{CheckTimeOrder, "timestamp not before the previous packet of its flow"}, bTimeOrder},
		{Check{CheckTTLStable, "TTL within 2 of the first TTL of its flow"}, bTTLStable},
		{Check{CheckIPID, "IP id unchanged or a forward step below 2048 (mod 65536) from the previous packet of its flow"}, bIPID},
		{Check{CheckTCPOrder, "TCP: no SYN after a packet without SYN, nothing but RST after a RST"}, bTCPOrder},
		defAddrDistinct,
		{Check{CheckSYNLength, "a TCP SYN that is not a fragment has an IP total length of at most 80 (headers and options: no data)"}, bSYNLength},
	}
	flowChecks = []checkDef{
		defProto, defPorts, defICMP, defSrcAddr, defDstAddr, defTCPFlags,
		{Check{CheckFlowPackets, "at least one packet"}, bFlowPackets},
		{Check{CheckFlowBytes, "bytes between packets × minimal header length and packets × 65535"}, bFlowBytes},
		{Check{CheckFlowDuration, "duration not negative, and zero for a single packet"}, bFlowDuration},
		defAddrDistinct,
	}
)

// PacketChecks lists the checks applied to packet traces, in report order.
func PacketChecks() []Check { return publicChecks(packetChecks) }

// FlowChecks lists the checks applied to flow traces, in report order.
func FlowChecks() []Check { return publicChecks(flowChecks) }

func publicChecks(defs []checkDef) []Check {
	out := make([]Check, len(defs))
	for i, d := range defs {
		out[i] = d.Check
	}
	return out
}

// ipv6Only are protocol numbers that name IPv6 extension headers or ICMPv6
// and have no meaning in an IPv4 header (0 is the IPv6 hop-by-hop header).
var ipv6Only = [256]bool{0: true, 43: true, 44: true, 58: true, 59: true, 60: true}

func protoValid(p uint8) bool {
	// 1-145 are assigned, 146-252 unassigned, 253-254 experimental, 255
	// reserved.
	return (p <= 145 || p == 253 || p == 254) && !ipv6Only[p]
}

// hasPorts reports whether records of protocol p carry ports in this record
// model (TCP and UDP).
func hasPorts(p uint8) bool { return p == trace.ProtoTCP || p == trace.ProtoUDP }

// portsExempt are protocols with ports that the packet decoder does not
// read (SCTP, DCCP, UDP-Lite): their port fields are not checked.
func portsExempt(p uint8) bool { return p == 132 || p == 33 || p == 136 }

// icmpMaxCode maps each defined ICMP type to its largest defined code.
var icmpMaxCode = map[uint8]uint8{
	0: 0, 3: 15, 4: 0, 5: 3, 8: 0, 9: 16, 10: 0, 11: 1, 12: 2, 13: 0, 14: 0,
	15: 0, 16: 0, 17: 0, 18: 0, 30: 0, 40: 5, 42: 0, 43: 4,
}

func icmpValid(dstPort uint16) bool {
	m, ok := icmpMaxCode[uint8(dstPort>>8)]
	return ok && uint8(dstPort) <= m
}

// SrcAddrValid reports whether a passes the src_addr check.
func SrcAddrValid(a uint32) bool {
	top := a >> 24
	return top != 0 && top != 127 && top < 224
}

// DstAddrValid reports whether a passes the dst_addr check.
func DstAddrValid(a uint32) bool {
	top := a >> 24
	return top != 0 && top != 127
}

// minHeader is the smallest IP total length of an unfragmented (or first
// fragment) packet of protocol p: the IPv4 header and the transport header.
func minHeader(p uint8) int {
	switch p {
	case trace.ProtoTCP:
		return 40
	case trace.ProtoUDP, trace.ProtoICMP:
		return 28
	}
	return 20
}

// tcpFlagsValid reports whether f is a flag combination a TCP segment may
// carry: not empty, not SYN with FIN or RST, and ACK on every segment but a
// bare SYN and a RST.
func tcpFlagsValid(f uint8) bool {
	syn, fin, rst, ack := f&trace.TCPSyn != 0, f&trace.TCPFin != 0, f&trace.TCPRst != 0, f&trace.TCPAck != 0
	switch {
	case f == 0, syn && (fin || rst):
		return false
	case syn, rst:
		return true
	}
	return ack
}

// tcpFlowFlagsValid is the flow-record version: the union of a flow's
// flags. Zero passes (many flow formats carry no flags); without ACK only
// SYN and RST (and the ECN bits of a SYN) may appear.
func tcpFlowFlagsValid(f uint8) bool {
	if f == 0 || f&trace.TCPAck != 0 {
		return true
	}
	return f&^(trace.TCPSyn|trace.TCPRst|trace.TCPEce|trace.TCPCwr) == 0
}

// commonFailures are the checks shared by packets and flow records.
func commonFailures(k trace.Key, fragment bool) uint32 {
	var m uint32
	if !protoValid(k.Proto) {
		m |= bProto
	}
	switch {
	case hasPorts(k.Proto):
		if fragment {
			if k.SrcPort != 0 || k.DstPort != 0 {
				m |= bPorts
			}
		} else if k.SrcPort == 0 || k.DstPort == 0 {
			m |= bPorts
		}
	case k.Proto == trace.ProtoICMP:
		if k.SrcPort != 0 {
			m |= bPorts
		}
		if !fragment && !icmpValid(k.DstPort) {
			m |= bICMP
		}
	case !portsExempt(k.Proto):
		if k.SrcPort != 0 || k.DstPort != 0 {
			m |= bPorts
		}
	}
	if !SrcAddrValid(k.Src) {
		m |= bSrcAddr
	}
	if !DstAddrValid(k.Dst) {
		m |= bDstAddr
	}
	if k.Src == k.Dst {
		m |= bAddrDistinct
	}
	return m
}

// plainSYN reports whether p is a TCP SYN (or SYN-ACK) that is not a
// fragment.
func plainSYN(p *trace.Packet) bool {
	return p.Proto == trace.ProtoTCP && p.TCPFlags&trace.TCPSyn != 0 && p.FragOff == 0 && p.Flags&1 == 0
}

// synTooLong reports whether p is a SYN, not a fragment, longer than
// SYNMaxLen.
func synTooLong(p *trace.Packet) bool { return plainSYN(p) && int(p.Len) > SYNMaxLen }

// packetFailures returns the checks p fails on its own (without the
// context of its flow).
func packetFailures(p *trace.Packet) uint32 {
	frag := p.FragOff != 0
	m := commonFailures(p.Key(), frag)
	l := int(p.Len)
	if frag {
		if l < 20 {
			m |= bIPLength
		}
	} else if l < minHeader(p.Proto) {
		m |= bIPLength
	}
	if l > MTU {
		m |= bMTU
	}
	df, mf := p.Flags&2 != 0, p.Flags&1 != 0
	switch {
	case p.Flags&4 != 0, p.Flags > 7, df && (mf || frag),
		mf && (l <= 20 || (l-20)%8 != 0),
		int(p.FragOff)*8+l-20 > 65535:
		m |= bFragment
	}
	if p.TTL == 0 {
		m |= bTTL
	}
	if p.Proto == trace.ProtoTCP && !frag {
		if !tcpFlagsValid(p.TCPFlags) {
			m |= bTCPFlags
		}
		if synTooLong(p) {
			m |= bSYNLength
		}
	} else if p.TCPFlags != 0 {
		m |= bTCPFlags
	}
	return m
}

// flowState is what the flow checks remember of a 5-tuple.
type flowState struct {
	lastTS   int64
	firstTTL uint8
	lastID   uint16
	nonSyn   bool // a TCP packet without SYN has been seen
	rst      bool // a RST has been seen
	failed   uint32
	packets  int64
}

// next returns the flow checks p fails given its flow's state, and updates
// the state; first is true for the flow's first packet.
func (s *flowState) next(p *trace.Packet, first bool) uint32 {
	var m uint32
	if first {
		s.firstTTL, s.lastTS, s.lastID = p.TTL, p.TS, p.ID
	} else {
		if p.TS < s.lastTS {
			m |= bTimeOrder
		}
		if d := int(p.TTL) - int(s.firstTTL); d > TTLSpread || d < -TTLSpread {
			m |= bTTLStable
		}
		if step := p.ID - s.lastID; step >= IDStep {
			m |= bIPID
		}
		s.lastTS = max(s.lastTS, p.TS)
		s.lastID = p.ID
	}
	if p.Proto == trace.ProtoTCP && p.FragOff == 0 {
		syn, rst := p.TCPFlags&trace.TCPSyn != 0, p.TCPFlags&trace.TCPRst != 0
		if (syn && s.nonSyn) || (s.rst && !rst) {
			m |= bTCPOrder
		}
		s.nonSyn = s.nonSyn || !syn
		s.rst = s.rst || rst
	}
	return m
}

// flowFailures returns the checks flow record f fails.
func flowFailures(f *trace.Flow) uint32 {
	m := commonFailures(f.Key(), false)
	if f.Proto == trace.ProtoTCP {
		if !tcpFlowFlagsValid(f.TCPFlags) {
			m |= bTCPFlags
		}
	} else if f.TCPFlags != 0 {
		m |= bTCPFlags
	}
	if f.Packets == 0 {
		m |= bFlowPackets
	}
	// Bytes within [packets × header, packets × 65535]; the products are
	// compared without overflow.
	if h := uint64(minHeader(f.Proto)); f.Packets > 0 && (f.Bytes/h < f.Packets || (f.Bytes-1)/65535 >= f.Packets) {
		m |= bFlowBytes
	}
	if f.Dur < 0 || (f.Packets == 1 && f.Dur != 0) {
		m |= bFlowDuration
	}
	return m
}
