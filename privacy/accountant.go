package privacy

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// DefaultDelta is the δ netshare reports ε for unless told otherwise.
const DefaultDelta = 1e-5

// Mechanism is one private release, or Count identical ones: the sampled
// Gaussian mechanism with sampling rate SamplingRate and noise multiplier
// NoiseMultiplier (the noise's standard deviation divided by the L2
// sensitivity). SamplingRate 1 is the plain Gaussian mechanism.
type Mechanism struct {
	Name            string  // what the release is, for reports
	SamplingRate    float64 // q, 0 ≤ q ≤ 1 (Poisson sampling)
	NoiseMultiplier float64 // σ > 0
	Count           int64   // number of compositions (steps), ≥ 0
}

// SampledGaussian describes steps DP-SGD steps with Poisson sampling rate q
// and noise multiplier sigma.
func SampledGaussian(q, sigma float64, steps int64) Mechanism {
	return Mechanism{Name: "sampled Gaussian", SamplingRate: q, NoiseMultiplier: sigma, Count: steps}
}

// Gaussian describes releases answers of a sensitivity-1 query, each with
// Gaussian noise of standard deviation sigma, such as the noisy number of
// flows to generate for a chunk.
func Gaussian(sigma float64, releases int64) Mechanism {
	return Mechanism{Name: "Gaussian", SamplingRate: 1, NoiseMultiplier: sigma, Count: releases}
}

// Validate reports whether m's parameters are in range.
func (m Mechanism) Validate() error {
	name := m.Name
	if name == "" {
		name = "mechanism"
	}
	switch {
	case !(m.SamplingRate >= 0 && m.SamplingRate <= 1):
		return fmt.Errorf("privacy: %s: sampling rate %v: want 0 ≤ q ≤ 1", name, m.SamplingRate)
	case !(m.NoiseMultiplier > 0) || math.IsInf(m.NoiseMultiplier, 0):
		return fmt.Errorf("privacy: %s: noise multiplier %v: want a finite σ > 0", name, m.NoiseMultiplier)
	case m.Count < 0:
		return fmt.Errorf("privacy: %s: count %d: want ≥ 0", name, m.Count)
	}
	return nil
}

// RDP returns m's total Rényi divergence (all Count compositions) at each
// order.
func (m Mechanism) RDP(orders []float64) ([]float64, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := checkOrders(orders); err != nil {
		return nil, err
	}
	out := make([]float64, len(orders))
	if m.Count == 0 || m.SamplingRate == 0 {
		return out, nil
	}
	for i, a := range orders {
		r, err := SampledGaussianRDP(m.SamplingRate, m.NoiseMultiplier, a)
		if err != nil {
			return nil, err
		}
		out[i] = r * float64(m.Count)
	}
	return out, nil
}

// Accountant composes private releases by adding their RDP curves and
// reports the (ε, δ) guarantee of everything added so far. The zero value
// is not usable; make one with [NewAccountant] or [NewAccountantOrders].
type Accountant struct {
	orders []float64
	rdp    []float64
	mechs  []Mechanism
	conv   Conversion
}

// NewAccountant returns an empty accountant over [DefaultOrders] that
// converts with [ConversionBalle].
func NewAccountant() *Accountant {
	a, _ := NewAccountantOrders(DefaultOrders())
	return a
}

// NewAccountantOrders returns an empty accountant over the given Rényi
// orders (each finite and greater than 1).
func NewAccountantOrders(orders []float64) (*Accountant, error) {
	if err := checkOrders(orders); err != nil {
		return nil, err
	}
	return &Accountant{
		orders: slices.Clone(orders),
		rdp:    make([]float64, len(orders)),
		conv:   ConversionBalle,
	}, nil
}

// SetConversion chooses how [Accountant.Epsilon] converts RDP to (ε, δ).
func (a *Accountant) SetConversion(c Conversion) error {
	if c != ConversionBalle && c != ConversionClassic {
		return fmt.Errorf("privacy: unknown conversion %v", c)
	}
	a.conv = c
	return nil
}

