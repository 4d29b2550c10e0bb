package dg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/nn"
)

func tinyOutputs() (attr, feat []Output) {
	attr = []Output{{"kind", 3, Softmax}, {"level", 1, Sigmoid}, {"vec", 2, Tanh}}
	feat = []Output{{"size", 1, Sigmoid}, {"flag", 2, Softmax}}
	return
}

func tinyConfig() Config {
	c := QuickConfig()
	c.BatchSize = 6
	c.SampleLen = 2
	c.AttrGenLayers, c.AttrGenUnits = 3, 7
	c.LSTMUnits = 5
	c.DiscLayers, c.DiscUnits = 3, 8
	c.AuxDiscLayers, c.AuxDiscUnits = 3, 6
	c.DRounds = 2
	return c
}

// --- gradient check of the generator loss through D and D_a -----------

const (
	fdStep   = 1e-6
	relL2Tol = 1e-6
)

// TestGradGeneratorLoss checks dL_G/dθ_G for L_G = −mean D(fake) −
// β·mean D_a(fake attributes), through the critics, the end-flag masking,
// the output heads, the LSTM and the attribute MLP with BatchNorm, against
// float64 finite differences (relative L2 error per tensor < 1e-6).
func TestGradGeneratorLoss(t *testing.T) {
	for _, initial := range []string{"random", "zero"} {
		cfg := tinyConfig()
		cfg.InitialState = initial
		cfg.GAuxCoef = 0.7
		attrOut, featOut := tinyOutputs()
		n, err := newNet[float64](cfg, attrOut, featOut, 5)
		if err != nil {
			t.Fatal(err)
		}
		const b = 6
		loss := func() float64 { return n.genLoss(b, nn.NewRNG(77), false) }
		nn.ZeroGrad(n.allParams())
		loss0 := n.genLoss(b, nn.NewRNG(77), true)
		// The LSTM is conditioned on the attributes through a stop-gradient:
		// hold that conditioning fixed for the finite differences too.
		n.condOverride = n.attrDisc.Clone()
		short := 0
		for _, l := range n.lengths {
			if l < n.L {
				short++
			}
		}
		if short == 0 {
			t.Fatal("no generated flow ended early: masking is not exercised")
		}
		if n.teff < 2 {
			t.Fatalf("the LSTM ran %d step(s): backpropagation through time is not exercised", n.teff)
		}
		for _, p := range n.disc.Params() {
			for _, v := range p.G {
				if v != 0 {
					t.Fatal("the generator step touched the critic's gradients")
				}
			}
		}
		if math.Abs(loss0-loss()) > 1e-12 {
			t.Fatal("generator loss not reproducible with the same noise")
		}
		for _, p := range n.genParams() {
			g := append([]float64(nil), p.G...)
			var dn, nn2 float64
			for i := range p.W {
				old := p.W[i]
				p.W[i] = old + fdStep
				lp := loss()
				p.W[i] = old - fdStep
				lm := loss()
				p.W[i] = old
				num := (lp - lm) / (2 * fdStep)
				dn += (g[i] - num) * (g[i] - num)
				nn2 += num * num
			}
			if nn2 == 0 {
				t.Errorf("%s: zero numeric gradient", p.Name)
				continue
			}
			if r := math.Sqrt(dn / nn2); r > relL2Tol {
				t.Errorf("initial=%s %s: relative L2 error %.3g", initial, p.Name, r)
			}
		}
	}
}

