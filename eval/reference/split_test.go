package reference

import (
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// The halves share no 5-tuple, hold every record once in real's order,
// are near half each, and depend on the seed alone.
func TestSplitHalfFlows(t *testing.T) {
	var real []trace.Flow
	for i := range 2000 {
		// 500 5-tuples of four records each.
		k := uint32(i % 500)
		real = append(real, trace.Flow{Start: int64(i), Src: k, Dst: 7, SrcPort: 40000 + uint16(k), DstPort: 443, Proto: trace.ProtoTCP, Packets: uint64(i)})
	}
	a, b := SplitHalfFlows(real, 1)
	if len(a)+len(b) != len(real) {
		t.Fatalf("halves of %d and %d records, want %d in all", len(a), len(b), len(real))
	}
	if len(a) < 800 || len(b) < 800 {
		t.Errorf("halves of %d and %d records, want near 1000 each", len(a), len(b))
	}
	inA := map[trace.Key]bool{}
	for _, f := range a {
		inA[f.Key()] = true
	}
	for _, f := range b {
		if inA[f.Key()] {
			t.Fatalf("5-tuple %+v in both halves", f.Key())
		}
	}
	for _, h := range [][]trace.Flow{a, b} {
		if !slices.IsSortedFunc(h, func(x, y trace.Flow) int { return int(x.Start - y.Start) }) {
			t.Error("a half is out of real's order")
		}
	}
	a2, _ := SplitHalfFlows(real, 1)
	a3, _ := SplitHalfFlows(real, 2)
	if !slices.Equal(a, a2) {
		t.Error("the same seed split differently")
	}
	if slices.Equal(a, a3) {
		t.Error("another seed split the same way")
	}
}

// A capture's flows go whole to one half.
func TestSplitHalfPackets(t *testing.T) {
	var real []trace.Packet
	for i := range 400 {
		real = append(real, trace.Packet{TS: int64(i), Src: uint32(i % 40), Dst: 9, SrcPort: 1000, DstPort: 80, Proto: trace.ProtoTCP})
	}
	a, b := SplitHalfPackets(real, 3)
	if len(a) == 0 || len(b) == 0 || len(a)+len(b) != len(real) {
		t.Fatalf("halves of %d and %d packets", len(a), len(b))
	}
	inA := map[trace.Key]bool{}
	for _, p := range a {
		inA[p.Key()] = true
	}
	for _, p := range b {
		if inA[p.Key()] {
			t.Fatalf("flow %+v in both halves", p.Key())
		}
	}
}
