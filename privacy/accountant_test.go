package privacy_test

import (
	"errors"
	"math"
	"testing"

	"github.com/netshare-go/netshare/privacy"
)

func epsilon(t *testing.T, conv privacy.Conversion, delta float64, ms ...privacy.Mechanism) privacy.Guarantee {
	t.Helper()
	a := privacy.NewAccountant()
	for _, m := range ms {
		if err := a.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	g, err := a.EpsilonWith(delta, conv)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Published DP-SGD figures for MNIST (60,000 examples, batch 256, δ = 1e-5),
// computed by TensorFlow Privacy's RDP accountant with the classic
// conversion: the tutorials README of tensorflow/privacy lists ε = 3.01 for
// σ = 1.1 over 60 epochs, 1.19 for σ = 1.3 over 15 epochs and 7.10 for
// σ = 0.7 over 45 epochs (Opacus's MNIST example README quotes the same three
// guarantees). Steps are ⌈epochs × N / B⌉; the figures are given to two
// decimals, so ours must round to them.
func TestPublishedMNISTClassic(t *testing.T) {
	for _, c := range []struct {
		sigma, epochs, want float64
	}{
		{1.1, 60, 3.01},
		{1.3, 15, 1.19},
		{0.7, 45, 7.10},
	} {
		steps, err := privacy.IterationsForEpochs(c.epochs, 60000, 256)
		if err != nil {
			t.Fatal(err)
		}
		g := epsilon(t, privacy.ConversionClassic, 1e-5, privacy.SampledGaussian(256.0/60000, c.sigma, steps))
		if math.Abs(g.Epsilon-c.want) > 0.005 {
			t.Errorf("σ=%v, %v epochs (%d steps): ε = %.4f (order %v), published %.2f", c.sigma, c.epochs, steps, g.Epsilon, g.Order, c.want)
		}
		// The tighter conversion must improve on it.
		gb := epsilon(t, privacy.ConversionBalle, 1e-5, privacy.SampledGaussian(256.0/60000, c.sigma, steps))
		if !(gb.Epsilon < g.Epsilon) {
			t.Errorf("σ=%v: Balle et al. ε %.4f not below classic %.4f", c.sigma, gb.Epsilon, g.Epsilon)
		}
	}
}

// TensorFlow Privacy's compute_dp_sgd_privacy_statement (dp_accounting RDP
// accountant, which converts with the Balle et al. bound) documents, for
// 10,000 examples, batch 64, noise multiplier 2.0 with microbatching (so an
// effective multiplier of 1.0), 5 epochs and δ = 1e-6: ε = 1.616 assuming
// Poisson sampling (⌈5/q⌉ = 782 steps at q = 0.0064) and ε = 13.376 with each
// example used once per epoch (5 unsampled Gaussian releases).
func TestPublishedStatementBalle(t *testing.T) {
	g := epsilon(t, privacy.ConversionBalle, 1e-6, privacy.SampledGaussian(64.0/10000, 1.0, 782))
	if math.Abs(g.Epsilon-1.616) > 0.0005 {
		t.Errorf("Poisson-sampled: ε = %.5f, published 1.616", g.Epsilon)
	}
	g = epsilon(t, privacy.ConversionBalle, 1e-6, privacy.Gaussian(1.0, 5))
	if math.Abs(g.Epsilon-13.376) > 0.0005 {
		t.Errorf("unsampled: ε = %.5f, published 13.376", g.Epsilon)
	}
}

// With q = 1 each step is the Gaussian mechanism, RDP α/(2σ²) per step.
func TestFullBatchClosedForm(t *testing.T) {
	for _, sigma := range []float64{0.5, 1, 3.7} {
		a := privacy.NewAccountant()
		if err := a.Add(privacy.SampledGaussian(1, sigma, 40)); err != nil {
			t.Fatal(err)
		}
		for i, alpha := range a.Orders() {
			want := 40 * alpha / (2 * sigma * sigma)
			if got := a.RDP()[i]; math.Abs(got-want) > 1e-12*want {
				t.Fatalf("σ=%v α=%v: RDP %v, want %v", sigma, alpha, got, want)
			}
		}
	}
}

// Exact privacy profile of the Gaussian mechanism with sensitivity 1 (Balle
// and Wang, 2018): δ(ε) = Φ(1/(2σ) − εσ) − e^ε Φ(−1/(2σ) − εσ). An RDP bound
// must be sound (δ(ε_RDP) ≤ δ) and, for a Gaussian, not far from optimal.
func TestGaussianAgainstExactProfile(t *testing.T) {
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	exactDelta := func(eps, sigma float64) float64 {
		return phi(1/(2*sigma)-eps*sigma) - math.Exp(eps)*phi(-1/(2*sigma)-eps*sigma)
	}
	for _, sigma := range []float64{0.8, 1, 2, 5} {
		for _, delta := range []float64{1e-5, 1e-8} {
			for _, conv := range []privacy.Conversion{privacy.ConversionBalle, privacy.ConversionClassic} {
				g := epsilon(t, conv, delta, privacy.Gaussian(sigma, 1))
				if d := exactDelta(g.Epsilon, sigma); d > delta {
					t.Errorf("σ=%v δ=%g %v: ε=%.4f but the exact δ(ε) = %.3g exceeds δ", sigma, delta, conv, g.Epsilon, d)
				}
				if conv == privacy.ConversionBalle {
					if d := exactDelta(0.75*g.Epsilon, sigma); d <= delta {
						t.Errorf("σ=%v δ=%g: ε=%.4f is more than a third above optimal (δ(0.75ε) = %.3g)", sigma, delta, g.Epsilon, d)
					}
				}
			}
		}
	}
}

func TestMonotonicity(t *testing.T) {
	const q, steps, delta = 0.01, 1000, 1e-5
	base := epsilon(t, privacy.ConversionBalle, delta, privacy.SampledGaussian(q, 1.0, steps)).Epsilon
	prev := math.Inf(1)
	for _, sigma := range []float64{0.3, 0.5, 0.7, 1, 1.5, 2, 4, 8} {
		e := epsilon(t, privacy.ConversionBalle, delta, privacy.SampledGaussian(q, sigma, steps)).Epsilon
		if !(e < prev) {
			t.Errorf("ε not decreasing in σ: σ=%v gives %v after %v", sigma, e, prev)
		}
		prev = e
	}
	prev = 0
	for _, s := range []int64{1, 10, 100, 1000, 10000} {
		e := epsilon(t, privacy.ConversionBalle, delta, privacy.SampledGaussian(q, 1.0, s)).Epsilon
		if !(e > prev) {
			t.Errorf("ε not increasing in steps: %d steps give %v after %v", s, e, prev)
		}
		prev = e
	}
	prev = 0
	for _, qq := range []float64{0.001, 0.005, 0.01, 0.05, 0.2, 1} {
		e := epsilon(t, privacy.ConversionBalle, delta, privacy.SampledGaussian(qq, 1.0, steps)).Epsilon
		if !(e > prev) {
			t.Errorf("ε not increasing in q: q=%v gives %v after %v", qq, e, prev)
		}
		prev = e
	}
	// RDP is non-decreasing in the order.
	r, err := privacy.SampledGaussian(q, 1.0, steps).RDP(privacy.DefaultOrders())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(r); i++ {
		if r[i] < r[i-1]*(1-1e-12) {
			t.Errorf("RDP decreases between orders %v and %v: %v > %v", privacy.DefaultOrders()[i-1], privacy.DefaultOrders()[i], r[i-1], r[i])
		}
	}
	if base <= 0 {
		t.Errorf("ε = %v", base)
	}
}

// Composition adds RDP: k chunks of s steps equal one run of k·s steps, and
// extra releases only raise ε.
func TestComposition(t *testing.T) {
	a := privacy.NewAccountant()
	for range 3 {
		if err := a.Add(privacy.SampledGaussian(0.02, 1.2, 500)); err != nil {
			t.Fatal(err)
		}
	}
	b := privacy.NewAccountant()
	if err := b.Add(privacy.SampledGaussian(0.02, 1.2, 1500)); err != nil {
		t.Fatal(err)
	}
	ra, rb := a.RDP(), b.RDP()
	for i := range ra {
		if math.Abs(ra[i]-rb[i]) > 1e-12*rb[i] {
			t.Fatalf("order %v: 3×500 steps give %v, 1500 steps %v", a.Orders()[i], ra[i], rb[i])
		}
	}
	ga, _ := a.Epsilon(1e-5)
	if err := a.Add(privacy.Gaussian(1.0, 3)); err != nil {
		t.Fatal(err)
	}
	gc, _ := a.Epsilon(1e-5)
	if !(gc.Epsilon > ga.Epsilon) {
		t.Errorf("adding count releases did not raise ε: %v → %v", ga.Epsilon, gc.Epsilon)
	}
	if n := len(a.Mechanisms()); n != 4 {
		t.Errorf("%d mechanisms recorded, want 4", n)
	}
	// An invalid mechanism is refused and leaves the accountant unchanged.
	if err := a.Add(privacy.SampledGaussian(1.5, 1, 1)); err == nil {
		t.Error("sampling rate 1.5 accepted")
	}
	if g, _ := a.Epsilon(1e-5); g.Epsilon != gc.Epsilon {
		t.Errorf("refused mechanism changed ε: %v → %v", gc.Epsilon, g.Epsilon)
	}
}

func TestNoiseForEpsilonRoundTrip(t *testing.T) {
	const q, delta = 256.0 / 60000, 1e-5
	for _, c := range []struct {
		steps  int64
		target float64
		extra  []privacy.Mechanism
	}{
		{14063, 3.0, nil},
		{14063, 1.0, nil},
		{2000, 8.0, nil},
		{500, 1.0, []privacy.Mechanism{privacy.Gaussian(20, 4)}},
		{100000, 2.0, []privacy.Mechanism{privacy.Gaussian(5, 1)}},
	} {
		sigma, err := privacy.NoiseForEpsilon(q, c.steps, delta, c.target, c.extra...)
		if err != nil {
			t.Fatalf("steps=%d ε=%v: %v", c.steps, c.target, err)
		}
		at := func(s float64) float64 {
			ms := append([]privacy.Mechanism{privacy.SampledGaussian(q, s, c.steps)}, c.extra...)
			return epsilon(t, privacy.ConversionBalle, delta, ms...).Epsilon
		}
		if e := at(sigma); e > c.target {
			t.Errorf("steps=%d: σ=%v gives ε=%v above the target %v", c.steps, sigma, e, c.target)
		}
		if e := at(sigma * (1 - 1e-5)); e <= c.target {
			t.Errorf("steps=%d: σ=%v is not the smallest: 0.99999σ gives ε=%v ≤ %v", c.steps, sigma, e, c.target)
		}
	}
}

func TestNoiseForEpsilonUnreachable(t *testing.T) {
	// The count releases alone spend more than the target.
	_, err := privacy.NoiseForEpsilon(0.01, 1000, 1e-5, 1.0, privacy.Gaussian(0.5, 10))
	if !errors.Is(err, privacy.ErrUnreachable) {
		t.Errorf("releases above target: err = %v, want ErrUnreachable", err)
	}
	// Below what the orders up to 1024 can certify.
	_, err = privacy.NoiseForEpsilon(0.01, 1000, 1e-5, 1e-4)
	if !errors.Is(err, privacy.ErrUnreachable) {
		t.Errorf("tiny target: err = %v, want ErrUnreachable", err)
	}
	for _, c := range []struct {
		q          float64
		steps      int64
		delta, eps float64
		what       string
	}{
		{0.01, 100, 1e-5, 0, "zero ε"},
		{0.01, 100, 1e-5, math.NaN(), "NaN ε"},
		{0.01, 100, 0, 1, "zero δ"},
		{0.01, 100, 1, 1, "δ = 1"},
		{1.2, 100, 1e-5, 1, "q > 1"},
		{0.01, -1, 1e-5, 1, "negative steps"},
	} {
		if _, err := privacy.NoiseForEpsilon(c.q, c.steps, c.delta, c.eps); err == nil {
			t.Errorf("%s accepted", c.what)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	for _, c := range []struct{ q, sigma, alpha float64 }{
		{-0.1, 1, 2}, {1.1, 1, 2}, {math.NaN(), 1, 2}, {0.1, 0, 2}, {0.1, -1, 2},
		{0.1, math.Inf(1), 2}, {0.1, 1, 1}, {0.1, 1, 0.5}, {0.1, 1, math.Inf(1)}, {0.1, 1, math.NaN()},
	} {
		if _, err := privacy.SampledGaussianRDP(c.q, c.sigma, c.alpha); err == nil {
			t.Errorf("SampledGaussianRDP(%v, %v, %v) accepted", c.q, c.sigma, c.alpha)
		}
	}
	if _, err := privacy.NewAccountantOrders(nil); err == nil {
		t.Error("empty order list accepted")
	}
	if _, err := privacy.NewAccountantOrders([]float64{2, 1}); err == nil {
		t.Error("order 1 accepted")
	}
	if _, err := privacy.EpsilonFromRDP([]float64{2, 3}, []float64{1}, 1e-5, privacy.ConversionBalle); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := privacy.EpsilonFromRDP([]float64{2}, []float64{-1}, 1e-5, privacy.ConversionBalle); err == nil {
		t.Error("negative RDP accepted")
	}
	if _, err := privacy.NewAccountant().Epsilon(0); err == nil {
		t.Error("δ = 0 accepted")
	}
	if _, err := privacy.ParseConversion("exact"); err == nil {
		t.Error("unknown conversion name accepted")
	}
	for _, s := range []string{"balle2020", "classic"} {
		c, err := privacy.ParseConversion(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseConversion(%q) = %v, %v", s, c, err)
		}
	}
}

func TestZeroCostCases(t *testing.T) {
	if r, err := privacy.SampledGaussianRDP(0, 1, 2); err != nil || r != 0 {
		t.Errorf("q = 0: RDP %v, %v", r, err)
	}
	g := epsilon(t, privacy.ConversionBalle, 1e-5, privacy.SampledGaussian(0.1, 1, 0))
	// Nothing released: ε is the floor of the finite order set, near 0.
	if g.Epsilon > 0.01 {
		t.Errorf("no steps: ε = %v", g.Epsilon)
	}
}

func TestDPSGD(t *testing.T) {
	d := privacy.DPSGD{Records: 10000, Batch: 100, Noise: 1.0, Iterations: 200, DRounds: 5}
	m, err := d.Mechanism()
	if err != nil {
		t.Fatal(err)
	}
	if m.SamplingRate != 0.01 || m.Count != 1000 || m.NoiseMultiplier != 1.0 {
		t.Errorf("mechanism %+v, want q=0.01, 1000 steps, σ=1", m)
	}
	d.DRounds = 0
	if d.Steps() != 200 {
		t.Errorf("DRounds 0 → %d steps, want 200", d.Steps())
	}
	for _, bad := range []privacy.DPSGD{
		{Records: 0, Batch: 1, Noise: 1, Iterations: 1},
		{Records: 10, Batch: 11, Noise: 1, Iterations: 1},
		{Records: 10, Batch: 0, Noise: 1, Iterations: 1},
		{Records: 10, Batch: 5, Noise: 0, Iterations: 1},
		{Records: 10, Batch: 5, Noise: 1, Iterations: -1},
		{Records: 10, Batch: 5, Noise: 1, Iterations: 1 << 62, DRounds: 8},
	} {
		if _, err := bad.Mechanism(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if it, err := privacy.IterationsForEpochs(60, 60000, 256); err != nil || it != 14063 {
		t.Errorf("IterationsForEpochs(60, 60000, 256) = %d, %v; want 14063", it, err)
	}
	if _, err := privacy.IterationsForEpochs(-1, 100, 10); err == nil {
		t.Error("negative epochs accepted")
	}
}
