//go:build amd64 && !purego

#include "textflag.h"

// The arg-max kernel of Decoder: one query against npanels panels of 16
// candidates. Register use:
//   Z0–Z15   the query's components, each broadcast to all lanes (the caller
//            zero-pads the query to 16 components)
//   Z16–Z19  partial dot products over even components, 4 panels at a time
//   Z20–Z23  partial dot products over odd components (two chains halve the
//            FMA latency; the sum is always (even) + (odd), so a candidate's
//            score does not depend on how the panels are grouped)
//   Z24      best score per lane, Z25 its panel number
//   Z26      current panel number, Z27 the constant 1
// A lane's best is replaced only by a strictly greater score, so the first
// maximum wins; NaN scores never win.

DATA negInf<>+0(SB)/4, $0xff800000
GLOBL negInf<>(SB), RODATA|NOPTR, $4

#define STEP4(off, ZQ, A0, A1, A2, A3) \
	VFMADD231PS off(SI), ZQ, A0; \
	VFMADD231PS off(SI)(R8*1), ZQ, A1; \
	VFMADD231PS off(SI)(R8*2), ZQ, A2; \
	VFMADD231PS off(SI)(R9*1), ZQ, A3

#define UPDATE(A) \
	VCMPPS $0x1e, Z24, A, K1; \
	VMOVAPS A, K1, Z24; \
	VMOVDQA32 Z26, K1, Z25; \
	VPADDD Z27, Z26, Z26

// func argmaxPanelsAVX512(panels *float32, npanels int, dim int, q *[16]float32, best *[16]float32, idx *[16]int32)
TEXT ·argmaxPanelsAVX512(SB), NOSPLIT, $0-48
	MOVQ panels+0(FP), SI
	MOVQ npanels+8(FP), CX
	MOVQ dim+16(FP), DX
	MOVQ q+24(FP), DI
	MOVQ best+32(FP), R10
	MOVQ idx+40(FP), R11

	VBROADCASTSS 0(DI), Z0
	VBROADCASTSS 4(DI), Z1
	VBROADCASTSS 8(DI), Z2
	VBROADCASTSS 12(DI), Z3
	VBROADCASTSS 16(DI), Z4
	VBROADCASTSS 20(DI), Z5
	VBROADCASTSS 24(DI), Z6
	VBROADCASTSS 28(DI), Z7
	VBROADCASTSS 32(DI), Z8
	VBROADCASTSS 36(DI), Z9
	VBROADCASTSS 40(DI), Z10
	VBROADCASTSS 44(DI), Z11
	VBROADCASTSS 48(DI), Z12
	VBROADCASTSS 52(DI), Z13
	VBROADCASTSS 56(DI), Z14
	VBROADCASTSS 60(DI), Z15

	MOVQ DX, R8
	SHLQ $6, R8         // bytes per panel: dim × 16 × 4
	LEAQ (R8)(R8*2), R9 // three panels
	MOVQ R8, R12
	SHLQ $2, R12        // four panels

	VBROADCASTSS negInf<>(SB), Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	MOVL $1, AX
	VPBROADCASTD AX, Z27

