package blas

import "unsafe"

// genericKernel is the pure-Go micro-kernel: a 4×4 tile held in sixteen
// scalar accumulators (which fit the 32 floating-point registers of arm64;
// amd64 has its vector kernels). It runs on every architecture.
var genericKernel = &kernel{name: "generic", tiles: []tile{{4, microGeneric}}, nr: 4, kc: 256, mc: 128, nc: 1024}

func microGeneric(kc int, ap, bp, cp *float32, ldb, ldc int, alpha, beta float32) {
	// B is always packed here (ldb = 4): the kernel does not set direct.
	a := unsafe.Slice(ap, 4*kc)
	b := unsafe.Slice(bp, 4*kc)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for len(a) >= 4 && len(b) >= 4 {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a, b = a[4:], b[4:]
	}
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	c := unsafe.Slice(cp, 3*ldc+4)
	for i := range acc {
		row := c[i*ldc : i*ldc+4]
		if beta == 0 {
			for j, v := range acc[i] {
				row[j] = alpha * v
			}
			continue
		}
		for j, v := range acc[i] {
			row[j] = float32(alpha*v) + float32(beta*row[j])
		}
	}
}
