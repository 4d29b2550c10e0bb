package nn

import (
	"fmt"
	"math"
	"testing"
)

// Gradient checks run the float64 instantiation of each layer and compare
// its analytic gradients with central finite differences of its own forward
// pass (step 1e-6). Tolerance: for every parameter tensor (and input) the
// relative L2 error ‖analytic − numeric‖/‖numeric‖ must be below 1e-6, and
// every element must satisfy |a − n| ≤ 1e-7 + 1e-5·|n|. Inputs are random
// normals, so a ReLU pre-activation lies within the step of its kink with
// probability about 1e-6 per unit; checks that must avoid kinks use
// LeakyReLU.

const (
	fdStep   = 1e-6
	relL2Tol = 1e-6
	elemAbs  = 1e-7
	elemRel  = 1e-5
)

// allowZero names tensors whose gradient is identically zero by construction
// (the critic's output bias cancels between real and fake): for them both
// gradients must be zero.
var allowZero = map[string]bool{"critic.3.bias": true}

type gcTarget struct {
	name string
	w    []float64 // values to perturb
	g    []float64 // analytic gradient
}

// checkGrad perturbs each element of each target, re-evaluating loss.
func checkGrad(t *testing.T, what string, loss func() float64, targets []gcTarget) {
	t.Helper()
	for _, tg := range targets {
		if allowZero[tg.name] {
			for i := range tg.w {
				old := tg.w[i]
				tg.w[i] = old + fdStep
				lp := loss()
				tg.w[i] = old - fdStep
				lm := loss()
				tg.w[i] = old
				if n := (lp - lm) / (2 * fdStep); math.Abs(tg.g[i]) > 1e-12 || math.Abs(n) > elemAbs {
					t.Errorf("%s: %s[%d]: analytic %g, numeric %g, want both 0", what, tg.name, i, tg.g[i], n)
				}
			}
			continue
		}
		num := make([]float64, len(tg.w))
		for i := range tg.w {
			old := tg.w[i]
			tg.w[i] = old + fdStep
			lp := loss()
			tg.w[i] = old - fdStep
			lm := loss()
			tg.w[i] = old
			num[i] = (lp - lm) / (2 * fdStep)
		}
		var dn, nn float64
		for i := range num {
			d := tg.g[i] - num[i]
			dn += d * d
			nn += num[i] * num[i]
			if math.Abs(d) > elemAbs+elemRel*math.Abs(num[i]) {
				t.Errorf("%s: %s[%d]: analytic %.10g, numeric %.10g", what, tg.name, i, tg.g[i], num[i])
				break
			}
		}
		if nn == 0 {
			t.Errorf("%s: %s: numeric gradient is zero: the check would be vacuous", what, tg.name)
			continue
		}
		if r := math.Sqrt(dn / nn); r > relL2Tol {
			t.Errorf("%s: %s: relative L2 error %.3g > %g", what, tg.name, r, relL2Tol)
		}
	}
}

func paramTargets(ps []*Param[float64]) []gcTarget {
	var ts []gcTarget
	for _, p := range ps {
		ts = append(ts, gcTarget{name: p.Name, w: p.W, g: append([]float64(nil), p.G...)})
	}
	return ts
}

func randMat(g *RNG, r, c int) *Mat[float64] {
	m := NewMat[float64](r, c)
	FillNormal(g, m.D, 1)
	return m
}

func weightedSum(m *Mat[float64], r *Mat[float64]) float64 {
	var s float64
	for i, v := range m.D {
		s += v * r.D[i]
	}
	return s
}

// TestGradDenseReLUBatchNormHeads checks Dense → (Leaky)ReLU → BatchNorm
// (training and inference) → Dense → heads of every kind, including the
// input gradient.
func TestGradDenseReLUBatchNormHeads(t *testing.T) {
	for _, leaky := range []bool{false, true} {
		for _, training := range []bool{true, false} {
			name := fmt.Sprintf("leaky=%v/training=%v", leaky, training)
			g := NewRNG(11)
			const B, In, Hd = 6, 5, 7
			d1 := NewDense[float64]("d1", In, Hd)
			FillNormal(g, d1.W.W, 0.5)
			FillNormal(g, d1.B.W, 0.5)
			bn := NewBatchNorm[float64]("bn", Hd)
			FillNormal(g, bn.Gamma.W, 1)
			FillNormal(g, bn.Beta.W, 1)
			FillUniform(g, bn.RunVar, 0.5, 2)
			FillNormal(g, bn.RunMean, 0.3)
			heads, err := NewHeads[float64]([]Slice{{0, 3, Softmax}, {3, 1, Sigmoid}, {4, 2, Tanh}, {6, 2, Softmax}})
			if err != nil {
				t.Fatal(err)
			}
			d2 := NewDense[float64]("d2", Hd, heads.Width)
			FillNormal(g, d2.W.W, 0.5)
			FillNormal(g, d2.B.W, 0.5)
			x := randMat(g, B, In)
			r := randMat(g, B, heads.Width)
			params := []*Param[float64]{d1.W, d1.B, bn.Gamma, bn.Beta, d2.W, d2.B}
			// Running statistics must not drift during the check.
			rm, rv := append([]float64(nil), bn.RunMean...), append([]float64(nil), bn.RunVar...)
			fwd := func() *Mat[float64] {
				copy(bn.RunMean, rm)
				copy(bn.RunVar, rv)
				h := d1.Forward(x)
				ReLUInPlace(h, leaky)
				hb := bn.Forward(h, training)
				return heads.Forward(d2.Forward(hb))
			}
			loss := func() float64 { return weightedSum(fwd(), r) }
			ZeroGrad(params)
			y := fwd()
			dz := heads.Backward(r, y)
			dh := d2.Backward(dz, true)
			dh = bn.Backward(dh)
			ReLUBackInPlace(dh, &d1.y, leaky)
			dx := d1.Backward(dh, true)
			targets := append(paramTargets(params), gcTarget{name: "x", w: x.D, g: append([]float64(nil), dx.D...)})
			checkGrad(t, name, loss, targets)
		}
	}
}

