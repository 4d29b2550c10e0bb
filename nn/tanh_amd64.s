//go:build !purego

#include "textflag.h"

// Rational tanh coefficients (see tanhf), each replicated 8 times:
// p13 p11 p9 p7 p5 p3 p1, then q6 q4 q2 q0.
DATA tanhc<>+0(SB)/4, $0xa59f25c0
DATA tanhc<>+4(SB)/4, $0xa59f25c0
DATA tanhc<>+8(SB)/4, $0xa59f25c0
DATA tanhc<>+12(SB)/4, $0xa59f25c0
DATA tanhc<>+16(SB)/4, $0xa59f25c0
DATA tanhc<>+20(SB)/4, $0xa59f25c0
DATA tanhc<>+24(SB)/4, $0xa59f25c0
DATA tanhc<>+28(SB)/4, $0xa59f25c0
DATA tanhc<>+32(SB)/4, $0x2a61337e
DATA tanhc<>+36(SB)/4, $0x2a61337e
DATA tanhc<>+40(SB)/4, $0x2a61337e
DATA tanhc<>+44(SB)/4, $0x2a61337e
DATA tanhc<>+48(SB)/4, $0x2a61337e
DATA tanhc<>+52(SB)/4, $0x2a61337e
DATA tanhc<>+56(SB)/4, $0x2a61337e
DATA tanhc<>+60(SB)/4, $0x2a61337e
DATA tanhc<>+64(SB)/4, $0xaebd37ff
DATA tanhc<>+68(SB)/4, $0xaebd37ff
DATA tanhc<>+72(SB)/4, $0xaebd37ff
DATA tanhc<>+76(SB)/4, $0xaebd37ff
DATA tanhc<>+80(SB)/4, $0xaebd37ff
DATA tanhc<>+84(SB)/4, $0xaebd37ff
DATA tanhc<>+88(SB)/4, $0xaebd37ff
DATA tanhc<>+92(SB)/4, $0xaebd37ff
DATA tanhc<>+96(SB)/4, $0x335c0041
DATA tanhc<>+100(SB)/4, $0x335c0041
DATA tanhc<>+104(SB)/4, $0x335c0041
DATA tanhc<>+108(SB)/4, $0x335c0041
DATA tanhc<>+112(SB)/4, $0x335c0041
DATA tanhc<>+116(SB)/4, $0x335c0041
DATA tanhc<>+120(SB)/4, $0x335c0041
DATA tanhc<>+124(SB)/4, $0x335c0041
DATA tanhc<>+128(SB)/4, $0x3779434a
DATA tanhc<>+132(SB)/4, $0x3779434a
DATA tanhc<>+136(SB)/4, $0x3779434a
DATA tanhc<>+140(SB)/4, $0x3779434a
DATA tanhc<>+144(SB)/4, $0x3779434a
DATA tanhc<>+148(SB)/4, $0x3779434a
DATA tanhc<>+152(SB)/4, $0x3779434a
DATA tanhc<>+156(SB)/4, $0x3779434a
DATA tanhc<>+160(SB)/4, $0x3a270ded
DATA tanhc<>+164(SB)/4, $0x3a270ded
DATA tanhc<>+168(SB)/4, $0x3a270ded
DATA tanhc<>+172(SB)/4, $0x3a270ded
DATA tanhc<>+176(SB)/4, $0x3a270ded
DATA tanhc<>+180(SB)/4, $0x3a270ded
DATA tanhc<>+184(SB)/4, $0x3a270ded
DATA tanhc<>+188(SB)/4, $0x3a270ded
DATA tanhc<>+192(SB)/4, $0x3ba059dc
DATA tanhc<>+196(SB)/4, $0x3ba059dc
DATA tanhc<>+200(SB)/4, $0x3ba059dc
DATA tanhc<>+204(SB)/4, $0x3ba059dc
DATA tanhc<>+208(SB)/4, $0x3ba059dc
DATA tanhc<>+212(SB)/4, $0x3ba059dc
DATA tanhc<>+216(SB)/4, $0x3ba059dc
DATA tanhc<>+220(SB)/4, $0x3ba059dc
DATA tanhc<>+224(SB)/4, $0x35a0d3d8
DATA tanhc<>+228(SB)/4, $0x35a0d3d8
DATA tanhc<>+232(SB)/4, $0x35a0d3d8
DATA tanhc<>+236(SB)/4, $0x35a0d3d8
DATA tanhc<>+240(SB)/4, $0x35a0d3d8
DATA tanhc<>+244(SB)/4, $0x35a0d3d8
DATA tanhc<>+248(SB)/4, $0x35a0d3d8
DATA tanhc<>+252(SB)/4, $0x35a0d3d8
DATA tanhc<>+256(SB)/4, $0x38f895d6
DATA tanhc<>+260(SB)/4, $0x38f895d6
DATA tanhc<>+264(SB)/4, $0x38f895d6
DATA tanhc<>+268(SB)/4, $0x38f895d6
DATA tanhc<>+272(SB)/4, $0x38f895d6
DATA tanhc<>+276(SB)/4, $0x38f895d6
DATA tanhc<>+280(SB)/4, $0x38f895d6
DATA tanhc<>+284(SB)/4, $0x38f895d6
DATA tanhc<>+288(SB)/4, $0x3b14aa05
DATA tanhc<>+292(SB)/4, $0x3b14aa05
DATA tanhc<>+296(SB)/4, $0x3b14aa05
DATA tanhc<>+300(SB)/4, $0x3b14aa05
DATA tanhc<>+304(SB)/4, $0x3b14aa05
DATA tanhc<>+308(SB)/4, $0x3b14aa05
DATA tanhc<>+312(SB)/4, $0x3b14aa05
DATA tanhc<>+316(SB)/4, $0x3b14aa05
DATA tanhc<>+320(SB)/4, $0x3ba059dd
DATA tanhc<>+324(SB)/4, $0x3ba059dd
DATA tanhc<>+328(SB)/4, $0x3ba059dd
DATA tanhc<>+332(SB)/4, $0x3ba059dd
DATA tanhc<>+336(SB)/4, $0x3ba059dd
DATA tanhc<>+340(SB)/4, $0x3ba059dd
DATA tanhc<>+344(SB)/4, $0x3ba059dd
DATA tanhc<>+348(SB)/4, $0x3ba059dd
GLOBL tanhc<>(SB), RODATA|NOPTR, $352

