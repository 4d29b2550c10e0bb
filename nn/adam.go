package nn

import "math"

// Adam is the Adam optimiser (Kingma & Ba) with bias correction, as in
// PyTorch: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², and
// w ← w − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t).
type Adam[F Float] struct {
	LR, Beta1, Beta2, Eps float64
	Params                []*Param[F]
	M, V                  [][]F // moments, aligned with Params
	T                     int   // steps taken
}

// NewAdam returns an optimiser for ps with zero moments.
func NewAdam[F Float](ps []*Param[F], lr, beta1, beta2, eps float64) *Adam[F] {
	a := &Adam[F]{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, Params: ps}
	for _, p := range ps {
		a.M = append(a.M, make([]F, len(p.W)))
		a.V = append(a.V, make([]F, len(p.W)))
	}
	return a
}

// Reset clears the moments and the step count (fresh optimiser state, e.g.
// for fine-tuning).
func (a *Adam[F]) Reset() {
	for i := range a.M {
		clear(a.M[i])
		clear(a.V[i])
	}
	a.T = 0
}

// Step applies one update from the parameters' accumulated gradients (it
// does not clear them).
func (a *Adam[F]) Step() {
	a.T++
	b1, b2 := F(a.Beta1), F(a.Beta2)
	c1 := 1 - math.Pow(a.Beta1, float64(a.T))
	c2 := 1 - math.Pow(a.Beta2, float64(a.T))
	// w −= lr/c1 · m / (sqrt(v/c2) + eps) = step · m / (sqrt(v) + eps·sqrt(c2))
	step := F(a.LR / c1 * math.Sqrt(c2))
	eps := F(a.Eps * math.Sqrt(c2))
	if a32, ok := any(a).(*Adam[float32]); ok {
		adamStep32(a32, any(b1).(float32), any(b2).(float32), any(step).(float32), any(eps).(float32))
		return
	}
	update := func(m, v, g, w []F) {
		m = m[:len(w)]
		v = v[:len(w)]
		g = g[:len(w)]
		for i := range w {
			gi := g[i]
			mi := b1*m[i] + (1-b1)*gi
			vi := b2*v[i] + (1-b2)*gi*gi
			m[i], v[i] = mi, vi
			w[i] -= step * mi / (sqrtF(vi) + eps)
		}
	}
	for pi, p := range a.Params {
		parallelRange(len(p.W), 1<<16, func(lo, hi int) {
			update(a.M[pi][lo:hi], a.V[pi][lo:hi], p.G[lo:hi], p.W[lo:hi])
		})
	}
}

// adamStep32 is Step's float32 loop, written without generic conversions so
// that the square root compiles to a single float32 instruction.
func adamStep32(a *Adam[float32], b1, b2, step, eps float32) {
	for pi, p := range a.Params {
		// Blocks of whole 8-element groups, so that the vector loop covers
		// the same elements whatever the thread count.
		n := len(p.W)
		parallelRange((n+7)/8, 1<<13, func(lo, hi int) {
			lo, hi = 8*lo, min(8*hi, n)
			w := p.W[lo:hi]
			m, v, g := a.M[pi][lo:hi], a.V[pi][lo:hi], p.G[lo:hi]
			m = m[:len(w)]
			v = v[:len(w)]
			g = g[:len(w)]
			start := 0
			if useAVX2 && len(w) >= 8 {
				adamAVX2(w, m, v, g, b1, 1-b1, b2, 1-b2, step, eps)
				start = len(w) &^ 7
			}
			for i := start; i < len(w); i++ {
				gi := g[i]
				mi := b1*m[i] + (1-b1)*gi
				vi := b2*v[i] + (1-b2)*gi*gi
				m[i], v[i] = mi, vi
				w[i] -= step * mi / (float32(math.Sqrt(float64(vi))) + eps)
			}
		})
	}
}