loop4:
	CMPQ CX, $4
	JLT  tail
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	STEP4(0, Z0, Z16, Z17, Z18, Z19)
	CMPQ DX, $1
	JEQ  sum4
	STEP4(64, Z1, Z20, Z21, Z22, Z23)
	CMPQ DX, $2
	JEQ  sum4
	STEP4(128, Z2, Z16, Z17, Z18, Z19)
	CMPQ DX, $3
	JEQ  sum4
	STEP4(192, Z3, Z20, Z21, Z22, Z23)
	CMPQ DX, $4
	JEQ  sum4
	STEP4(256, Z4, Z16, Z17, Z18, Z19)
	CMPQ DX, $5
	JEQ  sum4
	STEP4(320, Z5, Z20, Z21, Z22, Z23)
	CMPQ DX, $6
	JEQ  sum4
	STEP4(384, Z6, Z16, Z17, Z18, Z19)
	CMPQ DX, $7
	JEQ  sum4
	STEP4(448, Z7, Z20, Z21, Z22, Z23)
	CMPQ DX, $8
	JEQ  sum4
	STEP4(512, Z8, Z16, Z17, Z18, Z19)
	CMPQ DX, $9
	JEQ  sum4
	STEP4(576, Z9, Z20, Z21, Z22, Z23)
	CMPQ DX, $10
	JEQ  sum4
	STEP4(640, Z10, Z16, Z17, Z18, Z19)
	CMPQ DX, $11
	JEQ  sum4
	STEP4(704, Z11, Z20, Z21, Z22, Z23)
	CMPQ DX, $12
	JEQ  sum4
	STEP4(768, Z12, Z16, Z17, Z18, Z19)
	CMPQ DX, $13
	JEQ  sum4
	STEP4(832, Z13, Z20, Z21, Z22, Z23)
	CMPQ DX, $14
	JEQ  sum4
	STEP4(896, Z14, Z16, Z17, Z18, Z19)
	CMPQ DX, $15
	JEQ  sum4
	STEP4(960, Z15, Z20, Z21, Z22, Z23)
sum4:
	VADDPS Z20, Z16, Z16
	VADDPS Z21, Z17, Z17
	VADDPS Z22, Z18, Z18
	VADDPS Z23, Z19, Z19
	UPDATE(Z16)
	UPDATE(Z17)
	UPDATE(Z18)
	UPDATE(Z19)
	ADDQ R12, SI
	SUBQ $4, CX
	JMP  loop4

tail:
	TESTQ CX, CX
	JEQ   done
	VPXORD Z16, Z16, Z16
	VPXORD Z20, Z20, Z20
	VFMADD231PS 0(SI), Z0, Z16
	CMPQ DX, $1
	JEQ  sum1
	VFMADD231PS 64(SI), Z1, Z20
	CMPQ DX, $2
	JEQ  sum1
	VFMADD231PS 128(SI), Z2, Z16
	CMPQ DX, $3
	JEQ  sum1
	VFMADD231PS 192(SI), Z3, Z20
	CMPQ DX, $4
	JEQ  sum1
	VFMADD231PS 256(SI), Z4, Z16
	CMPQ DX, $5
	JEQ  sum1
	VFMADD231PS 320(SI), Z5, Z20
	CMPQ DX, $6
	JEQ  sum1
	VFMADD231PS 384(SI), Z6, Z16
	CMPQ DX, $7
	JEQ  sum1
	VFMADD231PS 448(SI), Z7, Z20
	CMPQ DX, $8
	JEQ  sum1
	VFMADD231PS 512(SI), Z8, Z16
	CMPQ DX, $9
	JEQ  sum1
	VFMADD231PS 576(SI), Z9, Z20
	CMPQ DX, $10
	JEQ  sum1
	VFMADD231PS 640(SI), Z10, Z16
	CMPQ DX, $11
	JEQ  sum1
	VFMADD231PS 704(SI), Z11, Z20
	CMPQ DX, $12
	JEQ  sum1
	VFMADD231PS 768(SI), Z12, Z16
	CMPQ DX, $13
	JEQ  sum1
	VFMADD231PS 832(SI), Z13, Z20
	CMPQ DX, $14
	JEQ  sum1
	VFMADD231PS 896(SI), Z14, Z16
	CMPQ DX, $15
	JEQ  sum1
	VFMADD231PS 960(SI), Z15, Z20
sum1:
	VADDPS Z20, Z16, Z16
	UPDATE(Z16)
	ADDQ R8, SI
	DECQ CX
	JMP  tail

done:
	VMOVUPS   Z24, (R10)
	VMOVDQU32 Z25, (R11)
	VZEROUPPER
	RET