// Add composes m into the accountant. An invalid mechanism leaves the
// accountant unchanged.
func (a *Accountant) Add(m Mechanism) error {
	r, err := m.RDP(a.orders)
	if err != nil {
		return err
	}
	for i := range a.rdp {
		a.rdp[i] += r[i]
	}
	a.mechs = append(a.mechs, m)
	return nil
}

// Mechanisms returns the mechanisms added so far, in order.
func (a *Accountant) Mechanisms() []Mechanism { return slices.Clone(a.mechs) }

// Orders returns the Rényi orders the accountant evaluates.
func (a *Accountant) Orders() []float64 { return slices.Clone(a.orders) }

// RDP returns the composed Rényi divergence at each of [Accountant.Orders].
func (a *Accountant) RDP() []float64 { return slices.Clone(a.rdp) }

// Epsilon returns the guarantee of everything composed so far for δ, with
// the accountant's conversion (by default [ConversionBalle]).
func (a *Accountant) Epsilon(delta float64) (Guarantee, error) {
	return EpsilonFromRDP(a.orders, a.rdp, delta, a.conv)
}

// EpsilonWith is [Accountant.Epsilon] with an explicit conversion.
func (a *Accountant) EpsilonWith(delta float64, conv Conversion) (Guarantee, error) {
	return EpsilonFromRDP(a.orders, a.rdp, delta, conv)
}

// ErrUnreachable is returned (wrapped) by [NoiseForEpsilon] when no noise
// level meets the target ε.
var ErrUnreachable = errors.New("target ε is unreachable")

// NoiseForEpsilon returns the smallest noise multiplier σ (to a relative
// precision of 1e-6, rounded up so that the target is met) such that steps
// sampled Gaussian steps with rate q, composed with the extra mechanisms,
// give ε ≤ targetEps at δ = delta, over [DefaultOrders] with
// [ConversionBalle]. It bisects, ε being decreasing in σ. When even
// unbounded noise cannot reach the target (the extra mechanisms alone spend
// it, or it is below what the finite set of orders can certify), the error
// wraps [ErrUnreachable] and says why.
func NoiseForEpsilon(q float64, steps int64, delta, targetEps float64, extra ...Mechanism) (float64, error) {
	return NoiseForEpsilonWith(DefaultOrders(), ConversionBalle, q, steps, delta, targetEps, extra...)
}

