// The generator: the attribute MLP, the LSTM feature generator with its
// end-flag masking, their backward passes, and the generator loss.

package dg

import (
	"github.com/netshare-go/netshare/nn"
)

// genAttr runs the attribute generator on fresh noise.
func (n *net[F]) genAttr(b int, train bool, g *nn.RNG) *nn.Mat[F] {
	za := n.za.Resize(b, n.cfg.AttrNoiseDim)
	nn.FillNormal(g, za.D, 1)
	return n.genAttrFrom(za, train)
}

// genAttrFrom runs the attribute generator on the noise za (b × noise dim).
func (n *net[F]) genAttrFrom(za *nn.Mat[F], train bool) *nn.Mat[F] {
	h := za
	for i, d := range n.attrDense {
		r := d.Forward(h)
		nn.ReLUInPlace(r, false)
		n.reluOut[i] = r
		h = n.attrBN[i].Forward(r, train)
	}
	n.attr = n.attrHeads.Forward(n.attrHead.Forward(h))
	return n.attr
}

// discretise writes the LSTM's conditioning: argmax one-hot for discrete
// attribute fields, the value for continuous ones.
func (n *net[F]) discretise(attr *nn.Mat[F]) *nn.Mat[F] {
	ad := n.attrDisc.Resize(attr.R, n.A)
	for i := 0; i < attr.R; i++ {
		src, dst := attr.Row(i), ad.Row(i)
		for _, s := range n.attrHeads.Slices {
			seg, out := src[s.Off:s.Off+s.Dim], dst[s.Off:s.Off+s.Dim]
			if s.Act != nn.Softmax {
				copy(out, seg)
				continue
			}
			best := 0
			for k := 1; k < len(seg); k++ {
				if seg[k] > seg[best] {
					best = k
				}
			}
			clear(out)
			out[best] = 1
		}
	}
	return ad
}

// genFeat runs the feature generator conditioned on attr and returns the
// masked features (b × L·Fp); n.mask and n.lengths describe the flows. The
// heads and the end-flag masking run after each LSTM step, and the LSTM
// stops as soon as every flow in the batch has ended (everything after is
// zero, as it would be after masking; the noise for all steps is drawn
// anyway, so the random stream does not depend on where it stops).
func (n *net[F]) genFeat(attr *nn.Mat[F], g *nn.RNG) *nn.Mat[F] {
	zf, h0, c0 := n.drawFeatNoise(attr.R, g, &n.zf, &n.h0, &n.c0)
	return n.genFeatFrom(attr, zf, h0, c0)
}

// drawFeatNoise draws the feature generator's noise for b flows into zf,
// h0 and c0 (the initial state only when it is random; nil otherwise).
func (n *net[F]) drawFeatNoise(b int, g *nn.RNG, zf, h0, c0 *nn.Mat[F]) (*nn.Mat[F], *nn.Mat[F], *nn.Mat[F]) {
	zf.Resize(n.T*b, n.cfg.FeatNoiseDim)
	nn.FillNormal(g, zf.D, 1)
	if n.cfg.InitialState != "random" {
		return zf, nil, nil
	}
	h0.Resize(b, n.cfg.LSTMUnits)
	c0.Resize(b, n.cfg.LSTMUnits)
	nn.FillNormal(g, h0.D, 1)
	nn.FillNormal(g, c0.D, 1)
	return zf, h0, c0
}

// genFeatFrom is genFeat on drawn noise (drawFeatNoise).
func (n *net[F]) genFeatFrom(attr, zf, h0, c0 *nn.Mat[F]) *nn.Mat[F] {
	b, T, S, Fp, L := attr.R, n.T, n.cfg.SampleLen, n.Fp, n.L
	ad := n.discretise(attr)
	if n.condOverride != nil {
		ad = n.condOverride
	}
	blk := S * Fp
	out := n.outBuf.Resize(T*b, blk)
	n.mask = resize(n.mask, b*L)
	clear(n.mask)
	n.lengths = resize(n.lengths, b)
	clear(n.lengths)
	n.active = resize(n.active, b)
	for i := range n.active {
		n.active[i] = true
	}
	stop := func(t int, ht *nn.Mat[F]) bool {
		ot := out.Rows(t*b, (t+1)*b)
		n.featHead.Apply(ht, ot)
		n.featHeads.Apply(ot)
		nn.ParallelRange(b, 16, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := ot.Row(i)
				for s := 0; s < S && n.active[i]; s++ {
					n.mask[i*L+t*S+s] = true
					n.lengths[i]++
					if n.forceLen != nil {
						if n.lengths[i] >= n.forceLen[i] {
							n.active[i] = false
						}
					} else if row[s*Fp+Fp-1] > row[s*Fp+Fp-2] { // the flag's argmax is "end"
						n.active[i] = false
					}
				}
			}
		})
		if n.noEarlyStop {
			return false
		}
		for _, a := range n.active {
			if a {
				return false
			}
		}
		return true
	}
	hs, teff := n.lstm.ForwardUntil(ad, zf, T, b, h0, c0, stop)
	n.hsOut, n.teff = hs, teff
	n.featOutM = out.Rows(0, teff*b)
	n.featHead.SetInput(hs)
	feat := n.feat.Resize(b, L*Fp)
	nn.ParallelRange(b, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := feat.Row(i)
			for t := 0; t < teff; t++ {
				copy(row[t*blk:(t+1)*blk], out.D[(t*b+i)*blk:(t*b+i+1)*blk])
			}
			clear(row[teff*blk:])
			for k := 0; k < teff*S; k++ {
				if !n.mask[i*L+k] {
					clear(row[k*Fp : (k+1)*Fp])
				}
			}
		}
	})
	return feat
}