// TestGradCriticLossAssembled checks the critic step on DoppelGANger's
// assembled inputs (flattened features with flags | attributes), for D and
// D_a, against finite differences of the prepared loss.
func TestGradCriticLossAssembled(t *testing.T) {
	cfg := tinyConfig()
	attrOut, featOut := tinyOutputs()
	n, err := newNet[float64](cfg, attrOut, featOut, 5)
	if err != nil {
		t.Fatal(err)
	}
	d := synthData(attrOut, featOut, 5, 20, 3)
	if err := d.validate(n.A, n.Fd, n.maxLen, n.L); err != nil {
		t.Fatal(err)
	}
	n.realBatch(d, []int{0, 3, 5, 7, 11, 19})
	attr := n.genAttr(6, true, nn.NewRNG(1))
	feat := n.genFeat(attr, nn.NewRNG(2))
	n.assemble(&n.fakeX, &n.fakeA, feat, attr)
	alpha := []float64{0.1, 0.5, 0.9, 0.3, 0.7, 0.2}
	for _, c := range []struct {
		crit       *nn.Critic[float64]
		real, fake *nn.Mat[float64]
	}{{n.disc, &n.realX, &n.fakeX}, {n.aux, &n.realA, &n.fakeA}} {
		nn.ZeroGrad(c.crit.Params())
		c.crit.Prepare(c.real, c.fake, alpha, 10, 6)
		c.crit.Accumulate(nil)
		for _, p := range c.crit.Params()[:len(c.crit.Params())-1] { // the output bias cancels
			g := append([]float64(nil), p.G...)
			var dn, nn2 float64
			for i := range p.W {
				old := p.W[i]
				p.W[i] = old + fdStep
				lp := c.crit.Prepare(c.real, c.fake, alpha, 10, 6).Loss
				p.W[i] = old - fdStep
				lm := c.crit.Prepare(c.real, c.fake, alpha, 10, 6).Loss
				p.W[i] = old
				num := (lp - lm) / (2 * fdStep)
				dn += (g[i] - num) * (g[i] - num)
				nn2 += num * num
			}
			if r := math.Sqrt(dn / nn2); !(r < relL2Tol) {
				t.Errorf("%s: relative L2 error %.3g", p.Name, r)
			}
		}
	}
}

// --- data layout and masking ----------------------------------------------

// TestRealFlags checks the generation flags added to real flows (spec
// §2.7): active non-final steps [1,0], the last active step [0,1], padded
// steps in the last active block [0,1], later blocks [0,0], features zero
// after the end.
func TestRealFlags(t *testing.T) {
	cfg := tinyConfig()
	cfg.SampleLen = 3
	attrOut, featOut := tinyOutputs()
	n, err := newNet[float32](cfg, attrOut, featOut, 9)
	if err != nil {
		t.Fatal(err)
	}
	d := padded(synthData(attrOut, featOut, 9, 3, 5), n.Fd, 9)
	d.Len = []int{4, 9, 1}
	for k := 4; k < 9; k++ { // garbage in the padding must not leak through
		d.Feat[(0*9+k)*n.Fd] = 0.5
	}
	if err := d.validate(n.A, n.Fd, n.maxLen, n.L); err != nil {
		t.Fatal(err)
	}
	n.realBatch(d, []int{0, 1, 2})
	want := map[int][]([2]float32){
		0: {{1, 0}, {1, 0}, {1, 0}, {0, 1}, {0, 1}, {0, 1}, {0, 0}, {0, 0}, {0, 0}},
		1: {{1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {0, 1}},
		2: {{0, 1}, {0, 1}, {0, 1}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}},
	}
	for r := 0; r < 3; r++ {
		row := n.realX.Row(r)
		for k := 0; k < 9; k++ {
			st := row[k*n.Fp : (k+1)*n.Fp]
			if st[n.Fd] != want[r][k][0] || st[n.Fd+1] != want[r][k][1] {
				t.Fatalf("flow %d step %d: flags %v, want %v", r, k, st[n.Fd:], want[r][k])
			}
			if k >= d.Len[r] {
				for _, v := range st[:n.Fd] {
					if v != 0 {
						t.Fatalf("flow %d step %d: padding feature %v", r, k, v)
					}
				}
			}
		}
		for j := 0; j < n.A; j++ {
			if row[n.featSize+j] != d.Attr[r*n.A+j] || n.realA.Row(r)[j] != d.Attr[r*n.A+j] {
				t.Fatalf("flow %d attribute %d not copied", r, j)
			}
		}
	}
}

