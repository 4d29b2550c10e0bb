package blas

import (
	"sync"
	"unsafe"
)

// netshare's own sgemm: the product is cut into blocks that fit the caches,
// the blocks of op(A) and op(B) are copied ("packed") into contiguous
// panels, and a register-blocked micro-kernel multiplies an mr-row panel of
// A by an nr-column panel of B into an mr×nr tile of C. The four transpose
// cases differ only in how the panels are packed.
//
// Loop order (Goto's): for each nc-column block of C, for each kc-deep
// block of the k dimension, pack that block of op(B) (kc×nc, L3/L2); for
// each mc-row block, pack the block of op(A) (mc×kc, L2); then for each
// nr-column micro-panel of B (kc×nr, L1) run the kernel down the mc rows.
//
// Every element of C is the same sequence of floating-point operations
// wherever its tile lies: its own accumulator summed in k order within a kc
// block, then C = alpha·acc + beta·C (two products rounded separately, then
// the sum) for the first block and C = alpha·acc + C for the others. The kc
// blocks depend only on k, so a product cut into parts (rows or columns of
// C, see splitOwn) gives the same bits as the whole, with any thread count.

// kernel is one family of micro-kernels and the blocking that suits it.
type kernel struct {
	name string
	// tiles are the micro-kernels, one per tile height, tallest first: a
	// product uses the one that pads its rows least (see pick).
	tiles []tile
	nr    int // tile columns
	kc    int // largest k block (the B micro-panel, kc×nr, stays in L1 or L2)
	mc    int // rows of the packed A block, about (mc×kc stays in L2)
	nc    int // columns of the packed B block (multiple of nr)
	// direct says the micro-kernels read B in place (any ldb), which
	// products with few rows do when B is not transposed (see directMaxM).
	direct bool
	// cpuOK reports whether the CPU runs the kernel (nil: always).
	cpuOK func() bool
	// peak runs n rounds of peakFLOPs floating-point operations as
	// independent register-only FMAs (nil for the generic kernel): the
	// ceiling of the kernel's speed, for the benchmarks.
	peak      func(n int)
	peakFLOPs float64
	// packA and packB pack blocks of op(A) and op(B) (see packA and
	// packB below, the defaults when nil).
	packA, packB func(t bool, x []float32, ld, r0, rn, c0, cn, w int, dst []float32)
}

// tile is a micro-kernel of mr rows.
type tile struct {
	mr int
	// micro sets the mr×nr tile at c (row stride ldc) to alpha·acc +
	// beta·c, where acc is the product of the packed panel a (kc×mr,
	// k-major) and the kc×nr block b of B, whose rows are ldb apart (nr
	// when packed); with beta == 0, c is not read.
	micro func(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)
}

// pick returns the tile height for m rows of C cut into w row blocks of
// whole tiles (w = 1: not cut by rows): the one whose largest block,
// padded to whole tiles, is shortest, unless a taller one is within 2% of
// it (taller tiles load less per multiply-add). Which one runs does not
// change the result (see above).
func (kern *kernel) pick(m, w int) *tile {
	best, bestRows := &kern.tiles[0], -1
	for i := range kern.tiles {
		t := &kern.tiles[i]
		tiles := (m + t.mr - 1) / t.mr
		rows := (tiles + w - 1) / w * t.mr
		if bestRows < 0 || rows*50 < bestRows*49 {
			best, bestRows = t, rows
		}
	}
	return best
}

// directMaxM is the most rows of C for which an untransposed B is read in
// place rather than packed: packing B costs a write and a read of each of
// its elements, which few rows of A do not repay (the kernel then reads B
// from L2 rather than L1).
var directMaxM = 640

// packBufs are one goroutine's packing buffers, 64-byte aligned.
type packBufs struct {
	a, b, tile []float32
	rawA, rawB []float32
}

var bufPool = sync.Pool{New: func() any { return new(packBufs) }}

// aligned returns a slice of n floats starting on a 64-byte boundary,
// reusing *raw when it is large enough.
func aligned(raw *[]float32, n int) []float32 {
	if cap(*raw) < n+16 {
		*raw = make([]float32, n+16)
	}
	r := (*raw)[:n+16]
	off := 0
	if rem := uintptr(unsafe.Pointer(&r[0])) % 64; rem != 0 {
		off = int(64-rem) / 4
	}
	return r[off : off+n]
}

// blocking returns the k block size: the k range is cut into the fewest
// blocks of at most kern.kc, of equal size (the last possibly shorter).
func (kern *kernel) kBlock(k int) int {
	nb := (k + kern.kc - 1) / kern.kc
	return (k + nb - 1) / nb
}

