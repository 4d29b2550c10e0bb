package ml

import (
	"errors"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// IsolationForest scores rows by how quickly random axis-parallel splits
// isolate them (Liu, Ting and Zhou 2008): 2^(−E[h(x)]/c(ψ)).
type IsolationForest struct {
	Trees, Sample int
	Seed          int64
	nodes         [][]iNode
	psi           int
}

type iNode struct {
	feat        int
	split       float64
	left, right int32
	size        int // rows reaching a leaf; 0 for inner nodes
	leaf        bool
}

// NewIsolationForest returns 100 trees on subsamples of 256 rows.
func NewIsolationForest(seed int64) *IsolationForest {
	return &IsolationForest{Trees: 100, Sample: 256, Seed: seed}
}

func (m *IsolationForest) Name() string { return "isolation forest" }

// avgPath is c(n), the mean path length of an unsuccessful search in a
// binary search tree of n nodes.
func avgPath(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	x := float64(n - 1)
	return 2*(math.Log(x)+0.5772156649015329) - 2*x/float64(n)
}

func (m *IsolationForest) Fit(X [][]float64) error {
	if err := checkXY(X, nil, 0); err != nil {
		return err
	}
	r := newRand(m.Seed)
	m.psi = min(m.Sample, len(X))
	limit := int(math.Ceil(math.Log2(float64(max(m.psi, 2)))))
	d := len(X[0])
	m.nodes = nil
	for t := 0; t < m.Trees; t++ {
		rows := make([][]float64, m.psi)
		perm := r.Perm(len(X))
		for i := range rows {
			rows[i] = X[perm[i]]
		}
		var nodes []iNode
		var grow func(rows [][]float64, depth int) int32
		grow = func(rows [][]float64, depth int) int32 {
			id := int32(len(nodes))
			nodes = append(nodes, iNode{})
			if depth >= limit || len(rows) <= 1 {
				nodes[id] = iNode{leaf: true, size: len(rows)}
				return id
			}
			// Pick a feature that varies among these rows, if any.
			start := r.IntN(d)
			for off := 0; off < d; off++ {
				j := (start + off) % d
				lo, hi := rows[0][j], rows[0][j]
				for _, row := range rows {
					lo, hi = min(lo, row[j]), max(hi, row[j])
				}
				if hi <= lo {
					continue
				}
				s := lo + r.Float64()*(hi-lo)
				var left, right [][]float64
				for _, row := range rows {
					if row[j] < s {
						left = append(left, row)
					} else {
						right = append(right, row)
					}
				}
				li := grow(left, depth+1)
				ri := grow(right, depth+1)
				nodes[id] = iNode{feat: j, split: s, left: li, right: ri}
				return id
			}
			nodes[id] = iNode{leaf: true, size: len(rows)}
			return id
		}
		grow(rows, 0)
		m.nodes = append(m.nodes, nodes)
	}
	return nil
}

func (m *IsolationForest) Score(X [][]float64) []float64 {
	out := make([]float64, len(X))
	cn := avgPath(m.psi)
	if cn == 0 {
		cn = 1
	}
	for i, x := range X {
		var tot float64
		for _, nodes := range m.nodes {
			n, depth := &nodes[0], 0
			for !n.leaf {
				if x[n.feat] < n.split {
					n = &nodes[n.left]
				} else {
					n = &nodes[n.right]
				}
				depth++
			}
			tot += float64(depth) + avgPath(n.size)
		}
		out[i] = math.Pow(2, -tot/float64(len(m.nodes))/cn)
	}
	return out
}

// KNNDistance scores a row by its mean Euclidean distance to its K nearest
// fitted rows, in the fitted rows' standardised space.
type KNNDistance struct {
	K  int
	st *Standardizer
	Z  [][]float64
}

// NewKNNDistance returns a detector using the 5 nearest neighbours.
func NewKNNDistance() *KNNDistance { return &KNNDistance{K: 5} }

func (m *KNNDistance) Name() string { return "k-NN distance" }

func (m *KNNDistance) Fit(X [][]float64) error {
	if err := checkXY(X, nil, 0); err != nil {
		return err
	}
	m.st = FitStandardizer(X)
	m.Z = m.st.Transform(X)
	return nil
}

func (m *KNNDistance) Score(X [][]float64) []float64 {
	Q := m.st.Transform(X)
	k := min(m.K, len(m.Z))
	out := make([]float64, len(Q))
	best := make([]float64, 0, k+1)
	for i, q := range Q {
		best = best[:0]
		for _, z := range m.Z {
			var s float64
			for j, v := range q {
				dv := v - z[j]
				s += dv * dv
			}
			if len(best) == k && s >= best[k-1] {
				continue
			}
			pos, _ := slices.BinarySearch(best, s)
			best = slices.Insert(best, pos, s)
			if len(best) > k {
				best = best[:k]
			}
		}
		var tot float64
		for _, s := range best {
			tot += math.Sqrt(s)
		}
		out[i] = tot / float64(len(best))
	}
	return out
}

// denseOf copies rows into a matrix, one row an observation.
func denseOf(Z [][]float64) *mat.Dense {
	m := mat.NewDense(len(Z), len(Z[0]), nil)
	for i, z := range Z {
		m.SetRow(i, z)
	}
	return m
}

// covariance returns the covariance of the rows, with divisor n (as the
// Standardizer's variances), so that standardised rows have unit diagonal.
func covariance(Z [][]float64) *mat.SymDense {
	n := len(Z)
	c := mat.NewSymDense(len(Z[0]), nil)
	if n < 2 {
		return c // one row: no spread
	}
	stat.CovarianceMatrix(c, denseOf(Z), nil) // divisor n−1
	c.ScaleSym(float64(n-1)/float64(n), c)
	return c
}

// PCAReconstruction scores a row by its squared distance to the principal
// subspace that explains 90% of the fitted rows' standardised variance.
type PCAReconstruction struct {
	Variance float64
	st       *Standardizer
	basis    *mat.Dense // d × q, orthonormal columns
}

// NewPCAReconstruction returns a detector keeping 90% of the variance.
func NewPCAReconstruction() *PCAReconstruction { return &PCAReconstruction{Variance: 0.9} }

func (m *PCAReconstruction) Name() string { return "PCA reconstruction" }

func (m *PCAReconstruction) Fit(X [][]float64) error {
	if err := checkXY(X, nil, 0); err != nil {
		return err
	}
	m.st = FitStandardizer(X)
	var pc stat.PC
	if !pc.PrincipalComponents(denseOf(m.st.Transform(X)), nil) {
		return errors.New("PCA: decomposition failed")
	}
	vars := pc.VarsTo(nil) // descending
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	d := len(X[0])
	var tot float64
	for _, v := range vars {
		tot += v
	}
	q, acc := 0, 0.0
	for _, v := range vars {
		if q >= d-1 || (tot > 0 && acc/tot >= m.Variance) {
			break
		}
		acc += v
		q++
	}
	q = max(q, 1)
	m.basis = mat.DenseCopyOf(vecs.Slice(0, d, 0, q))
	return nil
}

func (m *PCAReconstruction) Score(X [][]float64) []float64 {
	Q := m.st.Transform(X)
	d, q := m.basis.Dims()
	out := make([]float64, len(Q))
	proj := make([]float64, q)
	for i, z := range Q {
		for c := 0; c < q; c++ {
			var s float64
			for r := 0; r < d; r++ {
				s += z[r] * m.basis.At(r, c)
			}
			proj[c] = s
		}
		var e float64
		for r := 0; r < d; r++ {
			var rec float64
			for c := 0; c < q; c++ {
				rec += proj[c] * m.basis.At(r, c)
			}
			dv := z[r] - rec
			e += dv * dv
		}
		out[i] = e
	}
	return out
}

// Mahalanobis scores a row by its squared Mahalanobis distance from the
// fitted rows' mean (a Gaussian fit; the covariance of the standardised
// rows gets 1e-6 added on its diagonal).
type Mahalanobis struct {
	st  *Standardizer
	inv *mat.SymDense
}

// NewMahalanobis returns an unfitted Gaussian detector.
func NewMahalanobis() *Mahalanobis { return &Mahalanobis{} }

func (m *Mahalanobis) Name() string { return "Mahalanobis" }

func (m *Mahalanobis) Fit(X [][]float64) error {
	if err := checkXY(X, nil, 0); err != nil {
		return err
	}
	m.st = FitStandardizer(X)
	c := covariance(m.st.Transform(X))
	d := c.SymmetricDim()
	for i := 0; i < d; i++ {
		c.SetSym(i, i, c.At(i, i)+1e-6)
	}
	var ch mat.Cholesky
	if !ch.Factorize(c) {
		return errors.New("Mahalanobis: covariance is not positive definite")
	}
	m.inv = mat.NewSymDense(d, nil)
	if err := ch.InverseTo(m.inv); err != nil {
		return err
	}
	return nil
}

func (m *Mahalanobis) Score(X [][]float64) []float64 {
	Q := m.st.Transform(X)
	d := m.inv.SymmetricDim()
	out := make([]float64, len(Q))
	for i, z := range Q {
		var s float64
		for a := 0; a < d; a++ {
			var t float64
			for b := 0; b < d; b++ {
				t += m.inv.At(a, b) * z[b]
			}
			s += z[a] * t
		}
		out[i] = s
	}
	return out
}
