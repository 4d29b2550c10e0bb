package nn

import "math"

// expf is a float32 exponential (Cody–Waite range reduction and a degree-5
// minimax polynomial, relative error about 2e-7), several times cheaper than
// converting to float64 for math.Exp; the LSTM and the output heads evaluate
// millions of them per training iteration.
func expf(x float32) float32 {
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		return 0
	}
	// Round x·log2(e) to the nearest integer by adding and subtracting
	// 1.5·2²³ (exact for |x·log2 e| < 2²²), avoiding a call to Floor.
	const magic = 12582912
	t := x*1.44269504088896341 + magic
	n := t - magic
	r := x - n*0.693359375 + n*2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	k := int32(n)
	if k > 127 { // 2^128 is not a float32: scale in two steps
		return y * 2 * math.Float32frombits(uint32(k-1+127)<<23)
	}
	return y * math.Float32frombits(uint32(k+127)<<23)
}

// tanhf is a float32 tanh: a [13/6] rational minimax approximation on
// [−7.9, 7.9] (outside it tanh is ±1 to float32 precision), absolute error
// about 1e-7, with no exponential and no branch but the clamp.
func tanhf(x float32) float32 {
	const clamp = 7.90531110763549805
	x = min(max(x, -clamp), clamp)
	x2 := x * x
	p := float32(-2.76076847742355e-16)
	p = p*x2 + 2.00018790482477e-13
	p = p*x2 - 8.60467152213735e-11
	p = p*x2 + 5.12229709037114e-08
	p = p*x2 + 1.48572235717979e-05
	p = p*x2 + 6.37261928875436e-04
	p = p*x2 + 4.89352455891786e-03
	p *= x
	q := float32(1.19825839466702e-06)
	q = q*x2 + 1.18534705686654e-04
	q = q*x2 + 2.26843463243900e-03
	q = q*x2 + 4.89352518554385e-03
	return p / q
}

// tanhLoop sets y[i] = a·tanh(s·x[i]) + c with tanhf's formula written
// inline (tanhf itself is too large for the inliner).
func tanhLoop(y, x []float32, s, a, c float32) {
	const clamp = 7.90531110763549805
	x = x[:len(y)]
	start := 0
	if useAVX2 && len(y) >= 8 {
		start = len(y) &^ 7
		tanhAVX2(y, x, s, a, c)
	}
	for i := start; i < len(x); i++ {
		v := x[i]
		v = min(max(s*v, -clamp), clamp)
		x2 := v * v
		p := float32(-2.76076847742355e-16)
		p = p*x2 + 2.00018790482477e-13
		p = p*x2 - 8.60467152213735e-11
		p = p*x2 + 5.12229709037114e-08
		p = p*x2 + 1.48572235717979e-05
		p = p*x2 + 6.37261928875436e-04
		p = p*x2 + 4.89352455891786e-03
		q := float32(1.19825839466702e-06)
		q = q*x2 + 1.18534705686654e-04
		q = q*x2 + 2.26843463243900e-03
		q = q*x2 + 4.89352518554385e-03
		y[i] = a*(p*v/q) + c
	}
}

// tanhVecLoop is tanhLoop with per-element parameters: y[i] =
// a[i]·tanh(s[i]·x[i]) + c[i] (x, s, a and c at least as long as y).
func tanhVecLoop(y, x, s, a, c []float32) {
	x, s, a, c = x[:len(y)], s[:len(y)], a[:len(y)], c[:len(y)]
	start := 0
	if useAVX2 && len(y) >= 8 {
		start = len(y) &^ 7
		tanhVecAVX2(y, x, s, a, c)
	}
	for i := start; i < len(x); i++ {
		y[i] = a[i]*tanhf(s[i]*x[i]) + c[i]
	}
}

// expNegLoop sets y[i] = expf(x[i]) for x[i] ≤ 0 (y and x may alias).
func expNegLoop(y, x []float32) {
	x = x[:len(y)]
	start := 0
	if useAVX2 && len(y) >= 8 {
		start = len(y) &^ 7
		expNegAVX2(y, x)
	}
	for i := start; i < len(x); i++ {
		y[i] = expf(x[i])
	}
}

// sigmoidSlice sets y[i] = 1/(1+exp(-x[i])); y and x may alias. In float32
// it is computed as (1 + tanh(x/2))/2.
func sigmoidSlice[F Float](y, x []F) {
	switch yy := any(y).(type) {
	case []float32:
		xx := any(x).([]float32)
		xx = xx[:len(yy)]
		tanhLoop(yy, xx, 0.5, 0.5, 0.5)
	case []float64:
		xx := any(x).([]float64)
		xx = xx[:len(yy)]
		for i, v := range xx {
			yy[i] = 1 / (1 + math.Exp(-v))
		}
	}
}

// tanhSlice sets y[i] = tanh(x[i]); y and x may alias.
func tanhSlice[F Float](y, x []F) {
	switch yy := any(y).(type) {
	case []float32:
		xx := any(x).([]float32)
		xx = xx[:len(yy)]
		tanhLoop(yy, xx, 1, 1, 0)
	case []float64:
		xx := any(x).([]float64)
		xx = xx[:len(yy)]
		for i, v := range xx {
			yy[i] = math.Tanh(v)
		}
	}
}

// softmaxSlice replaces x by softmax(x) (max-shifted for stability).
func softmaxSlice[F Float](x []F) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var s F
	switch xx := any(x).(type) {
	case []float32:
		m32 := any(m).(float32)
		var s32 float32
		for i, v := range xx {
			e := expf(v - m32)
			xx[i] = e
			s32 += e
		}
		s = any(s32).(F)
	case []float64:
		m64 := any(m).(float64)
		var s64 float64
		for i, v := range xx {
			e := math.Exp(v - m64)
			xx[i] = e
			s64 += e
		}
		s = any(s64).(F)
	}
	inv := 1 / s
	for i := range x {
		x[i] *= inv
	}
}

func sqrtF[F Float](x F) F { return F(math.Sqrt(float64(x))) }

func sqrt64(x float64) float64 { return math.Sqrt(x) }
