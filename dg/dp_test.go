package dg

import (
	"math"
	"sort"
	"testing"

	"github.com/netshare-go/netshare/nn"
)

// prepareDP builds a real batch and fakes and prepares both critics with
// per-example (undivided) loss terms, as a DP critic round does.
func prepareDP[F nn.Float](t *testing.T, cfg Config, idx []int) (*net[F], []F) {
	t.Helper()
	attrOut, featOut := tinyOutputs()
	n, err := newNet[F](cfg, attrOut, featOut, 5)
	if err != nil {
		t.Fatal(err)
	}
	d := synthData(attrOut, featOut, 5, 30, 4)
	if err := d.validate(n.A, n.Fd, n.maxLen, n.L); err != nil {
		t.Fatal(err)
	}
	b := len(idx)
	n.realBatch(d, idx)
	attr := n.genAttr(b, true, nn.NewRNG(1))
	feat := n.genFeat(attr, nn.NewRNG(2))
	n.assemble(&n.fakeX, &n.fakeA, feat, attr)
	alpha := make([]F, b)
	nn.FillUniform(nn.NewRNG(3), alpha, 0, 1)
	n.alpha, n.alphaA = alpha, append([]F(nil), alpha...)
	for i := range n.alphaA {
		n.alphaA[i] = 1 - n.alphaA[i]
	}
	n.disc.Prepare(&n.realX, &n.fakeX, n.alpha, F(cfg.GPCoef), 1)
	n.aux.Prepare(&n.realA, &n.fakeA, n.alphaA, F(cfg.AuxGPCoef), 1)
	return n, alpha
}

// materialise returns example i's joint (D, D_a) gradient, computed by
// running the step on that example alone, scaled by scale.
func materialise[F nn.Float](n *net[F], i int, scale F, cfg Config) []float64 {
	nn.ZeroGrad(n.disc.Params())
	nn.ZeroGrad(n.aux.Params())
	n.disc.Prepare(n.realX.Rows(i, i+1), n.fakeX.Rows(i, i+1), n.alpha[i:i+1], F(cfg.GPCoef), 1)
	n.aux.Prepare(n.realA.Rows(i, i+1), n.fakeA.Rows(i, i+1), n.alphaA[i:i+1], F(cfg.AuxGPCoef), 1)
	n.disc.Accumulate([]F{scale})
	n.aux.Accumulate([]F{scale})
	var g []float64
	for _, p := range append(n.disc.Params(), n.aux.Params()...) {
		for _, v := range p.G {
			g = append(g, float64(v))
		}
	}
	return g
}

func sqNorm(g []float64) float64 {
	var s float64
	for _, v := range g {
		s += v * v
	}
	return s
}

func testEfficientNorms[F nn.Float](t *testing.T, tol float64) {
	cfg := tinyConfig()
	cfg.LeakyReLU = false
	idx := []int{0, 4, 9, 13, 21, 29}
	n, _ := prepareDP[F](t, cfg, idx)
	eff := make([]float64, len(idx))
	n.disc.SqNorms(eff)
	n.aux.SqNorms(eff)
	for i := range idx {
		want := sqNorm(materialise(n, i, 1, cfg))
		if want == 0 || math.Abs(eff[i]-want) > tol*want {
			t.Fatalf("example %d: efficient squared norm %v, materialised %v", i, eff[i], want)
		}
	}
}

// TestDPNormsMatchMaterialised: the per-example norms computed from the
// batched passes equal those of per-example gradients materialised one
// example at a time, for D and D_a jointly, penalty included.
func TestDPNormsMatchMaterialised(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testEfficientNorms[float64](t, 1e-10) })
	t.Run("float32", func(t *testing.T) { testEfficientNorms[float32](t, 1e-4) })
}

// TestDPClippedNormBounded: after clipping, every example's joint gradient
// has norm ≤ C, with equality for the examples that were clipped.
func TestDPClippedNormBounded(t *testing.T) {
	for _, clip := range []float64{0.05, 1, 1e3} {
		cfg := tinyConfig()
		cfg.DP = DP{Enabled: true, Clip: clip, Noise: 1}
		idx := []int{1, 2, 3, 5, 8, 13, 21}
		n, _ := prepareDP[float64](t, cfg, idx)
		w := append([]float64(nil), n.clipWeights(len(idx))...)
		clipped := 0
		for i := range idx {
			raw := math.Sqrt(sqNorm(materialise(n, i, 1, cfg)))
			c := w[i] * float64(cfg.BatchSize) // undo the 1/B averaging
			got := math.Sqrt(sqNorm(materialise(n, i, c, cfg)))
			if got > clip*(1+1e-9) {
				t.Fatalf("C=%v example %d: clipped norm %v", clip, i, got)
			}
			if raw > clip {
				clipped++
				if math.Abs(got-clip) > 1e-9*clip {
					t.Fatalf("C=%v example %d: norm %v clipped to %v, want C", clip, i, raw, got)
				}
			} else if math.Abs(got-raw) > 1e-12*raw {
				t.Fatalf("C=%v example %d: unclipped norm %v changed to %v", clip, i, raw, got)
			}
		}
		if clip == 0.05 && clipped == 0 {
			t.Fatal("no example was clipped: the bound is not exercised")
		}
		if clip == 1e3 && clipped != 0 {
			t.Fatal("examples clipped under a huge bound")
		}
	}
}

