package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RNG is a seeded, reproducible random source (PCG from math/rand/v2): the
// same seed gives the same sequence on every machine, and its state can be
// saved and restored with MarshalBinary and UnmarshalBinary.
type RNG struct {
	src *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a source seeded with seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, seed^rngSeedMix)
	return &RNG{src: src, r: rand.New(src)}
}

// Normal returns a standard normal draw.
func (g *RNG) Normal() float64 { return g.r.NormFloat64() }

// Float64 returns a uniform draw in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// IntN returns a uniform integer in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Uint64 returns 64 random bits.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// MarshalBinary returns the source's state.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.src.MarshalBinary() }

// UnmarshalBinary restores a state returned by MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error {
	if err := g.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("restore random state: %w", err)
	}
	return nil
}

// FillNormal fills dst with N(0, std²) draws.
func FillNormal[F Float](g *RNG, dst []F, std float64) {
	for i := range dst {
		dst[i] = F(g.r.NormFloat64() * std)
	}
}

// FillUniform fills dst with U(lo, hi) draws.
func FillUniform[F Float](g *RNG, dst []F, lo, hi float64) {
	for i := range dst {
		dst[i] = F(lo + (hi-lo)*g.r.Float64())
	}
}

// XavierUniform fills a fanIn×fanOut weight with U(±sqrt(6/(fanIn+fanOut))).
func XavierUniform[F Float](g *RNG, w []F, fanIn, fanOut int) {
	a := math.Sqrt(6 / float64(fanIn+fanOut))
	FillUniform(g, w, -a, a)
}

// TorchDefault fills a fanIn×fanOut weight and its bias as PyTorch's Linear
// does by default: both U(±1/sqrt(fanIn)).
func TorchDefault[F Float](g *RNG, w, b []F, fanIn int) {
	a := 1 / math.Sqrt(float64(fanIn))
	FillUniform(g, w, -a, a)
	FillUniform(g, b, -a, a)
}

// Orthogonal fills a rows×cols matrix with a random (semi-)orthogonal one:
// Gram–Schmidt on Gaussian vectors (the rows when rows ≤ cols, else the
// columns), as PyTorch's orthogonal_ initialisation does via QR.
func Orthogonal[F Float](g *RNG, w []F, rows, cols int) {
	tr := rows > cols
	n, m := rows, cols // n vectors of length m
	if tr {
		n, m = cols, rows
	}
	v := make([][]float64, n)
	for i := range v {
		v[i] = make([]float64, m)
		for {
			for j := range v[i] {
				v[i][j] = g.Normal()
			}
			for k := 0; k < i; k++ {
				var d float64
				for j := range v[i] {
					d += v[i][j] * v[k][j]
				}
				for j := range v[i] {
					v[i][j] -= d * v[k][j]
				}
			}
			var s float64
			for _, x := range v[i] {
				s += x * x
			}
			if s > 1e-12 {
				s = 1 / math.Sqrt(s)
				for j := range v[i] {
					v[i][j] *= s
				}
				break
			}
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			if tr {
				w[j*cols+i] = F(v[i][j])
			} else {
				w[i*cols+j] = F(v[i][j])
			}
		}
	}
}
