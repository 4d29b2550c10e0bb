package encoding

import (
	"math"
	"math/rand/v2"

	"github.com/netshare-go/netshare/nn/blas"
)

// Posterior decoding. Nearest-neighbour decoding maps every generated
// vector in a region of the embedding to the one value nearest to it, so
// values with near-identical contexts (the ephemeral ports used with one
// service, say) collapse onto a few of them. Posterior decoding instead
// treats the generated vector x as an observation of a value v with
// likelihood exp(κ·cos(x, e_v)) and draws v from the posterior
//
//	p(v | x) ∝ prior(v) · exp(κ·cos(x, e_v)),
//
// restricted to the TopK values nearest to x, where prior(v) is how often
// the field took value v in the training data. Generated values are still
// always known values; the embedding still decides which neighbourhood a
// generated flow's port comes from (and so its relation to the other
// fields), and the prior spreads the mass within the neighbourhood as the
// data does. As κ grows the decoder becomes the nearest-neighbour one.

// Posterior configures posterior decoding of an embedded field.
type Posterior struct {
	// Prior[i] is the weight of Candidates[i] (a count or a probability).
	Prior []float64
	// Kappa is the concentration κ of the likelihood.
	Kappa float64
	// TopK bounds the values considered per generated vector.
	TopK int
}

// decodePosterior draws a candidate index per row of vecs (n×d) given the
// candidates' unit vectors cand (m×d).
func decodePosterior(vecs []float32, n, d int, cand []float32, m int, p *Posterior, rng *rand.Rand, out []int) {
	const block = 512
	sims := make([]float32, block*m)
	topK := max(1, min(p.TopK, m))
	top := make([]cw, 0, topK)
	w := make([]float64, topK)
	for b0 := 0; b0 < n; b0 += block {
		b := min(block, n-b0)
		q := vecs[b0*d : (b0+b)*d]
		blas.Sgemm(false, true, b, m, d, 1, q, d, cand, d, 0, sims[:b*m], m)
		for i := 0; i < b; i++ {
			row := sims[i*m : (i+1)*m]
			// The query's norm scales every similarity alike: divide it out
			// so that κ applies to cosines.
			var nq float64
			for _, v := range q[i*d : (i+1)*d] {
				nq += float64(v) * float64(v)
			}
			inv := 1.0
			if nq > 0 {
				inv = 1 / math.Sqrt(nq)
			}
			top = topOf(row, topK, top)
			best := math.Inf(-1)
			for _, t := range top {
				best = math.Max(best, float64(t.sim)*inv)
			}
			var sum float64
			for k, t := range top {
				w[k] = p.Prior[t.j] * math.Exp(p.Kappa*(float64(t.sim)*inv-best))
				sum += w[k]
			}
			if !(sum > 0) {
				// No prior mass near x: fall back to the nearest value.
				bj, bs := top[0].j, top[0].sim
				for _, t := range top {
					if t.sim > bs {
						bj, bs = t.j, t.sim
					}
				}
				out[b0+i] = bj
				continue
			}
			u := rng.Float64() * sum
			k := 0
			for ; k < len(top)-1; k++ {
				u -= w[k]
				if u < 0 {
					break
				}
			}
			out[b0+i] = top[k].j
		}
	}
}

type cw struct {
	j   int
	sim float32
}

// topOf returns the k entries of row with the largest values (ties to the
// lower index), in no particular order, using a min-heap of size k.
func topOf(row []float32, k int, h []cw) []cw {
	h = h[:0]
	less := func(a, b cw) bool { return a.sim < b.sim || (a.sim == b.sim && a.j > b.j) }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for j, s := range row {
		e := cw{j, s}
		if len(h) < k {
			h = append(h, e)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !less(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if less(h[0], e) {
			h[0] = e
			down(0)
		}
	}
	return h
}