// NoiseForEpsilonWith is [NoiseForEpsilon] over the given orders and with
// the given conversion.
func NoiseForEpsilonWith(orders []float64, conv Conversion, q float64, steps int64, delta, targetEps float64, extra ...Mechanism) (float64, error) {
	if err := checkOrders(orders); err != nil {
		return 0, err
	}
	if !(targetEps > 0) || math.IsInf(targetEps, 0) {
		return 0, fmt.Errorf("privacy: target ε = %v: want a finite ε > 0", targetEps)
	}
	if !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("privacy: δ = %v: want 0 < δ < 1", delta)
	}
	if steps < 0 {
		return 0, fmt.Errorf("privacy: steps = %d: want ≥ 0", steps)
	}
	if err := SampledGaussian(q, 1, steps).Validate(); err != nil {
		return 0, err
	}
	base := make([]float64, len(orders))
	for _, m := range extra {
		r, err := m.RDP(orders)
		if err != nil {
			return 0, err
		}
		for i := range base {
			base[i] += r[i]
		}
	}
	floor, err := EpsilonFromRDP(orders, base, delta, conv)
	if err != nil {
		return 0, err
	}
	if floor.Epsilon >= targetEps {
		if len(extra) > 0 {
			return 0, fmt.Errorf("privacy: %w: the other releases alone spend ε = %.4g at δ = %g (target %g), whatever the training noise", ErrUnreachable, floor.Epsilon, delta, targetEps)
		}
		return 0, fmt.Errorf("privacy: %w: the smallest ε the Rényi orders up to %g can certify at δ = %g is %.4g (target %g)", ErrUnreachable, slices.Max(orders), delta, floor.Epsilon, targetEps)
	}
	if steps == 0 || q == 0 {
		return 0, fmt.Errorf("privacy: %w: with no training steps any σ meets ε = %g; there is no smallest noise multiplier", ErrUnreachable, targetEps)
	}
	eps := func(sigma float64) (float64, error) {
		rdp := slices.Clone(base)
		r, err := SampledGaussian(q, sigma, steps).RDP(orders)
		if err != nil {
			return 0, err
		}
		for i := range rdp {
			rdp[i] += r[i]
		}
		g, err := EpsilonFromRDP(orders, rdp, delta, conv)
		return g.Epsilon, err
	}
	// Bracket: lo misses the target, hi meets it.
	lo, hi := 0.0, 1.0
	for {
		e, err := eps(hi)
		if err != nil {
			return 0, err
		}
		if e <= targetEps {
			break
		}
		lo = hi
		hi *= 2
		if hi > 1e7 {
			return 0, fmt.Errorf("privacy: %w: even σ = %g gives ε = %.4g > %g", ErrUnreachable, lo, e, targetEps)
		}
	}
	for hi-lo > 1e-6*hi {
		mid := 0.5 * (lo + hi)
		e, err := eps(mid)
		if err != nil {
			return 0, err
		}
		if e <= targetEps {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// DPSGD describes DP-SGD training of one time chunk: Records privacy units
// (flows), an expected batch of Batch flows drawn by Poisson sampling
// (rate Batch/Records), Iterations training iterations with DRounds
// discriminator steps each (0 means 1), and noise multiplier Noise.
type DPSGD struct {
	Records    int64
	Batch      int64
	Noise      float64
	Iterations int64
	DRounds    int64
}

// SamplingRate returns q = Batch/Records.
func (d DPSGD) SamplingRate() float64 { return float64(d.Batch) / float64(d.Records) }

// Steps returns the number of discriminator steps, Iterations × DRounds.
func (d DPSGD) Steps() int64 {
	r := d.DRounds
	if r == 0 {
		r = 1
	}
	return d.Iterations * r
}

// Mechanism returns the chunk's training as one composed mechanism.
func (d DPSGD) Mechanism() (Mechanism, error) {
	switch {
	case d.Records <= 0:
		return Mechanism{}, fmt.Errorf("privacy: DP-SGD: %d records: want at least 1", d.Records)
	case d.Batch <= 0 || d.Batch > d.Records:
		return Mechanism{}, fmt.Errorf("privacy: DP-SGD: batch %d: want 1 ≤ batch ≤ records (%d)", d.Batch, d.Records)
	case d.Iterations < 0:
		return Mechanism{}, fmt.Errorf("privacy: DP-SGD: %d iterations: want ≥ 0", d.Iterations)
	case d.DRounds < 0:
		return Mechanism{}, fmt.Errorf("privacy: DP-SGD: %d discriminator rounds: want ≥ 0", d.DRounds)
	case d.Iterations > 0 && d.Steps()/d.Iterations != max(d.DRounds, 1):
		return Mechanism{}, fmt.Errorf("privacy: DP-SGD: %d iterations × %d rounds overflows", d.Iterations, d.DRounds)
	}
	m := Mechanism{Name: "DP-SGD discriminator steps", SamplingRate: d.SamplingRate(), NoiseMultiplier: d.Noise, Count: d.Steps()}
	return m, m.Validate()
}

// IterationsForEpochs returns the number of iterations that make epochs
// passes over records flows with expected batch size batch:
// ⌈epochs × records / batch⌉.
func IterationsForEpochs(epochs float64, records, batch int64) (int64, error) {
	if !(epochs >= 0) || math.IsInf(epochs, 0) {
		return 0, fmt.Errorf("privacy: %v epochs: want a finite number ≥ 0", epochs)
	}
	if records <= 0 || batch <= 0 {
		return 0, fmt.Errorf("privacy: records %d, batch %d: want both ≥ 1", records, batch)
	}
	it := math.Ceil(epochs * float64(records) / float64(batch))
	if it > 1<<53 {
		return 0, fmt.Errorf("privacy: %v epochs of %d records in batches of %d is too many iterations", epochs, records, batch)
	}
	return int64(it), nil
}
