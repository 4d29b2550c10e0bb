package protocol

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// garbagePackets imitates a careless generator: flows whose packets have
// every header field drawn at random, with a few packets valid so that the
// repair has values to draw from.
func garbagePackets(n int, seed uint64) []trace.Packet {
	r := rand.New(rand.NewPCG(seed, 9))
	protos := []uint8{trace.ProtoTCP, trace.ProtoTCP, trace.ProtoUDP, trace.ProtoICMP, trace.ProtoGRE, trace.ProtoESP, 200, 0}
	type key struct{ k trace.Key }
	var keys []trace.Key
	for range n / 10 {
		k := trace.Key{Src: r.Uint32(), Dst: r.Uint32(), SrcPort: uint16(r.IntN(3) * r.IntN(65536)), DstPort: uint16(r.IntN(3) * r.IntN(65536)),
			Proto: protos[r.IntN(len(protos))]}
		switch r.IntN(6) {
		case 0, 1:
			k.Src, k.Dst = 10<<24|r.Uint32()&0xffffff, 11<<24|r.Uint32()&0xffffff
		case 2:
			k.Dst = k.Src // a LAND packet
		}
		keys = append(keys, k)
	}
	out := make([]trace.Packet, n)
	for i := range out {
		k := keys[r.IntN(len(keys))]
		p := trace.Packet{TS: 1e15 + r.Int64N(1e9), Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto,
			Len: uint16(r.IntN(12000)), TOS: uint8(r.Uint32()), ID: uint16(r.Uint32()), TTL: uint8(r.IntN(256)), TCPFlags: uint8(r.Uint32())}
		switch r.IntN(10) {
		case 0:
			p.Flags, p.FragOff = uint8(r.IntN(8)), uint16(r.IntN(8192))
		case 1, 2, 3:
			p.Flags = 2
		}
		if k.Proto == trace.ProtoICMP && r.IntN(2) == 0 {
			p.DstPort = 3<<8 | uint16(r.IntN(4))
		}
		out[i] = p
	}
	return out
}

// validPackets is a small trace that passes every check.
func validPackets() []trace.Packet {
	var out []trace.Packet
	for f := range 20 {
		for i := range 5 {
			p := goodTCP()
			p.SrcPort += uint16(f)
			p.Src += uint32(f)
			p.TS += int64(i*1000 + f)
			p.ID += uint16(i)
			p.Len = uint16(40 + 100*i)
			p.TCPFlags = []uint8{trace.TCPSyn, trace.TCPAck, trace.TCPAck | trace.TCPPsh, trace.TCPAck, trace.TCPFin | trace.TCPAck}[i]
			switch f % 4 {
			case 1:
				p.Proto, p.TCPFlags, p.DstPort = trace.ProtoUDP, 0, 53
			case 2:
				p.Proto, p.TCPFlags, p.SrcPort, p.DstPort = trace.ProtoICMP, 0, 0, 8<<8
			case 3:
				p.Proto, p.TCPFlags, p.SrcPort, p.DstPort = trace.ProtoGRE, 0, 0, 0
			}
			out = append(out, p)
		}
	}
	return out
}

