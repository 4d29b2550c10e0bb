package encoding

import (
	"math"
	"math/rand/v2"

	"github.com/netshare-go/netshare/encoding/ip2vec"
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
	// ChunkRecordPrior, when set, is RecordPrior per time chunk: the
	// target of matched decoding of a chunk's flows (MatchOptions.Chunk).
	ChunkRecordPrior [][]float64
	// Kappa is the concentration κ of the likelihood.
	Kappa float64
	// TopK bounds the values considered per generated vector.
	TopK int
}

// topKFunc finds, for each of the vectors in vecs, its k nearest candidates
// by cosine (k at most the number of candidates), most similar first, ties
// to the lower index, as [ip2vec.Decoder.TopK] does: their indices in idx
// and their cosines in sims, k per vector.
type topKFunc func(vecs []float32, k int, idx []int32, sims []float32)

// searchOf is dec's top-K search.
func searchOf(dec *ip2vec.Decoder) topKFunc {
	return func(vecs []float32, k int, idx []int32, sims []float32) {
		if err := dec.TopK(vecs, k, idx, sims); err != nil {
			panic(err) // the callers size every slice
		}
	}
}

// searchRows is how many rows are searched at once: k·searchRows entries
// (8 bytes each) at most about 8 MiB, and at least 256 rows.
func searchRows(k int) int { return max(256, (1<<20)/k) }

