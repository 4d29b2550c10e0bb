package privacy

import (
	"fmt"
	"math/rand/v2"
)

// Quantiles releases differentially private quantiles of a continuous
// field: the Gaussian mechanism on a histogram of the field over the
// data-independent bins b (each flow's records, units[u] holding the
// values of flow u, bounded by bound in L2 norm), noise multiplier noise,
// negative counts clipped, then the quantiles at ps of the noisy histogram
// ([Bins.Quantiles]). It returns the quantiles and the release's mechanism,
// to compose in the run's accountant; the quantiles themselves cost
// nothing more. The noise is drawn from r.
func Quantiles(name string, units [][]float64, b Bins, bound, noise float64, ps []float64, r *rand.Rand) ([]float64, Mechanism, error) {
	if err := b.Validate(); err != nil {
		return nil, Mechanism{}, err
	}
	c, err := NewCounts(b.Len(), bound)
	if err != nil {
		return nil, Mechanism{}, err
	}
	var idx []int
	for _, vs := range units {
		idx = idx[:0]
		for _, v := range vs {
			idx = append(idx, b.Index(v))
		}
		if err := c.AddUnit(idx...); err != nil {
			return nil, Mechanism{}, err
		}
	}
	h := GaussianHistogram{Name: name, Sensitivity: bound, Noise: noise}
	noisy, err := h.ReleaseCounts(c, r)
	if err != nil {
		return nil, Mechanism{}, err
	}
	q, err := b.Quantiles(ClipNegative(noisy), ps)
	if err != nil {
		return nil, Mechanism{}, err
	}
	return q, h.Mechanism(), nil
}

// Vocabulary releases a differentially private vocabulary with frequencies
// over the categorical domain 0, …, size−1 (ports: 65,536; protocols:
// 256): the Gaussian mechanism on the histogram of the values (units[u]
// holding the values of flow u's records, bounded by bound in L2 norm),
// negative counts clipped, and every count at or below the level an empty
// value exceeds with probability 1/size zeroed ([ThresholdFor]), so that
// about one value absent from the data survives. It returns the noisy
// frequency of every value (0 for values left out) and the release's
// mechanism. The noise is drawn from r.
func Vocabulary(name string, units [][]int, size int, bound, noise float64, r *rand.Rand) ([]float64, Mechanism, error) {
	c, err := NewCounts(size, bound)
	if err != nil {
		return nil, Mechanism{}, err
	}
	for u, vs := range units {
		if err := c.AddUnit(vs...); err != nil {
			return nil, Mechanism{}, fmt.Errorf("privacy: %s: flow %d: %w", name, u, err)
		}
	}
	h := GaussianHistogram{Name: name, Sensitivity: bound, Noise: noise}
	noisy, err := h.ReleaseCounts(c, r)
	if err != nil {
		return nil, Mechanism{}, err
	}
	tau, err := ThresholdFor(h.Std(), 1/float64(size+1))
	if err != nil {
		return nil, Mechanism{}, err
	}
	return Threshold(ClipNegative(noisy), tau), h.Mechanism(), nil
}
