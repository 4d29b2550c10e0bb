package ml

import (
	"math"
)

// LogisticRegression is multinomial (softmax) logistic regression on
// standardised features, fitted by full-batch gradient descent with a
// small L2 penalty.
type LogisticRegression struct {
	Iterations int
	Rate, L2   float64
	st         *Standardizer
	w          [][]float64 // [class][feature+1], last = bias
}

// NewLogisticRegression returns a model trained for 300 iterations at rate
// 0.5 with L2 penalty 1e-4.
func NewLogisticRegression() *LogisticRegression {
	return &LogisticRegression{Iterations: 300, Rate: 0.5, L2: 1e-4}
}

func (m *LogisticRegression) Name() string { return "logistic regression" }

func (m *LogisticRegression) Fit(X [][]float64, y []int, k int) error {
	if err := checkXY(X, y, k); err != nil {
		return err
	}
	m.st = FitStandardizer(X)
	Z := m.st.Transform(X)
	d := len(X[0])
	m.w = make([][]float64, k)
	grad := make([][]float64, k)
	for c := range m.w {
		m.w[c] = make([]float64, d+1)
		grad[c] = make([]float64, d+1)
	}
	p := make([]float64, k)
	n := float64(len(Z))
	for it := 0; it < m.Iterations; it++ {
		for c := range grad {
			clear(grad[c])
		}
		for i, z := range Z {
			m.logits(z, p)
			softmaxInPlace(p)
			p[y[i]] -= 1
			for c := range p {
				g := grad[c]
				for j, v := range z {
					g[j] += p[c] * v
				}
				g[d] += p[c]
			}
		}
		for c := range m.w {
			for j := range m.w[c] {
				reg := 0.0
				if j < d {
					reg = m.L2 * m.w[c][j]
				}
				m.w[c][j] -= m.Rate * (grad[c][j]/n + reg)
			}
		}
	}
	return nil
}

func (m *LogisticRegression) logits(z, out []float64) {
	d := len(z)
	for c, w := range m.w {
		s := w[d]
		for j, v := range z {
			s += w[j] * v
		}
		out[c] = s
	}
}

func (m *LogisticRegression) Predict(X [][]float64) []int {
	Z := m.st.Transform(X)
	out := make([]int, len(X))
	p := make([]float64, len(m.w))
	for i, z := range Z {
		m.logits(z, p)
		out[i] = argmax(p)
	}
	return out
}

// GaussianNB is Gaussian naive Bayes: per class, independent normal
// features; variances get 1e-9 of the largest feature variance added.
type GaussianNB struct {
	prior     []float64
	mu, sigma [][]float64
}

// NewGaussianNB returns an unfitted Gaussian naive Bayes model.
func NewGaussianNB() *GaussianNB { return &GaussianNB{} }

func (m *GaussianNB) Name() string { return "naive Bayes" }

func (m *GaussianNB) Fit(X [][]float64, y []int, k int) error {
	if err := checkXY(X, y, k); err != nil {
		return err
	}
	d := len(X[0])
	cnt := make([]float64, k)
	m.mu, m.sigma = make([][]float64, k), make([][]float64, k)
	for c := range m.mu {
		m.mu[c], m.sigma[c] = make([]float64, d), make([]float64, d)
	}
	for i, r := range X {
		cnt[y[i]]++
		for j, v := range r {
			m.mu[y[i]][j] += v
		}
	}
	for c := range m.mu {
		for j := range m.mu[c] {
			m.mu[c][j] /= max(cnt[c], 1)
		}
	}
	for i, r := range X {
		for j, v := range r {
			dv := v - m.mu[y[i]][j]
			m.sigma[y[i]][j] += dv * dv
		}
	}
	all := FitStandardizer(X)
	eps := 0.0
	for _, s := range all.Std {
		eps = max(eps, s*s)
	}
	eps = max(eps*1e-9, 1e-12)
	m.prior = make([]float64, k)
	for c := range m.sigma {
		for j := range m.sigma[c] {
			m.sigma[c][j] = m.sigma[c][j]/max(cnt[c], 1) + eps
		}
		if cnt[c] > 0 {
			m.prior[c] = math.Log(cnt[c] / float64(len(X)))
		} else {
			m.prior[c] = math.Inf(-1)
		}
	}
	return nil
}

func (m *GaussianNB) Predict(X [][]float64) []int {
	out := make([]int, len(X))
	ll := make([]float64, len(m.prior))
	for i, r := range X {
		for c := range ll {
			s := m.prior[c]
			for j, v := range r {
				dv := v - m.mu[c][j]
				s -= 0.5*math.Log(2*math.Pi*m.sigma[c][j]) + dv*dv/(2*m.sigma[c][j])
			}
			ll[c] = s
		}
		out[i] = argmax(ll)
	}
	return out
}

