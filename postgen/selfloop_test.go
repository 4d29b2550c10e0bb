package postgen

import (
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// hostRow is softRow with a destination too: bits of dst, sure but for
// the bits in unsure, given probability p.
func hostRow(t *testing.T, s interface {
	AttrSlice(string) (int, int)
	AttrDim() int
}, src, dst uint32, unsure []int, p float32) Row {
	t.Helper()
	r := softRow(t, s, src, nil, 1)
	d := softRow(t, s, dst, unsure, p)
	off, dim := s.AttrSlice("dstip")
	so, _ := s.AttrSlice("srcip")
	copy(r.Vec[off:off+dim], d.Vec[so:so+dim])
	r.Attr.Key.Dst = dst
	r.Attr.StartsHere = true
	return r
}

// separateHosts moves each flow from a host to itself to the address its
// bits and the block's counts favour most on one side, never onto the
// address of the other side, and leaves other rows alone.
func TestSeparateHosts(t *testing.T) {
	s := tagSchema(t, 1)
	const a, b, c = 0x0a000001, 0x0a000002, 0x0a000003 // b is a with bits 30 and 31 flipped; c with bit 30
	var rows []Row
	for range 10 {
		rows = append(rows, hostRow(t, s, a, b, nil, 1))
		rows = append(rows, hostRow(t, s, b, a, nil, 1))
	}
	rows = append(rows, hostRow(t, s, c, b, nil, 1))
	// Loops on a, unsure of the destination's last two bits: b, a popular
	// destination, is the cheapest move, while the source is sure of its
	// bits.
	for range 3 {
		rows = append(rows, hostRow(t, s, a, a, []int{30, 31}, 0.6))
	}
	// A loop on b the row's bits would rather leave on the source side:
	// the source's last bit is unsure (b, or else c), the destination sure.
	loop := softRow(t, s, b, []int{31}, 0.55)
	loop.Attr.Key.Dst = b
	off, dim := s.AttrSlice("dstip")
	copy(loop.Vec[off:off+dim], hostRow(t, s, b, b, nil, 1).Vec[off:off+dim])
	loop.Attr.StartsHere = true
	rows = append(rows, loop)
	before := append([]Row(nil), rows...)
	kept := func(r Row) bool { return r.Attr.StartsHere }
	moved := separateHosts(s, rows, kept, nil)
	if moved != 4 {
		t.Errorf("moved %d rows, want the 4 loops", moved)
	}
	for i, r := range rows {
		k := r.Attr.Key
		if k.Src == k.Dst {
			t.Errorf("row %d: still %x → %x", i, k.Src, k.Dst)
		}
		if i < 21 && k != before[i].Attr.Key {
			t.Errorf("row %d moved: %v → %v", i, before[i].Attr.Key, k)
		}
	}
	for _, r := range rows[21:24] {
		if r.Attr.Key.Src != a || r.Attr.Key.Dst != b {
			t.Errorf("loop on a became %x → %x, want the destination moved to b", r.Attr.Key.Src, r.Attr.Key.Dst)
		}
	}
	if k := rows[24].Attr.Key; k.Src != c || k.Dst != b {
		t.Errorf("loop on b became %x → %x, want the source moved to c (its unsure bit)", k.Src, k.Dst)
	}
	// The vector follows the key (features are generated for the flow
	// written).
	if got := ipOfVec(s, rows[24]); got != c {
		t.Errorf("moved row's source bits encode %x, want %x", got, c)
	}
	// A block whose rows all share one address has nothing to give.
	one := []Row{hostRow(t, s, a, a, nil, 1), hostRow(t, s, a, a, nil, 1)}
	if n := separateHosts(s, one, kept, nil); n != 0 {
		t.Errorf("moved %d rows of a one-address block", n)
	}
}

// The address profile moves no row onto the address of its other side.
func TestFollowProfileMakesNoLoops(t *testing.T) {
	s := tagSchema(t, 1)
	off, _ := s.AttrSlice("srcip")
	const a, b = 0x0a000001, 0x0a000002
	var rows []Row
	for range 10 {
		rows = append(rows, hostRow(t, s, a, b, nil, 1)) // a is far above its share
	}
	rows = append(rows, hostRow(t, s, b, a, nil, 1))
	prof := NewAddrProfile([]float64{6, 5})
	kept := func(Row) bool { return true }
	if n := followProfile(trace.KindFlows, prof, rows, kept, "srcip", off, nil, true); n != 0 {
		t.Errorf("moved %d rows onto their own destination", n)
	}
	if n := followProfile(trace.KindFlows, prof, rows, kept, "srcip", off, nil, false); n == 0 {
		t.Error("with loops allowed, nothing moved: the test shows nothing")
	}
	// Packet swaps: a swap that would send a flow to its own host
	// exchanges the two flows' address pairs instead.
	mk := func() []Row {
		var rows []Row
		for i := range 11 {
			r := hostRow(t, s, a, b, nil, 1)
			r.Attr.Len = 1 + 9*(i%2)
			rows = append(rows, r)
		}
		rows[0].Attr.Key.Src, rows[0].Attr.Key.Dst = b, a
		return rows
	}
	// a: 10 flows, 55 packets; b: 1 flow, 1 packet. The profile asks for 46
	// and 10: b's flow for one of a's 10-packet flows.
	pk := NewAddrProfile([]float64{46, 10})
	loops := func(rows []Row) (n int) {
		for _, r := range rows {
			if r.Attr.Key.Src == r.Attr.Key.Dst {
				n++
			}
		}
		return n
	}
	rows = mk()
	if n := swapPackets(pk, rows, kept, "srcip", nil, true); n != 1 {
		t.Fatalf("%d swaps, want 1", n)
	}
	flows, packets := map[uint32]int{}, map[uint32]int{}
	for _, r := range rows {
		flows[r.Attr.Key.Src]++
		packets[r.Attr.Key.Src] += r.Attr.Len
	}
	if loops(rows) != 0 || flows[a] != 10 || flows[b] != 1 || packets[a] != 46 || packets[b] != 10 {
		t.Errorf("after the swap: %d loops, flows %v, packets %v; want none, 10 and 1, 46 and 10", loops(rows), flows, packets)
	}
	if k := rows[0].Attr.Key; k.Src != a || k.Dst != b {
		t.Errorf("b's flow became %x → %x, want a's pair a → b", k.Src, k.Dst)
	}
	rows = mk()
	if n := swapPackets(pk, rows, kept, "srcip", nil, false); n != 1 || loops(rows) != 2 {
		t.Errorf("with loops allowed, %d swaps and %d loops, want 1 and 2: the test shows nothing", n, loops(rows))
	}
}

// With the address profile, a loop on a host leaves the side where the
// host stands above its target, for the address furthest below its own:
// a capture host that is the source of a quarter of the flows and the
// destination of the rest keeps its place on the destination side.
func TestSeparateHostsFollowsTheProfile(t *testing.T) {
	s := tagSchema(t, 1)
	const a, b, c = 0x0a000001, 0x0a000002, 0x0a000003
	var rows []Row
	for range 4 {
		rows = append(rows, hostRow(t, s, a, a, nil, 1))
	}
	gaps := &hostGaps{
		gap: [2]map[uint32]float64{
			{a: 3, b: -1, c: -2}, // a is above its source target
			{a: -4, b: 2},        // and below its destination target
		},
		weight: func(Row) float64 { return 1 },
	}
	kept := func(Row) bool { return true }
	if n := separateHosts(s, rows, kept, gaps); n != 4 {
		t.Fatalf("moved %d of the 4 loops", n)
	}
	src := map[uint32]int{}
	for _, r := range rows {
		if r.Attr.Key.Dst != a {
			t.Errorf("loop became %x → %x, want the destination kept on a", r.Attr.Key.Src, r.Attr.Key.Dst)
		}
		src[r.Attr.Key.Src]++
	}
	// c (2 short), then b and c alike (1 short each), by the bits: a is
	// 0x…01, b 0x…10 and c 0x…11, one bit from a.
	if src[c] < 2 || src[b]+src[c] != 4 {
		t.Errorf("sources %v, want the shorter c first", src)
	}
	if gaps.gap[0][a] != -1 {
		t.Errorf("source gap of a %g after 4 moves, want −1", gaps.gap[0][a])
	}
}

// When the side where the host stands above its target has no other
// address to give, the loop leaves the host on the other side.
func TestSeparateHostsOtherSide(t *testing.T) {
	s := tagSchema(t, 1)
	const a, b = 0x0a000001, 0x0a000002
	rows := []Row{hostRow(t, s, a, a, nil, 1), hostRow(t, s, a, a, nil, 1)}
	gaps := &hostGaps{
		gap: [2]map[uint32]float64{
			{a: 2},         // only a as a source, above its target
			{a: -1, b: -3}, // b below its destination target
		},
		weight: func(Row) float64 { return 1 },
	}
	if n := separateHosts(s, rows, func(Row) bool { return true }, gaps); n != 2 {
		t.Fatalf("moved %d of the 2 loops", n)
	}
	for _, r := range rows {
		if k := r.Attr.Key; k.Src != a || k.Dst != b {
			t.Errorf("loop became %x → %x, want a → b", k.Src, k.Dst)
		}
	}
}
