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
	// RecordPrior, when set, is the target of matched decoding with row
	// weights (flow lengths): each candidate's share of records.
	RecordPrior []float64
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

// Matched decoding. Posterior decoding draws each value from p(v | x) ∝
// w_v·exp(κ·cos(x, e_v)) with w_v the value's frequency; but a generator
// that over-produces the vectors of popular values still over-produces
// those values. Matched decoding fits the weights w_v instead (iterative
// proportional fitting, i.e. Sinkhorn scaling of the kernel's columns) so
// that the expected number of rows decoded to each value, Σ_i p(v | x_i),
// is the value's share of the prior times the number of rows, and then
// draws each row from its fitted posterior. The field's marginal then
// follows the prior (up to sampling noise and values no generated vector
// is near), while each row still gets a value near what the model
// generated: the model decides which rows get which values.

// decodeMatched draws one candidate index per row like decodePosterior,
// with the column weights fitted so that the decoded marginal matches
// p.Prior. It runs at most iters fitting rounds.
//
// With weights (one per row, e.g. the flows' lengths), the fitted marginal
// counts each row weights[i] times, and the target is p.RecordPrior when
// set: the values keep their real share of records.
func decodeMatched(vecs []float32, n, d int, cand []float32, m int, p *Posterior, weights []float64, rng *rand.Rand, iters int, out []int) {
	if n == 0 {
		return
	}
	topK := max(1, min(p.TopK, m))
	// Sparse kernel: for each row its topK candidates and exp(κ(cos−max)).
	idx := make([]int32, n*topK)
	ker := make([]float64, n*topK)
	const block = 512
	sims := make([]float32, block*m)
	top := make([]cw, 0, topK)
	for b0 := 0; b0 < n; b0 += block {
		b := min(block, n-b0)
		q := vecs[b0*d : (b0+b)*d]
		blas.Sgemm(false, true, b, m, d, 1, q, d, cand, d, 0, sims[:b*m], m)
		for i := 0; i < b; i++ {
			var nq float64
			for _, v := range q[i*d : (i+1)*d] {
				nq += float64(v) * float64(v)
			}
			inv := 1.0
			if nq > 0 {
				inv = 1 / math.Sqrt(nq)
			}
			top = topOf(sims[i*m:(i+1)*m], topK, top)
			best := math.Inf(-1)
			for _, t := range top {
				best = math.Max(best, float64(t.sim)*inv)
			}
			r := b0 + i
			for k := 0; k < topK; k++ {
				if k < len(top) {
					idx[r*topK+k] = int32(top[k].j)
					ker[r*topK+k] = math.Exp(p.Kappa * (float64(top[k].sim)*inv - best))
				} else {
					idx[r*topK+k] = -1
				}
			}
		}
	}
	prior := p.Prior
	mass := float64(n)
	if weights != nil {
		if p.RecordPrior != nil {
			prior = p.RecordPrior
		}
		mass = 0
		for _, x := range weights {
			mass += x
		}
	}
	rowW := func(r int) float64 {
		if weights == nil {
			return 1
		}
		return weights[r]
	}
	var total float64
	for _, w := range prior {
		total += w
	}
	target := make([]float64, m)
	w := make([]float64, m)
	for j, pr := range prior {
		target[j] = pr / total * mass
		w[j] = p.Prior[j] / total
	}
	col := make([]float64, m)
	for it := 0; it < iters; it++ {
		clear(col)
		for r := 0; r < n; r++ {
			var z float64
			for k := 0; k < topK; k++ {
				if j := idx[r*topK+k]; j >= 0 {
					z += ker[r*topK+k] * w[j]
				}
			}
			if !(z > 0) {
				continue
			}
			rw := rowW(r)
			for k := 0; k < topK; k++ {
				if j := idx[r*topK+k]; j >= 0 {
					col[j] += rw * ker[r*topK+k] * w[j] / z
				}
			}
		}
		maxErr := 0.0
		for j := range w {
			if col[j] > 0 && target[j] > 0 {
				maxErr = math.Max(maxErr, math.Abs(col[j]-target[j])/math.Max(1, target[j]))
				w[j] *= target[j] / col[j]
				w[j] = math.Min(math.Max(w[j], 1e-300), 1e300)
			} else if target[j] == 0 {
				w[j] = 0
			}
		}
		if maxErr < 0.01 {
			break
		}
	}
	probs := make([]float64, topK)
	for r := 0; r < n; r++ {
		var z float64
		for k := 0; k < topK; k++ {
			probs[k] = 0
			if j := idx[r*topK+k]; j >= 0 {
				probs[k] = ker[r*topK+k] * w[j]
				z += probs[k]
			}
		}
		if !(z > 0) {
			// No weight near the row: its nearest candidate.
			bk, bs := 0, -1.0
			for k := 0; k < topK; k++ {
				if idx[r*topK+k] >= 0 && ker[r*topK+k] > bs {
					bk, bs = k, ker[r*topK+k]
				}
			}
			out[r] = int(idx[r*topK+bk])
			continue
		}
		u := rng.Float64() * z
		pick := -1
		for k := 0; k < topK; k++ {
			if idx[r*topK+k] < 0 || probs[k] == 0 {
				continue
			}
			pick = k
			if u -= probs[k]; u < 0 {
				break
			}
		}
		out[r] = int(idx[r*topK+pick])
	}
}

// DecodeMatched decodes n generated vectors (n×Dim, rows of stride
// values, the field's slice at offset) of a port or protocol field with
// posterior decoding, the candidates' weights fitted so that the decoded
// values follow the field's prior (see decodeMatched). The field must have
// posterior decoding configured.
//
// weights, when not nil, gives each row's weight (its flow's length): the
// values then keep their real share of records rather than of flows.
func (c *Embedded) DecodeMatched(src []float32, stride, offset int, out []float64, weights []float64, rng *rand.Rand) {
	d := c.Dim()
	vecs := make([]float32, len(out)*d)
	for r := range out {
		copy(vecs[r*d:(r+1)*d], src[r*stride+offset:r*stride+offset+d])
	}
	idx := make([]int, len(out))
	decodeMatched(vecs, len(out), d, c.candidateVectors(), len(c.Candidates), c.Post, weights, rng, 200, idx)
	for i, j := range idx {
		out[i] = float64(c.Candidates[j])
	}
}
