package dg

import (
	"fmt"
	"math"

	"github.com/netshare-go/netshare/nn"
)

// net is DoppelGANger's networks, optimisers and training step, generic over
// the element type (float32 in Model, float64 in gradient checks).
type net[F nn.Float] struct {
	cfg      Config
	attrOut  []Output
	featOut  []Output // the caller's outputs plus the generation flag, last
	A        int      // attribute width
	Fd       int      // feature width without the flag
	Fp       int      // feature width with the flag
	maxLen   int      // the caller's maximum flow length
	T        int      // LSTM steps
	L        int      // padded length T·SampleLen
	featSize int      // L·Fp: the flattened features in D's input

	attrDense []*nn.Dense[F]
	attrBN    []*nn.BatchNorm[F]
	attrHead  *nn.Dense[F]
	attrHeads *nn.Heads[F]
	lstm      *nn.LSTM[F]
	featHead  *nn.Dense[F]
	featHeads *nn.Heads[F]
	disc, aux *nn.Critic[F]

	optG, optD, optA *nn.Adam[F]
	rng              *nn.RNG // training draws (batches, noise, α, DP noise)
	step             int

	// buffers
	za, zf, h0, c0 nn.Mat[F]
	attrDisc       nn.Mat[F]
	attr           *nn.Mat[F] // soft attributes of the last generator pass
	hsOut          *nn.Mat[F] // LSTM hidden states of the last pass
	featOutM       *nn.Mat[F] // activated per-step outputs (T'·b × S·Fp)
	outBuf         nn.Mat[F]
	teff           int // LSTM steps run in the last pass (≤ T)
	active         []bool
	// noEarlyStop runs every LSTM step (tests compare the two).
	noEarlyStop bool
	// forceLen, when set, gives each generated flow's length: steps are
	// active up to it whatever the generation flags say.
	forceLen      []int
	feat          nn.Mat[F] // b × L·Fp, masked
	mask          []bool    // b × L
	lengths       []int
	reluOut       []*nn.Mat[F]
	fakeX, realX  nn.Mat[F]
	fakeA, realA  nn.Mat[F]
	dOut, dAttr   nn.Mat[F]
	alpha, alphaA []F
	dy, dyA       []F
	idx           []int
	rounds        [2]round[F]
	// the generator round's noise (drawGen)
	zfG, h0G, c0G *nn.Mat[F]
	// condOverride, when set, replaces the LSTM\'s conditioning: the
	// gradient checks hold it fixed, as the detached conditioning is.
	condOverride *nn.Mat[F]
	sqn          []float64
	wts          []F
}

