package nn

// BatchNorm normalises each column over the batch: in training mode with the
// batch's mean and (biased) variance, updating running statistics as
// running = Momentum·running + (1−Momentum)·batch (the running variance uses
// the unbiased batch variance); in inference mode with the running
// statistics. y = Gamma·x̂ + Beta. Defaults follow NetShare: momentum 0.9,
// eps 1e-5, Gamma 1, Beta 0, running mean 0 and variance 1.
type BatchNorm[F Float] struct {
	Dim             int
	Momentum, Eps   float64
	Gamma, Beta     *Param[F]
	RunMean, RunVar []F // running statistics (state, not trained)

	xhat, y, dx Mat[F]
	invStd      []F
	training    bool
}

// NewBatchNorm returns a BatchNorm over dim columns with parameters named
// name+".weight"/".bias" and statistics name+".running_mean"/".running_var".
func NewBatchNorm[F Float](name string, dim int) *BatchNorm[F] {
	bn := &BatchNorm[F]{Dim: dim, Momentum: 0.9, Eps: 1e-5,
		Gamma: NewParam[F](name+".weight", dim), Beta: NewParam[F](name+".bias", dim),
		RunMean: make([]F, dim), RunVar: make([]F, dim), invStd: make([]F, dim)}
	for i := range bn.Gamma.W {
		bn.Gamma.W[i] = 1
		bn.RunVar[i] = 1
	}
	return bn
}

// Params returns Gamma and Beta.
func (bn *BatchNorm[F]) Params() []*Param[F] { return []*Param[F]{bn.Gamma, bn.Beta} }

// Forward normalises x; training selects batch statistics (and updates the
// running ones) rather than the running statistics.
func (bn *BatchNorm[F]) Forward(x *Mat[F], training bool) *Mat[F] {
	n, c := x.R, bn.Dim
	bn.training = training
	y := bn.y.Resize(n, c)
	xhat := bn.xhat.Resize(n, c)
	if !training {
		for j := 0; j < c; j++ {
			bn.invStd[j] = F(1 / sqrt64(float64(bn.RunVar[j])+bn.Eps))
		}
		for i := 0; i < n; i++ {
			xr, hr, yr := x.Row(i), xhat.Row(i), y.Row(i)
			for j := 0; j < c; j++ {
				h := (xr[j] - bn.RunMean[j]) * bn.invStd[j]
				hr[j] = h
				yr[j] = bn.Gamma.W[j]*h + bn.Beta.W[j]
			}
		}
		return y
	}
	mean := make([]float64, c)
	vr := make([]float64, c)
	for i := 0; i < n; i++ {
		for j, v := range x.Row(i) {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j, v := range x.Row(i) {
			d := float64(v) - mean[j]
			vr[j] += d * d
		}
	}
	m := bn.Momentum
	for j := 0; j < c; j++ {
		v := vr[j] / float64(n)
		bn.invStd[j] = F(1 / sqrt64(v+bn.Eps))
		unbiased := v
		if n > 1 {
			unbiased = vr[j] / float64(n-1)
		}
		bn.RunMean[j] = F(m*float64(bn.RunMean[j]) + (1-m)*mean[j])
		bn.RunVar[j] = F(m*float64(bn.RunVar[j]) + (1-m)*unbiased)
	}
	for i := 0; i < n; i++ {
		xr, hr, yr := x.Row(i), xhat.Row(i), y.Row(i)
		for j := 0; j < c; j++ {
			h := (xr[j] - F(mean[j])) * bn.invStd[j]
			hr[j] = h
			yr[j] = bn.Gamma.W[j]*h + bn.Beta.W[j]
		}
	}
	return y
}

// Backward accumulates the gradients of Gamma and Beta and returns dL/dx for
// the last Forward (in either mode).
func (bn *BatchNorm[F]) Backward(dy *Mat[F]) *Mat[F] {
	n, c := dy.R, bn.Dim
	xhat := &bn.xhat
	sumD := make([]float64, c)
	sumDH := make([]float64, c)
	for i := 0; i < n; i++ {
		dr, hr := dy.Row(i), xhat.Row(i)
		for j := 0; j < c; j++ {
			sumD[j] += float64(dr[j])
			sumDH[j] += float64(dr[j] * hr[j])
		}
	}
	for j := 0; j < c; j++ {
		bn.Gamma.G[j] += F(sumDH[j])
		bn.Beta.G[j] += F(sumD[j])
	}
	dx := bn.dx.Resize(n, c)
	if !bn.training {
		for i := 0; i < n; i++ {
			dr, xr := dy.Row(i), dx.Row(i)
			for j := 0; j < c; j++ {
				xr[j] = dr[j] * bn.Gamma.W[j] * bn.invStd[j]
			}
		}
		return dx
	}
	// dx = γ·invStd/n · (n·dy − Σdy − x̂·Σ(dy·x̂))
	inv := 1 / float64(n)
	for i := 0; i < n; i++ {
		dr, hr, xr := dy.Row(i), xhat.Row(i), dx.Row(i)
		for j := 0; j < c; j++ {
			k := bn.Gamma.W[j] * bn.invStd[j]
			xr[j] = k * (dr[j] - F(sumD[j]*inv) - hr[j]*F(sumDH[j]*inv))
		}
	}
	return dx
}
