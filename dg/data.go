package dg

import (
	"fmt"
	"math"
)

// Data is a training set of N flows, encoded and normalised.
type Data struct {
	// Attr is N×A attributes, row by row.
	Attr []float32
	// Feat is the flows' feature steps (F values each: the sum of the
	// feature output dims, without generation flags), stored sparse: flow
	// 0's Len[0] steps, then flow 1's, and so on, sum(Len)×F values. A
	// batch is padded as it is assembled. The zero-padded layout, N×MaxLen×F
	// or N×PaddedLen×F (MaxLen rounded up to a multiple of SampleLen), is
	// accepted too.
	Feat []float32
	// Len is each flow's number of active steps, 1..MaxLen.
	Len []int
	N   int

	off []int // flow i's first step is row off[i] of Feat (set by validate)
}

// validate checks d against the model's shapes and scans it for NaN, Inf and
// out-of-range lengths, and sets the flows' offsets. Errors name the flow,
// step and field.
func (d *Data) validate(A, F, maxLen, padded int) error {
	if d == nil {
		return fmt.Errorf("dg: nil training data")
	}
	if d.N < 1 {
		return fmt.Errorf("dg: training data has %d flows", d.N)
	}
	if len(d.Attr) != d.N*A {
		return fmt.Errorf("dg: training data: %d attribute values for %d flows × %d dims", len(d.Attr), d.N, A)
	}
	if len(d.Len) != d.N {
		return fmt.Errorf("dg: training data: %d lengths for %d flows", len(d.Len), d.N)
	}
	steps := 0
	for i, l := range d.Len {
		if l < 1 || l > maxLen {
			return fmt.Errorf("dg: training data: flow %d has length %d, want 1..%d", i, l, maxLen)
		}
		steps += l
	}
	stride := 0 // steps per flow in the padded layouts; 0: sparse
	switch len(d.Feat) {
	case steps * F:
	case d.N * maxLen * F:
		stride = maxLen
	case d.N * padded * F:
		stride = padded
	default:
		return fmt.Errorf("dg: training data: %d feature values; want %d steps × %d dims (or %d flows × %d steps, or × %d padded steps)", len(d.Feat), steps, F, d.N, maxLen, padded)
	}
	if cap(d.off) < d.N+1 {
		d.off = make([]int, d.N+1)
	}
	d.off = d.off[:d.N+1]
	d.off[0] = 0
	for i, l := range d.Len {
		if stride > 0 {
			l = stride
		}
		d.off[i+1] = d.off[i] + l
	}
	for k, v := range d.Attr {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("dg: training data: flow %d attribute %d is %v", k/A, k%A, v)
		}
	}
	for i := range d.N {
		seg := d.Feat[d.off[i]*F : d.off[i+1]*F]
		for k, v := range seg {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("dg: training data: flow %d step %d feature %d is %v", i, k/F, k%F, v)
			}
		}
	}
	return nil
}