func TestGradLSTM(t *testing.T) {
	for _, withH0 := range []bool{false, true} {
		g := NewRNG(12)
		const T, B, S, Q, H = 5, 3, 4, 2, 6
		l := NewLSTM[float64]("lstm", S, Q, H)
		l.Init(g)
		FillNormal(g, l.B.W, 0.3)
		static := randMat(g, B, S)
		seq := randMat(g, T*B, Q)
		var h0, c0 *Mat[float64]
		if withH0 {
			h0, c0 = randMat(g, B, H), randMat(g, B, H)
		}
		r := randMat(g, T*B, H)
		loss := func() float64 { return weightedSum(l.Forward(static, seq, T, B, h0, c0), r) }
		ZeroGrad(l.Params())
		loss()
		ds, dq := l.Backward(r, true)
		targets := append(paramTargets(l.Params()),
			gcTarget{name: "static", w: static.D, g: append([]float64(nil), ds.D...)},
			gcTarget{name: "seq", w: seq.D, g: append([]float64(nil), dq.D...)})
		checkGrad(t, fmt.Sprintf("lstm h0=%v", withH0), loss, targets)
	}
}

func newTestCritic(g *RNG, in int, leaky bool) *Critic[float64] {
	c := NewCritic[float64]("critic", in, 4, 9, leaky, g)
	for _, l := range c.Layers {
		FillNormal(g, l.B.W, 0.2)
	}
	return c
}

// TestGradCriticWGANGP checks the full critic loss with the gradient penalty
// (double backpropagation) against finite differences of the loss value.
func TestGradCriticWGANGP(t *testing.T) {
	for _, leaky := range []bool{true, false} {
		g := NewRNG(13)
		const B, In = 5, 8
		c := newTestCritic(g, In, leaky)
		real, fake := randMat(g, B, In), randMat(g, B, In)
		alpha := make([]float64, B)
		FillUniform(g, alpha, 0, 1)
		const lambda = 10.0
		loss := func() float64 { return c.Prepare(real, fake, alpha, lambda, B).Loss }
		ZeroGrad(c.Params())
		l := c.Prepare(real, fake, alpha, lambda, B)
		if l.GP <= 0 {
			t.Fatalf("penalty %v: the check would not exercise it", l.GP)
		}
		c.Accumulate(nil)
		checkGrad(t, fmt.Sprintf("critic leaky=%v", leaky), loss, paramTargets(c.Params()))
	}
}

// TestGradCriticWeighted checks Accumulate's per-example weights: the result
// must be the gradient of Σ_i w_i·ℓ_i/div.
func TestGradCriticWeighted(t *testing.T) {
	g := NewRNG(14)
	const B, In = 4, 6
	c := newTestCritic(g, In, true)
	real, fake := randMat(g, B, In), randMat(g, B, In)
	alpha := make([]float64, B)
	FillUniform(g, alpha, 0, 1)
	w := []float64{0.3, 1.7, 0, 0.9}
	loss := func() float64 {
		var s float64
		for i := 0; i < B; i++ {
			l := c.Prepare(real.Rows(i, i+1), fake.Rows(i, i+1), alpha[i:i+1], 10, 1)
			s += w[i] * l.Loss
		}
		return s / B
	}
	ZeroGrad(c.Params())
	c.Prepare(real, fake, alpha, 10, B)
	c.Accumulate(w)
	checkGrad(t, "critic weighted", loss, paramTargets(c.Params()))
}

func TestGradCriticInput(t *testing.T) {
	g := NewRNG(15)
	const B, In = 4, 7
	c := newTestCritic(g, In, false)
	x := randMat(g, B, In)
	dy := []float64{0.5, -1, 2, 0.25}
	loss := func() float64 {
		y := c.Score(x)
		var s float64
		for i, v := range y.D {
			s += dy[i] * v
		}
		return s
	}
	ZeroGrad(c.Params())
	_, dx := c.InputGrad(x, dy)
	for _, p := range c.Params() {
		for _, v := range p.G {
			if v != 0 {
				t.Fatal("InputGrad touched a parameter gradient")
			}
		}
	}
	checkGrad(t, "critic input", loss, []gcTarget{{name: "x", w: x.D, g: append([]float64(nil), dx.D...)}})
}
