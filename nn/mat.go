package nn

import (
	"fmt"

	"github.com/netshare-go/netshare/nn/blas"
)

// Float is the element type of matrices: float32 for training, float64 for
// gradient checks.
type Float interface{ float32 | float64 }

// Mat is a row-major matrix: element (i, j) is D[i*C+j]. A matrix of R rows is
// a batch of R examples (or of R time-step rows).
type Mat[F Float] struct {
	R, C int
	D    []F
}

// NewMat returns a zero r×c matrix.
func NewMat[F Float](r, c int) *Mat[F] { return &Mat[F]{R: r, C: c, D: make([]F, r*c)} }

// MatFrom wraps data (r·c elements) as a matrix without copying.
func MatFrom[F Float](r, c int, data []F) *Mat[F] {
	if len(data) != r*c {
		panic(fmt.Sprintf("nn.MatFrom: %d elements for %d×%d", len(data), r, c))
	}
	return &Mat[F]{R: r, C: c, D: data}
}

// Row returns row i (aliasing the matrix).
func (m *Mat[F]) Row(i int) []F { return m.D[i*m.C : (i+1)*m.C] }

// Rows returns rows [i, j) as a matrix aliasing m.
func (m *Mat[F]) Rows(i, j int) *Mat[F] { return &Mat[F]{R: j - i, C: m.C, D: m.D[i*m.C : j*m.C]} }

// Resize makes m an r×c matrix, reusing its storage when large enough. The
// contents are unspecified afterwards.
func (m *Mat[F]) Resize(r, c int) *Mat[F] {
	if cap(m.D) < r*c {
		m.D = make([]F, r*c)
	}
	m.R, m.C, m.D = r, c, m.D[:r*c]
	return m
}

// Zero sets every element to 0.
func (m *Mat[F]) Zero() { clear(m.D) }

// Clone returns a copy of m.
func (m *Mat[F]) Clone() *Mat[F] {
	return &Mat[F]{R: m.R, C: m.C, D: append([]F(nil), m.D...)}
}

// Gemm computes c = alpha·op(a)·op(b) + beta·c on raw row-major storage.
func Gemm[F Float](tA, tB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	switch aa := any(a).(type) {
	case []float32:
		blas.Sgemm(tA, tB, m, n, k, float32(alpha), aa, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas.Dgemm(tA, tB, m, n, k, float64(alpha), aa, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// gemmShared is Gemm through blas.SgemmShared: inside Lanes its parts are
// offered to an idle lane.
func gemmShared[F Float](tA, tB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	if aa, ok := any(a).([]float32); ok {
		blas.SgemmShared(tA, tB, m, n, k, float32(alpha), aa, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	}
	Gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatMul computes dst = alpha·op(a)·op(b) + beta·dst, where op transposes
// when tA or tB is set. dst must already have the right shape.
func MatMul[F Float](dst, a *Mat[F], tA bool, b *Mat[F], tB bool, alpha, beta F) {
	m, k := a.R, a.C
	if tA {
		m, k = a.C, a.R
	}
	kb, n := b.R, b.C
	if tB {
		kb, n = b.C, b.R
	}
	if k != kb || dst.R != m || dst.C != n {
		panic(fmt.Sprintf("nn.MatMul: %d×%d (t=%v) · %d×%d (t=%v) into %d×%d", a.R, a.C, tA, b.R, b.C, tB, dst.R, dst.C))
	}
	Gemm(tA, tB, m, n, k, alpha, a.D, a.C, b.D, b.C, beta, dst.D, dst.C)
}

// addBias adds b to every row of m.
func addBias[F Float](m *Mat[F], b []F) {
	for i := 0; i < m.R; i++ {
		row := m.D[i*m.C : (i+1)*m.C]
		for j, v := range b {
			row[j] += v
		}
	}
}

// colSumAdd adds the column sums of rows of m, each scaled by w[i] (nil: 1),
// to dst.
func colSumAdd[F Float](dst []F, m *Mat[F], w []F) {
	for i := 0; i < m.R; i++ {
		row := m.D[i*m.C : (i+1)*m.C]
		if w == nil {
			for j, v := range row {
				dst[j] += v
			}
			continue
		}
		s := w[i]
		for j, v := range row {
			dst[j] += s * v
		}
	}
}

func dot[F Float](a, b []F) F {
	var s F
	b = b[:len(a)]
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// dot64 accumulates in float64 (for norms where precision matters).
func dot64[F Float](a, b []F) float64 {
	var s float64
	b = b[:len(a)]
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// gram3 returns the dot products a·a, b·b, c·c, a·b, a·c and b·c,
// accumulated in float64 (b and c at least as long as a).
func gram3[F Float](a, b, c []F) (g [6]float64) {
	start := 0
	if a32, ok := any(a).([]float32); ok && useAVX2 && len(a) >= 4 {
		start = len(a) &^ 3
		gram3AVX2(a32, any(b).([]float32), any(c).([]float32), &g)
	}
	b, c = b[:len(a)], c[:len(a)]
	for i := start; i < len(a); i++ {
		x, y, z := float64(a[i]), float64(b[i]), float64(c[i])
		g[0] += x * x
		g[1] += y * y
		g[2] += z * z
		g[3] += x * y
		g[4] += x * z
		g[5] += y * z
	}
	return g
}
