package encoding

import (
	"cmp"
	"math"
	"slices"
)

// The quantile sketch behind quantile knots: exact value counts while a
// field has at most sketchExactMax distinct values (then knots are those of
// QuantileKnots on all the values), and beyond that a histogram of
// logarithmic bins of relative width 2·sketchAccuracy, each value held as
// its bin's centre, so that a knot is within sketchAccuracy of the exact
// one relatively (the extreme knots stay exact: the minimum and maximum are
// kept aside). Its memory is bounded by the number of bins, not values.
const (
	sketchExactMax = 1 << 15
	sketchAccuracy = 1e-3
)

var sketchGamma = (1 + sketchAccuracy) / (1 - sketchAccuracy)
var sketchLogGamma = math.Log(sketchGamma)

type quantileSketch struct {
	exact    map[float64]uint64 // nil once binned
	pos, neg map[int32]uint64
	zero     uint64
	n        uint64
	lo, hi   float64
}

func newSketch() *quantileSketch {
	return &quantileSketch{exact: map[float64]uint64{}, lo: math.Inf(1), hi: math.Inf(-1)}
}

func (s *quantileSketch) add(v float64) {
	s.lo, s.hi = math.Min(s.lo, v), math.Max(s.hi, v)
	s.count(v, 1)
}

// count adds c occurrences of v, leaving the range (lo, hi) to the caller.
func (s *quantileSketch) count(v float64, c uint64) {
	s.n += c
	if s.exact != nil {
		s.exact[v] += c
		if len(s.exact) > sketchExactMax {
			s.toBins()
		}
		return
	}
	s.addBin(v, c)
}

// merge adds what sketch o holds (its bins' centres for a binned one).
func (s *quantileSketch) merge(o *quantileSketch) {
	if o.n == 0 {
		return
	}
	for _, vc := range o.values() {
		s.count(vc.v, vc.c)
	}
	s.lo, s.hi = math.Min(s.lo, o.lo), math.Max(s.hi, o.hi)
}

func (s *quantileSketch) toBins() {
	s.pos, s.neg = map[int32]uint64{}, map[int32]uint64{}
	for v, c := range s.exact {
		s.addBin(v, c)
	}
	s.exact = nil
}

func binOf(a float64) int32 { return int32(math.Ceil(math.Log(a) / sketchLogGamma)) }

func binValue(i int32) float64 { return 2 * math.Pow(sketchGamma, float64(i)) / (sketchGamma + 1) }

func (s *quantileSketch) addBin(v float64, c uint64) {
	switch {
	case v > 0:
		s.pos[binOf(v)] += c
	case v < 0:
		s.neg[binOf(-v)] += c
	default:
		s.zero += c
	}
}

// counted is a value and how many times it occurs.
type counted struct {
	v float64
	c uint64
}

// values returns the distinct values (or bin centres) in increasing order
// with their counts.
func (s *quantileSketch) values() []counted {
	var out []counted
	if s.exact != nil {
		out = make([]counted, 0, len(s.exact))
		for v, c := range s.exact {
			out = append(out, counted{v, c})
		}
		slices.SortFunc(out, func(a, b counted) int { return cmp.Compare(a.v, b.v) })
		return out
	}
	for i, c := range s.neg {
		out = append(out, counted{-binValue(i), c})
	}
	if s.zero > 0 {
		out = append(out, counted{0, s.zero})
	}
	for i, c := range s.pos {
		out = append(out, counted{binValue(i), c})
	}
	slices.SortFunc(out, func(a, b counted) int { return cmp.Compare(a.v, b.v) })
	return out
}

// knots returns k+1 quantile knots as QuantileKnots does on the values
// added (exactly so while the sketch holds exact counts).
func (s *quantileSketch) knots(k int, log bool) []float64 {
	if s.n == 0 {
		return []float64{0, 0}
	}
	vals := s.values()
	cum := make([]uint64, len(vals))
	var t uint64
	for i, vc := range vals {
		t += vc.c
		cum[i] = t
	}
	n := s.n
	tr := func(v float64) float64 {
		if log {
			return math.Log1p(math.Max(0, v))
		}
		return v
	}
	// at is the order statistic i (from 0).
	at := func(i uint64) float64 {
		switch i {
		case 0:
			return tr(s.lo)
		case n - 1:
			return tr(s.hi)
		}
		j, _ := slices.BinarySearch(cum, i+1)
		return tr(min(max(vals[j].v, s.lo), s.hi))
	}
	if n == 1 {
		v := at(0)
		return []float64{v, v}
	}
	k = max(1, min(k, int(min(n-1, math.MaxInt32))))
	knots := make([]float64, k+1)
	for j := 0; j <= k; j++ {
		x := float64(j) / float64(k) * float64(n-1)
		i := uint64(x)
		if i >= n-1 {
			knots[j] = at(n - 1)
			continue
		}
		f := x - float64(i)
		a, b := at(i), at(i+1)
		if a == b {
			knots[j] = a
		} else {
			knots[j] = a + f*(b-a)
		}
	}
	return knots
}
