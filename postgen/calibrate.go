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
func calibrate(s *encoding.Schema, outs []*Generated, targets []Target, rng *rand.Rand) {
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
	for j, off := range s.QuantileFeatureOffsets() {
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
		if j < len(targets) {
			targets[j].ranks(vals, rng)
		} else {
			uniformRanks(vals, rng)
		}
	}
}

// calibrateAttr calibrates a quantile-encoded attribute (such as the
// length) over the rows that keep says will be generated, in place in the
// rows' vectors, and decodes the calibrated length into the rows'
// attributes.
func calibrateAttr(s *encoding.Schema, rows [][]Row, name string, keep func(Row) bool, to Target, rng *rand.Rand) {
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
	to.ranks(vals, rng)
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

// Target is the distribution of calibrated positions a chunk's values of a
// field are given: their ranks, spread uniformly over [0,1), are mapped
// through it. Calibrated over the whole trace at once, a chunk's values
// would take the positions their ranks among every chunk's values give
// them, and a chunk of longer flows keep longer flows; ranked among the
// values of one block alone they would all take the whole marginal. A
// Target carries the former into the latter: the positions a pilot sample
// of the chunk's values takes among the pilot of every chunk (Targets).
// The zero Target is uniform.
type Target struct {
	q []float64 // sorted positions in [0,1]
}

// Targets computes, for one field, each chunk's Target from pilot values
// of every chunk (nil for a chunk without any), sampled in proportion to
// the values each chunk generates: each pilot value's position is its
// mid-rank among all of them over their number. Weighted by their chunks'
// shares, the targets make up the uniform distribution.
func Targets[F float32 | float64](pilot [][]F) []Target {
	var all []F
	for _, p := range pilot {
		all = append(all, p...)
	}
	slices.Sort(all)
	n := float64(len(all))
	out := make([]Target, len(pilot))
	for c, p := range pilot {
		if len(p) == 0 {
			continue
		}
		q := make([]float64, len(p))
		for i, v := range p {
			lo, _ := slices.BinarySearch(all, v)
			hi := lo
			for hi < len(all) && all[hi] == v {
				hi++
			}
			q[i] = (float64(lo+hi) / 2) / n
		}
		slices.Sort(q)
		out[c] = Target{q: q}
	}
	return out
}

// at is the target's quantile function at u in [0,1]: piecewise linear
// through ((i+½)/m, q_i), flat beyond the first and last.
func (t Target) at(u float64) float64 {
	m := len(t.q)
	if m == 0 {
		return u
	}
	x := u*float64(m) - 0.5
	switch {
	case x <= 0:
		return t.q[0]
	case x >= float64(m-1):
		return t.q[m-1]
	}
	i := int(x)
	f := x - float64(i)
	return t.q[i] + (t.q[i+1]-t.q[i])*f
}

// ranks replaces each value by the target at (rank + U(0,1)) / n.
func (t Target) ranks(vals any, rng *rand.Rand) {
	switch v := vals.(type) {
	case []*float32:
		rankWith(v, rng, func(rank, n int) float64 { return t.at((float64(rank) + rng.Float64()) / float64(n)) })
	case []*float64:
		rankWith(v, rng, func(rank, n int) float64 { return t.at((float64(rank) + rng.Float64()) / float64(n)) })
	}
}

// PilotLengths returns the length attribute positions of the rows that
// will be generated (those starting in their chunk, or all of them with
// one chunk) of a chunk's pilot sample, for Targets.
func PilotLengths(s *encoding.Schema, rows []Row) []float32 {
	off := s.QuantileAttr("length")
	if off < 0 {
		return nil
	}
	var out []float32
	for _, r := range rows {
		if s.Chunks == 1 || r.Attr.StartsHere {
			out = append(out, r.Vec[off])
		}
	}
	return out
}

// PilotFeatures returns, per quantile feature (QuantileFeatureOffsets
// order), the values o generated within each flow's length, for Targets.
func PilotFeatures(s *encoding.Schema, o *Generated) [][]float32 {
	offs := s.QuantileFeatureOffsets()
	out := make([][]float32, len(offs))
	fd := s.FeatDim()
	for j, off := range offs {
		for i, l := range o.Lens {
			for k := range l {
				out[j] = append(out[j], o.Feat[(i*s.MaxLen+k)*fd+off])
			}
		}
	}
	return out
}
