package nn

import (
	"runtime"

	"github.com/netshare-go/netshare/nn/blas"
)

// SetThreads sets how many cores training and generation may use (n < 1
// means 1): the block count of large matrix products (blas.SetThreads) and
// the goroutines of nn's own element-wise loops (LSTM gates, heads, Adam).
// The default is 1. Results do not depend on n for nn's own loops, whose
// blocks are disjoint; BLAS products may differ in the last bits.
// It is the same setting as blas.SetThreads.
func SetThreads(n int) { blas.SetThreads(max(n, 1)) }

// Threads returns the value set by SetThreads (or blas.SetThreads).
func Threads() int { return blas.Threads() }

// ParallelRange is parallelRange for other packages.
func ParallelRange(n, minPer int, f func(lo, hi int)) { parallelRange(n, minPer, f) }

// parallelRange calls f on blocks of [0, n) on up to Threads() goroutines
// (the calling one included, never more than GOMAXPROCS) when n is at least
// minPer per goroutine, and on the whole range otherwise. Blocks are
// disjoint, so f may write to its own block without synchronisation; they
// depend only on n, minPer and the thread count. Inside Lanes the blocks are
// offered to idle lanes (blas.Parts).
func parallelRange(n, minPer int, f func(lo, hi int)) {
	w := min(blas.Threads(), runtime.GOMAXPROCS(0), n/max(minPer, 1))
	if w < 2 {
		f(0, n)
		return
	}
	blas.Parts(w, func(p int) { f(n*p/w, n*(p+1)/w) })
}

// Lanes runs independent functions side by side, one per core (blas.Lanes):
// with one thread, one after the other in order.
func Lanes(fs ...func()) { blas.Lanes(fs...) }