// func tanhAVX2(y, x []float32, s, a, c float32)
// y[i] = a·tanh(s·x[i]) + c for i < len(y)&^7.
TEXT ·tanhAVX2(SB), NOSPLIT, $0-60
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	VBROADCASTSS s+48(FP), Y0
	VBROADCASTSS a+52(FP), Y1
	VBROADCASTSS c+56(FP), Y2
	MOVL $0x40fcf84f, AX
	VMOVD AX, X3
	VBROADCASTSS X3, Y3
	MOVL $0xc0fcf84f, AX
	VMOVD AX, X4
	VBROADCASTSS X4, Y4
	SHRQ $3, CX
	JZ done

loop:
	VMOVUPS (SI), Y5
	VMULPS Y0, Y5, Y5
	VMINPS Y3, Y5, Y5
	VMAXPS Y4, Y5, Y5
	VMULPS Y5, Y5, Y6
	VMOVUPS tanhc<>+0(SB), Y7
	VFMADD213PS tanhc<>+32(SB), Y6, Y7
	VFMADD213PS tanhc<>+64(SB), Y6, Y7
	VFMADD213PS tanhc<>+96(SB), Y6, Y7
	VFMADD213PS tanhc<>+128(SB), Y6, Y7
	VFMADD213PS tanhc<>+160(SB), Y6, Y7
	VFMADD213PS tanhc<>+192(SB), Y6, Y7
	VMULPS Y5, Y7, Y7
	VMOVUPS tanhc<>+224(SB), Y8
	VFMADD213PS tanhc<>+256(SB), Y6, Y8
	VFMADD213PS tanhc<>+288(SB), Y6, Y8
	VFMADD213PS tanhc<>+320(SB), Y6, Y8
	VDIVPS Y8, Y7, Y7
	VFMADD213PS Y2, Y1, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET

