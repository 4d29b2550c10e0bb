package ml

import (
	"math"
)

// GradientBoosting is multi-class gradient-boosted trees: each round fits
// one binned regression tree per class to the softmax loss's gradient, with
// Newton leaf values, L2 regularisation and shrinkage.
type GradientBoosting struct {
	Rounds, MaxDepth int
	LearningRate     float64
	Lambda           float64
	bn               *binner
	init             []float64
	ts               [][]*tree // [round][class]
	k                int
}

// NewGradientBoosting returns 40 rounds of depth-3 trees at rate 0.2.
func NewGradientBoosting() *GradientBoosting {
	return &GradientBoosting{Rounds: 40, MaxDepth: 3, LearningRate: 0.2, Lambda: 1}
}

func (m *GradientBoosting) Name() string { return "gradient boosting" }

type regTreeBuilder struct {
	bins   [][]uint8
	nbins  []int
	g, h   []float64
	depth  int
	lambda float64
	hg, hh []float64
}

// split finds the split of rows idx with the largest gain in the
// second-order approximation of the loss; the leaf value is the Newton
// step −G/(H+λ).
func (b *regTreeBuilder) split(idx []int32, depth int) (int, uint8, []float64) {
	var G, H float64
	for _, i := range idx {
		G += b.g[i]
		H += b.h[i]
	}
	leaf := func() (int, uint8, []float64) {
		return -1, 0, []float64{-G / (H + b.lambda)}
	}
	if depth >= b.depth || len(idx) < 2 {
		return leaf()
	}
	parent := G * G / (H + b.lambda)
	bestGain, bestFeat, bestThr := 1e-9, -1, uint8(0)
	for j, col := range b.bins {
		nb := b.nbins[j]
		hg, hh := b.hg[:nb], b.hh[:nb]
		clear(hg)
		clear(hh)
		for _, i := range idx {
			hg[col[i]] += b.g[i]
			hh[col[i]] += b.h[i]
		}
		var gl, hl float64
		for t := 0; t < nb-1; t++ {
			gl += hg[t]
			hl += hh[t]
			gr, hr := G-gl, H-hl
			if hl < 1e-6 || hr < 1e-6 {
				continue
			}
			gain := gl*gl/(hl+b.lambda) + gr*gr/(hr+b.lambda) - parent
			if gain > bestGain {
				bestGain, bestFeat, bestThr = gain, j, uint8(t)
			}
		}
	}
	if bestFeat < 0 {
		return leaf()
	}
	return bestFeat, bestThr, nil
}

func (m *GradientBoosting) Fit(X [][]float64, y []int, k int) error {
	if err := checkXY(X, y, k); err != nil {
		return err
	}
	m.bn, m.k = fitBinner(X), k
	bins, nb := m.bn.transform(X), binCounts(m.bn)
	n := len(X)
	m.init = make([]float64, k)
	for _, c := range y {
		m.init[c]++
	}
	for c := range m.init {
		m.init[c] = math.Log((m.init[c] + 1) / float64(n+k))
	}
	F := make([]float64, n*k)
	for i := 0; i < n; i++ {
		copy(F[i*k:(i+1)*k], m.init)
	}
	g, h := make([]float64, n), make([]float64, n)
	P := make([]float64, n*k)
	idx := make([]int32, n)
	b := &regTreeBuilder{bins: bins, nbins: nb, g: g, h: h, depth: m.MaxDepth, lambda: m.Lambda, hg: make([]float64, maxBins), hh: make([]float64, maxBins)}
	m.ts = nil
	for round := 0; round < m.Rounds; round++ {
		copy(P, F)
		for i := 0; i < n; i++ {
			softmaxInPlace(P[i*k : (i+1)*k])
		}
		var trees []*tree
		for c := 0; c < k; c++ {
			for i := 0; i < n; i++ {
				p := P[i*k+c]
				t := 0.0
				if y[i] == c {
					t = 1
				}
				g[i] = p - t
				h[i] = max(p*(1-p), 1e-6)
			}
			for i := range idx {
				idx[i] = int32(i)
			}
			tr := &tree{}
			tr.grow(b, bins, idx, 0)
			for _, nd := range tr.nodes {
				if nd.leaf {
					nd.value[0] *= m.LearningRate
				}
			}
			for i := 0; i < n; i++ {
				F[i*k+c] += tr.leafOf(bins, i)[0]
			}
			trees = append(trees, tr)
		}
		m.ts = append(m.ts, trees)
	}
	return nil
}

func (m *GradientBoosting) Predict(X [][]float64) []int {
	bins := m.bn.transform(X)
	out := make([]int, len(X))
	f := make([]float64, m.k)
	for i := range out {
		copy(f, m.init)
		for _, trees := range m.ts {
			for c, t := range trees {
				f[c] += t.leafOf(bins, i)[0]
			}
		}
		out[i] = argmax(f)
	}
	return out
}
