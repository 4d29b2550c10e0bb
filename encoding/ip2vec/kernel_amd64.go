//go:build amd64 && !purego

package ip2vec

import "golang.org/x/sys/cpu"

// useKernel enables the AVX-512 decoding kernel (tests turn it off to check
// the portable path).
var useKernel = cpu.X86.HasAVX512F

// kernelOK reports whether decoders of vector size dim use the kernel.
func kernelOK(dim int) bool { return useKernel && dim <= lanes }

// argmaxPanelsAVX512 scans npanels panels of lanes candidates (dim rows of
// lanes floats each) for the query q (zero-padded to lanes components) and
// writes, per lane, the best score and the panel (counted from 0) that gave
// it; a lane whose scores are all NaN reports −Inf and panel 0.
//
//go:noescape
func argmaxPanelsAVX512(panels *float32, npanels int, dim int, q *[lanes]float32, best *[lanes]float32, idx *[lanes]int32)

func argmaxPanels(panels *float32, npanels int, dim int, q *[lanes]float32, best *[lanes]float32, idx *[lanes]int32) {
	argmaxPanelsAVX512(panels, npanels, dim, q, best, idx)
}
