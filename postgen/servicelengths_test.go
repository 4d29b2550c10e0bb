package postgen

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// The model put its one long flow on the telnet port, where the real
// trace's long flow is an SSH session: the long flow takes a port pair of
// the SSH cell from a short flow, and gives it its own, so every pair
// keeps its flows (and its encoding, which moves with it) while the
// (cell, length class) joint becomes the real one.
func TestFollowServiceLengths(t *testing.T) {
	s := tagSchema(t, 1)
	dpOff, dpDim := s.AttrSlice("dstport")
	if dpOff < 0 {
		t.Fatal("the schema encodes no destination port")
	}
	var rows []Row
	add := func(n int, sp, dp uint16, length int) {
		for range n {
			r := softRow(t, s, 0x0a000001, nil, 1)
			r.Attr.Key = trace.Key{Src: 0x0a000001, Dst: uint32(0x0a000100 + len(rows)), SrcPort: sp, DstPort: dp, Proto: trace.ProtoTCP}
			r.Attr.Len = length
			r.Attr.StartsHere = true
			for k := range dpDim {
				r.Vec[dpOff+k] = float32(dp) + float32(k)/100 // a mark of the port
			}
			rows = append(rows, r)
		}
	}
	add(1, 35000, 2323, 5000) // the long flow, on the scan port
	add(2, 50000, 22, 100)    // short SSH flows
	add(8, 40000, 2323, 100)  // telnet scans
	lender := softRow(t, s, 0x0a000001, nil, 1)
	lender.Attr.Key = trace.Key{SrcPort: 22, DstPort: 22, Proto: trace.ProtoTCP}
	lender.Attr.Len = 5000 // not kept: left alone
	rows = append(rows, lender)

	sl := NewServiceLengths(1)
	sl.Add(0, trace.Key{SrcPort: 51371, DstPort: 22, Proto: trace.ProtoTCP}, 7660)
	sl.Add(0, trace.Key{SrcPort: 51529, DstPort: 22, Proto: trace.ProtoTCP}, 100)
	for range 9 {
		sl.Add(0, trace.Key{SrcPort: 40000, DstPort: 2323, Proto: trace.ProtoTCP}, 100)
	}
	sl.Add(0, trace.Key{SrcPort: 53, DstPort: 40000, Proto: trace.ProtoUDP}, 1) // another protocol's
	if sl.Missing() || len(sl.Chunks[0][trace.ProtoTCP]) != 3 || len(sl.Chunks[0][trace.ProtoUDP]) != 1 {
		t.Fatalf("counts %v: want three TCP (cell, class) counts and one UDP", sl.Chunks[0])
	}
	pairs := func() []trace.Key {
		var out []trace.Key
		for _, r := range rows[:len(rows)-1] {
			out = append(out, trace.Key{SrcPort: r.Attr.Key.SrcPort, DstPort: r.Attr.Key.DstPort})
		}
		slices.SortFunc(out, func(a, b trace.Key) int {
			return int(a.SrcPort)<<16 + int(a.DstPort) - int(b.SrcPort)<<16 - int(b.DstPort)
		})
		return out
	}
	before := pairs()
	kept := func(r Row) bool { return r.Attr.StartsHere }
	moved := followServiceLengths(s, rows, kept, sl.Chunks[0], sl.keys, rand.New(rand.NewPCG(3, 4)))
	if moved == 0 {
		t.Fatal("no flow took another port pair")
	}
	if got := pairs(); !slices.Equal(got, before) {
		t.Errorf("port pairs %v after, %v before: want the same pairs", got, before)
	}
	long := rows[0].Attr.Key
	if long.DstPort != 22 || long.SrcPort != 50000 {
		t.Errorf("the long flow runs %d → %d, want an SSH pair (50000 → 22)", long.SrcPort, long.DstPort)
	}
	byLen := map[[2]uint16]int{}
	for _, r := range rows[:len(rows)-1] {
		if r.Attr.Key.Src != 0x0a000001 || r.Attr.Key.Proto != trace.ProtoTCP {
			t.Fatalf("row %v: the exchange changed more than the ports", r.Attr.Key)
		}
		if r.Vec[dpOff] != float32(r.Attr.Key.DstPort) {
			t.Errorf("row to port %d holds the encoding of port %g", r.Attr.Key.DstPort, r.Vec[dpOff])
		}
		if r.Attr.Len == 100 {
			byLen[[2]uint16{r.Attr.Key.SrcPort, r.Attr.Key.DstPort}]++
		}
	}
	want := map[[2]uint16]int{{50000, 22}: 1, {40000, 2323}: 8, {35000, 2323}: 1}
	if !maps.Equal(byLen, want) {
		t.Errorf("short flows per pair %v, want %v", byLen, want)
	}
	if k := rows[len(rows)-1].Attr.Key; k.SrcPort != 22 || k.DstPort != 22 {
		t.Errorf("the row not kept moved to %d → %d", k.SrcPort, k.DstPort)
	}
}

// Flows of a protocol the chunk's counts lack, and flows without ports,
// are left as they are.
func TestFollowServiceLengthsOtherProtocols(t *testing.T) {
	s := tagSchema(t, 1)
	var rows []Row
	for i, k := range []trace.Key{
		{SrcPort: 40000, DstPort: 53, Proto: trace.ProtoUDP},
		{SrcPort: 53, DstPort: 40000, Proto: trace.ProtoUDP},
		{SrcPort: 8, DstPort: 0, Proto: trace.ProtoICMP},
		{SrcPort: 0, DstPort: 0, Proto: trace.ProtoICMP},
	} {
		r := softRow(t, s, 0x0a000001, nil, 1)
		r.Attr.Key, r.Attr.Len, r.Attr.StartsHere = k, 1+i*50, true
		rows = append(rows, r)
	}
	sl := NewServiceLengths(1)
	sl.Add(0, trace.Key{SrcPort: 40000, DstPort: 443, Proto: trace.ProtoTCP}, 60)
	sl.Add(0, trace.Key{SrcPort: 0, DstPort: 0, Proto: trace.ProtoICMP}, 60) // not counted
	if len(sl.Chunks[0]) != 1 {
		t.Fatalf("counted protocols %v, want TCP alone", slices.Collect(maps.Keys(sl.Chunks[0])))
	}
	before := slices.Clone(rows)
	if n := followServiceLengths(s, rows, func(Row) bool { return true }, sl.Chunks[0], sl.keys, rand.New(rand.NewPCG(1, 2))); n != 0 {
		t.Errorf("%d flows moved, want none", n)
	}
	for i := range rows {
		if rows[i].Attr.Key != before[i].Attr.Key {
			t.Errorf("row %d: %v, was %v", i, rows[i].Attr.Key, before[i].Attr.Key)
		}
	}
}
