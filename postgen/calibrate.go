package postgen

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
)

// calibrate makes the generated quantile positions of every
// quantile-encoded field uniform, keeping their order: each value is
// replaced by its rank among the generated values of the field (ties broken
// at random), plus a uniform jitter, over their number. Decoding then
// reproduces the field's real marginal through its quantile knots, while
// which flows get the small and the large values, and so how the fields
// depend on each other, stays the model's. Flow starts are calibrated per
// chunk (each chunk has its own knots); features over the whole trace (they
// share one set of knots), so that chunks keep their differences.
func calibrate(s *encoding.Schema, outs []*Generated, rng *rand.Rand) {
	if s.HasStartKnots() {
		for _, o := range outs {
			if o == nil {
				continue
			}
			ps := make([]*float64, len(o.Attrs))
			for i := range o.Attrs {
				ps[i] = &o.Attrs[i].Start
			}
			// The first and last flows land on the chunk's first and last
			// real flow starts, so the trace spans the real time range.
			spanRanks(ps, rng)
		}
	}
	fd := s.FeatDim()
	for _, off := range s.QuantileFeatureOffsets() {
		var vals []*float32
		for _, o := range outs {
			if o == nil {
				continue
			}
			for i, l := range o.Lens {
				for k := range l {
					vals = append(vals, &o.Feat[(i*s.MaxLen+k)*fd+off])
				}
			}
		}
		uniformRanks(vals, rng)
	}
}

// calibrateAttr calibrates a quantile-encoded attribute (such as the
// length) over the rows that keep says will be generated, in place in the
// rows' vectors, and decodes the calibrated length into the rows'
// attributes.
func calibrateAttr(s *encoding.Schema, rows [][]Row, name string, keep func(Row) bool, rng *rand.Rand) {
	off := s.QuantileAttr(name)
	if off < 0 {
		return
	}
	var vals []*float32
	for c := range rows {
		for i := range rows[c] {
			if keep(rows[c][i]) {
				vals = append(vals, &rows[c][i].Vec[off])
			}
		}
	}
	uniformRanks(vals, rng)
	if name == "length" {
		for c := range rows {
			for i := range rows[c] {
				rows[c][i].Attr.Len = s.DecodeLength(rows[c][i].Vec)
			}
		}
	}
}

// uniformRanks replaces each value by (rank + U(0,1)) / n.
func uniformRanks[F float32 | float64](vals []*F, rng *rand.Rand) {
	rankWith(vals, rng, func(rank, n int) float64 { return (float64(rank) + rng.Float64()) / float64(n) })
}

// spanRanks replaces each value by rank / (n−1): evenly spaced from 0 to 1.
func spanRanks[F float32 | float64](vals []*F, rng *rand.Rand) {
	rankWith(vals, rng, func(rank, n int) float64 {
		if n == 1 {
			return 0.5
		}
		return float64(rank) / float64(n-1)
	})
}

// rankWith replaces each value by pos(its rank, n), ties broken at random.
func rankWith[F float32 | float64](vals []*F, rng *rand.Rand, pos func(rank, n int) float64) {
	n := len(vals)
	if n == 0 {
		return
	}
	type kv struct {
		v   F
		tie uint64
		i   int
	}
	keys := make([]kv, n)
	for i, p := range vals {
		keys[i] = kv{*p, rng.Uint64(), i}
	}
	slices.SortFunc(keys, func(a, b kv) int {
		if c := cmp.Compare(a.v, b.v); c != 0 {
			return c
		}
		return cmp.Compare(a.tie, b.tie)
	})
	for rank, k := range keys {
		*vals[k.i] = F(pos(rank, n))
	}
}
