//go:build !purego

#include "textflag.h"

// func adamAVX2(w, m, v, g []float32, b1, c1, b2, c2, step, eps float32)
// For i < len(w)&^7: m = b1·m + c1·g; v = b2·v + c2·g²;
// w −= step·m/(√v + eps).
TEXT ·adamAVX2(SB), NOSPLIT, $0-120
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ m_base+24(FP), SI
	MOVQ v_base+48(FP), DX
	MOVQ g_base+72(FP), R8
	VBROADCASTSS b1+96(FP), Y0
	VBROADCASTSS c1+100(FP), Y1
	VBROADCASTSS b2+104(FP), Y2
	VBROADCASTSS c2+108(FP), Y3
	VBROADCASTSS step+112(FP), Y4
	VBROADCASTSS eps+116(FP), Y5
	SHRQ $3, CX
	JZ done

loop:
	VMOVUPS (R8), Y6
	VMOVUPS (SI), Y7
	VMULPS Y0, Y7, Y7
	VFMADD231PS Y6, Y1, Y7
	VMOVUPS Y7, (SI)
	VMOVUPS (DX), Y8
	VMULPS Y2, Y8, Y8
	VMULPS Y6, Y6, Y9
	VFMADD231PS Y9, Y3, Y8
	VMOVUPS Y8, (DX)
	VSQRTPS Y8, Y8
	VADDPS Y5, Y8, Y8
	VDIVPS Y8, Y7, Y7
	VMOVUPS (DI), Y10
	VFNMADD231PS Y7, Y4, Y10
	VMOVUPS Y10, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
