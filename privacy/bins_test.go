package privacy

import (
	"math"
	"sort"
	"testing"
)

func TestBinsIndexAndClamping(t *testing.T) {
	b, err := LinearBins(0, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range map[float64]int{-3: 0, 0: 0, 1.9: 0, 2: 1, 5: 2, 9.99: 4, 10: 4, 1e9: 4, math.NaN(): 0} {
		if got := b.Index(x); got != want {
			t.Errorf("Index(%v) = %d, want %d", x, got, want)
		}
	}
	if _, err := LinearBins(1, 1, 3); err == nil {
		t.Error("empty range accepted")
	}
	if _, err := LogBins(-1, 10, 3); err == nil {
		t.Error("negative log range accepted")
	}
	lb, _ := LogBins(0, 1e9, 64)
	if err := lb.Validate(); err != nil {
		t.Fatal(err)
	}
	// Constant ratio of (1+edge) between successive edges.
	r0 := (1 + lb.Edges[2]) / (1 + lb.Edges[1])
	r1 := (1 + lb.Edges[40]) / (1 + lb.Edges[39])
	if math.Abs(r0-r1) > 1e-9*r0 {
		t.Errorf("log bins not evenly spaced in log1p: ratios %v, %v", r0, r1)
	}
}

func TestIntLogBins(t *testing.T) {
	b, err := IntLogBins(1, 1_000_000_000, 128)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.Len() > 128 || b.Edges[0] != 1 || b.Edges[b.Len()] != 1_000_000_001 {
		t.Fatalf("%d bins over [%v, %v)", b.Len(), b.Edges[0], b.Edges[b.Len()])
	}
	// Small counts get a bin each.
	for v := 1; v <= 5; v++ {
		i := b.Index(float64(v))
		if b.Edges[i] != float64(v) || b.Edges[i+1] != float64(v+1) {
			t.Errorf("value %d shares bin [%v, %v)", v, b.Edges[i], b.Edges[i+1])
		}
	}
	r := testRand(5)
	for k := 0; k < 1000; k++ {
		i := r.IntN(b.Len())
		v := b.Sample(i, r)
		if v != math.Trunc(v) || b.Index(v) != i {
			t.Fatalf("bin %d sampled %v (bin %d)", i, v, b.Index(v))
		}
	}
	tiny, err := IntLogBins(0, 0, 10)
	if err != nil || tiny.Len() != 1 || tiny.Sample(0, r) != 0 {
		t.Errorf("bins over {0}: %+v, %v", tiny, err)
	}
}

func TestQuantilesFromHistogram(t *testing.T) {
	b, _ := LinearBins(0, 100, 100)
	w := make([]float64, 100)
	for i := range w {
		w[i] = 1
	}
	q, err := b.Quantiles(w, []float64{0, 0.25, 0.5, 0.999, 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0, 25, 50, 99.9, 100} {
		if math.Abs(q[i]-want) > 1e-9 {
			t.Errorf("uniform quantiles %v", q)
			break
		}
	}
	// Mass only in bins 10 and 20: p = 0 starts the first non-empty bin.
	w2 := make([]float64, 100)
	w2[10], w2[20] = 1, 3
	q, _ = b.Quantiles(w2, []float64{0, 0.25, 0.5, 1})
	for i, want := range []float64{10, 11, 20 + 1.0/3, 21} {
		if math.Abs(q[i]-want) > 1e-9 {
			t.Errorf("two-bin quantiles %v, want [10 11 20.33 21]", q)
			break
		}
	}
	// No mass: the data-independent fallback is uniform over the range.
	q, _ = b.Quantiles(make([]float64, 100), []float64{0.3})
	if q[0] != 30 {
		t.Errorf("empty histogram quantile %v, want 30", q[0])
	}
	if _, err := b.Quantiles(append(make([]float64, 99), -1), []float64{0.5}); err == nil {
		t.Error("negative weight accepted")
	}
	if _, err := b.Quantiles(w, []float64{1.5}); err == nil {
		t.Error("probability above 1 accepted")
	}
}

// DP quantiles of a heavy-tailed field from a noisy histogram over
// data-independent log bins land near the true quantiles.
func TestDPQuantilesNearTrue(t *testing.T) {
	r := testRand(6)
	const n = 20_000
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = math.Exp(6 + 2*r.NormFloat64()) // log-normal sizes
	}
	bins, _ := LogBins(0, 1e12, 256)
	c, _ := NewCounts(bins.Len(), 1)
	for _, v := range vals {
		_ = c.AddUnit(bins.Index(v))
	}
	sig, err := GaussianNoiseForEpsilon(1, 1e-5, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	noisy, err := GaussianHistogram{Sensitivity: 1, Noise: sig[0]}.ReleaseCounts(c, r)
	if err != nil {
		t.Fatal(err)
	}
	ps := []float64{0.1, 0.5, 0.9}
	q, err := bins.Quantiles(ClipNegative(noisy), ps)
	if err != nil {
		t.Fatal(err)
	}
	sort.Float64s(vals)
	for i, p := range ps {
		truth := vals[int(p*n)]
		// Within about two bins (a ratio of 1.11 each) of the truth.
		if ratio := q[i] / truth; ratio < 0.8 || ratio > 1.25 {
			t.Errorf("DP %v-quantile %v, true %v", p, q[i], truth)
		}
	}
}

func TestSampler(t *testing.T) {
	w := []float64{0, 1, 0, 3, 0}
	s, err := NewSampler(w)
	if err != nil {
		t.Fatal(err)
	}
	r := testRand(7)
	got := make([]int, len(w))
	const n = 40_000
	for k := 0; k < n; k++ {
		got[s.Draw(r)]++
	}
	if got[0]+got[2]+got[4] != 0 {
		t.Fatalf("empty bins drawn: %v", got)
	}
	if f := float64(got[3]) / n; math.Abs(f-0.75) > 0.01 {
		t.Errorf("bin 3 drawn %v of the time, want 0.75", f)
	}
	u, _ := NewSampler(make([]float64, 4))
	if !u.Uniform() {
		t.Error("sampler over no mass is not uniform")
	}
	seen := map[int]bool{}
	for k := 0; k < 200; k++ {
		seen[u.Draw(r)] = true
	}
	if len(seen) != 4 {
		t.Errorf("uniform fallback drew %d of 4 bins", len(seen))
	}
	if _, err := NewSampler([]float64{1, -1}); err == nil {
		t.Error("negative weight accepted")
	}
}