// decodePosterior draws a candidate index per row of vecs (n×d) among m
// candidates, the TopK nearest to the row found by search.
func decodePosterior(vecs []float32, n, d, m int, search topKFunc, p *Posterior, rng *rand.Rand, out []int) {
	topK := max(1, min(p.TopK, m))
	block := searchRows(topK)
	idx := make([]int32, min(block, n)*topK)
	sims := make([]float32, min(block, n)*topK)
	w := make([]float64, topK)
	for b0 := 0; b0 < n; b0 += block {
		b := min(block, n-b0)
		search(vecs[b0*d:(b0+b)*d], topK, idx[:b*topK], sims[:b*topK])
		for i := range b {
			top, cos := idx[i*topK:(i+1)*topK], sims[i*topK:(i+1)*topK]
			sum := posteriorWeights(top, cos, p, w)
			if !(sum > 0) {
				// No prior mass near x: fall back to the nearest value.
				bj, bs := top[0], cos[0]
				for k, s := range cos {
					if s > bs {
						bj, bs = top[k], s
					}
				}
				out[b0+i] = int(bj)
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
			out[b0+i] = int(top[k])
		}
	}
}

// posteriorWeights sets w[k] to the unnormalised posterior of candidate
// top[k], whose cosine with the row is cos[k], and returns their sum.
func posteriorWeights(top []int32, cos []float32, p *Posterior, w []float64) float64 {
	best := math.Inf(-1)
	for _, s := range cos {
		best = math.Max(best, float64(s))
	}
	var sum float64
	for k, j := range top {
		w[k] = p.Prior[j] * math.Exp(p.Kappa*(float64(cos[k])-best))
		sum += w[k]
	}
	return sum
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
//
// as, when not nil, holds per candidate the weight a row counts with once
// it takes that candidate, in place of its own where as[j] > 0: a row
// decoded to a tail class's token becomes a flow of a one-off port, whose
// length is then set to that class's (mostly one record), not the one it
// was generated with. The fit then compares shares rather than counts.
//
// With chunk ≥ 0 and weights, the target is the chunk's record prior
// (p.ChunkRecordPrior) where it holds any record.
func decodeMatched(vecs []float32, n, d, m int, search topKFunc, p *Posterior, weights, as []float64, chunk int, chunkShare float64, rng *rand.Rand, iters int, out []int) {
	if n == 0 {
		return
	}
	topK := max(1, min(p.TopK, m))
	// Sparse kernel: for each row its topK candidates and exp(κ(cos−max)).
	idx := make([]int32, n*topK)
	ker := make([]float64, n*topK)
	block := searchRows(topK)
	sims := make([]float32, min(block, n)*topK)
	for b0 := 0; b0 < n; b0 += block {
		b := min(block, n-b0)
		search(vecs[b0*d:(b0+b)*d], topK, idx[b0*topK:(b0+b)*topK], sims[:b*topK])
		for i := range b {
			cos := sims[i*topK : (i+1)*topK]
			best := math.Inf(-1)
			for _, s := range cos {
				best = math.Max(best, float64(s))
			}
			for k, s := range cos {
				ker[(b0+i)*topK+k] = math.Exp(p.Kappa * (float64(s) - best))
			}
		}
	}
	prior := p.Prior
	mass := float64(n)
	if weights != nil {
		if p.RecordPrior != nil {
			prior = p.RecordPrior
		}
		if chunk >= 0 && chunk < len(p.ChunkRecordPrior) {
			prior = chunkTarget(p.ChunkRecordPrior[chunk], prior, chunkShare)
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
		colSum := 0.0
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
					x := rw
					if as != nil && as[j] > 0 {
						x = as[j]
					}
					x *= ker[r*topK+k] * w[j] / z
					col[j] += x
					colSum += x
				}
			}
		}
		if as != nil && colSum > 0 {
			// Shares: the rows' total changes with the candidates they take.
			for j := range col {
				col[j] *= mass / colSum
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
	c.DecodeMatchedWith(src, stride, offset, out, MatchOptions{Weights: weights, Chunk: -1}, rng)
}

// MatchOptions are the options of DecodeMatchedWith.
type MatchOptions struct {
	// Weights gives each row's weight (its flow's length), or is nil.
	Weights []float64
	// As, when not nil, holds per candidate the weight a row counts with
	// once it takes that candidate, where positive (see decodeMatched).
	As []float64
	// Chunk, when not negative, is the time chunk of the rows: with
	// Weights, the target is that chunk's record prior where the codec
	// has one, with some of the trace's shares mixed in (chunkTarget).
	Chunk int
	// ChunkShare, when positive, caps the trace's shares in the chunk's
	// target at this share of the chunk's records (CaptureChunkShare).
	ChunkShare float64
}

// DecodeMatchedWith is DecodeMatched with options.
func (c *Embedded) DecodeMatchedWith(src []float32, stride, offset int, out []float64, o MatchOptions, rng *rand.Rand) {
	vecs, d := c.vectors(src, stride, offset, len(out))
	idx := make([]int, len(out))
	as := o.As
	if as != nil && (o.Weights == nil || len(as) != len(c.Candidates)) {
		as = nil
	}
	decodeMatched(vecs, len(out), d, len(c.Candidates), c.search(), c.Post, o.Weights, as, o.Chunk, o.ChunkShare, rng, 200, idx)
	for i, j := range idx {
		out[i] = float64(c.Candidates[j])
	}
}

// chunkSmooth is the most weight, in records, of the trace's shares in a
// chunk's target (chunkTarget).
const chunkSmooth = 200

// CaptureChunkShare is the most weight of the trace's shares in a
// capture's chunk's target, as a share of the chunk's own records
// (MatchOptions.ChunkShare). A capture's records are packets, and its
// shares per port are made by a few long flows that live in some chunks
// only: with 200 records' worth whatever the chunk's size, test7's first
// chunk (198 packets, none of them SSH) gave 70 packets to port 22, the
// trace's heaviest service, in 22 flows (docs/BENCHMARKS.md). A flow
// trace's records are flows, and the same cap made the nmap log's chunk
// of 318 records lean too little on the trace (its mean JSD 0.0021 →
// 0.0075): flow traces keep 200 records' worth.
const CaptureChunkShare = 0.1

// chunkTarget returns a chunk's record counts with chunkSmooth records'
// worth of the trace's shares (trace) added, or, with share positive,
// share of the chunk's records' worth when that is less: a chunk of many
// records keeps its own mix, one of few leans on the trace's, whose values
// its model may still generate vectors for. It returns trace when the
// chunk holds no record.
func chunkTarget(chunk, trace []float64, share float64) []float64 {
	var n, t float64
	for _, x := range chunk {
		n += x
	}
	for _, x := range trace {
		t += x
	}
	if !(n > 0) || !(t > 0) || len(chunk) != len(trace) {
		return trace
	}
	w := float64(chunkSmooth)
	if share > 0 {
		w = min(w, share*n)
	}
	out := make([]float64, len(chunk))
	for j := range chunk {
		out[j] = chunk[j] + w*trace[j]/t
	}
	return out
}
