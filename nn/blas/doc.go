// Package blas is netshare's seam to the float32 matrix multiply (sgemm)
// that its layers run on, with three backends behind one Sgemm:
//
//   - Own (the default): netshare's own sgemm. Blocks of op(A) and op(B)
//     are packed into contiguous panels sized to the caches, and a
//     register-blocked micro-kernel in Go assembly multiplies them: on
//     amd64 an AVX-512 kernel (tiles of 8 to 14 rows by 32 columns in zmm
//     accumulators) or, on CPUs without AVX-512, an AVX2/FMA kernel (6×16);
//     elsewhere, and with the purego build tag, a pure-Go 4×4 kernel. The
//     kernel is picked from the CPU's features at start-up
//     (golang.org/x/sys/cpu). All four transpose cases are folded into the
//     packing; an untransposed B of a product with few rows is read in
//     place. Every element of C is computed by the same sequence of
//     operations wherever its tile lies, so a product split across cores
//     gives the same bits as on one core. gen_kernels.go writes the
//     assembly (go generate).
//   - OpenBLAS: a libopenblas shared library loaded at run time without
//     cgo (purego), when asked for.
//   - Gonum: gonum's pure-Go BLAS, the reference fallback.
//
// $NETSHARE_BLAS selects one on first use: unset for Own with the best
// kernel; "avx512", "avx2" or "generic" for Own with that kernel; "openblas"
// for OpenBLAS from the loader's search path, or the path of a
// libopenblas.so; "gonum" for gonum. When the choice cannot be honoured
// (no such library, a kernel the CPU lacks) Own serves and Info says why.
// Info reports the backend, kernel and threads (its String is what `run`
// logs first); Use and UseKernel switch for tests and comparisons. Dgemm
// (float64, for gradient checks) is gonum's except on OpenBLAS.
//
// SetThreads sets how many cores one product may use: large products are
// cut into row or column blocks of whole tiles run on goroutines (Parts),
// and Lanes runs independent work side by side, offering the parts of
// SgemmShared products to a lane that is idle.
//
// All matrices are row-major. Calls are safe from several goroutines at once.
package blas
