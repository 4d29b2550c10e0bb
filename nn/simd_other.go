//go:build !amd64 || purego

package nn

const useAVX2 = false

func tanhAVX2(y, x []float32, s, a, c float32) { panic("unreachable") }

func adamAVX2(w, m, v, g []float32, b1, c1, b2, c2, step, eps float32) { panic("unreachable") }

func expNegAVX2(y, x []float32) { panic("unreachable") }

func tanhVecAVX2(y, x, s, a, c []float32) { panic("unreachable") }

func gram3AVX2(a, b, c []float32, out *[6]float64) { panic("unreachable") }
