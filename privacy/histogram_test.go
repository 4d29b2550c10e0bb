package privacy

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func testRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 99)) }

func TestGaussianHistogramRDPClosedForm(t *testing.T) {
	orders := DefaultOrders()
	for _, delta := range []float64{0.5, 1, 3} {
		for _, std := range []float64{0.7, 2, 10} {
			h := GaussianHistogram{Name: "h", Sensitivity: delta, Noise: std / delta}
			if math.Abs(h.Std()-std) > 1e-12*std {
				t.Fatalf("std %v, want %v", h.Std(), std)
			}
			rdp, err := h.Mechanism().RDP(orders)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range orders {
				want := a * delta * delta / (2 * std * std)
				if math.Abs(rdp[i]-want) > 1e-12*want {
					t.Fatalf("Δ=%v std=%v α=%v: RDP %v, want α·Δ²/(2σ²) = %v", delta, std, a, rdp[i], want)
				}
			}
		}
	}
}

func TestCompositionAdds(t *testing.T) {
	hist := GaussianHistogram{Name: "ports", Sensitivity: 1, Noise: 8}.Mechanism()
	sgd := SampledGaussian(0.01, 1.1, 5000)
	count := Gaussian(100, 10)
	acc := NewAccountant()
	var parts [][]float64
	for _, m := range []Mechanism{hist, sgd, count} {
		if err := acc.Add(m); err != nil {
			t.Fatal(err)
		}
		r, err := m.RDP(acc.Orders())
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, r)
	}
	total := acc.RDP()
	for i := range total {
		sum := parts[0][i] + parts[1][i] + parts[2][i]
		if math.Abs(total[i]-sum) > 1e-12*sum {
			t.Fatalf("order %v: composed RDP %v, sum of parts %v", acc.Orders()[i], total[i], sum)
		}
	}
	g, err := acc.Epsilon(1e-5)
	if err != nil {
		t.Fatal(err)
	}
	var standalone, most float64
	for _, m := range []Mechanism{hist, sgd, count} {
		e, err := StandaloneEpsilon(m, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		standalone += e
		most = math.Max(most, e)
	}
	if !(g.Epsilon >= most && g.Epsilon <= standalone) {
		t.Errorf("composed ε %v: want between the largest part %v and the sum of parts %v", g.Epsilon, most, standalone)
	}
}

func TestGaussianNoiseForEpsilonMeetsTarget(t *testing.T) {
	for _, c := range []struct {
		eps, delta float64
		weights    []float64
		extra      []Mechanism
	}{
		{1, 1e-5, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}, nil},
		{0.1, 1e-6, []float64{3, 1}, nil},
		{8, 1e-5, []float64{1, 2, 5}, []Mechanism{Gaussian(100, 10)}},
		{6, 1e-5, []float64{1}, []Mechanism{SampledGaussian(0.02, 1.2, 2000)}},
	} {
		sig, err := GaussianNoiseForEpsilon(c.eps, c.delta, c.weights, c.extra...)
		if err != nil {
			t.Fatalf("ε=%v: %v", c.eps, err)
		}
		got, err := composedEpsilon(DefaultOrders(), c.delta, sig, c.extra)
		if err != nil {
			t.Fatal(err)
		}
		if got > c.eps {
			t.Errorf("ε=%v weights %v: composition spends %v > target", c.eps, c.weights, got)
		}
		// Tight: a little less noise would overspend.
		less := make([]float64, len(sig))
		for i := range sig {
			less[i] = sig[i] * (1 - 1e-4)
		}
		if over, _ := composedEpsilon(DefaultOrders(), c.delta, less, c.extra); !(over > c.eps) {
			t.Errorf("ε=%v: calibration not tight: 0.01%% less noise still spends %v", c.eps, over)
		}
		// The Rényi budget is shared in proportion to the weights: 1/σ².
		for i := 1; i < len(sig); i++ {
			r := (sig[0] * sig[0]) / (sig[i] * sig[i])
			if want := c.weights[i] / c.weights[0]; math.Abs(r-want) > 1e-9*want {
				t.Errorf("ε=%v: RDP of release %d / release 0 = %v, want %v", c.eps, i, r, want)
			}
		}
	}
	if _, err := GaussianNoiseForEpsilon(1, 1e-5, []float64{1}, Gaussian(0.5, 10)); !errors.Is(err, ErrUnreachable) {
		t.Errorf("extra mechanisms spending the budget: err %v, want ErrUnreachable", err)
	}
	for _, w := range [][]float64{nil, {1, 0}, {-1}, {math.Inf(1)}} {
		if _, err := GaussianNoiseForEpsilon(1, 1e-5, w); err == nil {
			t.Errorf("weights %v accepted", w)
		}
	}
}

