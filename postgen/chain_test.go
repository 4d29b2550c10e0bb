package postgen

import (
	"slices"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// chainSchema builds a flow schema of chained flows of segments of 4
// records.
func chainSchema(t *testing.T) *encoding.Schema {
	t.Helper()
	var recs []trace.Flow
	for i := range 60 {
		src := uint32(i % 3)
		if i >= 30 {
			src = uint32(i) // one long flow of 10 records from 0, others short
		}
		recs = append(recs, trace.Flow{Start: int64(i) * 1000, Src: src, Dst: 9, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: uint64(1 + i%3), Bytes: 40})
	}
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1, MaxFlowLen: 4, Chain: true})
	if err != nil {
		t.Fatal(err)
	}
	return schemaOf(t, recs, sp, encoding.BuildOptions{MaxLen: 4, LengthAttr: true, ChainLen: 64})
}

// TestChainCutsFlowsIntoSegments checks that Chain cuts each flow into
// segments of at most the segment length, the later ones following with
// the flow's attribute vector otherwise unchanged, keeps a flow's segments
// together in one batch, and that Heads drops generated later segments.
func TestChainCutsFlowsIntoSegments(t *testing.T) {
	s := chainSchema(t)
	mk := func(src uint32, n int) Row {
		r := row(t, s, src, true, nil, 0.5)
		r.Attr.Len = n
		return r
	}
	rows := []Row{mk(1, 10), mk(2, 3), mk(3, 9), mk(4, 30)}
	in := slices.Clone(rows)
	for i := range in {
		in[i].Vec = slices.Clone(in[i].Vec)
	}
	batches, chained := Chain(s, in, 5)
	if chained != 3 {
		t.Errorf("chained %d flows, want 3", chained)
	}
	var shape [][]int
	for _, b := range batches {
		var lens []int
		for _, r := range b {
			lens = append(lens, r.Attr.Len)
		}
		shape = append(shape, lens)
	}
	want := [][]int{{4, 4, 2, 3}, {4, 4, 1}, {4, 4, 4, 4, 4, 4, 4, 2}}
	if len(shape) != len(want) {
		t.Fatalf("batches %v, want %v", shape, want)
	}
	for i := range want {
		if !slices.Equal(shape[i], want[i]) {
			t.Fatalf("batches %v, want %v", shape, want)
		}
	}
	for _, b := range batches {
		for i, r := range b {
			attrs, err := s.DecodeAttributes(r.Vec, 1)
			if err != nil {
				t.Fatal(err)
			}
			if attrs[0].Follows != r.Attr.Follows {
				t.Errorf("row %d: vector says follows %v, attributes %v", i, attrs[0].Follows, r.Attr.Follows)
			}
			if r.Attr.Follows != (i > 0 && b[i-1].Attr.Key == r.Attr.Key) {
				t.Errorf("row %d (%v): follows %v", i, r.Attr.Key.Src, r.Attr.Follows)
			}
			// Apart from the tag, a segment's vector is its flow's.
			orig := slices.Clone(rows[slices.IndexFunc(rows, func(x Row) bool { return x.Attr.Key == r.Attr.Key })].Vec)
			setTag(s, orig, "follows", r.Attr.Follows)
			if !slices.Equal(orig, r.Vec) {
				t.Errorf("row %d: a segment's vector differs from its flow's beyond the follows tag", i)
			}
		}
	}
	// Heads drops what follows.
	all := slices.Concat(batches...)
	heads, dropped := Heads(s, all)
	if len(heads) != 4 || dropped != len(all)-4 {
		t.Errorf("heads %d, dropped %d of %d", len(heads), dropped, len(all))
	}
}
