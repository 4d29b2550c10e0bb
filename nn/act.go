package nn

// LeakySlope is the negative-side slope of LeakyReLU (TensorFlow's default,
// as in DoppelGANger).
const LeakySlope = 0.2

// ReLUInPlace applies ReLU (or LeakyReLU when leaky) to m in place.
func ReLUInPlace[F Float](m *Mat[F], leaky bool) {
	if leaky {
		for i, v := range m.D {
			if v < 0 {
				m.D[i] = v * LeakySlope
			}
		}
		return
	}
	for i, v := range m.D {
		if v < 0 {
			m.D[i] = 0
		}
	}
}

// ReLUBackInPlace multiplies dy by the activation's derivative, read from its
// output y (y > 0 exactly where the input was positive).
func ReLUBackInPlace[F Float](dy, y *Mat[F], leaky bool) {
	yd := y.D[:len(dy.D)]
	if leaky {
		for i, v := range yd {
			if v <= 0 {
				dy.D[i] *= LeakySlope
			}
		}
		return
	}
	for i, v := range yd {
		if v <= 0 {
			dy.D[i] = 0
		}
	}
}
