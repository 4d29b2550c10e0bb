//go:build !amd64 || purego

package ip2vec

// useKernel is false: this platform decodes with the portable search.
var useKernel = false

func kernelOK(dim int) bool { return false }

func argmaxPanels(panels *float32, npanels int, dim int, q *[lanes]float32, best *[lanes]float32, idx *[lanes]int32) {
	panic("ip2vec: no vectorised decoding kernel on this platform")
}
