package nn

import (
	"fmt"
	"math"
)

// Critic is a WGAN-GP critic: an MLP with ReLU (or LeakyReLU) hidden layers,
// no normalisation and a linear scalar output. Its training step is computed
// with explicit passes, including the exact gradient of the gradient penalty
// with respect to the parameters (double backpropagation), and it can report
// per-example gradient norms for DP-SGD without materialising per-example
// gradients.
//
// The loss for a batch of b real and b fake examples is
//
//	L = (1/div) Σ_i [ D(fake_i) − D(real_i) + λ·(‖∇ₓD(x̂_i)‖₂ − 1)² ]
//
// with x̂_i = real_i + α_i·(fake_i − real_i) and ‖·‖₂ = sqrt(Σ(·)² + 1e-8)
// over all of the critic's inputs; div is the batch size for the usual mean.
//
// How the penalty's gradient is computed: with piecewise-linear activations
// the input gradient is u = g₁·W₁ᵀ, g_l = (g_{l+1}·W_{l+1}ᵀ)⊙m_l, g_L = 1,
// where the masks m_l are the activation derivatives at x̂, locally constant
// in the weights. Reverse mode through that chain gives, for each layer,
// ∂GP/∂W_l = ā_lᵀ·g_l with ā_1 = ∂GP/∂u and ā_{l+1} = (ā_l·W_l)⊙m_l, and
// nothing for the biases. The rows for real, fake and interpolated examples
// are stacked so that each layer's forward, backward and weight-gradient
// products are single large matrix products: the weight gradient is
// [h_real; h_fake; ā]ᵀ·[δ_real; δ_fake; g], one product of 3b rows. The
// first layer's forward product covers only the real and fake rows: being
// linear in its input, its pre-activation at x̂_i is z_real + α_i(z_fake −
// z_real).
type Critic[F Float] struct {
	Layers []*Dense[F]
	Leaky  bool
	In     int
	// ShareGrads makes SetGrads and Accumulate split their products even
	// inside nn.Lanes, offering parts to a lane that has finished its own
	// work: for the larger of two critics updated side by side, whose
	// gradients come last.
	ShareGrads bool

	b, rows int
	x       Mat[F]   // input rows (3b for a training step); interpolate rows hold ā₁ after Prepare
	h       []Mat[F] // per layer output (activated, except the last)
	s       []Mat[F] // per layer backward signal
	u, tmp  Mat[F]
	gp      []F
	prepped bool
}

// NewCritic returns a critic in → units (×layers−1, activated) → 1, with
// Xavier-uniform weights and zero biases, named name+".<i>".
func NewCritic[F Float](name string, in, layers, units int, leaky bool, g *RNG) *Critic[F] {
	c := &Critic[F]{Leaky: leaky, In: in}
	n := in
	for i := 0; i < layers; i++ {
		out := units
		if i == layers-1 {
			out = 1
		}
		d := NewDense[F](fmt.Sprintf("%s.%d", name, i), n, out)
		if g != nil {
			XavierUniform(g, d.W.W, n, out)
		}
		c.Layers = append(c.Layers, d)
		n = out
	}
	c.h = make([]Mat[F], layers)
	c.s = make([]Mat[F], layers)
	return c
}

// Params returns all weights and biases.
func (c *Critic[F]) Params() []*Param[F] {
	var ps []*Param[F]
	for _, l := range c.Layers {
		ps = append(ps, l.W, l.B)
	}
	return ps
}

func (c *Critic[F]) input(li int) *Mat[F] {
	if li == 0 {
		return &c.x
	}
	return &c.h[li-1]
}

// forward runs the rows of c.x through the network.
func (c *Critic[F]) forward() { c.forwardFrom(0) }

// forwardFrom runs layers from, from+1, ... on the rows of their inputs.
func (c *Critic[F]) forwardFrom(from int) {
	L := len(c.Layers)
	for li := from; li < L; li++ {
		d := c.Layers[li]
		in := c.input(li)
		out := c.h[li].Resize(in.R, d.Out)
		for i := 0; i < in.R; i++ {
			copy(out.D[i*d.Out:(i+1)*d.Out], d.B.W)
		}
		Gemm(false, false, in.R, d.Out, d.In, 1, in.D, d.In, d.W.W, d.Out, 1, out.D, d.Out)
		if li < L-1 {
			ReLUInPlace(out, c.Leaky)
		}
	}
}

// backSignals propagates the output signal s[L−1] down to s[0].
func (c *Critic[F]) backSignals() {
	for li := len(c.Layers) - 1; li >= 1; li-- {
		d := c.Layers[li]
		s := &c.s[li]
		prev := c.s[li-1].Resize(s.R, d.In)
		Gemm(false, true, s.R, d.In, d.Out, 1, s.D, d.Out, d.W.W, d.Out, 0, prev.D, d.In)
		ReLUBackInPlace(prev, &c.h[li-1], c.Leaky)
	}
}

