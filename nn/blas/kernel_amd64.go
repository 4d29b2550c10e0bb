//go:build !purego

package blas

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// avx512Kernel: tiles of 8 to 14 rows by 32 columns, up to 28 zmm
// accumulators (two 16-float vectors per row), two FMAs per broadcast
// element of A.
var avx512Kernel = &kernel{name: "avx512",
	tiles: []tile{{14, microAVX512x14}, {12, microAVX512x12}, {10, microAVX512x10}, {8, microAVX512x8}},
	nr:    32, kc: 256, mc: 140, nc: 2048, direct: true,
	cpuOK: func() bool { return hasAVX512 },
	packA: packAAVX512, packB: packBAVX512,
	peak: fmaPeakAVX512, peakFLOPs: 24 * 16 * 2}

// avx2Kernel: a 6×16 tile in 12 ymm accumulators.
var avx2Kernel = &kernel{name: "avx2", tiles: []tile{{6, microAVX2}}, nr: 16, kc: 256, mc: 144, nc: 2048, direct: true,
	packB: packBAVX2,
	cpuOK: func() bool { return hasAVX2 },
	peak:  fmaPeakAVX2, peakFLOPs: 12 * 8 * 2}

// archKernels lists the amd64 assembly kernels, fastest first.
func archKernels() []*kernel { return []*kernel{avx512Kernel, avx2Kernel} }

//go:noescape
func microAVX512x8(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)

//go:noescape
func microAVX512x10(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)

//go:noescape
func microAVX512x12(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)

//go:noescape
func microAVX512x14(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)

//go:noescape
func microAVX2(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)

//go:noescape
func fmaPeakAVX512(n int)

//go:noescape
func fmaPeakAVX2(n int)

//go:noescape
func packTAVX512(dst *float32, dstStride, width int, src *float32, ld, rows, kc int)

//go:noescape
func packCopyAVX512(dst *float32, dstStride int, src *float32, ld, cols, kc int)

// packAAVX512 is packA with the AVX-512 packers (mr ≤ 16).
func packAAVX512(tA bool, a []float32, lda, i0, mc, p0, kc, mr int, dst []float32) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		panel := dst[ir*kc : ir*kc+kc*mr]
		if tA {
			packCopyAVX512(&panel[0], mr, &a[p0*lda+i0+ir], lda, rows, kc)
		} else {
			packTAVX512(&panel[0], mr, mr, &a[(i0+ir)*lda+p0], lda, rows, kc)
		}
	}
}

// packBAVX512 is packB with the AVX-512 packers (nr = 32).
func packBAVX512(tB bool, b []float32, ldb, p0, kc, j0, nc, nr int, dst []float32) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+kc*nr]
		if !tB {
			packCopyAVX512(&panel[0], nr, &b[p0*ldb+j0+jr], ldb, cols, kc)
			continue
		}
		src := &b[(j0+jr)*ldb+p0]
		packTAVX512(&panel[0], nr, 16, src, ldb, min(cols, 16), kc)
		if cols > 16 {
			src = &b[(j0+jr+16)*ldb+p0]
		}
		packTAVX512(&panel[16], nr, 16, src, ldb, max(cols-16, 0), kc)
	}
}

//go:noescape
func packT8AVX2(dst *float32, dstStride int, src *float32, ld, rows, blocks int)

// packBAVX2 is packB with the AVX2 transposing packer for a transposed B
// (nr = 16: two blocks of 8 columns), packB otherwise.
func packBAVX2(tB bool, b []float32, ldb, p0, kc, j0, nc, nr int, dst []float32) {
	if !tB {
		packB(tB, b, ldb, p0, kc, j0, nc, nr, dst)
		return
	}
	blocks := kc / 8
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+kc*nr]
		for h := 0; h < nr; h += 8 {
			rows := min(max(cols-h, 0), 8)
			if blocks > 0 {
				src := &b[(j0+jr)*ldb+p0] // not read when rows = 0
				if rows > 0 {
					src = &b[(j0+jr+h)*ldb+p0]
				}
				packT8AVX2(&panel[h], nr, src, ldb, rows, blocks)
			}
			// The last kc mod 8 steps, and zeros past the last column.
			for p := blocks * 8; p < kc; p++ {
				d := panel[p*nr+h : p*nr+h+8]
				for j := range d {
					if j < rows {
						d[j] = b[(j0+jr+h+j)*ldb+p0+p]
					} else {
						d[j] = 0
					}
				}
			}
		}
	}
}
