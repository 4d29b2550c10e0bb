package dg

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// Two populations with known structure:
//   - A (30%): attribute kind [1,0], level ≈ 0.2; flows of 2 steps at ≈ 0.25;
//   - B (70%): attribute kind [0,1], level ≈ 0.8; flows of 6 steps at ≈ 0.75.
const (
	learnMaxLen = 8
	fracA       = 0.3
)

var (
	learnAttr = []Output{{"kind", 2, Softmax}, {"level", 1, Sigmoid}}
	learnFeat = []Output{{"value", 1, Sigmoid}}
)

func learnData(n int, seed uint64) *Data {
	r := rand.New(rand.NewPCG(seed, 7))
	d := &Data{N: n, Attr: make([]float32, n*3), Feat: make([]float32, n*learnMaxLen), Len: make([]int, n)}
	for i := 0; i < n; i++ {
		a := r.Float64() < fracA
		lvl, val, ln := 0.8, 0.75, 6
		d.Attr[i*3+1] = 1
		if a {
			lvl, val, ln = 0.2, 0.25, 2
			d.Attr[i*3], d.Attr[i*3+1] = 1, 0
		}
		d.Attr[i*3+2] = float32(lvl + 0.03*r.NormFloat64())
		d.Len[i] = ln
		for k := 0; k < ln; k++ {
			d.Feat[i*learnMaxLen+k] = float32(val + 0.03*r.NormFloat64())
		}
	}
	return d
}

// popStats summarises flows per population (by the kind attribute's
// argmax): share of A, and per population the mean level attribute, mean
// length and mean feature value over active steps.
type popStats struct {
	fracA                float64
	level, length, value [2]float64
}

func summarise(attr, feat []float32, lens []int, n int) popStats {
	var s popStats
	var cnt, steps [2]float64
	for i := 0; i < n; i++ {
		p := 1
		if attr[i*3] > attr[i*3+1] {
			p = 0
		}
		cnt[p]++
		s.level[p] += float64(attr[i*3+2])
		s.length[p] += float64(lens[i])
		for k := 0; k < lens[i]; k++ {
			s.value[p] += float64(feat[i*learnMaxLen+k])
			steps[p]++
		}
	}
	s.fracA = cnt[0] / float64(n)
	for p := 0; p < 2; p++ {
		s.level[p] /= math.Max(cnt[p], 1)
		s.length[p] /= math.Max(cnt[p], 1)
		s.value[p] /= math.Max(steps[p], 1)
	}
	return s
}

// distance between generated and real summaries: |Δ share of A| plus, per
// population, |Δ mean level| + |Δ mean length|/maxLen + |Δ mean value|,
// averaged over the two populations. 0 is a perfect match; a model that
// ignores the structure scores about 0.5 or more.
func distance(g, r popStats) float64 {
	d := math.Abs(g.fracA - r.fracA)
	for p := 0; p < 2; p++ {
		d += (math.Abs(g.level[p]-r.level[p]) + math.Abs(g.length[p]-r.length[p])/learnMaxLen + math.Abs(g.value[p]-r.value[p])) / 2
	}
	return d
}

// TestLearnsTwoPopulations trains a tiny model for a few seconds and checks
// that the generated flows reproduce the populations' share, attribute
// level, length and feature level: distance below 0.15, and below half the
// untrained model's distance.
func TestLearnsTwoPopulations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	d := learnData(1024, 1)
	real := summarise(d.Attr, d.Feat, d.Len, d.N)
	cfg := QuickConfig()
	cfg.Seed = 3
	m, err := New(cfg, learnAttr, learnFeat, learnMaxLen)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	a, f, l, err := m.Generate(n)
	if err != nil {
		t.Fatal(err)
	}
	before := distance(summarise(a, f, l, n), real)
	if err := m.Train(context.Background(), d, learnIters, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	a, f, l, err = m.Generate(n)
	if err != nil {
		t.Fatal(err)
	}
	gen := summarise(a, f, l, n)
	after := distance(gen, real)
	t.Logf("real %+v", real)
	t.Logf("generated %+v", gen)
	t.Logf("distance untrained %.3f, trained %.3f", before, after)
	if after > 0.15 || after > before/2 {
		t.Fatalf("distance after training %.3f (untrained %.3f): want < 0.15 and < half", after, before)
	}
}

const learnIters = 2000
