package ml

import (
	"math/rand/v2"
)

// treeNode is a node of a binned decision tree: an inner node sends a row
// left when its bin of feature feat is at most thr.
type treeNode struct {
	feat        int
	thr         uint8
	left, right int32
	leaf        bool
	value       []float64 // class probabilities (classification) or [score] (regression)
}

type tree struct{ nodes []treeNode }

// partition reorders idx so that the rows whose bin in col is at most thr
// come first, and returns how many they are.
func partition(idx []int32, col []uint8, thr uint8) int {
	l, r := 0, len(idx)-1
	for l <= r {
		if col[idx[l]] <= thr {
			l++
		} else {
			idx[l], idx[r] = idx[r], idx[l]
			r--
		}
	}
	return l
}

func (t *tree) leafOf(bins [][]uint8, i int) []float64 {
	n := &t.nodes[0]
	for !n.leaf {
		if bins[n.feat][i] <= n.thr {
			n = &t.nodes[n.left]
		} else {
			n = &t.nodes[n.right]
		}
	}
	return n.value
}

// splitter chooses how a tree node's rows are split: the feature and
// threshold of the best split, or feat < 0 and the leaf's value when the
// rows should not (or cannot usefully) be split.
type splitter interface {
	split(idx []int32, depth int) (feat int, thr uint8, leaf []float64)
}

// grow grows the subtree over rows idx (reordered in place) at depth, as s
// splits them, and returns its root's index.
func (t *tree) grow(s splitter, bins [][]uint8, idx []int32, depth int) int32 {
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, treeNode{})
	feat, thr, leaf := s.split(idx, depth)
	if feat < 0 {
		t.nodes[id] = treeNode{leaf: true, value: leaf}
		return id
	}
	l := partition(idx, bins[feat], thr)
	li := t.grow(s, bins, idx[:l], depth+1)
	ri := t.grow(s, bins, idx[l:], depth+1)
	t.nodes[id] = treeNode{feat: feat, thr: thr, left: li, right: ri}
	return id
}

// treeParams controls the growth of a tree.
type treeParams struct {
	maxDepth int
	minLeaf  int
	mtry     int // features tried per split; 0 = all
}

// classTreeBuilder grows a classification tree minimising Gini impurity.
type classTreeBuilder struct {
	bins  [][]uint8
	nbins []int
	y     []int
	k     int
	p     treeParams
	r     *rand.Rand
	hist  []float64
	feats []int
}

