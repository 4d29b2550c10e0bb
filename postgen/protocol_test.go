package postgen

import (
	"slices"
	"testing"

	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// A flow whose repaired 5-tuple lands on another flow's gets a free source
// port: the repaired capture holds as many flows as the generated one, each
// passing the port check, and stays sorted by time.
func TestRepairProtocolKeepsFlowsApart(t *testing.T) {
	const a, b, c, d = 0x0a000001, 0x0a000002, 0x0a000003, 0x0a000004
	pkt := func(ts int64, src uint32, sport uint16, dst uint32) trace.Packet {
		return trace.Packet{TS: ts, Src: src, Dst: dst, SrcPort: sport, DstPort: 53, Proto: trace.ProtoUDP, Len: 60, TTL: 64, ID: uint16(ts)}
	}
	separated := 0
	for seed := range uint64(40) {
		var in trace.Trace
		in.Kind = trace.KindPackets
		// Flow A holds most of the valid source ports (5000); flow B has
		// the invalid source port 0 and the same other fields, so the
		// repair often gives it A's 5-tuple; flow C adds another port.
		for i := range 8 {
			in.Packets = append(in.Packets, pkt(int64(10*i), a, 5000, b))
		}
		in.Packets = append(in.Packets, pkt(5, a, 0, b), pkt(15, a, 0, b), pkt(25, c, 6000, d), pkt(35, c, 7000, d))
		flows.SortByTime(in.Packets)
		st := RepairProtocol(&in, nil, seed, nil)
		if got := st.Repairs[protocol.CheckPorts]; got != 2 {
			t.Fatalf("seed %d: port repairs %d, want 2 (the two packets of flow B)", seed, got)
		}
		if st.Merged != 0 {
			t.Fatalf("seed %d: %d flows left merged", seed, st.Merged)
		}
		separated += st.Separated
		s := protocol.Packets(in.Packets)
		if s.Flows != 4 {
			t.Fatalf("seed %d: %d flows after the repair, want 4", seed, s.Flows)
		}
		if s.AllFlows != 4 {
			t.Fatalf("seed %d: %d of 4 flows pass every check", seed, s.AllFlows)
		}
		if !flows.IsSorted(in.Packets) {
			t.Fatalf("seed %d: repaired packets not sorted by time", seed)
		}
	}
	if separated == 0 {
		t.Fatal("no seed made the repair collide with another flow: the test exercises nothing")
	}
}

// With no free source port, the flow keeps its generated 5-tuple rather
// than merge, and that is counted.
func TestRepairProtocolRevertsWithoutFreePort(t *testing.T) {
	in := trace.Trace{Kind: trace.KindPackets, Packets: []trace.Packet{
		{TS: 1, Src: 0x0a000001, Dst: 0x0a000002, SrcPort: 5000, DstPort: 53, Proto: trace.ProtoUDP, Len: 60, TTL: 64},
		{TS: 2, Src: 0x0a000001, Dst: 0x0a000002, SrcPort: 0, DstPort: 53, Proto: trace.ProtoUDP, Len: 60, TTL: 64},
	}}
	st := RepairProtocol(&in, nil, 1, nil)
	if st.Separated != 0 || st.Unrepaired != 1 || st.Merged != 0 {
		t.Fatalf("separated %d, unrepaired %d, merged %d; want 0, 1, 0", st.Separated, st.Unrepaired, st.Merged)
	}
	if in.Packets[1].SrcPort != 0 || protocol.Packets(in.Packets).Flows != 2 {
		t.Fatalf("flows merged or the port not restored: %+v", in.Packets)
	}
}

// A check the real trace often fails is repaired down to the real
// failure share, not to none; flow records are repaired record by record
// and kept sorted.
func TestRepairProtocolFlowsDownToRealShare(t *testing.T) {
	mk := func(n int) trace.Trace {
		tr := trace.Trace{Kind: trace.KindFlows}
		for i := range n {
			// Every other flow has no packets (fails flow_packets).
			tr.Flows = append(tr.Flows, trace.Flow{Start: int64(i), Src: 0x0a000001, Dst: 0x0a000002, SrcPort: uint16(5000 + i), DstPort: 53, Proto: trace.ProtoUDP, Packets: uint64(i % 2), Bytes: 60})
		}
		return tr
	}
	in := mk(2)
	st := RepairProtocol(&in, nil, 1, nil)
	if in.Flows[0].Packets != 1 || st.Repairs[protocol.CheckFlowPackets] != 1 {
		t.Fatalf("flow_packets not repaired: %+v, %v", in.Flows, st.Repairs)
	}
	// The real trace fails as often as this one: nothing to repair.
	in = mk(2)
	st = RepairProtocol(&in, map[string]float64{protocol.CheckFlowPackets: 0.5}, 1, nil)
	if in.Flows[0].Packets != 0 || st.Total() != 0 {
		t.Fatalf("a check failed no more than the real trace fails it was repaired: %+v, %v", in.Flows, st.Repairs)
	}
	// Half fail, the real trace 10%: four in five violations repaired.
	in = mk(4000)
	st = RepairProtocol(&in, map[string]float64{protocol.CheckFlowPackets: 0.1}, 1, nil)
	failing := 0
	for _, f := range in.Flows {
		if f.Packets == 0 {
			failing++
		}
	}
	if failing != 400 {
		t.Errorf("%d of 4000 flows still fail flow_packets, want 400 (the real 10%%, exactly)", failing)
	}
	if !slices.IsSortedFunc(in.Flows, func(a, b trace.Flow) int { return int(a.Start - b.Start) }) {
		t.Error("flows not sorted")
	}
}

// Repaired block by block, the trace ends at the real share exactly: a
// block with fewer violations than the share calls for leaves them all,
// and the blocks after it make up for it, beyond the rate of the blocks so
// far.
func TestRepairTallyMakesUpAcrossBlocks(t *testing.T) {
	block := func(off, n int, fail bool) *trace.Trace {
		tr := &trace.Trace{Kind: trace.KindFlows}
		for i := range n {
			f := trace.Flow{Start: int64(off + i), Src: 0x0a000001, Dst: 0x0a000002, SrcPort: uint16(5000 + off + i), DstPort: 53, Proto: trace.ProtoUDP, Packets: 1, Bytes: 60}
			if fail {
				f.Packets = 0
			}
			tr.Flows = append(tr.Flows, f)
		}
		return tr
	}
	fail := map[string]float64{protocol.CheckFlowPackets: 0.5}
	var tally repairTally
	failing := 0
	for b, bad := range []bool{true, false, true} {
		tr := block(b*100, 100, bad)
		repairProtocol(tr, fail, uint64(b+1), 7, nil, nil, &tally, nil)
		for _, f := range tr.Flows {
			if f.Packets == 0 {
				failing++
			}
		}
	}
	// At the third block's rate alone (0.5 over the 2/3 failing so far)
	// it would leave 75, 125 in all.
	if failing != 150 {
		t.Errorf("%d of 300 flows fail flow_packets, want 150", failing)
	}
}