// TestDPNoiseScale: the noise added to each critic coordinate is N(0,
// (σC/B)²): sample mean, standard deviation and the share within one
// standard deviation, over about 200k draws.
func TestDPNoiseScale(t *testing.T) {
	cfg := tinyConfig()
	cfg.DiscUnits, cfg.AuxDiscUnits = 64, 64
	cfg.DP = DP{Enabled: true, Clip: 0.7, Noise: 1.3}
	attrOut, featOut := tinyOutputs()
	n, err := newNet[float32](cfg, attrOut, featOut, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := cfg.DP.Noise * cfg.DP.Clip / float64(cfg.BatchSize)
	ps := append(n.disc.Params(), n.aux.Params()...)
	var xs []float64
	for len(xs) < 200000 {
		nn.ZeroGrad(ps)
		n.addDPNoise(n.rng.Uint64(), ps, 0)
		for _, p := range ps {
			for _, v := range p.G {
				xs = append(xs, float64(v))
			}
		}
	}
	var mean, sq float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	within := 0
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
		if math.Abs(x) < want {
			within++
		}
	}
	sd := math.Sqrt(sq / float64(len(xs)-1))
	se := want / math.Sqrt(float64(len(xs)))
	if math.Abs(mean) > 5*se {
		t.Errorf("noise mean %g, more than 5 standard errors (%g) from 0", mean, se)
	}
	if math.Abs(sd/want-1) > 0.01 {
		t.Errorf("noise standard deviation %g, want %g (σC/B)", sd, want)
	}
	if f := float64(within) / float64(len(xs)); math.Abs(f-0.6827) > 0.005 {
		t.Errorf("share within one standard deviation %.4f, want 0.6827 for a normal", f)
	}
}

// TestPoissonSampling: under DP each flow is included independently with
// probability q = B/N: batch sizes have mean Nq and variance Nq(1−q), every
// flow is included about equally often, and batches hold distinct sorted
// indices.
func TestPoissonSampling(t *testing.T) {
	cfg := tinyConfig()
	cfg.BatchSize = 50
	cfg.DP = DP{Enabled: true, Clip: 1, Noise: 1}
	attrOut, featOut := tinyOutputs()
	n, err := newNet[float32](cfg, attrOut, featOut, 5)
	if err != nil {
		t.Fatal(err)
	}
	const N, draws = 1000, 4000
	q := float64(cfg.BatchSize) / N
	counts := make([]int, N)
	var sum, sum2 float64
	for k := 0; k < draws; k++ {
		idx := n.sampleBatch(N)
		if !sort.IntsAreSorted(idx) {
			t.Fatal("indices not increasing")
		}
		for j, i := range idx {
			if i < 0 || i >= N || (j > 0 && idx[j-1] == i) {
				t.Fatalf("bad index %d in %v", i, idx)
			}
			counts[i]++
		}
		s := float64(len(idx))
		sum += s
		sum2 += s * s
	}
	mean := sum / draws
	vr := sum2/draws - mean*mean
	if math.Abs(mean-N*q) > 4*math.Sqrt(N*q*(1-q)/draws) {
		t.Errorf("mean batch %v, want %v", mean, N*q)
	}
	if math.Abs(vr/(N*q*(1-q))-1) > 0.1 {
		t.Errorf("batch-size variance %v, want %v", vr, N*q*(1-q))
	}
	// Per-flow inclusion counts ~ Binomial(draws, q): check their spread.
	var cm, cv float64
	for _, c := range counts {
		cm += float64(c)
	}
	cm /= N
	for _, c := range counts {
		cv += (float64(c) - cm) * (float64(c) - cm)
	}
	cv /= N - 1
	if want := draws * q * (1 - q); math.Abs(cv/want-1) > 0.15 {
		t.Errorf("inclusion-count variance %v, want %v", cv, want)
	}
	// Without DP: exactly B flows, with replacement.
	cfg.DP.Enabled = false
	n2, _ := newNet[float32](cfg, attrOut, featOut, 5)
	if got := len(n2.sampleBatch(N)); got != cfg.BatchSize {
		t.Errorf("non-DP batch of %d", got)
	}
}

// TestDPTraining: DP training runs, with varying batch sizes and finite
// losses, and a batch of zero flows still takes a (noise-only) step.
func TestDPTraining(t *testing.T) {
	cfg := tinyConfig()
	cfg.DP = DP{Enabled: true, Clip: 1, Noise: 1.1}
	attrOut, featOut := tinyOutputs()
	m, err := New(cfg, attrOut, featOut, 5)
	if err != nil {
		t.Fatal(err)
	}
	d := synthData(attrOut, featOut, 5, 60, 8)
	sizes := map[int]bool{}
	for i := 0; i < 20; i++ {
		l, err := m.Step(d)
		if err != nil {
			t.Fatal(err)
		}
		sizes[l.BatchSize] = true
	}
	if len(sizes) < 3 {
		t.Errorf("batch sizes %v do not vary", sizes)
	}
	// Tiny data set: q = B/N = 1 → every flow every round.
	small := synthData(attrOut, featOut, 5, 4, 9)
	l, err := m.Step(small)
	if err != nil || l.BatchSize != 4 {
		t.Fatalf("q ≥ 1: %v, batch %d", err, l.BatchSize)
	}
	// Empty batch: the step is noise only.
	w0 := append([]float32(nil), m.n.disc.Layers[0].W.W...)
	m.n.cfg.BatchSize = 1
	big := synthData(attrOut, featOut, 5, 1000, 10)
	if err := m.validate(big); err != nil {
		t.Fatal(err)
	}
	empty := 0
	for i := 0; i < 200 && empty == 0; i++ {
		var l Losses
		m.n.criticRound(big, &l)
		if l.BatchSize == 0 {
			empty++
		}
	}
	if empty == 0 {
		t.Fatal("no empty batch drawn")
	}
	changed := false
	for i, v := range m.n.disc.Layers[0].W.W {
		if v != w0[i] {
			changed = true
		}
	}
	if !changed {
		t.Fatal("critic weights did not move")
	}
}
