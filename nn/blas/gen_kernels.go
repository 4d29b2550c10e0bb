//go:build ignore

// gen_kernels writes kernel_amd64.s, the amd64 micro-kernels and the FMA
// peak loops: go generate ./nn/blas (or go run gen_kernels.go in nn/blas).
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// kernel writes a micro-kernel of mr rows and nv vectors of vw floats per
// row (nr = nv·vw columns), unrolled u times in k. reg is the register
// prefix ("Z" or "Y"). Accumulators are registers 0..mr·nv−1; the B
// vectors follow; the last two registers hold broadcasts of A.
//
// B's rows are ldb floats apart: nr when packed, B's own stride when the
// kernel reads it in place.
//
// func name(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)
func kernel(name, reg string, mr, nv, vw, u, nregs int) {
	nr := nv * vw
	vb := vw * 4 // bytes per vector
	acc := func(i, v int) string { return fmt.Sprintf("%s%d", reg, i*nv+v) }
	bv := func(v int) string { return fmt.Sprintf("%s%d", reg, mr*nv+v) }
	bc := func(i int) string { return fmt.Sprintf("%s%d", reg, nregs-2+i%2) }
	if mr*nv+nv > nregs-2 {
		log.Fatalf("%s: %d accumulators and %d B vectors do not fit", name, mr*nv, nv)
	}
	p("// func %s(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)", name)
	p("// Sets the %d×%d tile at c (row stride ldc floats) to alpha·(a·b) + beta·c", mr, nr)
	p("// (c not read when beta = 0), where a is a packed kc×%d panel of A (k-major)", mr)
	p("// and b a kc×%d block of B with rows ldb floats apart.", nr)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("\tMOVQ kc+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	p("\tMOVQ b+16(FP), BX")
	p("\tMOVQ c+24(FP), DI")
	p("\tMOVQ ldb+32(FP), R11")
	p("\tSHLQ $2, R11")
	p("\tLEAQ (R11)(R11*2), R12")
	p("\tMOVQ ldc+40(FP), DX")
	p("\tSHLQ $2, DX")
	// Prefetch the C tile while the products run.
	p("\tMOVQ DI, R10")
	for i := 0; i < mr; i++ {
		for off := 0; off < nr*4; off += 64 {
			p("\tPREFETCHT0 %d(R10)", off)
		}
		p("\tPREFETCHT0 %d(R10)", nr*4-1)
		if i < mr-1 {
			p("\tADDQ DX, R10")
		}
	}
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			if reg == "Z" {
				p("\tVPXORD %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
			} else {
				p("\tVXORPS %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
			}
		}
	}
	// B's row s of an unrolled round: BX + s·ldb.
	brow := []string{"(BX)", "(BX)(R11*1)", "(BX)(R11*2)", "(BX)(R12*1)"}
	if u > len(brow) {
		log.Fatalf("%s: unroll %d too deep", name, u)
	}
	step := func(s int) {
		for v := 0; v < nv; v++ {
			p("\tVMOVUPS %d%s, %s", v*vb, brow[s], bv(v))
		}
		for i := 0; i < mr; i++ {
			p("\tVBROADCASTSS %d(AX), %s", (s*mr+i)*4, bc(i))
			for v := 0; v < nv; v++ {
				p("\tVFMADD231PS %s, %s, %s", bv(v), bc(i), acc(i, v))
			}
		}
	}
	p("\tMOVQ CX, R8")
	p("\tSHRQ $%d, R8", log2(u))
	p("\tJZ %s_tail", name)
	p("%s_loop:", name)
	for s := 0; s < u; s++ {
		step(s)
	}
	p("\tADDQ $%d, AX", u*mr*4)
	p("\tLEAQ (BX)(R11*%d), BX", u)
	p("\tDECQ R8")
	p("\tJNZ %s_loop", name)
	p("%s_tail:", name)
	p("\tANDQ $%d, CX", u-1)
	p("\tJZ %s_store", name)
	p("%s_tail_loop:", name)
	step(0)
	p("\tADDQ $%d, AX", mr*4)
	p("\tADDQ R11, BX")
	p("\tDECQ CX")
	p("\tJNZ %s_tail_loop", name)
	p("%s_store:", name)
	alpha, beta, tmp := bc(0), bc(1), bv(0)
	p("\tVBROADCASTSS alpha+48(FP), %s", alpha)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("\tVMULPS %s, %s, %s", alpha, acc(i, v), acc(i, v))
		}
	}
	p("\tMOVL beta+52(FP), R9")
	p("\tTESTL $0x7fffffff, R9")
	p("\tJZ %s_beta0", name)
	p("\tVBROADCASTSS beta+52(FP), %s", beta)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("\tVMULPS %d(DI), %s, %s", v*vb, beta, tmp)
			p("\tVADDPS %s, %s, %s", tmp, acc(i, v), acc(i, v))
			p("\tVMOVUPS %s, %d(DI)", acc(i, v), v*vb)
		}
		if i < mr-1 {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("%s_beta0:", name)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("\tVMOVUPS %s, %d(DI)", acc(i, v), v*vb)
		}
		if i < mr-1 {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// peak writes a loop of n·nacc independent FMAs on registers only.
//
// func name(n int)
func peak(name, reg string, nacc int) {
	p("// func %s(n int)", name)
	p("// Runs n rounds of %d independent register-only FMAs (the peak rate).", nacc)
	p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	p("\tMOVQ n+0(FP), CX")
	for i := 0; i < nacc+2; i++ {
		if reg == "Z" {
			p("\tVPXORD %s%d, %s%d, %s%d", reg, i, reg, i, reg, i)
		} else {
			p("\tVXORPS %s%d, %s%d, %s%d", reg, i, reg, i, reg, i)
		}
	}
	p("\tTESTQ CX, CX")
	p("\tJZ %s_done", name)
	p("%s_loop:", name)
	for i := 0; i < nacc; i++ {
		p("\tVFMADD231PS %s%d, %s%d, %s%d", reg, nacc, reg, nacc+1, reg, i)
	}
	p("\tDECQ CX")
	p("\tJNZ %s_loop", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// transpose16 transposes the 16×16 block in Z0..Z15 (row i in Zi) in
// place, with Z16..Z31 as scratch: afterwards Zj holds column j.
func transpose16() {
	r := func(i int) string { return fmt.Sprintf("Z%d", i) }
	t := func(i int) string { return fmt.Sprintf("Z%d", 16+i) }
	for i := 0; i < 16; i += 2 {
		p("\tVUNPCKLPS %s, %s, %s", r(i+1), r(i), t(i))
		p("\tVUNPCKHPS %s, %s, %s", r(i+1), r(i), t(i+1))
	}
	for g := 0; g < 16; g += 4 {
		p("\tVSHUFPS $0x44, %s, %s, %s", t(g+2), t(g), r(g))
		p("\tVSHUFPS $0xee, %s, %s, %s", t(g+2), t(g), r(g+1))
		p("\tVSHUFPS $0x44, %s, %s, %s", t(g+3), t(g+1), r(g+2))
		p("\tVSHUFPS $0xee, %s, %s, %s", t(g+3), t(g+1), r(g+3))
	}
	for h := 0; h < 16; h += 8 {
		for j := 0; j < 4; j++ {
			p("\tVSHUFF32X4 $0x88, %s, %s, %s", r(h+4+j), r(h+j), t(h+j))
			p("\tVSHUFF32X4 $0xdd, %s, %s, %s", r(h+4+j), r(h+j), t(h+4+j))
		}
	}
	for j := 0; j < 8; j++ {
		p("\tVSHUFF32X4 $0x88, %s, %s, %s", t(8+j), t(j), r(j))
		p("\tVSHUFF32X4 $0xdd, %s, %s, %s", t(8+j), t(j), r(8+j))
	}
}

// mask sets K register k to the low n bits (n in register reg, 0..16),
// using AX and CX.
func mask(k, reg string) {
	p("\tMOVQ %s, CX", reg)
	p("\tMOVL $1, AX")
	p("\tSHLL CX, AX")
	p("\tDECL AX")
	p("\tKMOVW AX, %s", k)
}

// packT writes the transposing packer: dst[p·dstStride + i] = src[i·ld + p]
// for i < rows, p < kc, and 0 for rows ≤ i < width (width ≤ 16).
//
// func packTAVX512(dst *float32, dstStride, width int, src *float32, ld, rows, kc int)
func packT() {
	name := "packTAVX512"
	p("// func %s(dst *float32, dstStride, width int, src *float32, ld, rows, kc int)", name)
	p("// Sets dst[p·dstStride + i] = src[i·ld + p] for p < kc and i < rows, and")
	p("// to 0 for rows ≤ i < width (rows ≤ width ≤ 16): 16×16 blocks transposed in")
	p("// registers.")
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("\tMOVQ width+16(FP), R9")
	mask("K2", "R9")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ dstStride+8(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tMOVQ src+24(FP), SI")
	p("\tMOVQ ld+32(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ rows+40(FP), R10")
	p("\tMOVQ kc+48(FP), R11")
	p("\tSHRQ $4, R11")
	p("\tJZ %s_tail", name)
	p("%s_loop:", name)
	load := func(tag, op string) {
		p("\tMOVQ SI, R12")
		for i := 0; i < 16; i++ {
			p("\tCMPQ R10, $%d", i+1)
			p("\tJLT %s_%s_z%d", name, tag, i)
			p("\t"+op, i)
			if i < 15 {
				p("\tADDQ DX, R12")
			}
		}
		p("\tJMP %s_%s_t", name, tag)
		for i := 0; i < 16; i++ {
			p("%s_%s_z%d:", name, tag, i)
			p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
		}
		p("%s_%s_t:", name, tag)
		transpose16()
	}
	load("m", "VMOVUPS (R12), Z%d")
	p("\tMOVQ DI, R13")
	for i := 0; i < 16; i++ {
		p("\tVMOVUPS Z%d, K2, (R13)", i)
		if i < 15 {
			p("\tADDQ R8, R13")
		}
	}
	p("\tADDQ $64, SI")
	p("\tLEAQ (R13)(R8*1), DI")
	p("\tDECQ R11")
	p("\tJNZ %s_loop", name)
	p("%s_tail:", name)
	p("\tMOVQ kc+48(FP), R11")
	p("\tANDQ $15, R11")
	p("\tJZ %s_done", name)
	mask("K1", "R11")
	load("r", "VMOVUPS.Z (R12), K1, Z%d")
	for i := 0; i < 16; i++ {
		p("\tCMPQ R11, $%d", i+1)
		p("\tJLT %s_done", name)
		p("\tVMOVUPS Z%d, K2, (DI)", i)
		p("\tADDQ R8, DI")
	}
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// packCopy writes the copying packer: dst[p·dstStride + j] = src[p·ld + j]
// for j < cols, p < kc, and 0 for cols ≤ j < dstStride (dstStride ≤ 32).
//
// func packCopyAVX512(dst *float32, dstStride int, src *float32, ld, cols, kc int)
func packCopy() {
	name := "packCopyAVX512"
	p("// func %s(dst *float32, dstStride int, src *float32, ld, cols, kc int)", name)
	p("// Sets dst[p·dstStride + j] = src[p·ld + j] for p < kc and j < cols, and to")
	p("// 0 for cols ≤ j < dstStride (cols ≤ dstStride ≤ 32).")
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	// Masks: K1, K2 load the first and second 16 columns; K3, K4 store them.
	p("\tMOVQ cols+32(FP), R9")
	p("\tMOVQ $16, R10")
	p("\tCMPQ R9, R10")
	p("\tCMOVQLT R9, R10") // R10 = min(cols, 16)
	mask("K1", "R10")
	p("\tSUBQ R10, R9") // cols − min(cols, 16) ≤ 16
	mask("K2", "R9")
	p("\tMOVQ dstStride+8(FP), R9")
	p("\tMOVQ $16, R10")
	p("\tCMPQ R9, R10")
	p("\tCMOVQLT R9, R10")
	mask("K3", "R10")
	p("\tSUBQ R10, R9")
	mask("K4", "R9")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ dstStride+8(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tMOVQ src+16(FP), SI")
	p("\tMOVQ ld+24(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ kc+40(FP), R11")
	p("\tSHRQ $2, R11")
	p("\tJZ %s_tail", name)
	p("%s_loop:", name)
	p("\tMOVQ SI, R12")
	for i := 0; i < 4; i++ {
		p("\tVMOVUPS.Z (R12), K1, Z%d", 2*i)
		p("\tVMOVUPS.Z 64(R12), K2, Z%d", 2*i+1)
		if i < 3 {
			p("\tADDQ DX, R12")
		}
	}
	p("\tMOVQ DI, R13")
	for i := 0; i < 4; i++ {
		p("\tVMOVUPS Z%d, K3, (R13)", 2*i)
		p("\tVMOVUPS Z%d, K4, 64(R13)", 2*i+1)
		if i < 3 {
			p("\tADDQ R8, R13")
		}
	}
	p("\tLEAQ (R12)(DX*1), SI")
	p("\tLEAQ (R13)(R8*1), DI")
	p("\tDECQ R11")
	p("\tJNZ %s_loop", name)
	p("%s_tail:", name)
	p("\tMOVQ kc+40(FP), R11")
	p("\tANDQ $3, R11")
	p("\tJZ %s_done", name)
	p("%s_tail_loop:", name)
	p("\tVMOVUPS.Z (SI), K1, Z0")
	p("\tVMOVUPS.Z 64(SI), K2, Z1")
	p("\tVMOVUPS Z0, K3, (DI)")
	p("\tVMOVUPS Z1, K4, 64(DI)")
	p("\tADDQ DX, SI")
	p("\tADDQ R8, DI")
	p("\tDECQ R11")
	p("\tJNZ %s_tail_loop", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// packT8 writes the AVX2 transposing packer for whole blocks of 8 k steps:
// dst[p·dstStride + i] = src[i·ld + p] for p < 8·blocks and i < rows, and 0
// for rows ≤ i < 8 (rows ≤ 8).
//
// func packT8AVX2(dst *float32, dstStride int, src *float32, ld, rows, blocks int)
func packT8() {
	name := "packT8AVX2"
	p("// func %s(dst *float32, dstStride int, src *float32, ld, rows, blocks int)", name)
	p("// Sets dst[p·dstStride + i] = src[i·ld + p] for p < 8·blocks and i < rows,")
	p("// and to 0 for rows ≤ i < 8: 8×8 blocks transposed in registers.")
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ dstStride+8(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tMOVQ src+16(FP), SI")
	p("\tMOVQ ld+24(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ rows+32(FP), R10")
	p("\tMOVQ blocks+40(FP), R11")
	p("\tTESTQ R11, R11")
	p("\tJZ %s_done", name)
	p("%s_loop:", name)
	p("\tMOVQ SI, R12")
	for i := 0; i < 8; i++ {
		p("\tCMPQ R10, $%d", i+1)
		p("\tJLT %s_z%d", name, i)
		p("\tVMOVUPS (R12), Y%d", i)
		if i < 7 {
			p("\tADDQ DX, R12")
		}
	}
	p("\tJMP %s_t", name)
	for i := 0; i < 8; i++ {
		p("%s_z%d:", name, i)
		p("\tVXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	p("%s_t:", name)
	for i := 0; i < 8; i += 2 {
		p("\tVUNPCKLPS Y%d, Y%d, Y%d", i+1, i, 8+i)
		p("\tVUNPCKHPS Y%d, Y%d, Y%d", i+1, i, 9+i)
	}
	for g := 0; g < 8; g += 4 {
		p("\tVSHUFPS $0x44, Y%d, Y%d, Y%d", 8+g+2, 8+g, g)
		p("\tVSHUFPS $0xee, Y%d, Y%d, Y%d", 8+g+2, 8+g, g+1)
		p("\tVSHUFPS $0x44, Y%d, Y%d, Y%d", 8+g+3, 8+g+1, g+2)
		p("\tVSHUFPS $0xee, Y%d, Y%d, Y%d", 8+g+3, 8+g+1, g+3)
	}
	for j := 0; j < 4; j++ {
		p("\tVPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+j, j, 8+j)
		p("\tVPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+j, j, 12+j)
	}
	p("\tMOVQ DI, R13")
	for q := 0; q < 8; q++ {
		p("\tVMOVUPS Y%d, (R13)", 8+q)
		if q < 7 {
			p("\tADDQ R8, R13")
		}
	}
	p("\tADDQ $32, SI")
	p("\tLEAQ (R13)(R8*1), DI")
	p("\tDECQ R11")
	p("\tJNZ %s_loop", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func log2(x int) int {
	n := 0
	for x > 1 {
		x >>= 1
		n++
	}
	return n
}

func main() {
	p("// Code generated by gen_kernels.go; DO NOT EDIT.")
	p("")
	p("//go:build !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for _, mr := range []int{8, 10, 12, 14} {
		kernel(fmt.Sprintf("microAVX512x%d", mr), "Z", mr, 2, 16, 4, 32)
	}
	kernel("microAVX2", "Y", 6, 2, 8, 4, 16)
	packT()
	packCopy()
	packT8()
	peak("fmaPeakAVX512", "Z", 24)
	peak("fmaPeakAVX2", "Y", 12)
	if err := os.WriteFile("kernel_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
