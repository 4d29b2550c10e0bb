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
