package postgen

import (
	"slices"

	"github.com/netshare-go/netshare/encoding"
)

// Heads keeps the rows that begin a flow: with chained long flows
// (encoding.Spec.ChainLen) a model also generates segments that follow
// another, which generation does not take from the attribute generator but
// makes itself, from their flow's first segment (Chain). It returns the
// kept rows (in place) and the number dropped. Without chaining every row
// is kept.
func Heads(s *encoding.Schema, rows []Row) ([]Row, int) {
	if !s.Chains() {
		return rows, 0
	}
	kept := rows[:0]
	for _, r := range rows {
		if !r.Attr.Follows {
			kept = append(kept, r)
		}
	}
	return kept, len(rows) - len(kept)
}

// Chain cuts each row whose length attribute passes the schema's segment
// length (MaxLen) into the segments of a chained flow: the row itself,
// its length set to MaxLen, then as many rows following it as the length
// needs, each a copy of its attribute vector with the follows tag on (so
// that their features are generated given the flow's identity and whole
// length, as the model learnt them), of MaxLen records but the last. The
// segments of a flow stay together and in order, as decoding chains them.
// The rows come back in batches of at most size rows, a flow's segments
// never split across batches (a flow longer than size segments gets a
// batch of its own), and chained counts the rows cut. Without chaining,
// rows is the one batch.
func Chain(s *encoding.Schema, rows []Row, size int) (batches [][]Row, chained int) {
	if !s.Chains() {
		return [][]Row{rows}, 0
	}
	seg := s.MaxLen
	var cur []Row
	for _, r := range rows {
		n := max(1, r.Attr.Len)
		segs := (n + seg - 1) / seg
		if len(cur) > 0 && len(cur)+segs > size {
			batches = append(batches, cur)
			cur = nil
		}
		head := r
		setTag(s, head.Vec, "follows", false)
		head.Attr.Len = min(n, seg)
		cur = append(cur, head)
		if segs > 1 {
			chained++
		}
		for k := 1; k < segs; k++ {
			f := r
			f.Vec = slices.Clone(r.Vec)
			setTag(s, f.Vec, "follows", true)
			f.Attr.Follows = true
			f.Attr.Len = min(seg, n-k*seg)
			cur = append(cur, f)
		}
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, chained
}
