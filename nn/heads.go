package nn

import "fmt"

// Activation is an output head's nonlinearity.
type Activation int

const (
	// Softmax is for a discrete field (one-hot of Dim categories).
	Softmax Activation = iota
	// Sigmoid is for a continuous field in [0, 1].
	Sigmoid
	// Tanh is for a continuous field in [-1, 1].
	Tanh
)

func (a Activation) String() string {
	switch a {
	case Softmax:
		return "softmax"
	case Sigmoid:
		return "sigmoid"
	case Tanh:
		return "tanh"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Slice is one field's columns [Off, Off+Dim) and its activation.
type Slice struct {
	Off, Dim int
	Act      Activation
}

// Heads applies per-field activations to column slices of a linear layer's
// output. One Dense layer followed by Heads is the same function as separate
// linear heads per field (each head's weights are a column block of the
// Dense weight) but needs one product instead of many.
type Heads[F Float] struct {
	Slices []Slice
	Width  int
	y, dz  Mat[F]
}

// NewHeads checks that slices tile [0, width) in order.
func NewHeads[F Float](slices []Slice) (*Heads[F], error) {
	off := 0
	for i, s := range slices {
		if s.Off != off || s.Dim < 1 {
			return nil, fmt.Errorf("nn.NewHeads: slice %d at %d (dim %d), want offset %d and dim ≥ 1", i, s.Off, s.Dim, off)
		}
		if s.Act < Softmax || s.Act > Tanh {
			return nil, fmt.Errorf("nn.NewHeads: slice %d: unknown activation %d", i, int(s.Act))
		}
		off += s.Dim
	}
	return &Heads[F]{Slices: slices, Width: off}, nil
}

// Forward returns the activated copy of the logits z.
func (h *Heads[F]) Forward(z *Mat[F]) *Mat[F] {
	y := h.y.Resize(z.R, z.C)
	copy(y.D, z.D)
	h.Apply(y)
	return y
}

// Apply activates m in place.
func (h *Heads[F]) Apply(m *Mat[F]) {
	parallelRange(m.R, 64, func(lo, hi int) { h.apply(m, lo, hi) })
}

func (h *Heads[F]) apply(m *Mat[F], lo, hi int) {
	for i := lo; i < hi; i++ {
		row := m.Row(i)
		for _, s := range h.Slices {
			seg := row[s.Off : s.Off+s.Dim]
			switch s.Act {
			case Softmax:
				softmaxSlice(seg)
			case Sigmoid:
				sigmoidSlice(seg, seg)
			case Tanh:
				tanhSlice(seg, seg)
			}
		}
	}
}

// Backward returns dL/dz given dL/dy and the activated output y.
func (h *Heads[F]) Backward(dy, y *Mat[F]) *Mat[F] {
	dz := h.dz.Resize(dy.R, dy.C)
	for i := 0; i < dy.R; i++ {
		dr, yr, zr := dy.Row(i), y.Row(i), dz.Row(i)
		for _, s := range h.Slices {
			d, yv, z := dr[s.Off:s.Off+s.Dim], yr[s.Off:s.Off+s.Dim], zr[s.Off:s.Off+s.Dim]
			switch s.Act {
			case Softmax:
				var sum F
				for k := range d {
					sum += d[k] * yv[k]
				}
				for k := range d {
					z[k] = yv[k] * (d[k] - sum)
				}
			case Sigmoid:
				for k := range d {
					z[k] = d[k] * yv[k] * (1 - yv[k])
				}
			case Tanh:
				for k := range d {
					z[k] = d[k] * (1 - yv[k]*yv[k])
				}
			}
		}
	}
	return dz
}
