// Batch sampling and DP-SGD: Poisson sampling under DP, per-example
// clipping weights and the Gaussian noise on the critics' gradients.

package dg

import (
	"math"

	"github.com/netshare-go/netshare/nn"
)

// sampleBatch draws a batch: B flows uniformly with replacement, or under DP
// each flow independently with probability B/N (Poisson sampling, by
// geometric skips so that the cost is proportional to the batch).
func (n *net[F]) sampleBatch(N int) []int {
	n.idx = n.sampleInto(n.idx[:0], N)
	return n.idx
}

// sampleInto is sampleBatch appending to idx.
func (n *net[F]) sampleInto(idx []int, N int) []int {
	B := n.cfg.BatchSize
	if !n.cfg.DP.Enabled {
		for i := 0; i < B; i++ {
			idx = append(idx, n.rng.IntN(N))
		}
		return idx
	}
	q := float64(B) / float64(N)
	if q >= 1 {
		for i := 0; i < N; i++ {
			idx = append(idx, i)
		}
		return idx
	}
	lq := math.Log1p(-q)
	i := -1
	for {
		u := n.rng.Float64()
		i += 1 + int(math.Floor(math.Log(1-u)/lq))
		if i >= N || i < 0 {
			break
		}
		idx = append(idx, i)
	}
	return idx
}

// clipWeights computes each example's joint (D, D_a) gradient norm and
// returns the weights min(1, C/‖g_i‖)/B that clip and average.
func (n *net[F]) clipWeights(b int) []F {
	n.sqn = resize(n.sqn, 2*b)
	sq, sqA := n.sqn[:b], n.sqn[b:]
	clear(n.sqn)
	nn.Lanes(func() { n.disc.SqNorms(sq) }, func() {
		if n.aux != nil {
			n.aux.SqNorms(sqA)
		}
	})
	n.wts = resize(n.wts, b)
	C := n.cfg.DP.Clip
	invB := 1 / float64(n.cfg.BatchSize)
	for i, s := range sq {
		c := 1.0
		if nrm := math.Sqrt(s + sqA[i]); nrm > C {
			c = C / nrm
		}
		n.wts[i] = F(c * invB)
	}
	return n.wts
}

// addDPNoise adds N(0, (σC)²)/B to every coordinate of the gradients of ps,
// numbered from first among the critics' parameters (D's, then D_a's). The
// draws come from per-block PCG streams (nn.AddNormal, NewRNG's stream)
// seeded from seed (one training draw per round) and the block's parameter
// number and index, so that blocks
// can be filled in parallel with a result that does not depend on the
// thread count. (PCG is not a cryptographic generator: fine for research
// use of DP-SGD, as in most DP libraries' default mode.)
func (n *net[F]) addDPNoise(seed uint64, ps []*nn.Param[F], first int) {
	std := n.cfg.DP.Noise * n.cfg.DP.Clip / float64(n.cfg.BatchSize)
	if std == 0 {
		return
	}
	const block = 1 << 15
	for k, p := range ps {
		pi := first + k
		nb := (len(p.G) + block - 1) / block
		nn.ParallelRange(nb, 1, func(lo, hi int) {
			for bi := lo; bi < hi; bi++ {
				seg := p.G[bi*block : min((bi+1)*block, len(p.G))]
				nn.AddNormal(seg, seed^(uint64(pi)<<32|uint64(bi)), std)
			}
		})
	}
}