// Coefficients of expf's polynomial, c5 down to c0, each replicated 8 times.
DATA expc<>+0(SB)/4, $0x39506967
DATA expc<>+4(SB)/4, $0x39506967
DATA expc<>+8(SB)/4, $0x39506967
DATA expc<>+12(SB)/4, $0x39506967
DATA expc<>+16(SB)/4, $0x39506967
DATA expc<>+20(SB)/4, $0x39506967
DATA expc<>+24(SB)/4, $0x39506967
DATA expc<>+28(SB)/4, $0x39506967
DATA expc<>+32(SB)/4, $0x3ab743ce
DATA expc<>+36(SB)/4, $0x3ab743ce
DATA expc<>+40(SB)/4, $0x3ab743ce
DATA expc<>+44(SB)/4, $0x3ab743ce
DATA expc<>+48(SB)/4, $0x3ab743ce
DATA expc<>+52(SB)/4, $0x3ab743ce
DATA expc<>+56(SB)/4, $0x3ab743ce
DATA expc<>+60(SB)/4, $0x3ab743ce
DATA expc<>+64(SB)/4, $0x3c088908
DATA expc<>+68(SB)/4, $0x3c088908
DATA expc<>+72(SB)/4, $0x3c088908
DATA expc<>+76(SB)/4, $0x3c088908
DATA expc<>+80(SB)/4, $0x3c088908
DATA expc<>+84(SB)/4, $0x3c088908
DATA expc<>+88(SB)/4, $0x3c088908
DATA expc<>+92(SB)/4, $0x3c088908
DATA expc<>+96(SB)/4, $0x3d2aa9c1
DATA expc<>+100(SB)/4, $0x3d2aa9c1
DATA expc<>+104(SB)/4, $0x3d2aa9c1
DATA expc<>+108(SB)/4, $0x3d2aa9c1
DATA expc<>+112(SB)/4, $0x3d2aa9c1
DATA expc<>+116(SB)/4, $0x3d2aa9c1
DATA expc<>+120(SB)/4, $0x3d2aa9c1
DATA expc<>+124(SB)/4, $0x3d2aa9c1
DATA expc<>+128(SB)/4, $0x3e2aaaaa
DATA expc<>+132(SB)/4, $0x3e2aaaaa
DATA expc<>+136(SB)/4, $0x3e2aaaaa
DATA expc<>+140(SB)/4, $0x3e2aaaaa
DATA expc<>+144(SB)/4, $0x3e2aaaaa
DATA expc<>+148(SB)/4, $0x3e2aaaaa
DATA expc<>+152(SB)/4, $0x3e2aaaaa
DATA expc<>+156(SB)/4, $0x3e2aaaaa
DATA expc<>+160(SB)/4, $0x3f000000
DATA expc<>+164(SB)/4, $0x3f000000
DATA expc<>+168(SB)/4, $0x3f000000
DATA expc<>+172(SB)/4, $0x3f000000
DATA expc<>+176(SB)/4, $0x3f000000
DATA expc<>+180(SB)/4, $0x3f000000
DATA expc<>+184(SB)/4, $0x3f000000
DATA expc<>+188(SB)/4, $0x3f000000
GLOBL expc<>(SB), RODATA|NOPTR, $192

// func expNegAVX2(y, x []float32)
// y[i] = expf(x[i]) for i < len(y)&^7, for x[i] ≤ 0 (or NaN): expf's
// formula with the same roundings (no fused multiply-adds), so the results
// equal the scalar function's where the compiler does not fuse either.
TEXT ·expNegAVX2(SB), NOSPLIT, $0-48
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVL $0x3fb8aa3b, AX // log2(e)
	VMOVD AX, X1
	VBROADCASTSS X1, Y1
	MOVL $0x4b400000, AX // 1.5·2²³
	VMOVD AX, X2
	VBROADCASTSS X2, Y2
	MOVL $0x3f318000, AX // ln 2, high part
	VMOVD AX, X3
	VBROADCASTSS X3, Y3
	MOVL $0x395e8083, AX // ln 2, low part (added)
	VMOVD AX, X4
	VBROADCASTSS X4, Y4
	MOVL $0x3f800000, AX // 1
	VMOVD AX, X11
	VBROADCASTSS X11, Y11
	MOVL $0xc2aeac4f, AX // below this, 0
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
	MOVL $127, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	SHRQ $3, CX
	JZ expdone

