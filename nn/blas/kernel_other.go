//go:build !amd64 || purego

package blas

// archKernels lists this architecture's assembly kernels: none, the
// generic kernel serves.
func archKernels() []*kernel { return nil }
