package blas

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel work comes in two shapes:
//
//   - Parts: one operation (a product, an element-wise loop) cut into w
//     independent parts that write disjoint data. The cut depends only on
//     the sizes and the thread count, never on timing, so results are
//     deterministic.
//   - Lanes: independent operations run side by side, one per core (e.g.
//     one critic's update next to the other's), for work made of products
//     too small to split well.
//
// Outside Lanes, Parts runs parts 1..w−1 on fresh goroutines and part 0 on
// the caller's. Inside Lanes every core already has a lane to run, so Parts
// offers parts 1..w−1 to whichever lane is idle (one that has finished its
// own work and is waiting for the others), runs part 0, then runs itself any
// part no one has taken: a lane that finishes early helps the others with
// their remaining work instead of waiting. Inside Lanes products are split
// only when asked for (SgemmShared); element-wise loops always are.

// part is one offered part of a Parts call.
type part struct {
	f     func(int)
	i     int
	taken atomic.Bool
	wg    *sync.WaitGroup
}

func (p *part) tryRun() {
	if p.taken.CompareAndSwap(false, true) {
		p.f(p.i)
		p.wg.Done()
	}
}

var (
	lanesOn atomic.Int32 // 1 while Lanes runs its lanes concurrently
	offered = make(chan *part, 4096)
)

// Parts calls f(0), ..., f(w−1), possibly concurrently (see above), and
// returns when all have returned. The calls must be independent.
func Parts(w int, f func(i int)) {
	switch {
	case w <= 0:
		return
	case w == 1:
		f(0)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	if lanesOn.Load() == 0 {
		for i := 1; i < w; i++ {
			go func() {
				defer wg.Done()
				f(i)
			}()
		}
		f(0)
		wg.Wait()
		return
	}
	ps := make([]part, w-1)
	for i := range ps {
		p := &ps[i]
		p.f, p.i, p.wg = f, i+1, &wg
		select {
		case offered <- p:
		default: // queue full: run it below
		}
	}
	f(0)
	for i := range ps {
		ps[i].tryRun()
	}
	wg.Wait()
}

// Lanes runs the functions concurrently, one per core up to Threads() (the
// calling goroutine runs the first), and returns when all have returned;
// while they run, a lane that is done helps the others with their Parts.
// They must be independent of each other. With one thread, with OpenBLAS's
// own threading, or when called from inside a lane, they run one after the
// other in order.
func Lanes(fs ...func()) {
	w := min(Threads(), runtime.GOMAXPROCS(0))
	internal := current() == OpenBLAS && Threading(threading.Load()) == Internal
	if w < 2 || len(fs) < 2 || internal || !lanesOn.CompareAndSwap(0, 1) {
		for _, f := range fs {
			f()
		}
		return
	}
	defer lanesOn.Store(0)
	var left atomic.Int32
	left.Store(int32(len(fs)))
	allDone := make(chan struct{})
	finish := func() {
		if left.Add(-1) == 0 {
			close(allDone)
		}
	}
	help := func() {
		for {
			select {
			case p := <-offered:
				p.tryRun()
			case <-allDone:
				return
			}
		}
	}
	var wg sync.WaitGroup
	// Lanes beyond the core count queue behind the others: each helper
	// goroutine runs the lanes handed to it in turn.
	lanes := make(chan func(), len(fs))
	for _, f := range fs[1:] {
		lanes <- f
	}
	close(lanes)
	for g := 1; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range lanes {
				f()
				finish()
			}
			help()
		}()
	}
	fs[0]()
	finish()
	for f := range lanes {
		f()
		finish()
	}
	help()
	wg.Wait()
	// Parts left in the queue were all run by their callers.
	for {
		select {
		case <-offered:
		default:
			return
		}
	}
}
