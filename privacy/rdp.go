package privacy

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// DefaultOrders returns the Rényi orders the accountant evaluates unless
// told otherwise: 1.1, 1.2, …, 10.9 (steps of 0.1), 1.25, 1.75 and 2.25 (so
// that every order of the list NetShare used is included), the integers
// 11, …, 63, and 128, 256, 512, 1024. There are 159 orders, sorted
// ascending: a superset of the grids of NetShare, TensorFlow Privacy and
// Opacus.
func DefaultOrders() []float64 {
	orders := make([]float64, 0, 159)
	for x := 1; x < 100; x++ {
		orders = append(orders, 1+float64(x)/10)
	}
	orders = append(orders, 1.25, 1.75, 2.25)
	for a := 11; a <= 63; a++ {
		orders = append(orders, float64(a))
	}
	orders = append(orders, 128, 256, 512, 1024)
	slices.Sort(orders)
	return orders
}

// checkOrders reports whether orders is a non-empty list of finite orders
// greater than 1.
func checkOrders(orders []float64) error {
	if len(orders) == 0 {
		return errors.New("privacy: no Rényi orders given")
	}
	for _, a := range orders {
		if !(a > 1) || math.IsInf(a, 0) {
			return fmt.Errorf("privacy: Rényi order %v: want a finite order greater than 1", a)
		}
	}
	return nil
}

// SampledGaussianRDP returns the Rényi divergence of order alpha of one step
// of the sampled Gaussian mechanism: Poisson sampling with rate q, then the
// sum of the sampled records' contributions (each of L2 norm at most 1) plus
// Gaussian noise with standard deviation sigma. Integer orders use the exact
// binomial expansion; fractional orders use the two-sided series of Mironov,
// Talwar and Zhang (2019), summed until its terms are negligible. q = 0 costs
// nothing and q = 1 is the plain Gaussian mechanism, alpha/(2 sigma²).
func SampledGaussianRDP(q, sigma, alpha float64) (float64, error) {
	switch {
	case !(q >= 0 && q <= 1):
		return 0, fmt.Errorf("privacy: sampling rate %v: want 0 ≤ q ≤ 1", q)
	case !(sigma > 0) || math.IsInf(sigma, 0):
		return 0, fmt.Errorf("privacy: noise multiplier %v: want a finite σ > 0", sigma)
	case !(alpha > 1) || math.IsInf(alpha, 0):
		return 0, fmt.Errorf("privacy: Rényi order %v: want a finite order greater than 1", alpha)
	}
	if q == 0 {
		return 0, nil
	}
	if q == 1 {
		return alpha / (2 * sigma * sigma), nil
	}
	var logA float64
	if alpha == math.Trunc(alpha) && alpha <= 1<<20 {
		logA = logAInt(q, sigma, int(alpha))
	} else {
		var err error
		if logA, err = logAFrac(q, sigma, alpha); err != nil {
			return 0, err
		}
	}
	// A_α ≥ 1 mathematically; rounding can leave it a hair below.
	return math.Max(logA, 0) / (alpha - 1), nil
}

// logAInt returns ln A_α for an integer order: A_α = Σ_{k=0}^{α} C(α,k)
// (1−q)^{α−k} q^k exp((k²−k)/(2σ²)), every term positive.
func logAInt(q, sigma float64, alpha int) float64 {
	lq, l1q := math.Log(q), math.Log1p(-q)
	s2 := 2 * sigma * sigma
	lgA, _ := math.Lgamma(float64(alpha) + 1)
	sum := math.Inf(-1)
	for k := 0; k <= alpha; k++ {
		fk := float64(k)
		lgK, _ := math.Lgamma(fk + 1)
		lgAK, _ := math.Lgamma(float64(alpha-k) + 1)
		t := lgA - lgK - lgAK + fk*lq + float64(alpha-k)*l1q + (fk*fk-fk)/s2
		sum = logAddExp(sum, t)
	}
	return sum
}

