package privacy

import (
	"fmt"
	"math"
)

// GaussianNoiseForEpsilon calibrates len(weights) Gaussian releases (one
// each, such as the noisy histograms of a run's statistics) so that their
// composition, with the extra mechanisms, spends at most targetEps at
// δ = delta over [DefaultOrders] with [ConversionBalle]. The releases share
// the Rényi budget in proportion to weights: the Gaussian mechanism with
// noise multiplier σ has RDP α/(2σ²) at every order, so the shares are
// exact at every order and σ_i = σ/√(w_i/Σw), where σ is the noise
// multiplier of the single release that would spend the whole budget. It
// returns the noise multipliers in the order of weights. Every weight must
// be positive and finite. When the extra mechanisms alone spend the target,
// the error wraps [ErrUnreachable].
func GaussianNoiseForEpsilon(targetEps, delta float64, weights []float64, extra ...Mechanism) ([]float64, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("privacy: no releases to calibrate")
	}
	var sum float64
	for i, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("privacy: weight %v of release %d: want a finite weight > 0", w, i)
		}
		sum += w
	}
	orders := DefaultOrders()
	// One Gaussian release with noise multiplier σ is one "step" of rate 1.
	sigma, err := NoiseForEpsilonWith(orders, ConversionBalle, 1, 1, delta, targetEps, extra...)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(weights))
	for i, w := range weights {
		out[i] = sigma / math.Sqrt(w/sum)
	}
	// The split is exact in real arithmetic; nudge the noise up until
	// rounding cannot take the composition past the target.
	for range 64 {
		g, err := composedEpsilon(orders, delta, out, extra)
		if err != nil {
			return nil, err
		}
		if g <= targetEps {
			return out, nil
		}
		for i := range out {
			out[i] *= 1 + 1e-12
		}
	}
	return nil, fmt.Errorf("privacy: calibrating %d Gaussian releases to ε = %g did not converge", len(weights), targetEps)
}

func composedEpsilon(orders []float64, delta float64, sigmas []float64, extra []Mechanism) (float64, error) {
	acc, err := NewAccountantOrders(orders)
	if err != nil {
		return 0, err
	}
	for _, s := range sigmas {
		if err := acc.Add(Gaussian(s, 1)); err != nil {
			return 0, err
		}
	}
	for _, m := range extra {
		if err := acc.Add(m); err != nil {
			return 0, err
		}
	}
	g, err := acc.Epsilon(delta)
	return g.Epsilon, err
}

// StandaloneEpsilon returns the ε that m would spend on its own at δ = delta
// (over [DefaultOrders], [ConversionBalle]): how a run states one
// mechanism's part of its budget. Composed in RDP, mechanisms spend less
// than the sum of their standalone ε; the accountant's total is the
// guarantee.
func StandaloneEpsilon(m Mechanism, delta float64) (float64, error) {
	acc := NewAccountant()
	if err := acc.Add(m); err != nil {
		return 0, err
	}
	g, err := acc.Epsilon(delta)
	return g.Epsilon, err
}

// Split is a plan for dividing a total (ε, δ) between the DP statistics of
// the private trace (Gaussian histograms of its fields) and DP-SGD
// training. The statistics get StatsShare of ε: their releases are
// calibrated so that, composed among themselves, they spend StatsShare·ε at
// δ, their Rényi budget divided in proportion to their weights. Training
// then gets whatever keeps the composition of everything (statistics,
// training, and any other releases such as the noisy flow counts) within ε:
// [NoiseForEpsilon] with the statistics among its extra mechanisms. RDP
// composition is sub-additive in ε, so training is left more than
// (1−StatsShare)·ε, and the total never exceeds ε.
type Split struct {
	Epsilon    float64 // total ε
	Delta      float64
	StatsShare float64 // in (0, 1): the statistics' part of ε
}

// Statistics returns the noise multipliers of the statistics' releases,
// one per weight, and their mechanisms (named by names, which may be nil)
// ready to pass as extra mechanisms to [NoiseForEpsilon].
func (s Split) Statistics(weights []float64, names []string) ([]float64, []Mechanism, error) {
	if !(s.Epsilon > 0) || math.IsInf(s.Epsilon, 0) {
		return nil, nil, fmt.Errorf("privacy: ε = %v: want a finite ε > 0", s.Epsilon)
	}
	if !(s.StatsShare > 0 && s.StatsShare < 1) {
		return nil, nil, fmt.Errorf("privacy: statistics' share %v of ε: want 0 < share < 1", s.StatsShare)
	}
	if names != nil && len(names) != len(weights) {
		return nil, nil, fmt.Errorf("privacy: %d names for %d releases", len(names), len(weights))
	}
	sig, err := GaussianNoiseForEpsilon(s.StatsShare*s.Epsilon, s.Delta, weights)
	if err != nil {
		return nil, nil, err
	}
	ms := make([]Mechanism, len(sig))
	for i, v := range sig {
		ms[i] = Gaussian(v, 1)
		if names != nil {
			ms[i].Name = names[i]
		}
	}
	return sig, ms, nil
}
