//go:build amd64 && !purego

package ip2vec

import "golang.org/x/sys/cpu"

// useKernel enables the AVX-512 decoding kernel (tests turn it off to check
// the portable path).
var useKernel = cpu.X86.HasAVX512F

// kernelOK reports whether decoders of vector size dim use the kernel.
func kernelOK(dim int) bool { return useKernel && dim <= lanes }

// argmaxBlockAVX512 matches nq queries (dim floats each, consecutive at q)
// against npanels panels (dim rows of lanes floats each, numbered from
// base). For each query i it updates the per-lane running maximum
// best[i·lanes+l] and the panel number idx[i·lanes+l] that gave it,
// replacing them only for a strictly greater score.
//
//go:noescape
func argmaxBlockAVX512(panels *float32, npanels int, dim int, base int, q *float32, nq int, best *float32, idx *int32)

func argmaxBlock(panels []float32, npanels, dim, base int, q []float32, nq int, best []float32, idx []int32) {
	if nq == 0 || npanels == 0 {
		return
	}
	_ = panels[npanels*dim*lanes-1]
	_ = q[nq*dim-1]
	_ = best[nq*lanes-1]
	_ = idx[nq*lanes-1]
	argmaxBlockAVX512(&panels[0], npanels, dim, base, &q[0], nq, &best[0], &idx[0])
}

// topkBlockAVX512 matches queries (dim floats each, consecutive at q)
// against npanels panels (dim rows of lanes floats each) whose first
// candidate is number first. For each query i in turn it reports, at the
// end of buf's arrays, the score and number of every candidate (padding
// lanes included) scoring strictly above thr[i], in ascending order, and
// sets ends[i] to the number of entries reported so far. It starts a
// query only while at most lim bytes of buf.s are used, so that a whole
// block's reports still fit, and returns the number of queries done
// (at most nq, at least 1 when lim ≥ 0).
//
//go:noescape
func topkBlockAVX512(panels *float32, npanels int, dim int, first int, q *float32, nq int, thr *float32, ends *int32, buf *topkBuf, lim int) int

func topkBlock(panels []float32, npanels, dim, first int, q []float32, nq int, thr []float32, ends []int32, buf *topkBuf, lim int) int {
	if nq == 0 || npanels == 0 {
		clear(ends[:nq])
		return nq
	}
	_ = panels[npanels*dim*lanes-1]
	_ = q[nq*dim-1]
	_ = thr[nq-1]
	_ = ends[nq-1]
	if lim < 0 || lim > topkCap*4-npanels*lanes*4 {
		panic("ip2vec: top-k kernel limit out of range")
	}
	return topkBlockAVX512(&panels[0], npanels, dim, first, &q[0], nq, &thr[0], &ends[0], buf, lim)
}