// MLP is a perceptron with one ReLU hidden layer and a softmax output,
// trained with Adam on mini-batches of standardised features.
type MLP struct {
	Hidden, Epochs, Batch int
	Rate                  float64
	Seed                  int64
	st                    *Standardizer
	w1, b1, w2, b2        []float64
	d, k                  int
}

// NewMLP returns a 32-unit perceptron trained for up to 30 epochs (and
// at most 4,000 mini-batch updates).
func NewMLP(seed int64) *MLP {
	return &MLP{Hidden: 32, Epochs: 30, Batch: 64, Rate: 0.01, Seed: seed}
}

func (m *MLP) Name() string { return "MLP" }

type adam struct {
	m, v  []float64
	t     int
	b1t   float64
	b2t   float64
	alpha float64
}

func newAdam(n int, alpha float64) *adam {
	return &adam{m: make([]float64, n), v: make([]float64, n), b1t: 1, b2t: 1, alpha: alpha}
}

func (a *adam) step(w, g []float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.b1t *= b1
	a.b2t *= b2
	for i := range w {
		a.m[i] = b1*a.m[i] + (1-b1)*g[i]
		a.v[i] = b2*a.v[i] + (1-b2)*g[i]*g[i]
		mh := a.m[i] / (1 - a.b1t)
		vh := a.v[i] / (1 - a.b2t)
		w[i] -= a.alpha * mh / (math.Sqrt(vh) + eps)
	}
}

func (m *MLP) Fit(X [][]float64, y []int, k int) error {
	if err := checkXY(X, y, k); err != nil {
		return err
	}
	m.st = FitStandardizer(X)
	Z := m.st.Transform(X)
	d, H := len(X[0]), m.Hidden
	m.d, m.k = d, k
	r := newRand(m.Seed)
	m.w1, m.b1 = make([]float64, d*H), make([]float64, H)
	m.w2, m.b2 = make([]float64, H*k), make([]float64, k)
	for i := range m.w1 {
		m.w1[i] = r.NormFloat64() * math.Sqrt(2/float64(d))
	}
	for i := range m.w2 {
		m.w2[i] = r.NormFloat64() * math.Sqrt(1/float64(H))
	}
	g1, gb1 := make([]float64, d*H), make([]float64, H)
	g2, gb2 := make([]float64, H*k), make([]float64, k)
	o1, ob1, o2, ob2 := newAdam(len(m.w1), m.Rate), newAdam(H, m.Rate), newAdam(len(m.w2), m.Rate), newAdam(k, m.Rate)
	h, dh, p := make([]float64, H), make([]float64, H), make([]float64, k)
	order := make([]int, len(Z))
	for i := range order {
		order[i] = i
	}
	// Cap the number of updates on large inputs.
	epochs := m.Epochs
	if steps := len(Z) / m.Batch; steps > 0 && steps*epochs > 4000 {
		epochs = max(3, 4000/steps)
	}
	for ep := 0; ep < epochs; ep++ {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for s := 0; s < len(order); s += m.Batch {
			batch := order[s:min(s+m.Batch, len(order))]
			clear(g1)
			clear(gb1)
			clear(g2)
			clear(gb2)
			for _, i := range batch {
				z := Z[i]
				m.forward(z, h, p)
				p[y[i]] -= 1
				clear(dh)
				for c := 0; c < k; c++ {
					gb2[c] += p[c]
					for u := 0; u < H; u++ {
						g2[u*k+c] += h[u] * p[c]
						dh[u] += m.w2[u*k+c] * p[c]
					}
				}
				for u := 0; u < H; u++ {
					if h[u] <= 0 {
						continue
					}
					gb1[u] += dh[u]
					for j, v := range z {
						g1[j*H+u] += v * dh[u]
					}
				}
			}
			inv := 1 / float64(len(batch))
			for _, g := range [][]float64{g1, gb1, g2, gb2} {
				for i := range g {
					g[i] *= inv
				}
			}
			o1.step(m.w1, g1)
			ob1.step(m.b1, gb1)
			o2.step(m.w2, g2)
			ob2.step(m.b2, gb2)
		}
	}
	return nil
}

func (m *MLP) forward(z, h, p []float64) {
	H := len(h)
	copy(h, m.b1)
	for j, v := range z {
		row := m.w1[j*H : (j+1)*H]
		for u := range h {
			h[u] += v * row[u]
		}
	}
	for u := range h {
		h[u] = max(h[u], 0)
	}
	copy(p, m.b2)
	for u, hv := range h {
		if hv == 0 {
			continue
		}
		row := m.w2[u*m.k : (u+1)*m.k]
		for c := range p {
			p[c] += hv * row[c]
		}
	}
	softmaxInPlace(p)
}

func (m *MLP) Predict(X [][]float64) []int {
	Z := m.st.Transform(X)
	out := make([]int, len(X))
	h, p := make([]float64, m.Hidden), make([]float64, m.k)
	for i, z := range Z {
		m.forward(z, h, p)
		out[i] = argmax(p)
	}
	return out
}
