package nn

import "math"

// LeakySlope is the negative-side slope of LeakyReLU (TensorFlow's default,
// as in DoppelGANger).
const LeakySlope = 0.2

// The activation loops below are written without data-dependent branches
// (sign-bit masks): with random signs a branch mispredicts half the time,
// which made these trivial loops cost as much as the matrix products around
// them.

// ReLUInPlace applies ReLU (or LeakyReLU when leaky) to m in place.
func ReLUInPlace[F Float](m *Mat[F], leaky bool) {
	parallelRange(len(m.D), 1<<15, func(lo, hi int) { reluRange(m.D[lo:hi], leaky) })
}

func reluRange[F Float](md []F, leaky bool) {
	switch d := any(md).(type) {
	case []float32:
		if leaky {
			for i, v := range d {
				neg := math.Float32bits(v) >> 31 // 1 when negative
				d[i] = v * (1 - (1-LeakySlope)*float32(neg))
			}
			return
		}
		for i, v := range d {
			b := math.Float32bits(v)
			d[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
		}
	case []float64:
		for i, v := range d {
			if v < 0 {
				if leaky {
					d[i] = v * LeakySlope
				} else {
					d[i] = 0
				}
			}
		}
	}
}

// ReLUBackInPlace multiplies dy by the activation's derivative, read from its
// output y (y > 0 exactly where the input was positive; the derivative at 0
// is taken as the negative side's).
func ReLUBackInPlace[F Float](dy, y *Mat[F], leaky bool) {
	parallelRange(len(dy.D), 1<<15, func(lo, hi int) { reluBackRange(dy.D[lo:hi], y.D[lo:hi], leaky) })
}

func reluBackRange[F Float](dyd, ydd []F, leaky bool) {
	switch d := any(dyd).(type) {
	case []float32:
		yd := any(ydd).([]float32)
		yd = yd[:len(d)]
		if leaky {
			for i, v := range yd {
				// off is 1 when v ≤ 0: s−1 is negative for +0 and for
				// negative values.
				s := int32(math.Float32bits(v))
				off := uint32(s-1) >> 31
				d[i] *= 1 - (1-LeakySlope)*float32(off)
			}
			return
		}
		for i, v := range yd {
			s := int32(math.Float32bits(v))
			// keep is all ones when s > 0: (s−1) ≥ 0 and s ≥ 0.
			keep := ^uint32((s - 1) >> 31)
			d[i] = math.Float32frombits(math.Float32bits(d[i]) & keep)
		}
	case []float64:
		yd := any(ydd).([]float64)
		yd = yd[:len(d)]
		for i, v := range yd {
			if v <= 0 {
				if leaky {
					d[i] *= LeakySlope
				} else {
					d[i] = 0
				}
			}
		}
	}
}
