package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Bins is a data-independent partition of an interval into bins: bin i is
// [Edges[i], Edges[i+1]). Values below the first edge fall in the first
// bin and values at or above the last in the last bin, so clamping is part
// of the binning. The edges must come from public knowledge (the
// configuration's bounds), never from the private data. When Integer is
// set the values are integers and every edge is one: bin i holds the
// integers Edges[i], …, Edges[i+1]−1.
type Bins struct {
	Edges   []float64
	Integer bool
}

// LinearBins returns n equal-width bins over [lo, hi).
func LinearBins(lo, hi float64, n int) (Bins, error) {
	if err := checkRange(lo, hi, n); err != nil {
		return Bins{}, err
	}
	e := make([]float64, n+1)
	for i := range e {
		e[i] = lo + (hi-lo)*float64(i)/float64(n)
	}
	e[n] = hi
	return Bins{Edges: e}, nil
}

// LogBins returns n bins over [lo, hi) whose edges are evenly spaced in
// ln(1+x) (so lo may be 0): narrow bins for small values and bins of a
// constant ratio for large ones, what sizes, counts and durations need.
// lo must be ≥ 0.
func LogBins(lo, hi float64, n int) (Bins, error) {
	if err := checkRange(lo, hi, n); err != nil {
		return Bins{}, err
	}
	if lo < 0 {
		return Bins{}, fmt.Errorf("privacy: log bins from %v: want a lower bound ≥ 0", lo)
	}
	a, b := math.Log1p(lo), math.Log1p(hi)
	e := make([]float64, n+1)
	for i := range e {
		e[i] = math.Expm1(a + (b-a)*float64(i)/float64(n))
	}
	e[0], e[n] = lo, hi
	return Bins{Edges: e}, nil
}

// IntLogBins returns at most n bins over the integers lo, …, hi (lo ≥ 0):
// the edges of [LogBins] rounded to integers, duplicates dropped, so that
// small values get a bin each (one-packet flows stay a point mass) and
// large ones share log-spaced bins.
func IntLogBins(lo, hi int64, n int) (Bins, error) {
	if lo < 0 || hi < lo {
		return Bins{}, fmt.Errorf("privacy: integer bins over [%d, %d]: want 0 ≤ lo ≤ hi", lo, hi)
	}
	if n <= 0 {
		return Bins{}, fmt.Errorf("privacy: %d bins: want at least 1", n)
	}
	lb, _ := LogBins(float64(lo), float64(hi)+1, n)
	e := make([]float64, 0, n+1)
	for _, x := range lb.Edges {
		x = math.Round(x)
		if len(e) == 0 || x > e[len(e)-1] {
			e = append(e, x)
		}
	}
	e[0] = float64(lo)
	if last := float64(hi) + 1; e[len(e)-1] != last {
		if len(e) > 1 && e[len(e)-1] > last {
			e[len(e)-1] = last
		} else {
			e = append(e, last)
		}
	}
	if len(e) < 2 {
		e = append(e, float64(lo)+1)
	}
	return Bins{Edges: e, Integer: true}, nil
}

func checkRange(lo, hi float64, n int) error {
	switch {
	case n <= 0:
		return fmt.Errorf("privacy: %d bins: want at least 1", n)
	case math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(hi > lo):
		return fmt.Errorf("privacy: bins over [%v, %v): want finite bounds lo < hi", lo, hi)
	}
	return nil
}

// Len returns the number of bins.
func (b Bins) Len() int { return len(b.Edges) - 1 }

// Index returns the bin of x, clamping values outside the edges to the
// first or last bin.
func (b Bins) Index(x float64) int {
	n := b.Len()
	if !(x >= b.Edges[0]) { // also NaN
		return 0
	}
	// The first edge above x, minus one.
	i := sort.SearchFloat64s(b.Edges[1:], x)
	if i < n && b.Edges[i+1] == x {
		i++
	}
	return min(i, n-1)
}

// Sample draws a value uniformly within bin i (an integer one when the
// bins are integer).
func (b Bins) Sample(i int, r *rand.Rand) float64 {
	lo, hi := b.Edges[i], b.Edges[i+1]
	if b.Integer {
		return lo + float64(r.Int64N(int64(hi-lo)))
	}
	return lo + (hi-lo)*r.Float64()
}