func TestRepairPacketsPassesEveryCheck(t *testing.T) {
	in := garbagePackets(5000, 1)
	before := Packets(in)
	orig := slices.Clone(in)
	out, rep := RepairPackets(in, RepairOptions{Seed: 3})
	if !reflect.DeepEqual(in, orig) {
		t.Fatal("RepairPackets changed its input")
	}
	after := Packets(out)
	proto := indexOf(packetChecks, CheckProto)
	for i, d := range packetChecks {
		want := int64(0)
		if i == proto {
			want = before.FailedPackets[i] // protocol numbers are not repaired
		}
		if after.FailedPackets[i] != want {
			t.Errorf("%s: %d packets fail after the repair (%d before), want %d", d.Name, after.FailedPackets[i], before.FailedPackets[i], want)
		}
		if before.FailedPackets[i] > 0 && i != proto && rep[d.Name] == 0 {
			t.Errorf("%s: %d failures before, no repair counted", d.Name, before.FailedPackets[i])
		}
	}
	if len(out) != len(in) {
		t.Fatalf("%d packets out of %d", len(out), len(in))
	}
	// Time stamps are only permuted; packets stay where they were, and the
	// TOS (never checked) is untouched.
	ts := func(ps []trace.Packet) []int64 {
		var v []int64
		for _, p := range ps {
			v = append(v, p.TS)
		}
		slices.Sort(v)
		return v
	}
	if !slices.Equal(ts(in), ts(out)) {
		t.Error("the multiset of timestamps changed")
	}
	for i := range in {
		if in[i].TOS != out[i].TOS {
			t.Fatalf("packet %d moved or its TOS changed", i)
		}
	}
	if again, rep2 := RepairPackets(out, RepairOptions{Seed: 4}); !reflect.DeepEqual(again, out) || len(rep2) != 0 {
		t.Errorf("repairing a repaired trace changes it: %v", rep2)
	}
}

func TestRepairKeepsValidTraces(t *testing.T) {
	in := validPackets()
	if s := Packets(in); s.AllPackets != s.Packets {
		t.Fatalf("test trace is not valid: %+v", s)
	}
	out, rep := RepairPackets(in, RepairOptions{})
	if !reflect.DeepEqual(in, out) || len(rep) != 0 {
		t.Errorf("a valid trace changed: %v", rep)
	}
	flows := []trace.Flow{goodFlow(), goodFlow()}
	flows[1].Proto, flows[1].SrcPort, flows[1].DstPort, flows[1].TCPFlags, flows[1].Packets, flows[1].Dur = trace.ProtoICMP, 0, 0, 0, 1, 0
	fo, frep := RepairFlows(flows, RepairOptions{})
	if !reflect.DeepEqual(flows, fo) || len(frep) != 0 {
		t.Errorf("valid flow records changed: %v", frep)
	}
}

// A flow's TCP flags, timestamps and TTLs in the wrong order or spread are
// put right without changing the multiset of flags and timestamps.
func TestRepairPacketsFlowOrder(t *testing.T) {
	in := validPackets()[:5]
	slices.Reverse(in) // FIN first, SYN last, timestamps descending, ids backwards
	in[2].TTL = 80
	in[3].TCPFlags = trace.TCPRst | trace.TCPAck // flags now FIN-ACK, ACK, PSH-ACK, RST-ACK, SYN
	out, rep := RepairPackets(in, RepairOptions{})
	if s := Packets(out); s.AllPackets != 5 {
		t.Fatalf("repaired flow fails: %+v %v", s, rep)
	}
	var flags []uint8
	for i, p := range out {
		flags = append(flags, p.TCPFlags)
		if p.TS != validPackets()[i].TS || p.TTL != 64 {
			t.Errorf("packet %d: ts %d ttl %d", i, p.TS, p.TTL)
		}
	}
	want := []uint8{trace.TCPSyn, trace.TCPFin | trace.TCPAck, trace.TCPAck, trace.TCPAck | trace.TCPPsh, trace.TCPRst | trace.TCPAck}
	if !slices.Equal(flags, want) {
		t.Errorf("flags %v, want %v", flags, want)
	}
	for _, c := range []string{CheckTCPOrder, CheckTimeOrder, CheckTTLStable, CheckIPID} {
		if rep[c] == 0 {
			t.Errorf("no %s repair counted: %v", c, rep)
		}
	}
}

