package privacy

import (
	"math"
	"testing"
)

// The fractional-order series, evaluated at an integer order, must agree with
// the exact binomial sum: the two code paths share no arithmetic.
func TestFractionalSeriesMatchesIntegerFormula(t *testing.T) {
	for _, c := range []struct{ q, sigma float64 }{
		{0.01, 1.0}, {256.0 / 60000, 1.1}, {0.1, 0.7}, {0.5, 2}, {0.9, 1.5}, {0.003, 4},
	} {
		for _, a := range []int{2, 3, 5, 8, 17, 32} {
			want := logAInt(c.q, c.sigma, a)
			got, err := logAFrac(c.q, c.sigma, float64(a))
			if err != nil {
				t.Fatalf("q=%v σ=%v α=%d: %v", c.q, c.sigma, a, err)
			}
			if d := math.Abs(got - want); d > 1e-9*math.Max(1, math.Abs(want)) && d > 1e-15 {
				t.Errorf("q=%v σ=%v α=%d: series ln A = %.15g, exact %.15g", c.q, c.sigma, a, got, want)
			}
		}
	}
}

// logAQuad integrates A_α = ∫ μ0 (μ/μ0)^α dz numerically (composite Simpson
// on a wide interval), an independent check of the series.
func logAQuad(q, sigma, alpha float64) float64 {
	// The integrand is a mixture of Gaussians centred between 0 and α.
	lo, hi := -14*sigma, math.Max(1, alpha)+14*sigma
	const n = 400000
	h := (hi - lo) / n
	f := func(z float64) float64 {
		l0 := -z*z/(2*sigma*sigma) - math.Log(sigma*math.Sqrt(2*math.Pi))
		r := math.Log1p(q * math.Expm1((2*z-1)/(2*sigma*sigma))) // ln(μ/μ0)
		return math.Exp(l0 + alpha*r)
	}
	s := f(lo) + f(hi)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(lo+float64(i)*h)
	}
	return math.Log(s * h / 3)
}

func TestFractionalSeriesMatchesQuadrature(t *testing.T) {
	for _, c := range []struct{ q, sigma, alpha float64 }{
		{0.01, 1.0, 1.5}, {0.01, 1.0, 4.7}, {0.05, 0.8, 2.25}, {0.2, 1.2, 3.3},
		{0.004, 1.1, 8.8}, {0.5, 2, 1.1}, {0.7, 1.5, 6.5},
	} {
		got, err := logAFrac(c.q, c.sigma, c.alpha)
		if err != nil {
			t.Fatal(err)
		}
		want := logAQuad(c.q, c.sigma, c.alpha)
		if d := math.Abs(got - want); d > 1e-7*math.Max(1e-3, math.Abs(want)) {
			t.Errorf("q=%v σ=%v α=%v: series ln A = %.12g, quadrature %.12g", c.q, c.sigma, c.alpha, got, want)
		}
	}
}

func TestLogErfcContinuity(t *testing.T) {
	// The direct and asymptotic branches meet at 25.
	below := math.Log(math.Erfc(25))
	above := logErfc(25)
	if math.Abs(below-above) > 1e-12*math.Abs(below) {
		t.Errorf("ln erfc(25): direct %.17g, asymptotic %.17g", below, above)
	}
	if v := logErfc(1e4); math.IsInf(v, 0) || math.IsNaN(v) || v > -1e8 {
		t.Errorf("ln erfc(1e4) = %v, want about -1e8", v)
	}
}

func TestSignedLogAdd(t *testing.T) {
	vals := []float64{3, -2, 0.5, -7, 1e-3, 6.999}
	var acc signedLog
	acc.l = math.Inf(-1)
	want := 0.0
	for _, v := range vals {
		acc = acc.add(signedLog{v < 0, math.Log(math.Abs(v))})
		want += v
	}
	got := math.Exp(acc.l)
	if acc.neg {
		got = -got
	}
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("signed log sum = %v, want %v", got, want)
	}
}
