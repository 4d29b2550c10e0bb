// The critics' side of a training iteration: real batches, the random
// draws of a critic round, and the update of D and D_a.

package dg

import "github.com/netshare-go/netshare/nn"

// realBatch writes D's and D_a's input rows for flows idx of d: each
// flow's steps with their generation flags, padded to the model's length.
func (n *net[F]) realBatch(d *Data, idx []int) {
	b := len(idx)
	x := n.realX.Resize(b, n.featSize+n.A)
	xa := n.realA.Resize(b, n.A)
	nn.ParallelRange(b, 16, func(lo, hi int) {
		n.realRows(d, idx, x, xa, lo, hi)
	})
}

func (n *net[F]) realRows(d *Data, idx []int, x, xa *nn.Mat[F], lo, hi int) {
	S, Fp, Fd, L := n.cfg.SampleLen, n.Fp, n.Fd, n.L
	for r := lo; r < hi; r++ {
		fi := idx[r]
		row := x.Row(r)
		ln := d.Len[fi]
		src := d.Feat[d.off[fi]*Fd:] // the flow's steps; padded below
		lastBlk := (ln - 1) / S
		for k := 0; k < L; k++ {
			st := row[k*Fp : (k+1)*Fp]
			switch {
			case k < ln:
				for j := 0; j < Fd; j++ {
					st[j] = F(src[k*Fd+j])
				}
				if k < ln-1 {
					st[Fd], st[Fd+1] = 1, 0
				} else {
					st[Fd], st[Fd+1] = 0, 1
				}
			case k/S == lastBlk:
				clear(st[:Fd])
				st[Fd], st[Fd+1] = 0, 1
			default:
				clear(st)
			}
		}
		ar := d.Attr[fi*n.A : (fi+1)*n.A]
		dst := row[n.featSize:]
		ad := xa.Row(r)
		for j, v := range ar {
			dst[j] = F(v)
			ad[j] = F(v)
		}
	}
}

// round is one critic round's random draws, made in the training stream's
// order before any of the round's computation (so that the next round's
// fakes can be generated while this round's critics train), and the fakes.
type round[F nn.Float] struct {
	idx           []int
	za, zf        nn.Mat[F]
	h0, c0        nn.Mat[F]
	h0p, c0p      *nn.Mat[F] // h0, c0 when the initial state is random
	alpha, alphaA []F
	seed          uint64 // DP noise
	fakeX, fakeA  nn.Mat[F]
}

// drawRound makes round p's draws: the batch, the generator's noise, the
// penalties' α and, under DP, the noise seed (the order in which a round
// done from start to end would draw them).
func (n *net[F]) drawRound(N int, p *round[F]) {
	p.idx = n.sampleInto(p.idx[:0], N)
	if b := len(p.idx); b > 0 {
		p.za.Resize(b, n.cfg.AttrNoiseDim)
		nn.FillNormal(n.rng, p.za.D, 1)
		_, p.h0p, p.c0p = n.drawFeatNoise(b, n.rng, &p.zf, &p.h0, &p.c0)
		p.alpha = resize(p.alpha, b)
		nn.FillUniform(n.rng, p.alpha, 0, 1)
		p.alphaA = resize(p.alphaA, b)
		nn.FillUniform(n.rng, p.alphaA, 0, 1)
	}
	if n.cfg.DP.Enabled {
		p.seed = n.rng.Uint64()
	}
}

// genRound generates round p's fakes.
func (n *net[F]) genRound(p *round[F]) {
	if len(p.idx) == 0 {
		return
	}
	attr := n.genAttrFrom(&p.za, true)
	feat := n.genFeatFrom(attr, &p.zf, p.h0p, p.c0p)
	n.assemble(&p.fakeX, &p.fakeA, feat, attr)
}

// criticRound runs one update of D and D_a on a fresh real batch and fresh
// fakes.
func (n *net[F]) criticRound(d *Data, l *Losses) {
	p := &n.rounds[0]
	n.drawRound(d.N, p)
	n.genRound(p)
	n.runRound(d, p, nil, l)
}

// runRound runs the critic update of round p (drawn, fakes generated) and,
// on a second core when there is one, next (the generator's next pass,
// which needs none of this round's results; nil: none).
func (n *net[F]) runRound(d *Data, p *round[F], next func(), l *Losses) {
	b := len(p.idx)
	l.BatchSize = b
	dp := n.cfg.DP.Enabled
	dps := n.disc.Params()
	var aps []*nn.Param[F]
	if n.aux != nil {
		aps = n.aux.Params()
	}
	if next == nil {
		next = func() {}
	}
	if b == 0 {
		nn.ZeroGrad(dps)
		nn.ZeroGrad(aps)
		next()
		if dp {
			n.addDPNoise(p.seed, dps, 0)
			n.addDPNoise(p.seed, aps, len(dps))
		}
		n.optD.Step()
		if n.aux != nil {
			n.optA.Step()
		}
		return
	}
	n.realBatch(d, p.idx)
	div := F(b)
	if dp {
		div = 1
	}
	var ld, la nn.CriticLoss
	prepD := func() { ld = n.disc.Prepare(&n.realX, &p.fakeX, p.alpha, F(n.cfg.GPCoef), div) }
	prepA := func() {
		if n.aux != nil {
			la = n.aux.Prepare(&n.realA, &p.fakeA, p.alphaA, F(n.cfg.AuxGPCoef), div)
		}
	}
	var w []F
	stepD := func() {
		n.disc.SetGrads(w)
		if dp {
			n.addDPNoise(p.seed, dps, 0)
		}
		n.optD.Step()
	}
	stepA := func() {
		if n.aux == nil {
			return
		}
		n.aux.SetGrads(w)
		if dp {
			n.addDPNoise(p.seed, aps, len(dps))
		}
		n.optA.Step()
	}
	if !dp {
		nn.Lanes(func() { prepD(); stepD() }, func() { next(); prepA(); stepA() })
	} else {
		// The clipping weights need both critics' per-example norms.
		nn.Lanes(prepD, func() { next(); prepA() })
		w = n.clipWeights(b)
		nn.Lanes(stepD, stepA)
	}
	l.D, l.WassersteinD, l.GP = ld.Loss, ld.Wasserstein, ld.GP
	l.DA, l.WassersteinDA, l.GPA = la.Loss, la.Wasserstein, la.GP
}
