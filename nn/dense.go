package nn

// Dense is a fully connected layer y = x·W + b, with W stored In×Out.
type Dense[F Float] struct {
	In, Out int
	W, B    *Param[F]
	x       *Mat[F]
	y, dx   Mat[F]
}

// NewDense returns a zero-initialised layer whose parameters are named
// name+".weight" and name+".bias".
func NewDense[F Float](name string, in, out int) *Dense[F] {
	return &Dense[F]{In: in, Out: out, W: NewParam[F](name+".weight", in, out), B: NewParam[F](name+".bias", out)}
}

// Params returns the weight and the bias.
func (d *Dense[F]) Params() []*Param[F] { return []*Param[F]{d.W, d.B} }

// Forward returns x·W + b and remembers x for Backward.
func (d *Dense[F]) Forward(x *Mat[F]) *Mat[F] {
	d.x = x
	y := d.y.Resize(x.R, d.Out)
	for i := 0; i < x.R; i++ {
		copy(y.D[i*d.Out:(i+1)*d.Out], d.B.W)
	}
	Gemm(false, false, x.R, d.Out, d.In, 1, x.D, d.In, d.W.W, d.Out, 1, y.D, d.Out)
	return y
}

// Backward accumulates the gradients of W and b for the upstream gradient dy
// and returns dL/dx when needDX is set (nil otherwise: the first layer's
// input gradient is often not needed, and it is the costliest product).
func (d *Dense[F]) Backward(dy *Mat[F], needDX bool) *Mat[F] {
	x := d.x
	Gemm(true, false, d.In, d.Out, x.R, 1, x.D, d.In, dy.D, d.Out, 1, d.W.G, d.Out)
	colSumAdd(d.B.G, dy, nil)
	if !needDX {
		return nil
	}
	dx := d.dx.Resize(x.R, d.In)
	Gemm(false, true, x.R, d.In, d.Out, 1, dy.D, d.Out, d.W.W, d.Out, 0, dx.D, d.In)
	return dx
}

// Apply computes y = x·W + b into y (x.R×Out) without remembering x; with
// SetInput it lets a caller compute the forward product in pieces.
func (d *Dense[F]) Apply(x, y *Mat[F]) {
	for i := 0; i < x.R; i++ {
		copy(y.D[i*d.Out:(i+1)*d.Out], d.B.W)
	}
	Gemm(false, false, x.R, d.Out, d.In, 1, x.D, d.In, d.W.W, d.Out, 1, y.D, d.Out)
}

// SetInput sets the input that Backward differentiates at (as Forward
// would have remembered it).
func (d *Dense[F]) SetInput(x *Mat[F]) { d.x = x }
