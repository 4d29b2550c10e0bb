package nn

// Param is one trainable tensor with its gradient accumulator.
type Param[F Float] struct {
	Name  string
	Shape []int
	W     []F // values
	G     []F // gradient, accumulated by backward passes
}

// NewParam allocates a zero parameter of the given shape.
func NewParam[F Float](name string, shape ...int) *Param[F] {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param[F]{Name: name, Shape: shape, W: make([]F, n), G: make([]F, n)}
}

// ZeroGrad clears the gradients of ps.
func ZeroGrad[F Float](ps []*Param[F]) {
	for _, p := range ps {
		clear(p.G)
	}
}

// Size is the number of elements.
func (p *Param[F]) Size() int { return len(p.W) }
