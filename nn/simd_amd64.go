//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX2 selects the vector tanh loop (AVX2 and FMA3).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// tanhAVX2 sets y[i] = a·tanh(s·x[i]) + c for the first len(y)&^7
// elements, eight at a time, with the same rational approximation as tanhf.
//
//go:noescape
func tanhAVX2(y, x []float32, s, a, c float32)

// adamAVX2 is the float32 Adam update for the first len(w)&^7 elements
// (c1 = 1−b1, c2 = 1−b2).
//
//go:noescape
func adamAVX2(w, m, v, g []float32, b1, c1, b2, c2, step, eps float32)

// expNegAVX2 sets y[i] = expf(x[i]) for the first len(y)&^7 elements, for
// x[i] ≤ 0 (softmax's shifted logits).
//
//go:noescape
func expNegAVX2(y, x []float32)

// tanhVecAVX2 sets y[i] = a[i]·tanh(s[i]·x[i]) + c[i] for the first
// len(y)&^7 elements (x, s, a and c at least as long as y).
//
//go:noescape
func tanhVecAVX2(y, x, s, a, c []float32)

// gram3AVX2 adds to out the float64 dot products a·a, b·b, c·c, a·b, a·c
// and b·c over the first len(a)&^3 elements.
//
//go:noescape
func gram3AVX2(a, b, c []float32, out *[6]float64)