func TestRepairSkip(t *testing.T) {
	in := garbagePackets(2000, 2)
	out, rep := RepairPackets(in, RepairOptions{Skip: []string{CheckTTLStable, CheckSrcAddr}})
	before, after := Packets(in), Packets(out)
	for _, c := range []string{CheckTTLStable, CheckSrcAddr} {
		i := indexOf(packetChecks, c)
		if after.FailedPackets[i] == 0 || rep[c] != 0 {
			t.Errorf("%s skipped, yet %d of %d failures left, %d repairs", c, after.FailedPackets[i], before.FailedPackets[i], rep[c])
		}
	}
	if after.FailedPackets[indexOf(packetChecks, CheckTTL)] != 0 {
		t.Error("ttl not repaired")
	}
}

func TestRepairFlows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	protos := []uint8{trace.ProtoTCP, trace.ProtoUDP, trace.ProtoICMP, trace.ProtoESP, 200}
	in := make([]trace.Flow, 3000)
	for i := range in {
		in[i] = trace.Flow{Start: r.Int64N(1e12), Dur: r.Int64N(2e6) - 1e5, Src: r.Uint32(), Dst: r.Uint32(),
			SrcPort: uint16(r.IntN(3) * r.IntN(65536)), DstPort: uint16(r.IntN(3) * r.IntN(65536)), Proto: protos[r.IntN(len(protos))],
			Packets: uint64(r.IntN(4)), Bytes: uint64(r.IntN(200_000)), TCPFlags: uint8(r.Uint32()), Label: "x"}
		if r.IntN(8) == 0 {
			in[i].Dst = in[i].Src
		}
	}
	before := Flows(in)
	out, rep := RepairFlows(in, RepairOptions{Seed: 1})
	after := Flows(out)
	proto := indexOf(flowChecks, CheckProto)
	for i, d := range flowChecks {
		want := int64(0)
		if i == proto {
			want = before.FailedFlows[i]
		}
		if after.FailedFlows[i] != want || (i != proto && before.FailedFlows[i] > 0 && rep[d.Name] == 0) {
			t.Errorf("%s: %d fail after (%d before, %d repairs), want %d", d.Name, after.FailedFlows[i], before.FailedFlows[i], rep[d.Name], want)
		}
	}
	for i := range in {
		if in[i].Start != out[i].Start || in[i].Label != out[i].Label || in[i].Proto != out[i].Proto {
			t.Fatalf("record %d: unrepaired fields changed", i)
		}
	}
}

func TestFailing(t *testing.T) {
	good, bad := goodFlow(), goodFlow()
	bad.Src = 0
	s := Flows([]trace.Flow{good, good, good, bad})
	if got := s.Failing("flows", 0.9); len(got) != 1 || got[CheckSrcAddr] != 0.25 {
		t.Errorf("below 90%%: %v", got)
	}
	if got := s.Failing("flows", 0.75); len(got) != 0 {
		t.Errorf("below 75%%: %v", got)
	}
}

// TestRepairLeavesFlowsForEveryCheck checks that opt.Leave leaves the
// same flows failing every check it names: of flows that fail two checks,
// those left failing the check of the smaller share are left failing the
// other too, so that as many flows pass all checks as the larger share
// allows.
func TestRepairLeavesFlowsForEveryCheck(t *testing.T) {
	var in []trace.Packet
	for f := range 2000 {
		for i := range 3 {
			in = append(in, trace.Packet{TS: int64(f*10 + i), Src: 0x0a000001, Dst: 0x0a000002, SrcPort: uint16(1024 + f), DstPort: 80,
				Proto: trace.ProtoTCP, Len: 60, TTL: uint8(64 + 10*i), ID: uint16(5000 * i), TCPFlags: trace.TCPAck}) // fails ttl_stable and ip_id
		}
	}
	out, _ := RepairPackets(in, RepairOptions{Seed: 7, Leave: map[string]float64{CheckTTLStable: 0.2, CheckIPID: 0.4}})
	ttl, id, both := map[trace.Key]bool{}, map[trace.Key]bool{}, 0
	for i := 2; i < len(out); i += 3 {
		k := out[i].Key()
		ttl[k] = out[i].TTL != out[i-2].TTL
		id[k] = out[i].ID != out[i-1].ID+1
		if ttl[k] && !id[k] {
			t.Fatalf("flow %v left failing ttl_stable but not ip_id", k)
		}
		if ttl[k] && id[k] {
			both++
		}
	}
	if share := float64(both) / 2000; share < 0.17 || share > 0.23 {
		t.Errorf("%.3f of flows left failing both, want about 0.2", share)
	}
}