// TestGenerationMasking checks generated flows: each active step before the
// last says "continue", the last says "end" (unless the flow runs to the
// padded length), everything after is zero, and the lengths agree.
func TestGenerationMasking(t *testing.T) {
	cfg := tinyConfig()
	attrOut, featOut := tinyOutputs()
	n, err := newNet[float32](cfg, attrOut, featOut, 7)
	if err != nil {
		t.Fatal(err)
	}
	attr := n.genAttr(200, false, nn.NewRNG(4))
	feat := n.genFeat(attr, nn.NewRNG(5))
	ended, full := 0, 0
	for i := 0; i < 200; i++ {
		row := feat.Row(i)
		ln := n.lengths[i]
		if ln < 1 || ln > n.L {
			t.Fatalf("flow %d: length %d", i, ln)
		}
		for k := 0; k < n.L; k++ {
			st := row[k*n.Fp : (k+1)*n.Fp]
			switch {
			case k < ln-1:
				if !(st[n.Fd] >= st[n.Fd+1]) {
					t.Fatalf("flow %d step %d is active but its flag says end: %v", i, k, st[n.Fd:])
				}
			case k == ln-1:
				if ln < n.L && !(st[n.Fd+1] > st[n.Fd]) {
					t.Fatalf("flow %d: last active step %d says continue: %v", i, k, st[n.Fd:])
				}
			default:
				for _, v := range st {
					if v != 0 {
						t.Fatalf("flow %d step %d after the end is not zero: %v", i, k, st)
					}
				}
			}
		}
		if ln < n.L {
			ended++
		} else {
			full++
		}
	}
	if ended == 0 {
		t.Fatal("no flow ended early: the test does not exercise masking")
	}
	// Public API: features without flags, truncated to MaxLen.
	m := &Model{n: n, genRNG: nn.NewRNG(9)}
	a, f, lens, err := m.Generate(50)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 50*n.A || len(f) != 50*7*n.Fd || len(lens) != 50 {
		t.Fatalf("Generate sizes %d %d %d", len(a), len(f), len(lens))
	}
	for i, l := range lens {
		if l < 1 || l > 7 {
			t.Fatalf("length %d out of 1..7", l)
		}
		for k := l; k < 7; k++ {
			for j := 0; j < n.Fd; j++ {
				if f[(i*7+k)*n.Fd+j] != 0 {
					t.Fatalf("flow %d step %d ≥ length %d has feature %v", i, k, l, f[(i*7+k)*n.Fd+j])
				}
			}
		}
	}
}

// TestEarlyStopIsExact: stopping the LSTM once every flow has ended gives
// the same features, lengths and generator gradients as running every step.
func TestEarlyStopIsExact(t *testing.T) {
	cfg := tinyConfig()
	attrOut, featOut := tinyOutputs()
	run := func(noStop bool) (*net[float64], []float64, []int, []float64) {
		n, err := newNet[float64](cfg, attrOut, featOut, 9)
		if err != nil {
			t.Fatal(err)
		}
		n.noEarlyStop = noStop
		for s := 0; s < cfg.SampleLen; s++ { // lean towards "end"
			n.featHead.B.W[s*n.Fp+n.Fp-1] += 1
		}
		nn.ZeroGrad(n.genParams())
		n.genLoss(20, nn.NewRNG(5), true)
		var g []float64
		for _, p := range n.genParams() {
			g = append(g, p.G...)
		}
		return n, append([]float64(nil), n.feat.D...), append([]int(nil), n.lengths...), g
	}
	ns, fs, ls, gs := run(false)
	nf, ff, lf, gf := run(true)
	if ns.teff >= ns.T || nf.teff != nf.T {
		t.Fatalf("early stop not exercised: %d of %d steps, and %d without", ns.teff, ns.T, nf.teff)
	}
	for i := range fs {
		if math.Abs(fs[i]-ff[i]) > 1e-12 {
			t.Fatalf("feature %d: %v with early stop, %v without", i, fs[i], ff[i])
		}
	}
	for i := range ls {
		if ls[i] != lf[i] {
			t.Fatalf("length %d: %d vs %d", i, ls[i], lf[i])
		}
	}
	for i := range gs {
		if math.Abs(gs[i]-gf[i]) > 1e-12*(1+math.Abs(gf[i])) {
			t.Fatalf("gradient %d: %v vs %v", i, gs[i], gf[i])
		}
	}
}