// maxSeriesTerms bounds the fractional-order series; its terms fall as a
// power of k, so this is never reached for orders above 1.
const maxSeriesTerms = 10_000_000

// logAFrac returns ln A_α for a fractional order. With μ0 = N(0, σ²),
// μ1 = N(1, σ²) and z0 the point where (1−q)μ0 = qμ1, the integral
// A_α = ∫ μ0 (μ/μ0)^α, μ = (1−q)μ0 + qμ1, splits at z0 into two generalised
// binomial series that converge on their halves:
//
//	A_α = Σ_k C(α,k) q^k (1−q)^{α−k} e^{(k²−k)/(2σ²)} · ½erfc((k−z0)/(√2σ))
//	    + Σ_k C(α,k) q^{α−k} (1−q)^k e^{(j²−j)/(2σ²)} · ½erfc((z0−j)/(√2σ)),  j = α−k.
//
// The coefficients change sign once k exceeds α, so the terms are summed as
// signed logarithms.
func logAFrac(q, sigma, alpha float64) (float64, error) {
	lq, l1q := math.Log(q), math.Log1p(-q)
	s2 := 2 * sigma * sigma
	r2s := math.Sqrt2 * sigma
	z0 := sigma*sigma*(math.Log(1-q)-lq) + 0.5
	var total signedLog
	total.l = math.Inf(-1)
	lc, neg := 0.0, false // ln|C(α,k)| and its sign, starting at C(α,0) = 1
	for k := 0; k < maxSeriesTerms; k++ {
		fk := float64(k)
		if k > 0 {
			f := (alpha - fk + 1) / fk
			lc += math.Log(math.Abs(f))
			if f < 0 {
				neg = !neg
			}
		}
		j := alpha - fk
		t0 := lc + fk*lq + j*l1q + (fk*fk-fk)/s2 + logErfc((fk-z0)/r2s) - math.Ln2
		t1 := lc + j*lq + fk*l1q + (j*j-j)/s2 + logErfc((z0-j)/r2s) - math.Ln2
		total = total.add(signedLog{neg, t0}).add(signedLog{neg, t1})
		if fk > alpha+1 && math.Max(t0, t1) < total.l-32 {
			if total.neg || math.IsNaN(total.l) {
				return 0, fmt.Errorf("privacy: RDP series for q=%v σ=%v α=%v did not give a positive sum", q, sigma, alpha)
			}
			return total.l, nil
		}
	}
	return 0, fmt.Errorf("privacy: RDP series for q=%v σ=%v α=%v did not converge in %d terms", q, sigma, alpha, maxSeriesTerms)
}

// logAddExp returns ln(e^a + e^b).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// signedLog is a real number held as its sign and the logarithm of its
// magnitude (l = −Inf for zero).
type signedLog struct {
	neg bool
	l   float64
}

func (x signedLog) add(y signedLog) signedLog {
	if math.IsInf(y.l, -1) {
		return x
	}
	if math.IsInf(x.l, -1) {
		return y
	}
	if x.neg == y.neg {
		return signedLog{x.neg, logAddExp(x.l, y.l)}
	}
	if x.l < y.l {
		x, y = y, x
	}
	if x.l == y.l {
		return signedLog{false, math.Inf(-1)}
	}
	return signedLog{x.neg, x.l + math.Log1p(-math.Exp(y.l-x.l))}
}

// logErfc returns ln erfc(x), accurate where erfc(x) underflows.
func logErfc(x float64) float64 {
	if x < 25 {
		return math.Log(math.Erfc(x))
	}
	// Asymptotic expansion erfc(x) = e^{−x²}/(x√π) · Σ (−1)^n (2n−1)!!/(2x²)^n;
	// at x ≥ 25 the omitted terms are below 1e-15 relative.
	u := 1 / (2 * x * x)
	s := 1 - u*(1-3*u*(1-5*u*(1-7*u*(1-9*u))))
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(s)
}