// TestRepairLeavesWholeFlows checks opt.Leave: about the given share of
// violating flows is left, each flow's packets all left or all repaired,
// and LeaveRate gives the rate that brings a trace down to a target.
func TestRepairLeavesWholeFlows(t *testing.T) {
	var in []trace.Packet
	for f := range 2000 {
		for i := range 3 {
			in = append(in, trace.Packet{TS: int64(f*10 + i), Src: 0x0a000001, Dst: 0x0a000002, SrcPort: uint16(1024 + f), DstPort: 80,
				Proto: trace.ProtoTCP, Len: 60, TTL: 64, ID: uint16(i), TCPFlags: trace.TCPFin}) // FIN without ACK: fails tcp_flags
		}
	}
	before := Packets(in)
	leave := map[string]float64{CheckTCPFlags: LeaveRate(0.25, before.Failing("packets", 1)[CheckTCPFlags])}
	if p := leave[CheckTCPFlags]; p != 0.25 {
		t.Fatalf("leave share %v, want 0.25 (every flow fails)", p)
	}
	out, rep := RepairPackets(in, RepairOptions{Seed: 7, Leave: leave})
	left := map[trace.Key]int{}
	for _, p := range out {
		if p.TCPFlags == trace.TCPFin {
			left[p.Key()]++
		}
	}
	for k, n := range left {
		if n != 3 {
			t.Fatalf("flow %v: %d of 3 packets left", k, n)
		}
	}
	if share := float64(len(left)) / 2000; share < 0.22 || share > 0.28 {
		t.Errorf("%.3f of flows left, want about 0.25", share)
	}
	if rep[CheckTCPFlags] != int64(3*(2000-len(left))) {
		t.Errorf("%d repairs counted, %d made", rep[CheckTCPFlags], 3*(2000-len(left)))
	}
	valid := Packets(validPackets())
	if got := LeaveRate(0.25, ratio(valid.Failed("packets")[CheckTCPFlags], valid.Flows)); got != 1 {
		t.Errorf("a trace that fails less than the target: leave %v, want 1", got)
	}
}

// TestRepairCarriesFlowStateAcrossParts repairs a packet flow in two
// parts: with the first part's state as Prior, the second part takes the
// flow's first TTL and goes on from its last IP id, so that the whole
// flow passes ttl_stable and ip_id.
func TestRepairCarriesFlowStateAcrossParts(t *testing.T) {
	k := trace.Key{Src: 0x0a000001, Dst: 0x0a000002, SrcPort: 4000, DstPort: 80, Proto: trace.ProtoTCP}
	mk := func(ts int64, ttl uint8, id uint16) trace.Packet {
		return trace.Packet{TS: ts, Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto, Len: 60, TTL: ttl, ID: id, TCPFlags: trace.TCPAck}
	}
	first := []trace.Packet{mk(1, 64, 100), mk(2, 64, 101)}
	second := []trace.Packet{mk(3, 128, 50000), mk(4, 128, 50001)}
	states := map[trace.Key]FlowState{}
	UpdateFlowStates(first, states, func(trace.Key) bool { return true })
	if st := states[k]; st.TTL != 64 || st.ID != 101 {
		t.Fatalf("state %+v, want TTL 64 and last id 101", st)
	}
	alone, _ := RepairPackets(second, RepairOptions{Seed: 1})
	whole := Packets(append(slices.Clone(first), alone...))
	if whole.AllFlows == whole.Flows {
		t.Fatal("the parts repaired apart pass as a whole: the test shows nothing")
	}
	out, _ := RepairPackets(second, RepairOptions{Seed: 1, Prior: states})
	if out[0].TTL != 64 || out[1].TTL != 64 || out[0].ID != 102 || out[1].ID != 103 {
		t.Fatalf("second part %+v", out)
	}
	if w := Packets(append(slices.Clone(first), out...)); w.AllFlows != w.Flows {
		t.Errorf("the whole flow fails %v", w.FailedFlows)
	}
}