// gemm computes C = alpha·op(A)·op(B) + beta·C with the kernel on one
// goroutine. m, n, k ≥ 1 and the arguments have been checked.
func (kern *kernel) gemm(t *tile, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if alpha == 0 {
		scaleC32(m, n, beta, c, ldc)
		return
	}
	mr, nr := t.mr, kern.nr
	direct := kern.direct && !tB && m <= directMaxM
	kb := kern.kBlock(k)
	mc := min(max(kern.mc/mr, 1)*mr, roundUp(m, mr))
	nc := min(kern.nc, roundUp(n, nr))
	bufs := bufPool.Get().(*packBufs)
	defer bufPool.Put(bufs)
	pa := aligned(&bufs.rawA, mc*kb)
	pb := aligned(&bufs.rawB, nc*kb)
	if len(bufs.tile) < mr*nr {
		bufs.tile = make([]float32, mr*nr)
	}
	scratch := bufs.tile[:mr*nr]
	pkA, pkB := kern.packA, kern.packB
	if pkA == nil {
		pkA = packA
	}
	if pkB == nil {
		pkB = packB
	}
	for jc := 0; jc < n; jc += nc {
		ncur := min(nc, n-jc)
		for pc := 0; pc < k; pc += kb {
			kcur := min(kb, k-pc)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			bp := bPanels{packed: pb, nr: nr}
			if direct {
				// Whole panels are read in place; a last, narrower
				// one is packed (the kernel reads nr columns).
				bp.src, bp.off, bp.ld, bp.whole = b, pc*ldb+jc, ldb, ncur/nr*nr
				if bp.whole < ncur {
					pkB(tB, b, ldb, pc, kcur, jc+bp.whole, ncur-bp.whole, nr, pb)
				}
			} else {
				pkB(tB, b, ldb, pc, kcur, jc, ncur, nr, pb)
			}
			for ic := 0; ic < m; ic += mc {
				mcur := min(mc, m-ic)
				pkA(tA, a, lda, ic, mcur, pc, kcur, mr, pa)
				kern.macro(t, mcur, ncur, kcur, alpha, pa, &bp, bet, c[ic*ldc+jc:], ldc, scratch)
			}
		}
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// bPanels locates the kc×nr panels of B for macro: packed one after the
// other, or (the first whole ones) in place in src from off, rows ld apart,
// with the rest packed.
type bPanels struct {
	packed []float32
	nr     int
	src    []float32
	off    int
	ld     int
	whole  int // columns read in place
}

// panel returns the panel of columns [jr, jr+nr) and its row stride.
func (bp *bPanels) panel(jr, kc int) (*float32, int) {
	if jr < bp.whole {
		return &bp.src[bp.off+jr], bp.ld
	}
	return &bp.packed[(jr-bp.whole)*kc], bp.nr
}

// macro multiplies the packed mcur×kc block of A by the packed kc×ncur
// block of B into C, one tile at a time; tiles that stick out of C go
// through the scratch tile.
func (kern *kernel) macro(t *tile, mcur, ncur, kc int, alpha float32, pa []float32, pb *bPanels, beta float32, c []float32, ldc int, scratch []float32) {
	mr, nr, micro := t.mr, kern.nr, t.micro
	for jr := 0; jr < ncur; jr += nr {
		bp, ldb := pb.panel(jr, kc)
		nrr := min(nr, ncur-jr)
		for ir := 0; ir < mcur; ir += mr {
			ap := &pa[ir*kc]
			mrr := min(mr, mcur-ir)
			if mrr == mr && nrr == nr {
				micro(kc, ap, bp, &c[ir*ldc+jr], ldb, ldc, alpha, beta)
				continue
			}
			micro(kc, ap, bp, &scratch[0], ldb, nr, 1, 0)
			for i := 0; i < mrr; i++ {
				dst := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nrr]
				src := scratch[i*nr : i*nr+nrr]
				if beta == 0 {
					for j, t := range src {
						dst[j] = alpha * t
					}
					continue
				}
				for j, t := range src {
					// Rounded as the kernels round: the two products
					// separately, then the sum (the conversions keep
					// the compiler from fusing them).
					dst[j] = float32(alpha*t) + float32(beta*dst[j])
				}
			}
		}
	}
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as ceil(mc/mr) panels of
// kc×mr floats (for each p, mr consecutive rows), padding the last panel's
// missing rows with zeros. Row i of op(A) is column i of op(A)ᵀ, so this is
// packB of op(A)ᵀ.
func packA(tA bool, a []float32, lda, i0, mc, p0, kc, mr int, dst []float32) {
	packB(!tA, a, lda, p0, kc, i0, mc, mr, dst)
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as ceil(nc/nr) panels of
// kc×nr floats (for each p, nr consecutive columns), padding the last
// panel's missing columns with zeros.
func packB(tB bool, b []float32, ldb, p0, kc, j0, nc, nr int, dst []float32) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+kc*nr]
		if !tB {
			// op(B)[p, j] = B[p, j]: each k step is a contiguous run.
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr : (p0+p)*ldb+j0+jr+cols]
				d := panel[p*nr : p*nr+nr]
				copy(d, src)
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p, j] = B[j, p]: column j of op(B) is row j of B.
		for j := 0; j < cols; j++ {
			src := b[(j0+jr+j)*ldb+p0 : (j0+jr+j)*ldb+p0+kc]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < kc; p++ {
				panel[p*nr+j] = 0
			}
		}
	}
}