// split finds the split of rows idx that most decreases Gini impurity
// among the features tried; the leaf value is the class distribution.
func (b *classTreeBuilder) split(idx []int32, depth int) (int, uint8, []float64) {
	counts := make([]float64, b.k)
	for _, i := range idx {
		counts[b.y[i]]++
	}
	n := float64(len(idx))
	pure := false
	for _, c := range counts {
		if c == n {
			pure = true
		}
	}
	leaf := func() (int, uint8, []float64) {
		for c := range counts {
			counts[c] /= n
		}
		return -1, 0, counts
	}
	if pure || depth >= b.p.maxDepth || len(idx) < 2*b.p.minLeaf {
		return leaf()
	}
	var parentScore float64
	for _, c := range counts {
		parentScore += c * c
	}
	parentScore /= n
	bestGain, bestFeat, bestThr := 1e-12, -1, uint8(0)
	feats := b.feats[:0]
	for j := range b.bins {
		feats = append(feats, j)
	}
	if b.p.mtry > 0 && b.p.mtry < len(feats) {
		b.r.Shuffle(len(feats), func(i, j int) { feats[i], feats[j] = feats[j], feats[i] })
		feats = feats[:b.p.mtry]
	}
	left := make([]float64, b.k)
	for _, j := range feats {
		nb := b.nbins[j]
		h := b.hist[:nb*b.k]
		clear(h)
		col := b.bins[j]
		for _, i := range idx {
			h[int(col[i])*b.k+b.y[i]]++
		}
		clear(left)
		var nl float64
		for t := 0; t < nb-1; t++ {
			for c := 0; c < b.k; c++ {
				left[c] += h[t*b.k+c]
				nl += h[t*b.k+c]
			}
			nr := n - nl
			if nl < float64(b.p.minLeaf) || nr < float64(b.p.minLeaf) {
				continue
			}
			var sl, sr float64
			for c := 0; c < b.k; c++ {
				r := counts[c] - left[c]
				sl += left[c] * left[c]
				sr += r * r
			}
			// Gini decrease × n: Σ_child Σ_c cnt²/n_child − Σ_c cnt²/n.
			gain := sl/nl + sr/nr - parentScore
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

func growClassTree(bins [][]uint8, nbins []int, y []int, k int, idx []int32, p treeParams, r *rand.Rand) *tree {
	b := &classTreeBuilder{bins: bins, nbins: nbins, y: y, k: k, p: p, r: r, hist: make([]float64, maxBins*k), feats: make([]int, 0, len(bins))}
	t := &tree{}
	t.grow(b, bins, idx, 0)
	return t
}

func binCounts(bn *binner) []int {
	nb := make([]int, len(bn.cuts))
	for j := range nb {
		nb[j] = bn.nbins(j)
	}
	return nb
}

// DecisionTree is a CART classification tree (Gini impurity) grown on
// features binned into at most 64 quantile bins.
type DecisionTree struct {
	MaxDepth, MinLeaf int
	Seed              int64
	bn                *binner
	t                 *tree
	k                 int
}

// NewDecisionTree returns a tree of depth at most 12 with leaves of at
// least 2 rows.
func NewDecisionTree(seed int64) *DecisionTree {
	return &DecisionTree{MaxDepth: 12, MinLeaf: 2, Seed: seed}
}

func (m *DecisionTree) Name() string { return "decision tree" }

func (m *DecisionTree) Fit(X [][]float64, y []int, k int) error {
	if err := checkXY(X, y, k); err != nil {
		return err
	}
	m.bn, m.k = fitBinner(X), k
	idx := make([]int32, len(X))
	for i := range idx {
		idx[i] = int32(i)
	}
	m.t = growClassTree(m.bn.transform(X), binCounts(m.bn), y, k, idx, treeParams{maxDepth: m.MaxDepth, minLeaf: m.MinLeaf}, newRand(m.Seed))
	return nil
}

func (m *DecisionTree) Predict(X [][]float64) []int {
	bins := m.bn.transform(X)
	out := make([]int, len(X))
	for i := range out {
		out[i] = argmax(m.t.leafOf(bins, i))
	}
	return out
}

// RandomForest averages the class probabilities of trees grown on
// bootstrap samples, each split choosing among √d random features.
type RandomForest struct {
	Trees, MaxDepth, MinLeaf int
	Seed                     int64
	bn                       *binner
	ts                       []*tree
	k                        int
}

// NewRandomForest returns a forest of 30 trees of depth at most 14.
func NewRandomForest(seed int64) *RandomForest {
	return &RandomForest{Trees: 30, MaxDepth: 14, MinLeaf: 1, Seed: seed}
}

func (m *RandomForest) Name() string { return "random forest" }

func (m *RandomForest) Fit(X [][]float64, y []int, k int) error {
	if err := checkXY(X, y, k); err != nil {
		return err
	}
	m.bn, m.k = fitBinner(X), k
	bins, nb := m.bn.transform(X), binCounts(m.bn)
	r := newRand(m.Seed)
	mtry := 1
	for mtry*mtry < len(X[0]) {
		mtry++
	}
	m.ts = nil
	for t := 0; t < m.Trees; t++ {
		idx := make([]int32, len(X))
		for i := range idx {
			idx[i] = int32(r.IntN(len(X)))
		}
		m.ts = append(m.ts, growClassTree(bins, nb, y, k, idx, treeParams{maxDepth: m.MaxDepth, minLeaf: m.MinLeaf, mtry: mtry}, r))
	}
	return nil
}

func (m *RandomForest) Predict(X [][]float64) []int {
	bins := m.bn.transform(X)
	out := make([]int, len(X))
	acc := make([]float64, m.k)
	for i := range out {
		clear(acc)
		for _, t := range m.ts {
			for c, p := range t.leafOf(bins, i) {
				acc[c] += p
			}
		}
		out[i] = argmax(acc)
	}
	return out
}