// TCP order across parts: after a first part with a packet without SYN, a
// SYN in the second part loses its SYN; after a RST, only RSTs follow. The
// state records both, PacketsAfter judges the second part as the whole
// flow does, and the repaired flow passes as a whole.
func TestRepairTCPOrderAcrossParts(t *testing.T) {
	k := trace.Key{Src: 0x0a000001, Dst: 0x0a000002, SrcPort: 4000, DstPort: 80, Proto: trace.ProtoTCP}
	mk := func(ts int64, id uint16, flags uint8) trace.Packet {
		return trace.Packet{TS: ts, Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto, Len: 60, TTL: 64, ID: id, TCPFlags: flags}
	}
	order := indexOf(packetChecks, CheckTCPOrder)
	for _, c := range []struct {
		name   string
		first  uint8
		second []uint8
	}{
		{"after an ACK", trace.TCPAck, []uint8{trace.TCPSyn, trace.TCPSyn | trace.TCPAck, trace.TCPAck}},
		{"after a RST", trace.TCPRst | trace.TCPAck, []uint8{trace.TCPAck, trace.TCPAck | trace.TCPFin}},
	} {
		first := []trace.Packet{mk(1, 100, trace.TCPSyn), mk(2, 101, c.first)}
		var second []trace.Packet
		for i, f := range c.second {
			second = append(second, mk(int64(3+i), uint16(102+i), f))
		}
		states := map[trace.Key]FlowState{}
		UpdateFlowStates(first, states, func(trace.Key) bool { return true })
		if s := Packets(second); s.FailedFlows[order] != 0 {
			t.Fatalf("%s: the second part alone fails tcp_order: the test shows nothing", c.name)
		}
		if s := PacketsAfter(second, states); s.FailedFlows[order] != 1 {
			t.Errorf("%s: judged after the first part, tcp_order fails %d flows, want 1", c.name, s.FailedFlows[order])
		}
		out, _ := RepairPackets(second, RepairOptions{Seed: 1, Prior: states})
		if w := Packets(append(slices.Clone(first), out...)); w.AllFlows != w.Flows {
			t.Errorf("%s: the whole flow fails %v (second part %+v)", c.name, w.FailedFlows, out)
		}
	}
}

// A Leaver leaves exactly the number of violating flows asked for, the
// same ones whatever the rest of the trace (the coins are per 5-tuple).
func TestLeaverLeavesExactly(t *testing.T) {
	var in []trace.Packet
	r := rand.New(rand.NewPCG(3, 4))
	for f := range 200 {
		for i := range 5 {
			p := goodTCP()
			p.SrcPort += uint16(f)
			p.TS += int64(i*1000 + f)
			p.ID = uint16(r.Uint32()) // random ids: fails ip_id
			p.TCPFlags = trace.TCPAck
			in = append(in, p)
		}
	}
	const seed = 11
	l := PacketLeaver(in, nil, seed)
	if l.Flows() != 200 || l.Failing(CheckIPID) < 195 {
		t.Fatalf("%d flows, %d failing ip_id; want 200, nearly all", l.Flows(), l.Failing(CheckIPID))
	}
	for _, want := range []int64{0, 1, 73, 150, l.Failing(CheckIPID), 500} {
		out, _ := RepairPackets(in, RepairOptions{Seed: 5, LeaveSeed: seed, Leave: l.Leave(map[string]int64{CheckIPID: want})})
		got := Packets(out).FailedFlows[indexOf(packetChecks, CheckIPID)]
		if exp := min(max(want, 0), l.Failing(CheckIPID)); got != exp {
			t.Errorf("asked to leave %d: %d flows fail ip_id, want %d", want, got, exp)
		}
	}
}