// The statistics' share and DP-SGD composed never exceed the target.
func TestSplitNeverExceedsTarget(t *testing.T) {
	for _, c := range []struct {
		eps, share float64
		q          float64
		steps      int64
		chunks     int
	}{
		{1, 0.1, 0.01, 2000, 1},
		{4, 0.2, 0.05, 1000, 5},
		{8, 0.5, 0.1, 500, 10},
		{0.5, 0.3, 0.002, 10000, 2},
	} {
		const delta = 1e-5
		split := Split{Epsilon: c.eps, Delta: delta, StatsShare: c.share}
		weights := []float64{1, 1, 1, 2, 2, 1, 1, 1, 1}
		sig, stats, err := split.Statistics(weights, nil)
		if err != nil {
			t.Fatal(err)
		}
		alone, _ := composedEpsilon(DefaultOrders(), delta, sig, nil)
		if alone > c.share*c.eps || alone < c.share*c.eps*(1-1e-4) {
			t.Errorf("ε=%v: statistics spend %v alone, want their share %v", c.eps, alone, c.share*c.eps)
		}
		extra := append([]Mechanism{Gaussian(100, int64(c.chunks))}, stats...)
		// All chunks' training composed: c.chunks × steps steps of rate q.
		sgdSigma, err := NoiseForEpsilon(c.q, c.steps*int64(c.chunks), delta, c.eps, extra...)
		if err != nil {
			t.Fatalf("ε=%v: %v", c.eps, err)
		}
		acc := NewAccountant()
		for ch := 0; ch < c.chunks; ch++ {
			if err := acc.Add(SampledGaussian(c.q, sgdSigma, c.steps)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range extra {
			if err := acc.Add(m); err != nil {
				t.Fatal(err)
			}
		}
		g, _ := acc.Epsilon(delta)
		if g.Epsilon > c.eps {
			t.Errorf("ε=%v share %v: statistics + counts + DP-SGD spend %v > target", c.eps, c.share, g.Epsilon)
		}
		if g.Epsilon < c.eps*0.999 {
			t.Errorf("ε=%v: the composition spends only %v: training noise not tight", c.eps, g.Epsilon)
		}
	}
	for _, s := range []Split{{Epsilon: 1, Delta: 1e-5}, {Epsilon: 1, Delta: 1e-5, StatsShare: 1}, {Delta: 1e-5, StatsShare: 0.5}} {
		if _, _, err := s.Statistics([]float64{1}, nil); err == nil {
			t.Errorf("split %+v accepted", s)
		}
	}
}

func TestReleaseNoiseMatchesStd(t *testing.T) {
	h := GaussianHistogram{Name: "x", Sensitivity: 2, Noise: 1.5}
	const n = 200_000
	counts := make([]float64, n)
	for i := range counts {
		counts[i] = float64(i % 7)
	}
	out, err := h.Release(counts, testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	var s, ss float64
	for i := range out {
		d := out[i] - counts[i]
		s += d
		ss += d * d
	}
	mean := s / n
	std := math.Sqrt(ss/n - mean*mean)
	if want := 3.0; math.Abs(std-want) > 0.01*want || math.Abs(mean) > 4*want/math.Sqrt(n) {
		t.Errorf("noise mean %v std %v, want 0 and σΔ = %v", mean, std, want)
	}
	again, _ := h.Release(counts, testRand(1))
	for i := range out {
		if out[i] != again[i] {
			t.Fatal("release not determined by its random source")
		}
	}
	if _, err := (GaussianHistogram{Sensitivity: 1}).Release(counts, testRand(1)); err == nil {
		t.Error("zero noise accepted")
	}
	c, _ := NewCounts(3, 2)
	if _, err := (GaussianHistogram{Sensitivity: 1, Noise: 1}).ReleaseCounts(c, testRand(1)); err == nil {
		t.Error("a histogram of bound 2 released with sensitivity 1")
	}
}

func TestCountsBoundsEachFlow(t *testing.T) {
	c, err := NewCounts(6, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddUnit(0); err != nil { // one record: counts 1
		t.Fatal(err)
	}
	if err := c.AddUnit(1, 1, 1, 1); err != nil { // four records in one bin: 1 in all
		t.Fatal(err)
	}
	if err := c.AddUnit(2, 3, 4, 5); err != nil { // four bins: 1/2 each (L2 norm 1)
		t.Fatal(err)
	}
	want := []float64{1, 1, 0.5, 0.5, 0.5, 0.5}
	for i, v := range c.Values() {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Fatalf("counts %v, want %v", c.Values(), want)
		}
	}
	if err := c.AddUnit(0, 6); err == nil {
		t.Error("out-of-range bin accepted")
	}
	if c.Values()[0] != 1 {
		t.Error("a refused unit changed the counts")
	}
	// Any one flow changes the histogram by at most the bound in L2 norm.
	r := testRand(3)
	for trial := 0; trial < 200; trial++ {
		bound := 0.5 + 3*r.Float64()
		a, _ := NewCounts(10, bound)
		b, _ := NewCounts(10, bound)
		for u := 0; u < 20; u++ {
			bins := make([]int, 1+r.IntN(30))
			for i := range bins {
				bins[i] = r.IntN(3) * r.IntN(4)
			}
			_ = a.AddUnit(bins...)
			_ = b.AddUnit(bins...)
		}
		extra := make([]int, 1+r.IntN(50))
		for i := range extra {
			extra[i] = r.IntN(10)
		}
		_ = b.AddUnit(extra...)
		var ss float64
		for i, v := range b.Values() {
			d := v - a.Values()[i]
			ss += d * d
		}
		if math.Sqrt(ss) > bound*(1+1e-12) {
			t.Fatalf("one flow of %d records moved the histogram by %v > bound %v", len(extra), math.Sqrt(ss), bound)
		}
	}
	if _, err := NewCounts(0, 1); err == nil {
		t.Error("no bins accepted")
	}
	if _, err := NewCounts(3, 0); err == nil {
		t.Error("zero bound accepted")
	}
}

func TestThreshold(t *testing.T) {
	const std, n = 3.0, 100_000
	p := 0.01
	tau, err := ThresholdFor(std, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := std * 2.326347874; math.Abs(tau-want) > 1e-6 {
		t.Errorf("τ = %v, want %v", tau, want)
	}
	h := GaussianHistogram{Sensitivity: 1, Noise: std}
	noisy, _ := h.Release(make([]float64, n), testRand(4))
	Threshold(ClipNegative(noisy), tau)
	kept := 0
	for _, v := range noisy {
		if v < 0 {
			t.Fatal("negative count after clipping")
		}
		if v > 0 {
			kept++
		}
	}
	if rate := float64(kept) / n; math.Abs(rate-p) > 5*math.Sqrt(p/n) {
		t.Errorf("%d of %d empty bins survive τ: rate %v, want %v", kept, n, rate, p)
	}
	// For 65,536 ports at p = 1/65,536 the threshold is about 4.17 deviations.
	tp, _ := ThresholdFor(1, 1.0/65536)
	if tp < 4.1 || tp > 4.2 {
		t.Errorf("port threshold %v σ, want about 4.17", tp)
	}
	for _, bad := range [][2]float64{{-1, 0.1}, {1, 0}, {1, 1}, {math.Inf(1), 0.1}} {
		if _, err := ThresholdFor(bad[0], bad[1]); err == nil {
			t.Errorf("ThresholdFor%v accepted", bad)
		}
	}
}