// Score returns D(x) for each row of x (b×1), valid until the next call.
func (c *Critic[F]) Score(x *Mat[F]) *Mat[F] {
	c.checkIn(x)
	c.prepped = false
	c.x.Resize(x.R, x.C)
	copy(c.x.D, x.D)
	c.forward()
	return &c.h[len(c.Layers)-1]
}

func (c *Critic[F]) checkIn(x *Mat[F]) {
	if x.C != c.In {
		panic(fmt.Sprintf("nn.Critic: input has %d columns, want %d", x.C, c.In))
	}
}

// InputGrad runs x forward and back and returns the scores D(x) (b×1) and
// Σ_i dy_i·∇ₓD(x_i) (b×In), without touching the parameter gradients: this
// is the generator's path through a fixed critic.
func (c *Critic[F]) InputGrad(x *Mat[F], dy []F) (score, dx *Mat[F]) {
	score = c.Score(x)
	L := len(c.Layers)
	s := c.s[L-1].Resize(x.R, 1)
	copy(s.D, dy)
	c.backSignals()
	d := c.Layers[0]
	dx = c.u.Resize(x.R, c.In)
	Gemm(false, true, x.R, c.In, d.Out, 1, c.s[0].D, d.Out, d.W.W, d.Out, 0, dx.D, c.In)
	return score, dx
}

// CriticLoss holds the parts of a critic step's loss, as batch means.
type CriticLoss struct {
	// Wasserstein is mean D(fake) − mean D(real) (the critic minimises it).
	Wasserstein float64
	// GP is the mean gradient penalty (‖∇ₓD(x̂)‖ − 1)², before λ.
	GP float64
	// Loss is Wasserstein + λ·GP.
	Loss float64
}

// Prepare computes everything a training step needs for the loss above
// except the parameter-gradient products: forward passes over real, fake and
// interpolated rows, the backward signals, the penalty and its tangent pass.
// alpha holds one interpolation weight per example. Call SqNorms (optional)
// and then Accumulate.
func (c *Critic[F]) Prepare(real, fake *Mat[F], alpha []F, lambda, div F) CriticLoss {
	c.checkIn(real)
	c.checkIn(fake)
	b := real.R
	if fake.R != b || len(alpha) != b {
		panic(fmt.Sprintf("nn.Critic.Prepare: %d real, %d fake rows, %d alphas", b, fake.R, len(alpha)))
	}
	c.b, c.rows = b, 3*b
	n0 := c.In
	x := c.x.Resize(3*b, n0)
	copy(x.D[:b*n0], real.D)
	copy(x.D[b*n0:2*b*n0], fake.D)
	// The first layer is linear in its input, so its pre-activation at the
	// interpolates is z_r + α(z_f − z_r): only the real and fake rows need
	// the product (x̂ itself is never formed; its rows of x hold ā₁ below).
	d0 := c.Layers[0]
	z := c.h[0].Resize(3*b, d0.Out)
	for i := 0; i < 2*b; i++ {
		copy(z.Row(i), d0.B.W)
	}
	Gemm(false, false, 2*b, d0.Out, n0, 1, x.D, n0, d0.W.W, d0.Out, 1, z.D, d0.Out)
	parallelRange(b, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			zr, zf, zp := z.Row(i), z.Row(b+i), z.Row(2*b+i)
			a := alpha[i]
			for j := range zp {
				zp[j] = zr[j] + a*(zf[j]-zr[j])
			}
		}
	})
	L := len(c.Layers)
	if L > 1 {
		ReLUInPlace(z, c.Leaky)
	}
	c.forwardFrom(1)
	y := &c.h[L-1]
	var loss CriticLoss
	for i := 0; i < b; i++ {
		loss.Wasserstein += float64(y.D[b+i]) - float64(y.D[i])
	}
	loss.Wasserstein /= float64(b)
	s := c.s[L-1].Resize(3*b, 1)
	for i := 0; i < b; i++ {
		s.D[i] = -1 / div
		s.D[b+i] = 1 / div
		s.D[2*b+i] = 1
	}
	c.backSignals()
	// u = g₁·W₁ᵀ for the interpolates.
	u := c.u.Resize(b, n0)
	g1 := c.s[0].D[2*b*d0.Out:]
	Gemm(false, true, b, n0, d0.Out, 1, g1, d0.Out, d0.W.W, d0.Out, 0, u.D, n0)
	// Penalty and its gradient with respect to u, written over the
	// interpolate rows of x (which become ā₁).
	if cap(c.gp) < b {
		c.gp = make([]F, b)
	}
	c.gp = c.gp[:b]
	for i := 0; i < b; i++ {
		ur := u.Row(i)
		nrm := math.Sqrt(dot64(ur, ur) + 1e-8)
		c.gp[i] = F((nrm - 1) * (nrm - 1))
		loss.GP += (nrm - 1) * (nrm - 1)
		coef := F(float64(lambda) * 2 * (nrm - 1) / nrm / float64(div))
		ab := x.Row(2*b + i)
		for j, v := range ur {
			ab[j] = coef * v
		}
	}
	loss.GP /= float64(b)
	loss.Loss = loss.Wasserstein + float64(lambda)*loss.GP
	// Tangent pass: ā_{l+1} = (ā_l·W_l) ⊙ m_l, into the interpolate rows of h_l.
	for li := 0; li < L-1; li++ {
		d := c.Layers[li]
		in := c.input(li)
		ab := in.D[2*b*d.In:]
		t := c.tmp.Resize(b, d.Out)
		Gemm(false, false, b, d.Out, d.In, 1, ab, d.In, d.W.W, d.Out, 0, t.D, d.Out)
		hp := c.h[li].Rows(2*b, 3*b)
		ReLUBackInPlace(t, hp, c.Leaky)
		copy(hp.D, t.D)
	}
	c.prepped = true
	return loss
}