func newNet[F nn.Float](cfg Config, attrOut, featOut []Output, maxLen int) (*net[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	A, err := validateOutputs("attribute", attrOut)
	if err != nil {
		return nil, err
	}
	Fd, err := validateOutputs("feature", featOut)
	if err != nil {
		return nil, err
	}
	if maxLen < 1 {
		return nil, fmt.Errorf("dg: maximum flow length must be at least 1, got %d", maxLen)
	}
	S := cfg.SampleLen
	n := &net[F]{cfg: cfg, attrOut: append([]Output(nil), attrOut...), A: A, Fd: Fd, Fp: Fd + 2, maxLen: maxLen}
	n.featOut = append(append([]Output(nil), featOut...), Output{Name: GenFlagName, Dim: 2, Act: Softmax})
	n.T = (maxLen + S - 1) / S
	n.L = n.T * S
	n.featSize = n.L * n.Fp
	n.rng = nn.NewRNG(cfg.Seed)
	g := n.rng

	in := cfg.AttrNoiseDim
	for i := 0; i < cfg.AttrGenLayers-1; i++ {
		d := nn.NewDense[F](fmt.Sprintf("gen.attr.%d", i), in, cfg.AttrGenUnits)
		nn.TorchDefault(g, d.W.W, d.B.W, in)
		n.attrDense = append(n.attrDense, d)
		n.attrBN = append(n.attrBN, nn.NewBatchNorm[F](fmt.Sprintf("gen.attr.bn%d", i), cfg.AttrGenUnits))
		in = cfg.AttrGenUnits
	}
	n.reluOut = make([]*nn.Mat[F], len(n.attrDense))
	n.attrHead = nn.NewDense[F]("gen.attr.head", in, A)
	nn.TorchDefault(g, n.attrHead.W.W, n.attrHead.B.W, in)
	if n.attrHeads, err = nn.NewHeads[F](slices(n.attrOut, 1)); err != nil {
		return nil, err
	}
	n.lstm = nn.NewLSTM[F]("gen.lstm", A, cfg.FeatNoiseDim, cfg.LSTMUnits)
	n.lstm.Init(g)
	n.featHead = nn.NewDense[F]("gen.feat.head", cfg.LSTMUnits, S*n.Fp)
	nn.TorchDefault(g, n.featHead.W.W, n.featHead.B.W, cfg.LSTMUnits)
	if n.featHeads, err = nn.NewHeads[F](slices(n.featOut, S)); err != nil {
		return nil, err
	}
	n.disc = nn.NewCritic[F]("disc", n.featSize+A, cfg.DiscLayers, cfg.DiscUnits, cfg.LeakyReLU, g)
	n.disc.ShareGrads = true // D's update is the longer lane of a critic round
	if cfg.UseAuxDisc {
		n.aux = nn.NewCritic[F]("aux_disc", A, cfg.AuxDiscLayers, cfg.AuxDiscUnits, cfg.LeakyReLU, g)
	}
	n.optG = nn.NewAdam(n.genParams(), cfg.GLR, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	n.optD = nn.NewAdam(n.disc.Params(), cfg.DLR, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	if n.aux != nil {
		n.optA = nn.NewAdam(n.aux.Params(), cfg.AuxDLR, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	}
	return n, nil
}

func (n *net[F]) genParams() []*nn.Param[F] {
	var ps []*nn.Param[F]
	for i, d := range n.attrDense {
		ps = append(ps, d.W, d.B, n.attrBN[i].Gamma, n.attrBN[i].Beta)
	}
	ps = append(ps, n.attrHead.W, n.attrHead.B)
	ps = append(ps, n.lstm.Params()...)
	ps = append(ps, n.featHead.W, n.featHead.B)
	return ps
}

func (n *net[F]) allParams() []*nn.Param[F] {
	ps := append(n.genParams(), n.disc.Params()...)
	if n.aux != nil {
		ps = append(ps, n.aux.Params()...)
	}
	return ps
}

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
	if cap(n.mask) < b*L {
		n.mask = make([]bool, b*L)
	}
	n.mask = n.mask[:b*L]
	clear(n.mask)
	n.lengths = resizeInts(n.lengths, b)
	clear(n.lengths)
	n.active = resizeBools(n.active, b)
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

func resizeInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func resizeBools(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
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

// realBatch writes D's and D_a's input rows for flows idx of d.
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
	stride := d.steps()
	for r := lo; r < hi; r++ {
		fi := idx[r]
		row := x.Row(r)
		ln := d.Len[fi]
		src := d.Feat[fi*stride*Fd:]
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

// Losses reports one training iteration (the last critic round and the last
// generator round).
type Losses struct {
	D, DA         float64 // critic losses: Wasserstein term + λ·penalty
	WassersteinD  float64 // mean D(fake) − mean D(real)
	WassersteinDA float64
	GP, GPA       float64 // mean penalties before λ
	G             float64 // −mean D(fake) − β·mean D_a(fake attributes)
	BatchSize     int     // real flows in the last critic round (varies under DP)
}

func (l Losses) finite() bool {
	for _, v := range []float64{l.D, l.DA, l.G, l.GP, l.GPA} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

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

func resizeF[F nn.Float](s []F, n int) []F {
	if cap(s) < n {
		return make([]F, n)
	}
	return s[:n]
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
		p.alpha = resizeF(p.alpha, b)
		nn.FillUniform(n.rng, p.alpha, 0, 1)
		p.alphaA = resizeF(p.alphaA, b)
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

// clipWeights computes each example's joint (D, D_a) gradient norm and
// returns the weights min(1, C/‖g_i‖)/B that clip and average.
func (n *net[F]) clipWeights(b int) []F {
	n.sqn = resizeF(n.sqn, 2*b)
	sq, sqA := n.sqn[:b], n.sqn[b:]
	clear(n.sqn)
	nn.Lanes(func() { n.disc.SqNorms(sq) }, func() {
		if n.aux != nil {
			n.aux.SqNorms(sqA)
		}
	})
	n.wts = resizeF(n.wts, b)
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
	n.dy = resizeF(n.dy, b)
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
		n.dyA = resizeF(n.dyA, b)
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

// iteration runs DRounds critic rounds and GRounds generator rounds. The
// generator's weights do not change during the critic rounds, so each of
// its passes (the next round's fakes, or the first generator round's) runs
// beside the critics' update of the round before; the random draws keep
// their order, so the result is the same as one step after the other.
func (n *net[F]) iteration(d *Data) Losses {
	var l Losses
	B := n.cfg.BatchSize
	D, G := n.cfg.DRounds, n.cfg.GRounds
	if D > 0 {
		n.drawRound(d.N, &n.rounds[0])
		n.genRound(&n.rounds[0])
	}
	for r := 0; r < D; r++ {
		var next func()
		switch {
		case r+1 < D:
			p := &n.rounds[(r+1)%2]
			n.drawRound(d.N, p)
			next = func() { n.genRound(p) }
		case G > 0:
			n.drawGen(B, n.rng)
			next = n.genFake
		}
		n.runRound(d, &n.rounds[r%2], next, &l)
	}
	for r := 0; r < G; r++ {
		if r > 0 || D == 0 {
			n.drawGen(B, n.rng)
			n.genFake()
		}
		nn.ZeroGrad(n.optG.Params)
		l.G = n.genLossFrom(B, true)
		n.optG.Step()
	}
	n.step++
	return l
}