exploop:
	VMOVUPS (SI), Y0
	VMULPS Y1, Y0, Y5
	VADDPS Y2, Y5, Y5
	VSUBPS Y2, Y5, Y5 // n = round(x·log2 e)
	VMULPS Y3, Y5, Y6
	VSUBPS Y6, Y0, Y6
	VMULPS Y4, Y5, Y7
	VADDPS Y7, Y6, Y6 // r = x − n·ln2
	VMOVUPS expc<>+0(SB), Y7
	VMULPS Y6, Y7, Y7
	VADDPS expc<>+32(SB), Y7, Y7
	VMULPS Y6, Y7, Y7
	VADDPS expc<>+64(SB), Y7, Y7
	VMULPS Y6, Y7, Y7
	VADDPS expc<>+96(SB), Y7, Y7
	VMULPS Y6, Y7, Y7
	VADDPS expc<>+128(SB), Y7, Y7
	VMULPS Y6, Y7, Y7
	VADDPS expc<>+160(SB), Y7, Y7
	VMULPS Y6, Y7, Y7
	VMULPS Y6, Y7, Y7
	VADDPS Y6, Y7, Y7
	VADDPS Y11, Y7, Y7 // p·r² + r + 1
	VCVTTPS2DQ Y5, Y8
	VPADDD Y13, Y8, Y8
	VPSLLD $23, Y8, Y8
	VMULPS Y8, Y7, Y7 // ·2ⁿ
	VCMPPS $1, Y12, Y0, Y9
	VANDNPS Y7, Y9, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ exploop

expdone:
	VZEROUPPER
	RET

// func tanhVecAVX2(y, x, s, a, c []float32)
// y[i] = a[i]·tanh(s[i]·x[i]) + c[i] for i < len(y)&^7 (tanhAVX2 with
// per-element parameters); a NaN input gives a NaN output.
TEXT ·tanhVecAVX2(SB), NOSPLIT, $0-120
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ s_base+48(FP), R8
	MOVQ a_base+72(FP), R9
	MOVQ c_base+96(FP), R10
	MOVL $0x40fcf84f, AX
	VMOVD AX, X3
	VBROADCASTSS X3, Y3
	MOVL $0xc0fcf84f, AX
	VMOVD AX, X4
	VBROADCASTSS X4, Y4
	SHRQ $3, CX
	JZ tvdone

tvloop:
	VMOVUPS (SI), Y5
	VMULPS (R8), Y5, Y5
	VMINPS Y5, Y3, Y5
	VMAXPS Y5, Y4, Y5
	VMULPS Y5, Y5, Y6
	VMOVUPS tanhc<>+0(SB), Y7
	VFMADD213PS tanhc<>+32(SB), Y6, Y7
	VFMADD213PS tanhc<>+64(SB), Y6, Y7
	VFMADD213PS tanhc<>+96(SB), Y6, Y7
	VFMADD213PS tanhc<>+128(SB), Y6, Y7
	VFMADD213PS tanhc<>+160(SB), Y6, Y7
	VFMADD213PS tanhc<>+192(SB), Y6, Y7
	VMULPS Y5, Y7, Y7
	VMOVUPS tanhc<>+224(SB), Y8
	VFMADD213PS tanhc<>+256(SB), Y6, Y8
	VFMADD213PS tanhc<>+288(SB), Y6, Y8
	VFMADD213PS tanhc<>+320(SB), Y6, Y8
	VDIVPS Y8, Y7, Y7
	VMOVUPS (R9), Y1
	VFMADD213PS (R10), Y1, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ tvloop

tvdone:
	VZEROUPPER
	RET
