package postgen

import (
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// In a packet trace a tail port's draw avoids 5-tuples already taken, by
// the flows held and by the block's rows before it; in a flow trace it
// does not look.
func TestDrawTailAvoidsTakenKeys(t *testing.T) {
	spec := &encoding.TailPorts{MinFlows: 2, Classes: []encoding.TailClass{{Proto: 6, Lo: 49152, Hi: 65535, Token: 49152,
		Src: encoding.TailValues{Values: []uint16{50000, 50001}, Flows: []float64{1, 1}}}}}
	tp, err := encoding.IndexTailPorts(spec)
	if err != nil {
		t.Fatal(err)
	}
	key := trace.Key{Src: 1, Dst: 2, SrcPort: 49152, DstPort: 443, Proto: 6}
	held := key
	held.SrcPort = 50000
	all := func(Row) bool { return true }
	for seed := range uint64(50) {
		g := &Stream{st: &Stats{}, held: map[trace.Key]struct{}{held: {}}}
		rows := []Row{{Attr: encoding.FlowAttr{Key: key}}}
		g.drawTail(tp, rows, all, rand.New(rand.NewPCG(seed, 1)))
		if rows[0].Attr.Key.SrcPort != 50001 || g.st.TailPorts != 1 {
			t.Fatalf("seed %d: drew %d (%d draws counted), want 50001, the port whose 5-tuple is free", seed, rows[0].Attr.Key.SrcPort, g.st.TailPorts)
		}
	}
	// Flow records: no 5-tuple is held, both values come out.
	seen := map[uint16]bool{}
	g := &Stream{st: &Stats{}}
	for seed := range uint64(50) {
		rows := []Row{{Attr: encoding.FlowAttr{Key: key}}}
		g.drawTail(tp, rows, all, rand.New(rand.NewPCG(seed, 1)))
		seen[rows[0].Attr.Key.SrcPort] = true
	}
	if !seen[50000] || !seen[50001] {
		t.Errorf("flow records drew %v, want both tail ports", seen)
	}
}

// The tail ports a stream draws are lent without replacement across
// blocks: a class of four one-off ports gives four flows, over two
// blocks, four different ports.
func TestDrawTailAcrossBlocks(t *testing.T) {
	spec := &encoding.TailPorts{MinFlows: 2, Classes: []encoding.TailClass{{Proto: 17, Lo: 49152, Hi: 65535, Token: 49152,
		Dst: encoding.TailValues{Values: []uint16{50000, 50001, 50002, 50003}, Flows: []float64{1, 1, 1, 1}}}}}
	tp, err := encoding.IndexTailPorts(spec)
	if err != nil {
		t.Fatal(err)
	}
	all := func(Row) bool { return true }
	for seed := range uint64(20) {
		g := &Stream{st: &Stats{}}
		seen := map[uint16]bool{}
		for b := range 2 {
			rows := []Row{{Attr: encoding.FlowAttr{Key: trace.Key{Src: 1, Dst: 2, SrcPort: 53, DstPort: 49152, Proto: 17}}},
				{Attr: encoding.FlowAttr{Key: trace.Key{Src: 1, Dst: 3, SrcPort: 53, DstPort: 49152, Proto: 17}}}}
			g.drawTail(tp, rows, all, BlockRNG(seed, 0x7461, 0, b))
			for _, r := range rows {
				seen[r.Attr.Key.DstPort] = true
			}
		}
		if len(seen) != 4 || g.st.TailPorts != 4 {
			t.Fatalf("seed %d: ports %v (%d drawn), want the four", seed, seen, g.st.TailPorts)
		}
	}
}
