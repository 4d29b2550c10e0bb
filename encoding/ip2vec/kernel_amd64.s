//go:build amd64 && !purego

#include "textflag.h"

// The arg-max kernel of Decoder: nq queries, one after the other, against a
// block of npanels panels of 16 candidates that stays in the L1 cache.
// Register use:
//   Z0–Z15   the current query's components, each broadcast to all lanes
//            (only the first dim are loaded and used)
//   Z16–Z19  partial dot products over even components, 4 panels at a time
//   Z20–Z23  partial dot products over odd components (two chains halve the
//            FMA latency; a score is always (even) + (odd), so it does not
//            depend on how the panels are grouped or blocked)
//   Z24      best score per lane, Z25 its panel number (both carried from
//            and back to memory, per query, across blocks), over the even
//            panels of each group of 4; Z29 and Z30 the same over the odd
//            panels (two chains of compare-and-select instead of one),
//            merged when the query's block is done
//   Z26      current panel number, Z27 the constant 1, Z28 the block's
//            first panel number, Z31 −Inf
// A lane's best is replaced only by a strictly greater score, so the first
// maximum wins; NaN scores never win.

#define STEP4(off, ZQ, A0, A1, A2, A3) \
	VFMADD231PS off(SI), ZQ, A0; \
	VFMADD231PS off(SI)(R8*1), ZQ, A1; \
	VFMADD231PS off(SI)(R8*2), ZQ, A2; \
	VFMADD231PS off(SI)(R9*1), ZQ, A3

#define UPDATE(A, B, I) \
	VCMPPS $0x1e, B, A, K1; \
	VMOVAPS A, K1, B; \
	VMOVDQA32 Z26, K1, I; \
	VPADDD Z27, Z26, Z26

// func argmaxBlockAVX512(panels *float32, npanels int, dim int, base int, q *float32, nq int, best *float32, idx *int32)
TEXT ·argmaxBlockAVX512(SB), NOSPLIT, $0-64
	MOVQ panels+0(FP), BX
	MOVQ npanels+8(FP), R13
	MOVQ dim+16(FP), DX
	MOVQ base+24(FP), AX
	MOVQ q+32(FP), DI
	MOVQ nq+40(FP), R14
	MOVQ best+48(FP), R10
	MOVQ idx+56(FP), R11

	VPBROADCASTD AX, Z28
	MOVL $1, AX
	VPBROADCASTD AX, Z27
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z31 // −Inf
	MOVQ DX, R8
	SHLQ $6, R8         // bytes per panel: dim × 16 × 4
	LEAQ (R8)(R8*2), R9 // three panels
	MOVQ R8, R12
	SHLQ $2, R12        // four panels

query:
	TESTQ R14, R14
	JEQ   ret
	VBROADCASTSS 0(DI), Z0
	CMPQ DX, $1
	JEQ  loaded
	VBROADCASTSS 4(DI), Z1
	CMPQ DX, $2
	JEQ  loaded
	VBROADCASTSS 8(DI), Z2
	CMPQ DX, $3
	JEQ  loaded
	VBROADCASTSS 12(DI), Z3
	CMPQ DX, $4
	JEQ  loaded
	VBROADCASTSS 16(DI), Z4
	CMPQ DX, $5
	JEQ  loaded
	VBROADCASTSS 20(DI), Z5
	CMPQ DX, $6
	JEQ  loaded
	VBROADCASTSS 24(DI), Z6
	CMPQ DX, $7
	JEQ  loaded
	VBROADCASTSS 28(DI), Z7
	CMPQ DX, $8
	JEQ  loaded
	VBROADCASTSS 32(DI), Z8
	CMPQ DX, $9
	JEQ  loaded
	VBROADCASTSS 36(DI), Z9
	CMPQ DX, $10
	JEQ  loaded
	VBROADCASTSS 40(DI), Z10
	CMPQ DX, $11
	JEQ  loaded
	VBROADCASTSS 44(DI), Z11
	CMPQ DX, $12
	JEQ  loaded
	VBROADCASTSS 48(DI), Z12
	CMPQ DX, $13
	JEQ  loaded
	VBROADCASTSS 52(DI), Z13
	CMPQ DX, $14
	JEQ  loaded
	VBROADCASTSS 56(DI), Z14
	CMPQ DX, $15
	JEQ  loaded
	VBROADCASTSS 60(DI), Z15
loaded:
	VMOVUPS   (R10), Z24
	VMOVDQU32 (R11), Z25
	VMOVDQA32 Z28, Z26
	VMOVAPS   Z31, Z29
	VPXORD    Z30, Z30, Z30
	MOVQ      BX, SI
	MOVQ      R13, CX

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
	UPDATE(Z16, Z24, Z25)
	UPDATE(Z17, Z29, Z30)
	UPDATE(Z18, Z24, Z25)
	UPDATE(Z19, Z29, Z30)
	ADDQ R12, SI
	SUBQ $4, CX
	JMP  loop4

tail:
	TESTQ CX, CX
	JEQ   next
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
	UPDATE(Z16, Z24, Z25)
	ADDQ R8, SI
	DECQ CX
	JMP  tail

next:
	// Merge the two running maxima: the greater score, or on a tie the
	// lower panel number.
	VCMPPS    $0x1e, Z24, Z29, K1
	VCMPPS    $0x00, Z24, Z29, K2
	VPCMPD    $1, Z25, Z30, K3
	KANDW     K2, K3, K2
	KORW      K1, K2, K1
	VMOVAPS   Z29, K1, Z24
	VMOVDQA32 Z30, K1, Z25
	VMOVUPS   Z24, (R10)
	VMOVDQU32 Z25, (R11)
	ADDQ      $64, R10
	ADDQ      $64, R11
	LEAQ      (DI)(DX*4), DI
	DECQ      R14
	JMP       query

ret:
	VZEROUPPER
	RET
