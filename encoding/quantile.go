package encoding

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Quantile encodes a value as its position in the field's empirical
// distribution (a randomised probability-integral transform): v maps to
// F(v) in [0, 1], where F is the piecewise-linear interpolation of K+1
// quantile knots. A value the data takes many times (a point mass: one
// packet, zero duration) spans several knots and encodes as a uniform draw
// over its span, so the encoded marginal is uniform; decoding any position
// inside the span gives the value back exactly. Continuous parts decode by
// interpolating between neighbouring knots (in log1p space when Log is
// set). The model thus sees uniform marginals and only has to learn how the
// fields depend on each other, and point masses survive generation.
type Quantile struct {
	Field string
	// Knots are the K+1 quantiles at 0, 1/K, ..., 1, non-decreasing, in
	// log1p space when Log is set; or, with Probs, at those probabilities.
	Knots []float64
	// Probs, when set, are the knots' probabilities, strictly increasing
	// from 0 to 1 (see GapKnots); nil means evenly spaced.
	Probs []float64
	Log   bool
	Round bool

	rng *rand.Rand
}

// QuantileKnots returns k+1 quantile knots of vals (in log1p space when
// log is set), k at most len(vals)-1.
func QuantileKnots(vals []float64, k int, log bool) []float64 {
	if len(vals) == 0 {
		return []float64{0, 0}
	}
	v := slices.Clone(vals)
	if log {
		for i := range v {
			v[i] = math.Log1p(math.Max(0, v[i]))
		}
	}
	slices.Sort(v)
	k = max(1, min(k, len(v)-1))
	if len(v) == 1 {
		return []float64{v[0], v[0]}
	}
	knots := make([]float64, k+1)
	for j := 0; j <= k; j++ {
		// Quantile j/k by linear interpolation between order statistics.
		x := float64(j) / float64(k) * float64(len(v)-1)
		i := int(x)
		if i >= len(v)-1 {
			knots[j] = v[len(v)-1]
			continue
		}
		f := x - float64(i)
		if v[i] == v[i+1] {
			knots[j] = v[i]
		} else {
			knots[j] = v[i] + f*(v[i+1]-v[i])
		}
	}
	return knots
}

func (q *Quantile) Name() string      { return q.Field }
func (q *Quantile) Dim() int          { return 1 }
func (q *Quantile) Outputs() []Output { return []Output{{Name: q.Field, Dim: 1, Act: Sigmoid}} }

func (q *Quantile) seed(s uint64) { q.rng = rand.New(rand.NewPCG(s, 0x7175616e74)) }

func (q *Quantile) Encode(v float64, dst []float32) bool {
	pos, changed := q.position(v)
	dst[0] = float32(pos)
	return changed
}

// position returns v's position in [0, 1] and whether v was clamped.
func (q *Quantile) position(v float64) (float64, bool) {
	if q.rng == nil {
		q.seed(0)
	}
	k := len(q.Knots) - 1
	changed := false
	t := v
	if math.IsNaN(t) {
		t, changed = q.Knots[0], true
	} else if q.Log {
		t = math.Log1p(math.Max(0, t))
	}
	if t < q.Knots[0] {
		t, changed = q.Knots[0], true
	} else if t > q.Knots[k] {
		t, changed = q.Knots[k], true
	}
	lo := sort.SearchFloat64s(q.Knots, t)                                           // first knot ≥ t
	hi := sort.Search(len(q.Knots), func(i int) bool { return q.Knots[i] > t }) - 1 // last knot ≤ t
	var pos float64
	switch {
	case lo <= hi && lo < hi:
		pos = q.prob(lo) + q.rng.Float64()*(q.prob(hi)-q.prob(lo))
	case lo <= hi:
		pos = q.prob(lo)
	default: // knots[hi] < t < knots[lo], lo = hi+1
		pos = q.prob(hi) + (t-q.Knots[hi])/(q.Knots[lo]-q.Knots[hi])*(q.prob(lo)-q.prob(hi))
	}
	return pos, changed
}

// prob returns knot i's probability.
func (q *Quantile) prob(i int) float64 {
	if q.Probs != nil {
		return q.Probs[i]
	}
	return float64(i) / float64(len(q.Knots)-1)
}

func (q *Quantile) Decode(src []float32, stride, offset int, out []float64) {
	for r := range out {
		out[r] = q.value(float64(src[r*stride+offset]))
	}
}

// value maps a position in [0, 1] back to a value.
func (q *Quantile) value(u float64) float64 {
	k := len(q.Knots) - 1
	u = math.Max(0, math.Min(1, u))
	var i int
	var f float64
	if q.Probs != nil {
		// The interval [Probs[i], Probs[i+1]) holding u.
		i = min(max(sort.SearchFloat64s(q.Probs, u)-1, 0), k-1)
		f = (u - q.Probs[i]) / (q.Probs[i+1] - q.Probs[i])
	} else {
		x := u * float64(k)
		i = min(int(x), k-1)
		f = x - float64(i)
	}
	a, b := q.Knots[i], q.Knots[i+1]
	t := a
	switch {
	case q.Probs != nil && q.Probs[i+1]-q.Probs[i] <= gapStep:
		// A gap's jump: the nearer side, as float32 positions round.
		if f >= 0.5 {
			t = b
		}
	case a == b || f <= 0:
	case f >= 1:
		t = b
	default:
		t = a + f*(b-a)
	}
	if q.Log {
		t = math.Expm1(t)
	}
	if q.Round {
		t = math.Round(t)
	}
	return t
}