// PerExampleGP returns the per-example penalties (‖∇ₓD(x̂_i)‖ − 1)² of the
// last Prepare (aliasing internal storage).
func (c *Critic[F]) PerExampleGP() []F { return c.gp }

// SqNorms adds to out[i] the squared L2 norm, over all parameters, of the
// gradient of example i's term of the loss prepared by Prepare (including
// the 1/div factor). For each layer the example's weight gradient is a sum of
// three outer products (its real, fake and interpolate rows), whose squared
// Frobenius norm is Σ_{p,q} (a_p·a_q)(s_p·s_q); the bias gradient is the sum
// of the real and fake signals.
func (c *Critic[F]) SqNorms(out []float64) {
	if !c.prepped {
		panic("nn.Critic.SqNorms before Prepare")
	}
	b := c.b
	parallelRange(b, 8, func(lo, hi int) { c.sqNorms(out, lo, hi) })
}

// sqNorms is SqNorms for examples [lo, hi).
func (c *Critic[F]) sqNorms(out []float64, lo, hi int) {
	b := c.b
	for li := range c.Layers {
		a := c.input(li)
		s := &c.s[li]
		for i := lo; i < hi; i++ {
			ar, af, ap := a.Row(i), a.Row(b+i), a.Row(2*b+i)
			sr, sf, sp := s.Row(i), s.Row(b+i), s.Row(2*b+i)
			ga, gs := gram3(ar, af, ap), gram3(sr, sf, sp)
			arr, aff, app, arf, arp, afp := ga[0], ga[1], ga[2], ga[3], ga[4], ga[5]
			srr, sff, spp, srf, srp, sfp := gs[0], gs[1], gs[2], gs[3], gs[4], gs[5]
			w := arr*srr + aff*sff + app*spp + 2*(arf*srf+arp*srp+afp*sfp)
			bias := srr + sff + 2*srf
			out[i] += w + bias
		}
	}
}

// Accumulate adds the parameter gradients of the prepared loss to the
// parameters' G, with example i's term weighted by w[i] (nil: all 1). It
// consumes the prepared state.
func (c *Critic[F]) Accumulate(w []F) { c.accumulate(w, 1) }

// SetGrads is Accumulate but overwrites the parameters' G instead of adding
// to it (saving a pass that clears them).
func (c *Critic[F]) SetGrads(w []F) { c.accumulate(w, 0) }

func (c *Critic[F]) accumulate(w []F, beta F) {
	if !c.prepped {
		panic("nn.Critic.Accumulate before Prepare")
	}
	c.prepped = false
	b := c.b
	for li, d := range c.Layers {
		a := c.input(li)
		s := &c.s[li]
		if w != nil {
			for r := 0; r < 3*b; r++ {
				k := w[r%b]
				row := s.Row(r)
				for j := range row {
					row[j] *= k
				}
			}
		}
		if c.ShareGrads {
			gemmShared(true, false, d.In, d.Out, 3*b, 1, a.D, d.In, s.D, d.Out, beta, d.W.G, d.Out)
		} else {
			Gemm(true, false, d.In, d.Out, 3*b, 1, a.D, d.In, s.D, d.Out, beta, d.W.G, d.Out)
		}
		if beta == 0 {
			clear(d.B.G)
		}
		colSumAdd(d.B.G, s.Rows(0, 2*b), nil)
	}
}