// segment is a good TCP packet of source port port at time ts (its IP id
// too) with the given flags and length.
func segment(port uint16, ts int64, flags uint8, l uint16) trace.Packet {
	p := goodTCP()
	p.SrcPort, p.TS, p.TCPFlags, p.Len, p.ID = port, ts, flags, l, uint16(ts)
	return p
}

// TestRepairSYNLength: a SYN longer than 80 bytes trades lengths with the
// short packet of its flow nearest a valid SYN's length, so that the flow
// keeps its lengths, or else with such a packet of another flow, so that
// the trace keeps them; with none left it takes a valid SYN's length.
func TestRepairSYNLength(t *testing.T) {
	in := []trace.Packet{
		segment(1000, 1, trace.TCPSyn, 1500), segment(1000, 2, trace.TCPAck, 1000), segment(1000, 3, trace.TCPAck, 64), segment(1000, 4, trace.TCPAck, 52),
		segment(2000, 5, trace.TCPSyn, 60), segment(2000, 6, trace.TCPAck, 1500),
		segment(3000, 7, trace.TCPSyn, 1400), segment(3000, 8, trace.TCPAck, 900),
		segment(4000, 9, trace.TCPSyn, 1300), segment(4000, 10, trace.TCPAck, 700),
	}
	out, rep := RepairPackets(in, RepairOptions{Seed: 1})
	// The SYNs' lengths are drawn from the valid SYNs' (60 here): the
	// first trades with its flow's 64-byte packet, the nearest to 60,
	// the second with the other flow's 52, the third takes 60.
	want := []uint16{64, 1000, 1500, 1400, 60, 1500, 52, 900, 60, 700}
	for i := range out {
		if out[i].Len != want[i] {
			t.Errorf("packet %d (flags %#x): length %d, want %d", i, out[i].TCPFlags, out[i].Len, want[i])
		}
	}
	if rep[CheckSYNLength] != 3 || len(rep) != 1 {
		t.Errorf("repairs %v, want 3 of syn_length alone", rep)
	}
	if s := Packets(out); s.FailedFlows[indexOf(packetChecks, CheckSYNLength)] != 0 || s.AllFlows != s.Flows {
		t.Errorf("after the repair: %+v", s)
	}
}

// TestRepairSYNLengthAfterFlagOrder: a short packet that the flag order
// repair of an earlier flow made a SYN is no longer one to trade with.
func TestRepairSYNLengthAfterFlagOrder(t *testing.T) {
	in := []trace.Packet{
		segment(1000, 1, trace.TCPAck, 52), segment(1000, 2, trace.TCPSyn, 1500), // the SYN moves to the 52-byte packet
		segment(2000, 3, trace.TCPSyn, 1400), segment(2000, 4, trace.TCPAck, 900),
	}
	out, rep := RepairPackets(in, RepairOptions{Seed: 1})
	want := []struct {
		flags uint8
		l     uint16
	}{{trace.TCPSyn, 52}, {trace.TCPAck, 1500}, {trace.TCPSyn, 60}, {trace.TCPAck, 900}}
	for i, w := range want {
		if out[i].TCPFlags != w.flags || out[i].Len != w.l {
			t.Errorf("packet %d: flags %#x length %d, want %#x %d", i, out[i].TCPFlags, out[i].Len, w.flags, w.l)
		}
	}
	if rep[CheckSYNLength] != 1 {
		t.Errorf("repairs %v, want one of syn_length", rep)
	}
}
