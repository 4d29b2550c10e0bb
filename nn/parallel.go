package nn

import (
	"runtime"
	"sync"
)

// parallelRange calls f on blocks of [0, n) on up to GOMAXPROCS goroutines
// (the calling one included) when n is at least minPer per goroutine, and
// on the whole range otherwise. Blocks are disjoint, so f may write to its
// own block without synchronisation; the result does not depend on the
// number of goroutines.
func parallelRange(n, minPer int, f func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), n/max(minPer, 1))
	if w < 2 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := 1; p < w; p++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(n*p/w, n*(p+1)/w)
	}
	f(0, n/w)
	wg.Wait()
}
