package dg

import (
	"fmt"
	"math"
)

// Data is a training set of N flows, encoded and normalised.
type Data struct {
	// Attr is N×A attributes, row by row.
	Attr []float32
	// Feat is N×MaxLen×F features (F = the sum of the feature output dims,
	// without generation flags), zero-padded after each flow's end. MaxLen
	// is the model's maximum flow length, or that length padded up to a
	// multiple of SampleLen.
	Feat []float32
	// Len is each flow's number of active steps, 1..maxLen.
	Len []int
	N   int

	maxLen int // steps per flow in Feat, set by validate
}

// steps is the number of time steps per flow in d.Feat (set by validate).
func (d *Data) steps() int { return d.maxLen }

// validate checks d against the model's shapes and scans it for NaN, Inf and
// out-of-range lengths. Errors name the flow and field.
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
	switch len(d.Feat) {
	case d.N * maxLen * F:
		d.maxLen = maxLen
	case d.N * padded * F:
		d.maxLen = padded
	default:
		return fmt.Errorf("dg: training data: %d feature values; want %d flows × %d steps × %d dims (or × %d padded steps)", len(d.Feat), d.N, maxLen, F, padded)
	}
	for i, l := range d.Len {
		if l < 1 || l > maxLen {
			return fmt.Errorf("dg: training data: flow %d has length %d, want 1..%d", i, l, maxLen)
		}
	}
	for k, v := range d.Attr {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("dg: training data: flow %d attribute %d is %v", k/A, k%A, v)
		}
	}
	for k, v := range d.Feat {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			flow := k / (d.maxLen * F)
			return fmt.Errorf("dg: training data: flow %d step %d feature %d is %v", flow, (k/F)%d.maxLen, k%F, v)
		}
	}
	return nil
}
