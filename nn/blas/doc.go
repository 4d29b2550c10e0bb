// Package blas is netshare's seam to a matrix-multiply library. It calls
// OpenBLAS's cblas_sgemm/cblas_dgemm, loaded at run time without cgo, when the
// shared library is present, and gonum's pure-Go BLAS otherwise, so the
// program builds and runs on a machine with no system library installed.
//
// The library is looked up on first use: the path in $NETSHARE_BLAS if set
// (the value "gonum" or "go" forces the pure-Go path), else libopenblas.so.0
// and libopenblas.so on the loader's search path. Info reports which one is in
// use and with how many threads; SetThreads changes the thread count.
//
// All matrices are row-major. Calls are safe from several goroutines at once.
package blas
