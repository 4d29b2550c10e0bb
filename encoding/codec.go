package encoding

import (
	"fmt"
	"math"
	"slices"
)

// Act is the output activation a codec's values are meant for.
type Act int

const (
	// Softmax marks a discrete output: a one-hot block.
	Softmax Act = iota
	// Sigmoid marks a continuous output in [0, 1].
	Sigmoid
	// Tanh marks a continuous output in [-1, 1].
	Tanh
)

func (a Act) String() string {
	switch a {
	case Softmax:
		return "softmax"
	case Sigmoid:
		return "sigmoid"
	case Tanh:
		return "tanh"
	}
	return fmt.Sprintf("Act(%d)", int(a))
}

// Output is one model output block: Dim values with one activation.
type Output struct {
	Name string
	Dim  int
	Act  Act
}

// Codec encodes one field's value into a fixed-width slice of a model's
// vector and decodes generated slices back into values. Values are float64
// (IP addresses, ports and counts are exact in a float64).
type Codec interface {
	// Name is the field's name.
	Name() string
	// Outputs lists the codec's output blocks; their dims sum to Dim.
	Outputs() []Output
	// Dim is the width of the codec's slice.
	Dim() int
	// Encode writes v's encoding into dst[:Dim()]. It reports whether v had
	// to be changed to be representable (clamped into a fixed range, or
	// mapped to the nearest known value).
	Encode(v float64, dst []float32) (changed bool)
	// Decode reads n rows of a row-major matrix with the given stride, the
	// codec's slice starting at column offset, and writes n values to out.
	Decode(src []float32, stride, offset int, out []float64)
}

func dimOf(outs []Output) int {
	d := 0
	for _, o := range outs {
		d += o.Dim
	}
	return d
}

// Bits encodes an unsigned integer of Width bits, most significant first,
// each bit a 2-way one-hot: 0 → [1,0], 1 → [0,1] (NetShare's IP encoding).
type Bits struct {
	Field string
	Width int
}

func (b Bits) Name() string { return b.Field }
func (b Bits) Dim() int     { return 2 * b.Width }
func (b Bits) Outputs() []Output {
	outs := make([]Output, b.Width)
	for i := range outs {
		outs[i] = Output{Name: fmt.Sprintf("%s.bit%d", b.Field, i), Dim: 2, Act: Softmax}
	}
	return outs
}

func (b Bits) Encode(v float64, dst []float32) bool {
	max := math.Ldexp(1, b.Width) - 1
	changed := false
	if v < 0 || v > max || v != math.Trunc(v) || math.IsNaN(v) {
		v = math.Max(0, math.Min(max, math.Round(v)))
		if math.IsNaN(v) {
			v = 0
		}
		changed = true
	}
	x := uint64(v)
	for i := 0; i < b.Width; i++ {
		bit := x >> (b.Width - 1 - i) & 1
		dst[2*i], dst[2*i+1] = float32(1-bit), float32(bit)
	}
	return changed
}

func (b Bits) Decode(src []float32, stride, offset int, out []float64) {
	for r := range out {
		row := src[r*stride+offset:]
		var x uint64
		for i := 0; i < b.Width; i++ {
			x <<= 1
			if row[2*i+1] > row[2*i] {
				x |= 1
			}
		}
		out[r] = float64(x)
	}
}

// Continuous encodes a real value as (f(v) − lo)/(hi − lo) in [0, 1], where
// f is log1p when Log is set and the identity otherwise, and [Lo, Hi] is the
// range of v (before f). Values outside the range are clamped and reported.
// When Round is set, decoded values are rounded to integers.
type Continuous struct {
	Field  string
	Lo, Hi float64
	Log    bool
	Round  bool
}

func (c Continuous) Name() string      { return c.Field }
func (c Continuous) Dim() int          { return 1 }
func (c Continuous) Outputs() []Output { return []Output{{Name: c.Field, Dim: 1, Act: Sigmoid}} }

func (c Continuous) f(v float64) float64 {
	if c.Log {
		return math.Log1p(v)
	}
	return v
}

func (c Continuous) Encode(v float64, dst []float32) bool {
	changed := false
	if math.IsNaN(v) {
		v, changed = c.Lo, true
	}
	if v < c.Lo {
		v, changed = c.Lo, true
	} else if v > c.Hi {
		v, changed = c.Hi, true
	}
	lo, hi := c.f(c.Lo), c.f(c.Hi)
	if hi <= lo {
		dst[0] = 0
		return changed
	}
	dst[0] = float32((c.f(v) - lo) / (hi - lo))
	return changed
}

func (c Continuous) Decode(src []float32, stride, offset int, out []float64) {
	lo, hi := c.f(c.Lo), c.f(c.Hi)
	for r := range out {
		x := math.Max(0, math.Min(1, float64(src[r*stride+offset])))
		v := lo + x*(hi-lo)
		if c.Log {
			v = math.Expm1(v)
		}
		v = math.Max(c.Lo, math.Min(c.Hi, v))
		if c.Round {
			v = math.Round(v)
		}
		out[r] = v
	}
}

// Categorical encodes one of a fixed list of values as a one-hot block.
// The order of Choices is the layout and must be persisted with a model. A
// value not in Choices encodes as the nearest choice by numeric value and
// is reported as changed.
type Categorical struct {
	Field   string
	Choices []float64 // sorted, distinct
}

// NewCategorical builds a categorical codec over the distinct values seen.
func NewCategorical(field string, values []float64) Categorical {
	ch := slices.Clone(values)
	slices.Sort(ch)
	ch = slices.Compact(ch)
	return Categorical{Field: field, Choices: ch}
}

func (c Categorical) Name() string { return c.Field }
func (c Categorical) Dim() int     { return max(1, len(c.Choices)) }
func (c Categorical) Outputs() []Output {
	return []Output{{Name: c.Field, Dim: c.Dim(), Act: Softmax}}
}

// index returns the position of the choice nearest to v.
func (c Categorical) index(v float64) (int, bool) {
	if len(c.Choices) == 0 {
		return 0, true
	}
	i, found := slices.BinarySearch(c.Choices, v)
	if found {
		return i, false
	}
	switch {
	case i == 0:
		return 0, true
	case i == len(c.Choices):
		return i - 1, true
	case v-c.Choices[i-1] <= c.Choices[i]-v:
		return i - 1, true
	default:
		return i, true
	}
}

func (c Categorical) Encode(v float64, dst []float32) bool {
	i, changed := c.index(v)
	for j := range c.Dim() {
		dst[j] = 0
	}
	dst[i] = 1
	return changed
}

func (c Categorical) Decode(src []float32, stride, offset int, out []float64) {
	d := c.Dim()
	for r := range out {
		row := src[r*stride+offset : r*stride+offset+d]
		best := 0
		for j := 1; j < d; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		if len(c.Choices) == 0 {
			out[r] = 0
		} else {
			out[r] = c.Choices[best]
		}
	}
}
