//go:build amd64 && !purego

#include "textflag.h"
#include "go_asm.h"

// The top-K kernel of Decoder: queries, one after the other, against a
// block of npanels panels of 16 candidates that stays in the L1 cache. A
// panel's scores are computed exactly as in argmaxBlockAVX512 (even plus
// odd components), so both kernels give the same float32 scores.
// Register use:
//   Z0–Z15   the current query's components, each broadcast to all lanes
//            (only the first dim are loaded and used)
//   Z16–Z19  partial dot products over even components, 4 panels at a time
//   Z20–Z23  partial dot products over odd components
//   Z24      the query's threshold, broadcast
//   Z26      the candidate numbers of the current panel (of the first of a
//            group of 4), Z28 those of the block's first panel
//   Z27      the constant 16, Z30 the constant 64
//   Z25, Z29, Z31 scratch
//   R12      the next free entry of buf.s (buf.i at offset topkBuf_i)
// A score is reported when it is strictly above the threshold (an ordered
// comparison: NaN scores are never reported). The masks of 4 panels are
// tested together; only when one is set are the scores and candidate
// numbers compressed and stored (as whole vectors, from register: stores
// of a compressed vector to memory are slow on some CPUs).

DATA lanesIota<>+0x00(SB)/4, $0
DATA lanesIota<>+0x04(SB)/4, $1
DATA lanesIota<>+0x08(SB)/4, $2
DATA lanesIota<>+0x0c(SB)/4, $3
DATA lanesIota<>+0x10(SB)/4, $4
DATA lanesIota<>+0x14(SB)/4, $5
DATA lanesIota<>+0x18(SB)/4, $6
DATA lanesIota<>+0x1c(SB)/4, $7
DATA lanesIota<>+0x20(SB)/4, $8
DATA lanesIota<>+0x24(SB)/4, $9
DATA lanesIota<>+0x28(SB)/4, $10
DATA lanesIota<>+0x2c(SB)/4, $11
DATA lanesIota<>+0x30(SB)/4, $12
DATA lanesIota<>+0x34(SB)/4, $13
DATA lanesIota<>+0x38(SB)/4, $14
DATA lanesIota<>+0x3c(SB)/4, $15
GLOBL lanesIota<>(SB), RODATA|NOPTR, $64

#define STEP4(off, ZQ, A0, A1, A2, A3) \
	VFMADD231PS off(SI), ZQ, A0; \
	VFMADD231PS off(SI)(R8*1), ZQ, A1; \
	VFMADD231PS off(SI)(R8*2), ZQ, A2; \
	VFMADD231PS off(SI)(R9*1), ZQ, A3

// EMIT stores the lanes of scores S selected by mask K, and their
// candidate numbers I, at R12 and advances R12 past them.
#define EMIT(S, K, I) \
	KMOVW       K, AX; \
	VCOMPRESSPS S, K, Z29; \
	VPCOMPRESSD I, K, Z31; \
	VMOVUPS     Z29, (R12); \
	VMOVDQU32   Z31, topkBuf_i(R12); \
	POPCNTL     AX, AX; \
	LEAQ        (R12)(AX*4), R12

// func topkBlockAVX512(panels *float32, npanels int, dim int, first int, q *float32, nq int, thr *float32, ends *int32, buf *topkBuf, lim int) int
TEXT ·topkBlockAVX512(SB), NOSPLIT, $0-88
	MOVQ panels+0(FP), BX
	MOVQ npanels+8(FP), R13
	MOVQ dim+16(FP), DX
	MOVQ first+24(FP), AX
	MOVQ q+32(FP), DI
	MOVQ nq+40(FP), R14
	MOVQ thr+48(FP), R10
	MOVQ ends+56(FP), R11
	MOVQ buf+64(FP), R12

	VPBROADCASTD AX, Z28
	VPADDD       lanesIota<>(SB), Z28, Z28
	MOVL         $16, AX
	VPBROADCASTD AX, Z27
	MOVL         $64, AX
	VPBROADCASTD AX, Z30
	MOVQ         DX, R8
	SHLQ         $6, R8         // bytes per panel: dim × 16 × 4
	LEAQ         (R8)(R8*2), R9 // three panels

query:
	TESTQ R14, R14
	JEQ   ret
	MOVQ  R12, AX
	SUBQ  buf+64(FP), AX
	CMPQ  AX, lim+72(FP)
	JGT   ret
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
	VBROADCASTSS (R10), Z24
	VMOVDQA32    Z28, Z26
	MOVQ         BX, SI
	MOVQ         R13, CX

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
	VADDPS   Z20, Z16, Z16
	VADDPS   Z21, Z17, Z17
	VADDPS   Z22, Z18, Z18
	VADDPS   Z23, Z19, Z19
	VCMPPS   $0x1e, Z24, Z16, K1
	VCMPPS   $0x1e, Z24, Z17, K2
	VCMPPS   $0x1e, Z24, Z18, K3
	VCMPPS   $0x1e, Z24, Z19, K4
	KORW     K1, K2, K5
	KORW     K3, K4, K6
	KORTESTW K5, K6
	JNE      emit4
next4:
	VPADDD Z30, Z26, Z26
	LEAQ   (SI)(R8*4), SI
	SUBQ   $4, CX
	JMP    loop4

emit4:
	EMIT(Z16, K1, Z26)
	VPADDD Z27, Z26, Z25
	EMIT(Z17, K2, Z25)
	VPADDD Z27, Z25, Z25
	EMIT(Z18, K3, Z25)
	VPADDD Z27, Z25, Z25
	EMIT(Z19, K4, Z25)
	JMP    next4

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
	VADDPS   Z20, Z16, Z16
	VCMPPS   $0x1e, Z24, Z16, K1
	KORTESTW K1, K1
	JEQ      next1
	EMIT(Z16, K1, Z26)
next1:
	VPADDD Z27, Z26, Z26
	ADDQ   R8, SI
	DECQ   CX
	JMP    tail

done:
	// ends[i]: the entries reported so far.
	MOVQ R12, AX
	SUBQ buf+64(FP), AX
	SHRQ $2, AX
	MOVL AX, (R11)
	ADDQ $4, R10
	ADDQ $4, R11
	LEAQ (DI)(DX*4), DI
	DECQ R14
	JMP  query

ret:
	MOVQ nq+40(FP), AX
	SUBQ R14, AX
	MOVQ AX, ret+80(FP)
	VZEROUPPER
	RET