// Validate reports whether b has at least one bin and strictly increasing,
// finite edges (integers when b.Integer).
func (b Bins) Validate() error {
	if len(b.Edges) < 2 {
		return errors.New("privacy: bins need at least two edges")
	}
	for i, e := range b.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return fmt.Errorf("privacy: bin edge %d is %v", i, e)
		}
		if i > 0 && !(e > b.Edges[i-1]) {
			return fmt.Errorf("privacy: bin edges %d and %d are not increasing (%v, %v)", i-1, i, b.Edges[i-1], e)
		}
		if b.Integer && e != math.Trunc(e) {
			return fmt.Errorf("privacy: integer bin edge %d is %v", i, e)
		}
	}
	return nil
}

// Quantiles returns the values at probabilities ps (each in [0, 1]) of the
// distribution that puts mass weights[i] on bin i, spread uniformly within
// the bin. weights are typically a noisy histogram after [ClipNegative]
// (and [Threshold]): the quantiles are then differentially private, as
// post-processing of the histogram, and cost no budget of their own. With
// no positive weight at all the distribution is uniform over the bins'
// range (the data-independent fallback).
func (b Bins) Quantiles(weights []float64, ps []float64) ([]float64, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if len(weights) != b.Len() {
		return nil, fmt.Errorf("privacy: %d weights for %d bins", len(weights), b.Len())
	}
	cum := make([]float64, len(weights)+1)
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("privacy: weight %v of bin %d: want a finite weight ≥ 0 (clip noisy counts first)", w, i)
		}
		cum[i+1] = cum[i] + w
	}
	total := cum[len(weights)]
	out := make([]float64, len(ps))
	lo, hi := b.Edges[0], b.Edges[len(b.Edges)-1]
	for k, p := range ps {
		if !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("privacy: quantile probability %v: want 0 ≤ p ≤ 1", p)
		}
		if total == 0 {
			out[k] = lo + p*(hi-lo)
			continue
		}
		t := p * total
		// The first bin whose cumulative mass reaches t, skipping empty
		// bins (only p = 0 can land on one): p = 0 is the start of the
		// first non-empty bin.
		i := sort.Search(len(weights), func(i int) bool { return cum[i+1] >= t })
		for i < len(weights)-1 && weights[i] == 0 {
			i++
		}
		i = min(i, len(weights)-1)
		f := 0.0
		if weights[i] > 0 {
			f = math.Min(math.Max((t-cum[i])/weights[i], 0), 1)
		}
		out[k] = b.Edges[i] + f*(b.Edges[i+1]-b.Edges[i])
	}
	// Guard monotonicity against rounding.
	for k := 1; k < len(out); k++ {
		if ps[k] >= ps[k-1] && out[k] < out[k-1] {
			out[k] = out[k-1]
		}
	}
	return out, nil
}

// Sampler draws bin indices in proportion to non-negative weights (a
// post-processed noisy histogram). Bins of weight 0 are never drawn; with
// no positive weight every bin is equally likely (the data-independent
// fallback).
type Sampler struct {
	idx []int     // bins of positive weight (nil: uniform over n)
	cum []float64 // cumulative weights of idx
	n   int
}

// NewSampler returns a sampler over weights.
func NewSampler(weights []float64) (*Sampler, error) {
	if len(weights) == 0 {
		return nil, errors.New("privacy: sampler over no bins")
	}
	s := &Sampler{n: len(weights)}
	var c float64
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("privacy: weight %v of bin %d: want a finite weight ≥ 0", w, i)
		}
		if w > 0 {
			c += w
			s.idx = append(s.idx, i)
			s.cum = append(s.cum, c)
		}
	}
	return s, nil
}

// Uniform reports whether the sampler fell back to the uniform
// distribution (no bin had positive weight).
func (s *Sampler) Uniform() bool { return len(s.idx) == 0 }

// Draw returns one bin index.
func (s *Sampler) Draw(r *rand.Rand) int {
	if len(s.idx) == 0 {
		return r.IntN(s.n)
	}
	t := r.Float64() * s.cum[len(s.cum)-1]
	j, _ := slices.BinarySearch(s.cum, t)
	// BinarySearch finds the first cum ≥ t; a draw exactly on an edge
	// belongs to the next bin.
	if j < len(s.cum) && s.cum[j] == t {
		j++
	}
	return s.idx[min(j, len(s.idx)-1)]
}