// assemble writes D's input rows [features | attributes] and D_a's rows.
func (n *net[F]) assemble(x, xa *nn.Mat[F], feat, attr *nn.Mat[F]) {
	b := attr.R
	x.Resize(b, n.featSize+n.A)
	xa.Resize(b, n.A)
	nn.ParallelRange(b, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x.Row(i)
			copy(row[:n.featSize], feat.Row(i))
			copy(row[n.featSize:], attr.Row(i))
		}
	})
	copy(xa.D, attr.D)
}

// genBackward backpropagates dFeat (b × L·Fp, before masking) and dAttr
// (b × A) into the generator's parameters, for the last genAttr/genFeat.
func (n *net[F]) genBackward(dFeat []F, featStride int, dAttr *nn.Mat[F]) {
	// The feature and attribute generators' parameters are disjoint: their
	// backward passes run side by side.
	nn.Lanes(func() { n.featBackward(dFeat, featStride, dAttr.R) }, func() { n.attrBackward(dAttr) })
}

// featBackward backpropagates dFeat through the feature generator (heads,
// output layer, LSTM) for b flows.
func (n *net[F]) featBackward(dFeat []F, featStride, b int) {
	T, S, Fp, L := n.teff, n.cfg.SampleLen, n.Fp, n.L
	blk := S * Fp
	dOut := n.dOut.Resize(T*b, blk)
	for t := 0; t < T; t++ {
		for i := 0; i < b; i++ {
			src := dFeat[i*featStride+t*blk : i*featStride+(t+1)*blk]
			dst := dOut.D[(t*b+i)*blk : (t*b+i+1)*blk]
			for s := 0; s < S; s++ {
				k := t*S + s
				if n.mask[i*L+k] {
					copy(dst[s*Fp:(s+1)*Fp], src[s*Fp:(s+1)*Fp])
				} else {
					clear(dst[s*Fp : (s+1)*Fp])
				}
			}
		}
	}
	dz := n.featHeads.Backward(dOut, n.featOutM)
	dh := n.featHead.Backward(dz, true)
	n.lstm.Backward(dh, false)
}

// attrBackward backpropagates dAttr through the attribute generator.
func (n *net[F]) attrBackward(dAttr *nn.Mat[F]) {
	da := n.attrHeads.Backward(dAttr, n.attr)
	d := n.attrHead.Backward(da, len(n.attrDense) > 0)
	for i := len(n.attrDense) - 1; i >= 0; i-- {
		d = n.attrBN[i].Backward(d)
		nn.ReLUBackInPlace(d, n.reluOut[i], false)
		d = n.attrDense[i].Backward(d, i > 0)
	}
}

// genLoss runs the generator on fresh noise and the critics on its output,
// returns L_G and leaves dL_G/d(generator output) in the generator's
// backward buffers when backward is set (accumulating generator gradients).
func (n *net[F]) genLoss(b int, g *nn.RNG, backward bool) float64 {
	n.drawGen(b, g)
	n.genFake()
	return n.genLossFrom(b, backward)
}

// drawGen draws the noise of a generator round of b flows.
func (n *net[F]) drawGen(b int, g *nn.RNG) {
	za := n.za.Resize(b, n.cfg.AttrNoiseDim)
	nn.FillNormal(g, za.D, 1)
	n.zfG, n.h0G, n.c0G = n.drawFeatNoise(b, g, &n.zf, &n.h0, &n.c0)
}

// genFake runs the generator on drawGen's noise into n.fakeX and n.fakeA.
func (n *net[F]) genFake() {
	attr := n.genAttrFrom(&n.za, true)
	feat := n.genFeatFrom(attr, n.zfG, n.h0G, n.c0G)
	n.assemble(&n.fakeX, &n.fakeA, feat, attr)
}

// genLossFrom computes L_G for genFake's flows and, when backward is set,
// accumulates the generator's gradients.
func (n *net[F]) genLossFrom(b int, backward bool) float64 {
	beta := F(n.cfg.GAuxCoef)
	n.dy = resize(n.dy, b)
	for i := range n.dy {
		n.dy[i] = -1 / F(b)
	}
	score, dx := n.disc.InputGrad(&n.fakeX, n.dy)
	var loss float64
	for _, v := range score.D {
		loss -= float64(v)
	}
	loss /= float64(b)
	dAttr := n.dAttr.Resize(b, n.A)
	for i := 0; i < b; i++ {
		copy(dAttr.Row(i), dx.Row(i)[n.featSize:])
	}
	if n.aux != nil {
		n.dyA = resize(n.dyA, b)
		for i := range n.dyA {
			n.dyA[i] = -beta / F(b)
		}
		sa, dxa := n.aux.InputGrad(&n.fakeA, n.dyA)
		var la float64
		for _, v := range sa.D {
			la += float64(v)
		}
		loss -= float64(beta) * la / float64(b)
		for i, v := range dxa.D {
			dAttr.D[i] += v
		}
	}
	if backward {
		n.genBackward(dx.D, dx.C, dAttr)
	}
	return loss
}
