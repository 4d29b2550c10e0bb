//go:build !amd64 || purego

package ip2vec

// useKernel is false: this platform decodes with the portable search.
var useKernel = false

func kernelOK(dim int) bool { return false }

func argmaxBlock(panels []float32, npanels, dim, base int, q []float32, nq int, best []float32, idx []int32) {
	panic("ip2vec: no vectorised decoding kernel on this platform")
}

func topkBlock(panels []float32, npanels, dim, first int, q []float32, nq int, thr []float32, ends []int32, buf *topkBuf, lim int) int {
	panic("ip2vec: no vectorised top-k kernel on this platform")
}
