package protocol

import (
	"math"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

const (
	addrA = 10<<24 | 1                   // 10.0.0.1
	addrB = 192<<24 | 168<<16 | 1<<8 | 2 // 192.168.1.2
)

// goodTCP is a packet that passes every check.
func goodTCP() trace.Packet {
	return trace.Packet{TS: 1_000_000, Src: addrA, Dst: addrB, SrcPort: 40000, DstPort: 443, Proto: trace.ProtoTCP,
		Len: 52, ID: 100, Flags: 2, TTL: 64, TCPFlags: trace.TCPAck}
}

func goodFlow() trace.Flow {
	return trace.Flow{Start: 1_000_000, Dur: 2_000, Src: addrA, Dst: addrB, SrcPort: 40000, DstPort: 443, Proto: trace.ProtoTCP,
		Packets: 3, Bytes: 300, TCPFlags: trace.TCPSyn | trace.TCPAck | trace.TCPFin}
}

func TestPacketChecksEach(t *testing.T) {
	if m := packetFailures(ptr(goodTCP())); m != 0 {
		t.Fatalf("good packet fails %v", failedNames(packetChecks, m))
	}
	mod := func(f func(p *trace.Packet)) trace.Packet { p := goodTCP(); f(&p); return p }
	cases := []struct {
		name string
		p    trace.Packet
	}{
		{CheckProto, mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = 200, 0, 0, 0 })},
		{CheckProto, mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = 58, 0, 0, 0 })}, // ICMPv6 in IPv4
		{CheckProto, mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = 0, 0, 0, 0 })},
		{CheckPorts, mod(func(p *trace.Packet) { p.SrcPort = 0 })},
		{CheckPorts, mod(func(p *trace.Packet) { p.Proto, p.DstPort, p.TCPFlags = trace.ProtoUDP, 0, 0 })},
		{CheckPorts, mod(func(p *trace.Packet) { p.Proto, p.DstPort, p.TCPFlags = trace.ProtoICMP, 8<<8, 0 })}, // ICMP source port
		{CheckPorts, mod(func(p *trace.Packet) { p.Proto, p.TCPFlags = trace.ProtoGRE, 0 })},
		{CheckPorts, mod(func(p *trace.Packet) { p.Flags, p.FragOff, p.TCPFlags = 0, 100, 0 })}, // later fragment with ports
		{CheckICMP, mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = trace.ProtoICMP, 0, 7<<8, 0 })},
		{CheckICMP, mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = trace.ProtoICMP, 0, 3<<8|16, 0 })},
		{CheckSrcAddr, mod(func(p *trace.Packet) { p.Src = 0 })},
		{CheckSrcAddr, mod(func(p *trace.Packet) { p.Src = 0xffffffff })},
		{CheckSrcAddr, mod(func(p *trace.Packet) { p.Src = 224<<24 | 5 })},
		{CheckSrcAddr, mod(func(p *trace.Packet) { p.Src = 127<<24 | 1 })},
		{CheckDstAddr, mod(func(p *trace.Packet) { p.Dst = 0 })},
		{CheckDstAddr, mod(func(p *trace.Packet) { p.Dst = 127<<24 | 1 })},
		{CheckAddrDistinct, mod(func(p *trace.Packet) { p.Dst = p.Src })},
		{CheckIPLength, mod(func(p *trace.Packet) { p.Len = 39 })},
		{CheckIPLength, mod(func(p *trace.Packet) { p.Len = 0 })},
		{CheckIPLength, mod(func(p *trace.Packet) { p.Proto, p.DstPort, p.TCPFlags, p.Len = trace.ProtoUDP, 53, 0, 27 })},
		{CheckMTU, mod(func(p *trace.Packet) { p.Len = 9001 })},
		{CheckFragment, mod(func(p *trace.Packet) { p.Flags = 4 })},             // reserved bit
		{CheckFragment, mod(func(p *trace.Packet) { p.Flags = 3; p.Len = 60 })}, // DF and MF
		{CheckFragment, mod(func(p *trace.Packet) { p.Flags = 1; p.Len = 61 })}, // MF, payload not a multiple of 8
		{CheckFragment, mod(func(p *trace.Packet) { p.Flags = 9 })},             // beyond the 3 flag bits
		{CheckTTL, mod(func(p *trace.Packet) { p.TTL = 0 })},
		{CheckTCPFlags, mod(func(p *trace.Packet) { p.TCPFlags = 0 })},
		{CheckTCPFlags, mod(func(p *trace.Packet) { p.TCPFlags = trace.TCPSyn | trace.TCPFin })},
		{CheckTCPFlags, mod(func(p *trace.Packet) { p.TCPFlags = trace.TCPSyn | trace.TCPRst | trace.TCPAck })},
		{CheckTCPFlags, mod(func(p *trace.Packet) { p.TCPFlags = trace.TCPFin | trace.TCPPsh | trace.TCPUrg })}, // Xmas
		{CheckTCPFlags, mod(func(p *trace.Packet) { p.Proto, p.DstPort = trace.ProtoUDP, 53 })},                 // flags on UDP
		{CheckSYNLength, mod(func(p *trace.Packet) { p.TCPFlags, p.Len = trace.TCPSyn, 81 })},
		{CheckSYNLength, mod(func(p *trace.Packet) { p.TCPFlags, p.Len = trace.TCPSyn|trace.TCPAck, 1500 })},
	}
	for i, c := range cases {
		got := failedNames(packetChecks, packetFailures(&c.p))
		if !slices.Equal(got, []string{c.name}) {
			t.Errorf("case %d (%s): %+v fails %v", i, c.name, c.p, got)
		}
	}
	// Valid variants pass.
	for i, p := range []trace.Packet{
		mod(func(p *trace.Packet) {
			p.Proto, p.SrcPort, p.DstPort, p.TCPFlags, p.Len = trace.ProtoICMP, 0, 3<<8|3, 0, 56
		}),
		mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags, p.Len = trace.ProtoGRE, 0, 0, 0, 20 }),
		mod(func(p *trace.Packet) { p.Proto, p.DstPort, p.TCPFlags, p.Len = trace.ProtoUDP, 53, 0, 28 }),
		mod(func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = 132, 5000, 6000, 0 }), // SCTP keeps its ports
		mod(func(p *trace.Packet) { p.TCPFlags = trace.TCPSyn }),
		mod(func(p *trace.Packet) { p.TCPFlags = trace.TCPRst }),
		mod(func(p *trace.Packet) { p.TCPFlags = trace.TCPFin | trace.TCPAck }),
		mod(func(p *trace.Packet) { p.Flags, p.Len = 1, 1500 }), // first fragment
		mod(func(p *trace.Packet) { p.TCPFlags, p.Len = trace.TCPSyn, 80 }),
		mod(func(p *trace.Packet) { p.TCPFlags, p.Len = trace.TCPSyn|trace.TCPAck, 60 }),
		mod(func(p *trace.Packet) { p.TCPFlags, p.Flags, p.Len = trace.TCPSyn, 1, 1500 }), // a SYN's first fragment
		mod(func(p *trace.Packet) {
			p.Flags, p.FragOff, p.SrcPort, p.DstPort, p.TCPFlags, p.Len = 0, 185, 0, 0, 0, 21
		}), // last fragment
		mod(func(p *trace.Packet) { p.Src = 223<<24 | 1 }),
		mod(func(p *trace.Packet) { p.Dst = 224<<24 | 1 }), // multicast destination is fine
	} {
		if m := packetFailures(&p); m != 0 {
			t.Errorf("valid variant %d %+v fails %v", i, p, failedNames(packetChecks, m))
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestFlowContextChecks(t *testing.T) {
	run := func(pkts []trace.Packet) []string {
		var st flowState
		var m uint32
		for i := range pkts {
			m |= st.next(&pkts[i], i == 0)
		}
		return failedNames(packetChecks, m)
	}
	seq := func(n int, f func(i int, p *trace.Packet)) []trace.Packet {
		out := make([]trace.Packet, n)
		for i := range out {
			out[i] = goodTCP()
			out[i].TS += int64(i) * 10
			out[i].ID += uint16(i)
			f(i, &out[i])
		}
		return out
	}
	cases := []struct {
		want []string
		pkts []trace.Packet
	}{
		{nil, seq(4, func(i int, p *trace.Packet) {})},
		{nil, seq(4, func(i int, p *trace.Packet) { p.ID = 0 })},                            // constant id
		{nil, seq(4, func(i int, p *trace.Packet) { p.ID = 65534 + uint16(i) })},            // wraps
		{nil, seq(4, func(i int, p *trace.Packet) { p.TTL = 64 - uint8(i%3) })},             // near-constant TTL
		{nil, seq(3, func(i int, p *trace.Packet) { p.TCPFlags = []uint8{2, 2, 16}[i] })},   // SYN retransmitted, then ACK
		{nil, seq(3, func(i int, p *trace.Packet) { p.TCPFlags = []uint8{18, 16, 17}[i] })}, // SYN-ACK, ACK, FIN-ACK
		{nil, seq(3, func(i int, p *trace.Packet) { p.TCPFlags = []uint8{16, 4, 20}[i] })},  // RSTs after a RST
		{[]string{CheckTimeOrder}, seq(3, func(i int, p *trace.Packet) { p.TS -= int64(i) * 20 })},
		{[]string{CheckTTLStable}, seq(3, func(i int, p *trace.Packet) { p.TTL = 64 + 3*uint8(i) })},
		{[]string{CheckIPID}, seq(3, func(i int, p *trace.Packet) { p.ID = 100 - uint16(i) })},                 // backwards
		{[]string{CheckIPID}, seq(3, func(i int, p *trace.Packet) { p.ID = uint16(i) * IDStep })},              // big jumps
		{[]string{CheckTCPOrder}, seq(3, func(i int, p *trace.Packet) { p.TCPFlags = []uint8{16, 2, 16}[i] })}, // SYN mid-flow
		{[]string{CheckTCPOrder}, seq(3, func(i int, p *trace.Packet) { p.TCPFlags = []uint8{16, 4, 16}[i] })}, // data after RST
	}
	for i, c := range cases {
		if got := run(c.pkts); !slices.Equal(got, c.want) {
			t.Errorf("case %d: fails %v, want %v", i, got, c.want)
		}
	}
}

func TestFlowRecordChecksEach(t *testing.T) {
	if m := flowFailures(ptr(goodFlow())); m != 0 {
		t.Fatalf("good flow fails %v", failedNames(flowChecks, m))
	}
	mod := func(f func(r *trace.Flow)) trace.Flow { r := goodFlow(); f(&r); return r }
	cases := []struct {
		name string
		f    trace.Flow
	}{
		{CheckProto, mod(func(r *trace.Flow) { r.Proto, r.SrcPort, r.DstPort, r.TCPFlags = 255, 0, 0, 0 })},
		{CheckPorts, mod(func(r *trace.Flow) { r.DstPort = 0 })},
		{CheckPorts, mod(func(r *trace.Flow) { r.Proto, r.TCPFlags = trace.ProtoESP, 0 })},
		{CheckICMP, mod(func(r *trace.Flow) { r.Proto, r.SrcPort, r.DstPort, r.TCPFlags = trace.ProtoICMP, 0, 8<<8|1, 0 })},
		{CheckSrcAddr, mod(func(r *trace.Flow) { r.Src = 239<<24 | 1 })},
		{CheckDstAddr, mod(func(r *trace.Flow) { r.Dst = 1 })},
		{CheckAddrDistinct, mod(func(r *trace.Flow) { r.Src = r.Dst })},
		{CheckTCPFlags, mod(func(r *trace.Flow) { r.TCPFlags = trace.TCPFin | trace.TCPSyn })}, // FIN never without ACK
		{CheckTCPFlags, mod(func(r *trace.Flow) { r.Proto, r.DstPort = trace.ProtoUDP, 53 })},
		{CheckFlowPackets, mod(func(r *trace.Flow) { r.Packets, r.Bytes, r.Dur = 0, 0, 0 })},
		{CheckFlowBytes, mod(func(r *trace.Flow) { r.Bytes = 119 })},
		{CheckFlowBytes, mod(func(r *trace.Flow) { r.Bytes = 3*65535 + 1 })},
		{CheckFlowBytes, mod(func(r *trace.Flow) { r.Packets, r.Bytes = 1<<62, 1<<63 })}, // 32 bytes a packet, no overflow
		{CheckFlowDuration, mod(func(r *trace.Flow) { r.Dur = -1 })},
		{CheckFlowDuration, mod(func(r *trace.Flow) { r.Packets, r.Bytes = 1, 40 })},
	}
	for i, c := range cases {
		got := failedNames(flowChecks, flowFailures(&c.f))
		if !slices.Equal(got, []string{c.name}) {
			t.Errorf("case %d (%s): %+v fails %v", i, c.name, c.f, got)
		}
	}
	for i, f := range []trace.Flow{
		mod(func(r *trace.Flow) { r.Bytes = 120 }),
		mod(func(r *trace.Flow) { r.Bytes = 3 * 65535 }),
		mod(func(r *trace.Flow) { r.TCPFlags = 0 }),
		mod(func(r *trace.Flow) { r.TCPFlags = trace.TCPSyn | trace.TCPRst }),
		mod(func(r *trace.Flow) { r.Packets, r.Bytes, r.Dur = 1, 40, 0 }),
		mod(func(r *trace.Flow) { r.Proto, r.SrcPort, r.DstPort, r.TCPFlags, r.Bytes = trace.ProtoICMP, 0, 0, 0, 84 }),
	} {
		if m := flowFailures(&f); m != 0 {
			t.Errorf("valid variant %d %+v fails %v", i, f, failedNames(flowChecks, m))
		}
	}
}

func TestPacketsSide(t *testing.T) {
	a := goodTCP()
	b := goodTCP()
	b.SrcPort = 40001
	a2, b2 := a, b
	a2.TS, a2.ID = a.TS+5, a.ID+1
	b2.TS, b2.ID, b2.Flags = b.TS+5, b.ID+1, 4 // b's second packet fails fragment
	c := goodTCP()
	c.SrcPort, c.Src = 40002, 0 // fails src_addr
	s := Packets([]trace.Packet{a, b, a2, b2, c})
	if s.Flows != 3 || s.Packets != 5 || s.AllFlows != 1 || s.AllPackets != 3 {
		t.Fatalf("side %+v", s)
	}
	frag, src := indexOf(packetChecks, CheckFragment), indexOf(packetChecks, CheckSrcAddr)
	for i := range s.FailedFlows {
		want := int64(0)
		if i == frag || i == src {
			want = 1
		}
		if s.FailedFlows[i] != want || s.FailedPackets[i] != want {
			t.Errorf("check %s: failed flows %d packets %d, want %d", packetChecks[i].Name, s.FailedFlows[i], s.FailedPackets[i], want)
		}
	}
	r := Compare("packets", s, Packets([]trace.Packet{a, a2}))
	if r.All.Real.Flows != 1.0/3 || math.Abs(*r.All.Real.Packets-0.6) > 1e-12 || r.All.Synthetic.Flows != 1 || !r.Pass {
		t.Errorf("report all %+v pass %v", r.All, r.Pass)
	}
	if got := r.Checks[frag].Real; math.Abs(got.Flows-2.0/3) > 1e-12 || math.Abs(*got.Packets-0.8) > 1e-12 {
		t.Errorf("fragment row %+v", got)
	}
	r = Compare("packets", Packets([]trace.Packet{a, a2}), s)
	if r.Pass {
		t.Error("synthetic share 1/3 against real 1 passes")
	}
}

func TestFlowsSideAndTarget(t *testing.T) {
	good, bad := goodFlow(), goodFlow()
	bad.Bytes = 1
	real := []trace.Flow{good, good, good, good, good, good, good, good, good, bad} // 90%
	for _, c := range []struct {
		syn  []trace.Flow
		pass bool
	}{
		{real, true},
		{append(slices.Repeat([]trace.Flow{good}, 89), slices.Repeat([]trace.Flow{bad}, 11)...), true},  // 89% ≥ 90% − 1
		{append(slices.Repeat([]trace.Flow{good}, 88), slices.Repeat([]trace.Flow{bad}, 12)...), false}, // 88%
	} {
		r := CompareFlows(real, c.syn)
		if r.Pass != c.pass || r.All.Real.Packets != nil || r.All.Real.Flows != 0.9 {
			t.Errorf("synthetic %d records: pass %v, all %+v", len(c.syn), r.Pass, r.All)
		}
	}
	s := Flows(real)
	if s.Flows != 10 || s.AllFlows != 9 || s.FailedFlows[indexOf(flowChecks, CheckFlowBytes)] != 1 {
		t.Errorf("side %+v", s)
	}
}

func indexOf(defs []checkDef, name string) int {
	return slices.IndexFunc(defs, func(d checkDef) bool { return d.Name == name })
}

// A flow that began before the packets checked is judged from where its
// earlier packets left it: its TTL against its first packet's, its IP id
// step from its last; alone, the same packets pass.
func TestPacketsAfter(t *testing.T) {
	a := goodTCP()
	a.TTL, a.ID = 100, 5000
	a2 := a
	a2.TS, a2.ID = a.TS+5, a.ID+1
	pkts := []trace.Packet{a, a2}
	if s := Packets(pkts); s.AllFlows != 1 {
		t.Fatalf("alone: %+v", s)
	}
	ttl, id := indexOf(packetChecks, CheckTTLStable), indexOf(packetChecks, CheckIPID)
	s := PacketsAfter(pkts, map[trace.Key]FlowState{a.Key(): {TTL: 64, ID: 100}})
	if s.Flows != 1 || s.AllFlows != 0 || s.FailedFlows[ttl] != 1 || s.FailedFlows[id] != 1 || s.FailedPackets[ttl] != 2 || s.FailedPackets[id] != 1 {
		t.Errorf("after a TTL of 64 and an IP id of 100: %+v", s)
	}
	// A flow prior does not hold starts afresh.
	if s := PacketsAfter(pkts, map[trace.Key]FlowState{{Src: 1}: {TTL: 64}}); s.AllFlows != 1 {
		t.Errorf("another flow's state applied: %+v", s)
	}
}
