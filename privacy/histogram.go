package privacy

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Counts accumulates a histogram over a fixed, data-independent set of bins
// one privacy unit (one flow: a 5-tuple and all its records) at a time, and
// bounds what any one unit adds: the vector of a unit's per-bin counts is
// scaled down, when its L2 norm exceeds Bound, to norm Bound. Adding or
// removing one flow therefore changes the histogram by at most Bound in L2
// norm, whatever the number of its records: Bound is the histogram's L2
// sensitivity per flow.
//
// With Bound 1 a flow of one record counts 1, and a flow of n records in
// one bin counts 1 in all (each record 1/n): the histogram estimates the
// distribution over flows more than over records. A larger Bound keeps
// more of the record weighting at the price of proportionally more noise.
type Counts struct {
	counts []float64
	bound  float64
	unit   map[int]float64
}

// NewCounts returns an empty histogram of bins bins whose L2 sensitivity
// per flow is bound.
func NewCounts(bins int, bound float64) (*Counts, error) {
	if bins <= 0 {
		return nil, fmt.Errorf("privacy: histogram of %d bins: want at least 1", bins)
	}
	if !(bound > 0) || math.IsInf(bound, 0) {
		return nil, fmt.Errorf("privacy: contribution bound %v: want a finite bound > 0", bound)
	}
	return &Counts{counts: make([]float64, bins), bound: bound, unit: map[int]float64{}}, nil
}

// AddUnit adds one privacy unit whose records fall in the given bins (one
// entry per record, repeats allowed). An out-of-range bin is an error and
// leaves the histogram unchanged.
func (c *Counts) AddUnit(bins ...int) error {
	for _, b := range bins {
		if b < 0 || b >= len(c.counts) {
			return fmt.Errorf("privacy: bin %d outside a histogram of %d bins", b, len(c.counts))
		}
	}
	switch len(bins) {
	case 0:
		return nil
	case 1: // the common one-record flow: norm 1
		c.counts[bins[0]] += min(1, c.bound)
		return nil
	}
	clear(c.unit)
	for _, b := range bins {
		c.unit[b]++
	}
	var ss float64
	for _, v := range c.unit {
		ss += v * v
	}
	scale := 1.0
	if norm := math.Sqrt(ss); norm > c.bound {
		scale = c.bound / norm
	}
	for b, v := range c.unit {
		c.counts[b] += v * scale
	}
	return nil
}

// Bins returns the number of bins.
func (c *Counts) Bins() int { return len(c.counts) }

// Sensitivity returns the histogram's L2 sensitivity per flow (its bound).
func (c *Counts) Sensitivity() float64 { return c.bound }

// Values returns a copy of the (exact, private) counts.
func (c *Counts) Values() []float64 { return append([]float64(nil), c.counts...) }

// GaussianHistogram is the Gaussian mechanism on a histogram: every bin of
// a histogram whose L2 sensitivity per flow is Sensitivity (Δ) gets
// independent Gaussian noise of standard deviation Noise·Δ. One release is
// one Gaussian mechanism with noise multiplier Noise, whose RDP at order α
// is α/(2·Noise²) = α·Δ²/(2·(Noise·Δ)²); it composes with DP-SGD in the
// same [Accountant] (see [GaussianHistogram.Mechanism]). Clipping negative
// counts, thresholding and anything else computed from the noisy counts
// alone is post-processing and costs nothing more.
type GaussianHistogram struct {
	Name        string  // what is released, for reports
	Sensitivity float64 // Δ, L2 sensitivity per flow (a Counts' bound)
	Noise       float64 // noise multiplier σ: the noise's std is σΔ
}

// Std returns the standard deviation of the noise on each bin, σΔ.
func (h GaussianHistogram) Std() float64 { return h.Noise * h.Sensitivity }

// Validate reports whether h's parameters are in range.
func (h GaussianHistogram) Validate() error {
	switch {
	case !(h.Sensitivity > 0) || math.IsInf(h.Sensitivity, 0):
		return fmt.Errorf("privacy: histogram %q: sensitivity %v: want a finite Δ > 0", h.Name, h.Sensitivity)
	case !(h.Noise > 0) || math.IsInf(h.Noise, 0):
		return fmt.Errorf("privacy: histogram %q: noise multiplier %v: want a finite σ > 0", h.Name, h.Noise)
	}
	return nil
}

// Mechanism returns the release as a mechanism for an [Accountant]: one
// Gaussian release with noise multiplier σ.
func (h GaussianHistogram) Mechanism() Mechanism {
	name := h.Name
	if name == "" {
		name = "Gaussian histogram"
	}
	return Mechanism{Name: name, SamplingRate: 1, NoiseMultiplier: h.Noise, Count: 1}
}

// Release returns counts with independent N(0, (σΔ)²) noise added to
// every bin, drawn from r. counts must come from a histogram whose L2
// sensitivity per flow is at most h.Sensitivity (a [Counts] with that
// bound), or the mechanism's guarantee does not hold.
func (h GaussianHistogram) Release(counts []float64, r *rand.Rand) ([]float64, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	std := h.Std()
	out := make([]float64, len(counts))
	for i, c := range counts {
		out[i] = c + std*r.NormFloat64()
	}
	return out, nil
}

// ReleaseCounts is [GaussianHistogram.Release] of c's counts; it refuses a
// histogram whose bound exceeds h.Sensitivity.
func (h GaussianHistogram) ReleaseCounts(c *Counts, r *rand.Rand) ([]float64, error) {
	if c.bound > h.Sensitivity {
		return nil, fmt.Errorf("privacy: histogram %q: contribution bound %v exceeds the mechanism's sensitivity %v", h.Name, c.bound, h.Sensitivity)
	}
	return h.Release(c.counts, r)
}

// ClipNegative sets every negative entry of x to 0, in place, and returns
// x (post-processing of a noisy histogram).
func ClipNegative(x []float64) []float64 {
	for i, v := range x {
		if v < 0 || math.IsNaN(v) {
			x[i] = 0
		}
	}
	return x
}

// Threshold sets every entry of x at or below tau to 0, in place, and
// returns x. On a sparse domain (65,536 ports, 65,536 /16 prefixes) the
// noise alone gives most empty bins some positive mass; keeping only the
// bins whose noisy count clears a threshold a few noise deviations high
// restores the sparsity. It is post-processing: the threshold must not
// depend on the private data (use [ThresholdFor]).
func Threshold(x []float64, tau float64) []float64 {
	for i, v := range x {
		if !(v > tau) {
			x[i] = 0
		}
	}
	return x
}

// ThresholdFor returns the threshold τ = std·Φ⁻¹(1−p) at which a bin with
// no true count survives [Threshold] with probability p, when the noise has
// standard deviation std. With p = 1/bins, the whole domain is expected to
// keep at most one spurious bin. p must be in (0, 1).
func ThresholdFor(std, p float64) (float64, error) {
	if !(std >= 0) || math.IsInf(std, 0) {
		return 0, fmt.Errorf("privacy: noise std %v: want a finite std ≥ 0", std)
	}
	if !(p > 0 && p < 1) {
		return 0, fmt.Errorf("privacy: false-positive rate %v: want 0 < p < 1", p)
	}
	// Φ⁻¹(1−p) = √2·erfc⁻¹(2p), accurate for tiny p.
	return std * math.Sqrt2 * math.Erfcinv(2*p), nil
}
