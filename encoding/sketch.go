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
	return s.knotsFrom(s.order(s.values(), log), k)
}

// knotsFrom is knots given the order statistics at (from order).
func (s *quantileSketch) knotsFrom(at func(uint64) float64, k int) []float64 {
	n := s.n
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

// order returns the function giving order statistic i (from 0) of the
// values added, vals (from values), in log1p space when log is set; the
// sketch must not be empty.
func (s *quantileSketch) order(vals []counted, log bool) func(i uint64) float64 {
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
	return func(i uint64) float64 {
		switch i {
		case 0:
			return tr(s.lo)
		case n - 1:
			return tr(s.hi)
		}
		j, _ := slices.BinarySearch(cum, i+1)
		return tr(min(max(vals[j].v, s.lo), s.hi))
	}
}

// gapMin is the least distance, in log1p space (a factor of e), between
// two neighbouring values that gapKnots keeps apart.
const gapMin = 1.0

// gapStep is the width in probability of a gap's jump: two float32 steps
// just below 1.
const gapStep = 0x1p-23

// gapKnots returns the knots of knots(k, true) with, where the interval
// between two neighbouring knots spans a gap in the data, two more knots at
// its sides, and every knot's probability (nil when none was added). A gap
// is two neighbouring values at least gapMin apart in log1p space and at
// least half as far apart as the knots around them; largest gaps first, up
// to k of them. Its two knots take the share of values at or below its
// lower side as probability, the upper one gapStep more, so that no
// position decodes inside the gap.
//
// Evenly spaced knots interpolate across a gap: the few largest records of
// a trace (six flows of 4,500 to 7,000 packets above a body of 1 to 10)
// share the top interval with smaller ones, and decoding spreads them
// evenly in log space from 10 to 7,000, which loses most of the trace's
// packets. With knots at a gap's sides, a position decodes on the side of
// the gap its probability lies on, as in the data.
func (s *quantileSketch) gapKnots(k int) (knots, probs []float64) {
	n := s.n
	if n < 3 {
		return s.knots(k, true), nil
	}
	vals := s.values()
	at := s.order(vals, true)
	knots = s.knotsFrom(at, k)
	k = len(knots) - 1
	type point struct{ p, v float64 }
	pts := make([]point, k+1)
	for j := range pts {
		pts[j] = point{float64(j) / float64(k), knots[j]}
	}
	// Gaps between neighbouring distinct values: the number of values at
	// or below the lower one, and their distance.
	type gap struct {
		below uint64
		d     float64
	}
	var gaps []gap
	var cum uint64
	for i := 0; i+1 < len(vals); i++ {
		cum += vals[i].c
		if d := at(cum) - at(cum-1); d >= gapMin {
			gaps = append(gaps, gap{cum, d})
		}
	}
	slices.SortStableFunc(gaps, func(a, b gap) int { return cmp.Compare(b.d, a.d) })
	added := 0
	for _, g := range gaps {
		if added >= k {
			break
		}
		// c lies strictly between the order statistics below-1 and below
		// (probabilities (below-1)/(n-1) and below/(n-1)); an evenly
		// spaced knot between them interpolates into the gap and goes.
		c := float64(g.below) / float64(n)
		a, b := at(g.below-1), at(g.below)
		r, _ := slices.BinarySearchFunc(pts, c, func(p point, x float64) int { return cmp.Compare(p.p, x) })
		l := r - 1
		for pts[l].v > a {
			l--
		}
		for pts[r].v < b {
			r++
		}
		if g.d < (pts[r].v-pts[l].v)/2 {
			continue
		}
		// The jump is gapStep wide, so that a float32 position at either
		// side decodes to that side.
		lo, up := c, c+gapStep
		if up >= pts[r].p {
			if pts[r].v != b {
				continue
			}
			lo, up = pts[r].p-gapStep, -1
		}
		if lo <= pts[l].p {
			continue
		}
		if up < 0 {
			pts = slices.Replace(pts, l+1, r, point{lo, a})
		} else {
			pts = slices.Replace(pts, l+1, r, point{lo, a}, point{up, b})
		}
		added++
	}
	if added == 0 {
		return knots, nil
	}
	knots = make([]float64, len(pts))
	probs = make([]float64, len(pts))
	for j, p := range pts {
		knots[j], probs[j] = p.v, p.p
	}
	return knots, probs
}

// Sketch gathers values for quantile knots in memory bounded by the
// sketch's bins (see quantileSketch), for statistics kept outside the
// schema.
type Sketch struct{ s *quantileSketch }

// NewSketch returns an empty sketch.
func NewSketch() *Sketch { return &Sketch{newSketch()} }

// Add adds value v.
func (s *Sketch) Add(v float64) { s.s.add(v) }

// N returns how many values were added.
func (s *Sketch) N() uint64 { return s.s.n }

// Knots returns at most k+1 quantile knots of the values (in log1p space
// when log is set), as the schema's are made.
func (s *Sketch) Knots(k int, log bool) []float64 { return s.s.knots(k, log) }