func TestDiscretise(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	n, err := newNet[float32](tinyConfig(), attrOut, featOut, 4)
	if err != nil {
		t.Fatal(err)
	}
	attr := nn.MatFrom(1, 6, []float32{0.2, 0.5, 0.3, 0.42, -0.3, 0.9})
	got := n.discretise(attr).D
	want := []float32{0, 1, 0, 0.42, -0.3, 0.9}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("discretised %v, want %v", got, want)
		}
	}
}

// --- validation -------------------------------------------------------------

func TestValidation(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	cfg := tinyConfig()
	if _, err := New(cfg, nil, featOut, 4); err == nil {
		t.Error("no attribute outputs accepted")
	}
	if _, err := New(cfg, attrOut, []Output{{"x", 1, Softmax}}, 4); err == nil {
		t.Error("one-category discrete output accepted")
	}
	if _, err := New(cfg, attrOut, []Output{{GenFlagName, 2, Softmax}}, 4); err == nil {
		t.Error("reserved name accepted")
	}
	if _, err := New(cfg, attrOut, featOut, 0); err == nil {
		t.Error("max length 0 accepted")
	}
	bad := cfg
	bad.BatchSize = 0
	if _, err := New(bad, attrOut, featOut, 4); err == nil {
		t.Error("batch 0 accepted")
	}
	bad = cfg
	bad.InitialState = "warm"
	if _, err := New(bad, attrOut, featOut, 4); err == nil {
		t.Error("bad initial state accepted")
	}
	bad = cfg
	bad.DP = DP{Enabled: true, Clip: 0, Noise: 1}
	if _, err := New(bad, attrOut, featOut, 4); err == nil {
		t.Error("DP with clip 0 accepted")
	}
	m, err := New(cfg, attrOut, featOut, 4)
	if err != nil {
		t.Fatal(err)
	}
	good := func() *Data { return synthData(attrOut, featOut, 4, 10, 1) }
	cases := map[string]func(d *Data){
		"attr size":   func(d *Data) { d.Attr = d.Attr[1:] },
		"feat size":   func(d *Data) { d.Feat = d.Feat[3:] },
		"len count":   func(d *Data) { d.Len = d.Len[1:] },
		"len zero":    func(d *Data) { d.Len[3] = 0 },
		"len too big": func(d *Data) { d.Len[3] = 5 },
		"nan attr":    func(d *Data) { d.Attr[7] = float32(math.NaN()) },
		"inf feat":    func(d *Data) { d.Feat[13] = float32(math.Inf(1)) },
		"no flows":    func(d *Data) { d.N = 0 },
	}
	for name, breakIt := range cases {
		d := good()
		breakIt(d)
		if _, err := m.Step(d); err == nil {
			t.Errorf("%s: Step accepted bad data", name)
		} else if !strings.HasPrefix(err.Error(), "dg: ") {
			t.Errorf("%s: unclear error %q", name, err)
		}
	}
	if _, err := m.Step(nil); err == nil {
		t.Error("nil data accepted")
	}
	// Padded feature layout is accepted too.
	d := good()
	pd := &Data{N: d.N, Attr: d.Attr, Len: d.Len, Feat: make([]float32, d.N*m.PaddedLen()*m.FeatDim())}
	if _, err := m.Step(pd); err != nil {
		t.Errorf("padded layout: %v", err)
	}
	if _, _, err := m.GenerateFeatures(make([]float32, 5), 1); err == nil {
		t.Error("GenerateFeatures accepted a short attribute array")
	}
	nanAttr := make([]float32, m.AttrDim())
	nanAttr[0] = float32(math.NaN())
	if _, _, err := m.GenerateFeatures(nanAttr, 1); err == nil {
		t.Error("GenerateFeatures accepted NaN")
	}
}

func TestDivergenceIsReported(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	m, err := New(tinyConfig(), attrOut, featOut, 4)
	if err != nil {
		t.Fatal(err)
	}
	m.n.disc.Layers[0].W.W[0] = float32(math.NaN())
	err = m.Train(context.Background(), synthData(attrOut, featOut, 4, 10, 1), 3, TrainOptions{})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("got %v, want ErrDiverged", err)
	}
}

// --- reproducibility and checkpoints --------------------------------------

