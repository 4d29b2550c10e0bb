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

	// The float32 path works on whole rows: sigmoid and tanh columns as
	// c + a·tanh(s·x) with per-column s, a, c (sigmoid is
	// (1 + tanh(x/2))/2), in one vector loop per row; softmax fields from
	// their shifted logits, exponentiated together for a block of rows.
	ps, pa, pc []float32
	soft       []Slice // the softmax fields
	softW      int     // their total width
	stash      []float32
	// Backward's derivative from the output: dz = dy·(y·(bq·y + bl) + bc)
	// outside softmax fields.
	bq, bl, bc []float32
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
	h := &Heads[F]{Slices: slices, Width: off}
	h.ps, h.pa, h.pc = make([]float32, off), make([]float32, off), make([]float32, off)
	h.bq, h.bl, h.bc = make([]float32, off), make([]float32, off), make([]float32, off)
	for _, s := range slices {
		for j := s.Off; j < s.Off+s.Dim; j++ {
			switch s.Act {
			case Sigmoid:
				h.ps[j], h.pa[j], h.pc[j] = 0.5, 0.5, 0.5
				h.bq[j], h.bl[j] = -1, 1 // y(1−y)
			case Tanh:
				h.ps[j], h.pa[j] = 1, 1
				h.bq[j], h.bc[j] = -1, 1 // 1−y²
			case Softmax:
				h.ps[j], h.pa[j] = 1, 1 // overwritten
			}
		}
		if s.Act == Softmax {
			h.soft = append(h.soft, s)
			h.softW += s.Dim
		}
	}
	return h, nil
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
	if m32, ok := any(m).(*Mat[float32]); ok {
		h32 := any(h).(*Heads[float32])
		if cap(h32.stash) < m.R*h.softW {
			h32.stash = make([]float32, m.R*h.softW)
		}
		parallelRange(m.R, 32, func(lo, hi int) { h32.apply32(m32, lo, hi) })
		return
	}
	parallelRange(m.R, 64, func(lo, hi int) { h.apply(m, lo, hi) })
}

// apply32 is apply for float32 rows [lo, hi), with the same results for
// softmax fields as softmaxSlice.
func (h *Heads[F]) apply32(m *Mat[float32], lo, hi int) {
	W, ns := h.Width, h.softW
	st := h.stash[lo*ns : hi*ns]
	k := 0
	for i := lo; i < hi; i++ {
		row := m.D[i*W : (i+1)*W]
		for _, s := range h.soft {
			seg := row[s.Off : s.Off+s.Dim]
			mx := seg[0]
			for _, v := range seg[1:] {
				if v > mx {
					mx = v
				}
			}
			for _, v := range seg {
				st[k] = v - mx
				k++
			}
		}
	}
	expNegLoop(st, st)
	k = 0
	for i := lo; i < hi; i++ {
		row := m.D[i*W : (i+1)*W]
		if len(h.soft) < len(h.Slices) {
			tanhVecLoop(row, row, h.ps, h.pa, h.pc)
		}
		for _, s := range h.soft {
			e := st[k : k+s.Dim]
			var sum float32
			for _, v := range e {
				sum += v
			}
			inv := 1 / sum
			seg := row[s.Off : s.Off+s.Dim]
			for j, v := range e {
				seg[j] = v * inv
			}
			k += s.Dim
		}
	}
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
	if _, ok := any(dy).(*Mat[float32]); ok {
		h32 := any(h).(*Heads[float32])
		d32, y32, z32 := any(dy).(*Mat[float32]), any(y).(*Mat[float32]), any(dz).(*Mat[float32])
		parallelRange(dy.R, 64, func(lo, hi int) { h32.backward32(d32, y32, z32, lo, hi) })
		return dz
	}
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

// backward32 is Backward for float32 rows [lo, hi).
func (h *Heads[F]) backward32(dy, y, dz *Mat[float32], lo, hi int) {
	W := h.Width
	bq, bl, bc := h.bq[:W], h.bl[:W], h.bc[:W]
	for i := lo; i < hi; i++ {
		dr, yr, zr := dy.D[i*W:(i+1)*W], y.D[i*W:(i+1)*W], dz.D[i*W:(i+1)*W]
		for k, yv := range yr {
			zr[k] = dr[k] * (yv*(bq[k]*yv+bl[k]) + bc[k])
		}
		for _, s := range h.soft {
			d, yv, z := dr[s.Off:s.Off+s.Dim], yr[s.Off:s.Off+s.Dim], zr[s.Off:s.Off+s.Dim]
			var sum float32
			for k := range d {
				sum += d[k] * yv[k]
			}
			for k := range d {
				z[k] = yv[k] * (d[k] - sum)
			}
		}
	}
}
