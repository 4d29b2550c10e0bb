package postgen

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// The segments of each 5-tuple come together, chunk by chunk: a flow of
// three segments (60 packets) starting in chunk 0 and going on with two
// in chunk 1, another to the same port in one segment, and a flow to
// another port in one. Chunk 0's cell of the port keeps the group's
// packets and, once the segments are counted, the packets of its
// segments; the flow going on in chunk 1 is not counted there, and the
// other port, whose flows are all one segment, has no cell.
func TestSplitSegmentsCount(t *testing.T) {
	ssh := trace.Key{Src: 1, Dst: 2, SrcPort: 51371, DstPort: 22, Proto: trace.ProtoTCP}
	short := trace.Key{Src: 3, Dst: 2, SrcPort: 40000, DstPort: 22, Proto: trace.ProtoTCP}
	dns := trace.Key{Src: 3, Dst: 4, SrcPort: 40001, DstPort: 53, Proto: trace.ProtoUDP}
	type seg struct {
		c     int
		k     trace.Key
		start bool
		n     int
	}
	segs := []seg{{0, ssh, true, 20}, {0, ssh, true, 20}, {0, ssh, true, 20}, {1, ssh, false, 20}, {1, ssh, false, 5}, {0, short, true, 4}, {0, dns, true, 1}}
	ss := NewSplitSegments(2)
	for _, g := range segs {
		ss.Add(g.c, g.k, g.start, g.n)
	}
	ss.Finish()
	ss.keyGroups()
	for _, g := range segs {
		ss.Count(g.c, g.k, g.start, g.n)
	}
	x := ss.cell(ssh)
	if ss.cell(short) != x {
		t.Fatalf("two flows to port 22 key %x and %x", x, ss.cell(short))
	}
	c0 := ss.Cells(0)[x]
	if c0 == nil || len(ss.Cells(0)) != 1 || ss.Cells(1) != nil {
		t.Fatalf("cells %v, %v: want port 22's in chunk 0 alone", ss.Cells(0), ss.Cells(1))
	}
	if c0.Packets != 64 || !slices.Equal(c0.Groups, []int{60}) {
		t.Errorf("chunk 0's cell %+v: want 64 packets, a flow of 60 in several segments", *c0)
	}
}

// A chunk's real cell holds 100 packets: a flow of 90 in 5 segments and
// one of 10. Of the model's rows of the cell, each on a 5-tuple of its
// own, a full row of the port pair most full rows share leads the group
// and full rows join it, of its pair first, until it holds the real
// flow's share of the packets; the row that is not full stays a flow of
// its own, and so do a row of another cell and one not kept.
func TestRejoinSegments(t *testing.T) {
	ss := NewSplitSegments(1)
	lead := trace.Key{Src: 1, Dst: 2, SrcPort: 51371, DstPort: 22, Proto: trace.ProtoTCP}
	segs := []struct {
		k trace.Key
		n int
	}{{lead, 20}, {lead, 20}, {lead, 20}, {lead, 20}, {lead, 10}, {trace.Key{Src: 1, Dst: 2, SrcPort: 50000, DstPort: 22, Proto: trace.ProtoTCP}, 10}}
	for _, g := range segs {
		ss.Add(0, g.k, true, g.n)
	}
	ss.Finish()
	ss.keyGroups()
	for _, g := range segs {
		ss.Count(0, g.k, true, g.n)
	}
	if cell := ss.Cells(0)[ss.cell(lead)]; cell == nil || cell.Packets != 100 {
		t.Fatalf("cell %+v: want 100 packets", cell)
	}
	var rows []Row
	add := func(sp, dp uint16, n int, kept bool) {
		k := trace.Key{Src: uint32(10 + len(rows)), Dst: 2, SrcPort: sp, DstPort: dp, Proto: trace.ProtoTCP}
		rows = append(rows, Row{Attr: encoding.FlowAttr{Key: k, Len: n, StartsHere: kept}})
	}
	add(51371, 22, 20, true)
	add(51371, 22, 20, true)
	add(51371, 22, 20, true)
	add(60001, 22, 20, true)
	add(60002, 22, 20, true)
	add(50003, 22, 10, true) // not full: a flow of one segment, or a flow's last
	add(60004, 80, 20, true)
	add(60005, 22, 20, false)
	keep := func(r Row) bool { return r.Attr.StartsHere }
	if moved := rejoinSegments(ss, 0, rows, keep, 20, rand.New(rand.NewPCG(1, 2))); moved != 4 {
		t.Fatalf("%d rows moved: want 4", moved)
	}
	to := rows[0].Attr.Key
	if to.SrcPort != 51371 {
		t.Errorf("the group took %v: want a 5-tuple of the pair most full rows share (51371 → 22)", to)
	}
	for i, r := range rows[:5] {
		if r.Attr.Key != to {
			t.Errorf("full row %d on %v, not the group's %v", i, r.Attr.Key, to)
		}
	}
	if rows[5].Attr.Key.SrcPort != 50003 || rows[6].Attr.Key.SrcPort != 60004 || rows[7].Attr.Key.SrcPort != 60005 {
		t.Errorf("rows %v, %v, %v moved: the row not full, a row of another cell and one not kept stay", rows[5].Attr.Key, rows[6].Attr.Key, rows[7].Attr.Key)
	}
	// A full row of the leader's addresses joins before one of its ports.
	rows[0].Attr.Key.Src, rows[0].Attr.Key.SrcPort = 77, 40000
	rows[4].Attr.Key.Src, rows[4].Attr.Key.SrcPort = 77, 40001
	for i := range rows[1:4] {
		rows[1+i].Attr.Key.Src, rows[1+i].Attr.Key.SrcPort = uint32(90+i), 51371
	}
	ss.Chunks[0][ss.cell(lead)].Groups = []int{40}
	moved := rejoinSegments(ss, 0, rows, keep, 20, rand.New(rand.NewPCG(1, 2)))
	if moved != 1 || rows[0].Attr.Key != rows[4].Attr.Key {
		t.Errorf("%d rows moved; rows %v, %v: want one, the two rows of one address pair together", moved, rows[0].Attr.Key, rows[4].Attr.Key)
	}
}