func weightsOf(m *Model) [][]float32 {
	var out [][]float32
	for _, p := range m.n.allParams() {
		out = append(out, append([]float32(nil), p.W...))
	}
	for _, bn := range m.n.attrBN {
		out = append(out, append([]float32(nil), bn.RunMean...), append([]float32(nil), bn.RunVar...))
	}
	return out
}

func sameWeights(t *testing.T, what string, a, b *Model) {
	t.Helper()
	wa, wb := weightsOf(a), weightsOf(b)
	for i := range wa {
		for j := range wa[i] {
			if math.Float32bits(wa[i][j]) != math.Float32bits(wb[i][j]) {
				t.Fatalf("%s: tensor %d element %d: %v vs %v", what, i, j, wa[i][j], wb[i][j])
			}
		}
	}
}

func TestReproducibleAndResumable(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	d := synthData(attrOut, featOut, 5, 40, 2)
	cfg := tinyConfig()
	cfg.Seed = 42
	ctx := context.Background()

	a, _ := New(cfg, attrOut, featOut, 5)
	if err := a.Train(ctx, d, 4, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := New(cfg, attrOut, featOut, 5)
	if err := b.Train(ctx, d, 4, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "same seed", a, b)

	// Two iterations, checkpoint, resume in a new model for two more.
	dir := filepath.Join(t.TempDir(), "ckpt")
	c, _ := New(cfg, attrOut, featOut, 5)
	var seen []int
	if err := c.Train(ctx, d, 2, TrainOptions{CheckpointDir: dir, Progress: func(p Progress) { seen = append(seen, p.Iteration) }}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[1] != 2 {
		t.Fatalf("progress calls %v", seen)
	}
	man, err := readManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	weightsFile, optimFile := man.files()
	for _, f := range []string{ManifestFile, weightsFile, optimFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Iteration() != 2 {
		t.Fatalf("loaded iteration %d", r.Iteration())
	}
	if err := r.Train(ctx, d, 4, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "resumed via Load", a, r)

	// Resume through Train's option, from a fresh model.
	e, _ := New(cfg, attrOut, featOut, 5)
	if err := e.Train(ctx, d, 4, TrainOptions{CheckpointDir: dir, Resume: true}); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "resumed via TrainOptions", a, e)

	// Fine-tuning: weights only, fresh optimiser.
	f, _ := New(cfg, attrOut, featOut, 5)
	if err := f.LoadWeights(dir); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "LoadWeights", e, f)
	if f.Iteration() != 0 || f.n.optD.T != 0 || f.n.optD.M[0][0] != 0 {
		t.Fatal("LoadWeights kept optimiser state")
	}

	// A different configuration cannot resume; other outputs cannot load.
	other := cfg
	other.DLR = 0.5
	g, _ := New(other, attrOut, featOut, 5)
	if err := g.Train(ctx, d, 4, TrainOptions{CheckpointDir: dir, Resume: true}); err == nil {
		t.Fatal("resumed with a different configuration")
	}
	h, _ := New(cfg, attrOut, featOut[:1], 5)
	if err := h.LoadWeights(dir); err == nil {
		t.Fatal("loaded weights into a model with other outputs")
	}
	// Damaged weights: an error, and the model is untouched.
	man, _ = readManifest(dir)
	weightsFile, _ = man.files()
	raw, _ := os.ReadFile(filepath.Join(dir, weightsFile))
	os.WriteFile(filepath.Join(dir, weightsFile), raw[:len(raw)/2], 0o644)
	before := weightsOf(f)
	if err := f.LoadWeights(dir); err == nil || !strings.Contains(err.Error(), weightsFile) {
		t.Fatalf("damaged checkpoint: %v", err)
	}
	after := weightsOf(f)
	for i := range before {
		for j := range before[i] {
			if before[i][j] != after[i][j] {
				t.Fatal("failed load modified the model")
			}
		}
	}
}

func TestTrainCancel(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	m, _ := New(tinyConfig(), attrOut, featOut, 4)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	err := m.Train(ctx, synthData(attrOut, featOut, 4, 10, 1), 100, TrainOptions{CheckpointDir: dir,
		Progress: func(p Progress) {
			if p.Iteration == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	l, err := Load(dir)
	if err != nil || l.Iteration() != 3 {
		t.Fatalf("checkpoint at cancel: %v, iteration %d", err, l.Iteration())
	}
}

// TestThreadsGiveSameResult trains with one and two threads: nn's parallel
// loops work on disjoint blocks and the tiny products are not split, so the
// weights agree bit for bit (this also runs the parallel paths under -race).
func TestThreadsGiveSameResult(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	cfg := tinyConfig()
	cfg.BatchSize = 64
	cfg.DP = DP{Enabled: true, Clip: 1, Noise: 0.5}
	d := synthData(attrOut, featOut, 5, 200, 6)
	train := func(threads int) *Model {
		nn.SetThreads(threads)
		defer nn.SetThreads(1)
		m, _ := New(cfg, attrOut, featOut, 5)
		if err := m.Train(context.Background(), d, 3, TrainOptions{}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	sameWeights(t, "1 vs 2 threads", train(1), train(2))
}

// GenerateFeaturesLen generates exactly the given lengths, whatever the
// generation flags say: the given steps are non-zero (the untrained model's
// outputs), the rest zero.
func TestGenerateFeaturesWithLengths(t *testing.T) {
	cfg := tinyConfig()
	attrOut, featOut := tinyOutputs()
	m, err := New(cfg, attrOut, featOut, 7)
	if err != nil {
		t.Fatal(err)
	}
	n := 300
	attr := m.GenerateAttributes(n)
	want := make([]int, n)
	for i := range want {
		want[i] = 1 + i%7
	}
	feat, err := m.GenerateFeaturesLen(attr, want)
	if err != nil {
		t.Fatal(err)
	}
	fd := m.FeatDim()
	for i, l := range want {
		for k := 0; k < 7; k++ {
			step := feat[(i*7+k)*fd : (i*7+k+1)*fd]
			zero := true
			for _, v := range step {
				if v != 0 {
					zero = false
				}
			}
			if (k < l) == zero {
				t.Fatalf("flow %d (length %d): step %d zero = %v", i, l, k, zero)
			}
		}
	}
	// The flag-driven path is unaffected afterwards.
	if _, lens, err := m.GenerateFeatures(attr, n); err != nil || len(lens) != n || lens[0] < 1 {
		t.Fatalf("GenerateFeatures after GenerateFeaturesLen: %v %v", lens, err)
	}
	if _, err := m.GenerateFeaturesLen(attr[:m.AttrDim()], []int{8}); err == nil {
		t.Error("length beyond MaxLen accepted")
	}
}

// A checkpoint is replaced as a whole: the files of older ones than the
// previous go only after the new manifest names the new ones, and a half-written newer checkpoint (files
// but no manifest, as a kill between the writes leaves) does not disturb
// loading the complete one.
func TestCheckpointReplacedAsAWhole(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	d := synthData(attrOut, featOut, 5, 40, 2)
	dir := t.TempDir()
	m, _ := New(tinyConfig(), attrOut, featOut, 5)
	if err := m.Train(context.Background(), d, 3, TrainOptions{CheckpointDir: dir, CheckpointEvery: 1}); err != nil {
		t.Fatal(err)
	}
	tensors, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(tensors) != 4 {
		t.Fatalf("checkpoint folder holds %v, want the weights and optimiser files of the latest checkpoint and the one before", tensors)
	}
	// A later save interrupted before its manifest.
	later, _ := New(tinyConfig(), attrOut, featOut, 5)
	later.Train(context.Background(), d, 5, TrainOptions{})
	junk := filepath.Join(dir, "model-000005.safetensors")
	if err := os.WriteFile(junk, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatalf("complete checkpoint not loadable beside a partial one: %v", err)
	}
	if r.Iteration() != 3 {
		t.Errorf("loaded iteration %d, want 3", r.Iteration())
	}
	sameWeights(t, "checkpoint", m, r)
}

// TestPipelinedIterationMatchesSequential: an iteration generates each
// round's fakes beside the previous round's critic update, with the random
// draws made ahead in their usual order; its weights equal, bit for bit,
// those of the rounds run one after the other (critic rounds, then
// generator rounds each drawing its own noise), with and without DP, on one
// and two threads (large enough that products are split).
func TestPipelinedIterationMatchesSequential(t *testing.T) {
	attrOut, featOut := paperOutputs()
	d := synthData(attrOut, featOut, 60, 300, 3)
	for _, dp := range []bool{false, true} {
		for _, threads := range []int{1, 2} {
			nn.SetThreads(threads)
			cfg := DefaultConfig()
			cfg.BatchSize = 64
			cfg.DiscUnits, cfg.AuxDiscUnits, cfg.AttrGenUnits = 256, 128, 128
			cfg.DRounds, cfg.GRounds = 3, 2
			cfg.InitialState = "random"
			if dp {
				cfg.DP = DP{Enabled: true, Clip: 1, Noise: 1}
			}
			a, _ := New(cfg, attrOut, featOut, 60)
			b, _ := New(cfg, attrOut, featOut, 60)
			for it := 0; it < 2; it++ {
				if _, err := a.Step(d); err != nil {
					t.Fatal(err)
				}
				n := b.n
				for r := 0; r < cfg.DRounds; r++ {
					var l Losses
					n.criticRound(d, &l)
				}
				for r := 0; r < cfg.GRounds; r++ {
					nn.ZeroGrad(n.optG.Params)
					n.genLoss(cfg.BatchSize, n.rng, true)
					n.optG.Step()
				}
				n.step++
			}
			sameWeights(t, fmt.Sprintf("dp=%v threads=%d", dp, threads), a, b)
		}
	}
	nn.SetThreads(1)
}

// Save keeps the checkpoint before the latest: when the latest is damaged,
// LoadPrevious resumes from it; older ones are removed.
func TestPreviousCheckpointKept(t *testing.T) {
	cfg := tinyConfig()
	attrOut, featOut := tinyOutputs()
	d := synthData(attrOut, featOut, 5, 40, 2)
	dir := t.TempDir()
	m, err := New(cfg, attrOut, featOut, 5)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Train(ctx, d, 6, TrainOptions{CheckpointDir: dir, CheckpointEvery: 2}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model-000004.safetensors", "optim-000004.safetensors", "model-000006.safetensors", PrevManifestFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "model-000002.safetensors")); err == nil {
		t.Error("a checkpoint older than the previous one was kept")
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "model-000006.safetensors"))
	os.WriteFile(filepath.Join(dir, "model-000006.safetensors"), raw[:len(raw)/3], 0o644)
	if _, err := Load(dir); err == nil {
		t.Fatal("a truncated checkpoint loaded")
	}
	p, err := LoadPrevious(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Iteration() != 4 {
		t.Errorf("previous checkpoint at iteration %d, want 4", p.Iteration())
	}
}

// OnCheckpoint runs after each checkpoint and after the last; generating
// from the model there (as checkpoint selection does) leaves training
// exactly as it would have been, and a snapshot keeps no previous
// checkpoint and loads back as the model at that iteration.
func TestOnCheckpointGenerationLeavesTrainingAlone(t *testing.T) {
	cfg := tinyConfig()
	cfg.Seed = 7
	attrOut, featOut := tinyOutputs()
	d := synthData(attrOut, featOut, 5, 40, 2)
	ctx := context.Background()
	plain, _ := New(cfg, attrOut, featOut, 5)
	if err := plain.Train(ctx, d, 6, TrainOptions{CheckpointDir: t.TempDir(), CheckpointEvery: 2}); err != nil {
		t.Fatal(err)
	}
	hooked, _ := New(cfg, attrOut, featOut, 5)
	snap := filepath.Join(t.TempDir(), "best")
	var seen []int
	var snapWeights [][]float32
	err := hooked.Train(ctx, d, 6, TrainOptions{CheckpointDir: t.TempDir(), CheckpointEvery: 2, OnCheckpoint: func(it int) error {
		seen = append(seen, it)
		hooked.SetGenerationSeed(uint64(it))
		if _, _, _, err := hooked.Generate(9); err != nil {
			return err
		}
		if it == 4 {
			snapWeights = weightsOf(hooked)
			return hooked.SaveSnapshot(snap)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[2 4 6]" {
		t.Errorf("OnCheckpoint called at %v, want [2 4 6]", seen)
	}
	sameWeights(t, "training with generation at checkpoints", plain, hooked)
	if _, err := os.Stat(filepath.Join(snap, PrevManifestFile)); err == nil {
		t.Error("a snapshot kept a previous checkpoint")
	}
	s, err := Load(snap)
	if err != nil {
		t.Fatal(err)
	}
	if s.Iteration() != 4 {
		t.Errorf("snapshot at iteration %d, want 4", s.Iteration())
	}
	got := weightsOf(s)
	for i := range got {
		for j := range got[i] {
			if got[i][j] != snapWeights[i][j] {
				t.Fatalf("snapshot tensor %d differs from the model at iteration 4", i)
			}
		}
	}
	// An error from the hook stops training.
	stop, _ := New(cfg, attrOut, featOut, 5)
	boom := errors.New("boom")
	if err := stop.Train(ctx, d, 6, TrainOptions{CheckpointDir: t.TempDir(), CheckpointEvery: 2, OnCheckpoint: func(int) error { return boom }}); !errors.Is(err, boom) {
		t.Errorf("hook error: got %v", err)
	}
	if stop.Iteration() != 2 {
		t.Errorf("training went on to iteration %d after the hook failed", stop.Iteration())
	}
}

// --- sparse and dense training data -----------------------------------------

// Training on sparse features (each flow's steps only) is bit for bit
// training on the zero-padded layout: the batches are the same (built
// here from the dense layout: each step's features and flags, zeros after
// the flow's end) and so are the losses and the weights after a few
// iterations, with and without DP.
func TestSparseDataTrainsAsDense(t *testing.T) {
	attrOut, featOut := tinyOutputs()
	const maxLen = 5 // padded to 6 steps (SampleLen 2 … 3)
	for _, dp := range []bool{false, true} {
		cfg := tinyConfig()
		cfg.SampleLen = 3
		cfg.Seed = 7
		if dp {
			cfg.DP = DP{Enabled: true, Clip: 1, Noise: 0.5}
		}
		sparse := synthData(attrOut, featOut, maxLen, 30, 3)
		a, err := New(cfg, attrOut, featOut, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		F, L := a.FeatDim(), a.PaddedLen()
		if len(sparse.Feat) >= sparse.N*maxLen*F {
			t.Fatal("synthetic data is not sparse")
		}
		dense := padded(sparse, F, maxLen)
		b, _ := New(cfg, attrOut, featOut, maxLen)

		// The batch of the sparse data is the dense layout's.
		if err := sparse.validate(a.n.A, F, maxLen, L); err != nil {
			t.Fatal(err)
		}
		idx := []int{4, 0, 29, 4, 17, 8}
		a.n.realBatch(sparse, idx)
		Fp := F + 2
		for r, fi := range idx {
			row := a.n.realX.Row(r)
			ln := sparse.Len[fi]
			for k := 0; k < L; k++ {
				for j := 0; j < F; j++ {
					want := float32(0)
					if k < ln {
						want = dense.Feat[(fi*maxLen+k)*F+j]
					}
					if row[k*Fp+j] != want {
						t.Fatalf("flow %d step %d feature %d: %v, dense %v", fi, k, j, row[k*Fp+j], want)
					}
				}
			}
			for j := 0; j < a.n.A; j++ {
				if w := sparse.Attr[fi*a.n.A+j]; row[L*Fp+j] != w || a.n.realA.Row(r)[j] != w {
					t.Fatalf("flow %d attribute %d differs", fi, j)
				}
			}
		}

		for it := 0; it < 3; it++ {
			la, err := a.Step(sparse)
			if err != nil {
				t.Fatal(err)
			}
			lb, err := b.Step(dense)
			if err != nil {
				t.Fatal(err)
			}
			if la != lb {
				t.Fatalf("dp %v iteration %d: losses %+v on sparse data, %+v on dense", dp, it, la, lb)
			}
		}
		sameWeights(t, fmt.Sprintf("dp %v", dp), a, b)
	}
}
