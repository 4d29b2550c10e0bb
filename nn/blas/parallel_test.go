package blas

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestPartsRunEachOnce: Parts calls every part exactly once, outside Lanes
// (fresh goroutines) and inside (offered to idle lanes), including from
// both lanes at once and with more parts than cores.
func TestPartsRunEachOnce(t *testing.T) {
	SetThreads(2)
	defer SetThreads(1)
	check := func(t *testing.T, w int) {
		counts := make([]atomic.Int32, w)
		Parts(w, func(i int) { counts[i].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("w=%d: part %d ran %d times", w, i, c)
			}
		}
	}
	for w := 0; w <= 5; w++ {
		check(t, w)
	}
	for rep := 0; rep < 50; rep++ {
		lane := func() {
			for w := 0; w <= 5; w++ {
				check(t, w)
			}
		}
		Lanes(lane, lane, lane)
	}
}

// TestLanesRunAllOnce: every lane runs once, with one and two threads, and
// Lanes called from inside a lane runs its functions in order.
func TestLanesRunAllOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		SetThreads(threads)
		var ran [4]atomic.Int32
		var order []int
		Lanes(func() { ran[0].Add(1) }, func() {
			ran[1].Add(1)
			Lanes(func() { order = append(order, 0) }, func() { order = append(order, 1) })
		}, func() { ran[2].Add(1) }, func() { ran[3].Add(1) })
		for i := range ran {
			if c := ran[i].Load(); c != 1 {
				t.Fatalf("threads=%d: lane %d ran %d times", threads, i, c)
			}
		}
		if len(order) != 2 || order[0] != 0 || order[1] != 1 {
			t.Fatalf("threads=%d: nested lanes ran as %v, want [0 1]", threads, order)
		}
	}
	SetThreads(1)
}

// splittingBackends runs f with each backend that splits products across
// goroutines: the own kernels, and OpenBLAS when it loads.
func splittingBackends(t *testing.T, f func(t *testing.T)) {
	for _, be := range []Backend{Own, OpenBLAS} {
		t.Run(be.String(), func(t *testing.T) {
			withBackend(t, be)
			f(t)
		})
	}
}

// TestSplitProductsSameInLanes: a shared product large enough to be split
// gives the same bits inside a lane (where its halves may run on either
// core) as outside, with the same thread count, whichever lane is faster.
func TestSplitProductsSameInLanes(t *testing.T) { splittingBackends(t, splitProductsSameInLanes) }

func splitProductsSameInLanes(t *testing.T) {
	SetThreads(2)
	defer SetThreads(1)
	r := rand.New(rand.NewPCG(7, 7))
	const m, n, k = 300, 512, 100 // 15M multiply-adds: split in two
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	small := randSlice(r, 64*64)
	for rep := 0; rep < 20; rep++ {
		got := make([]float32, m*n)
		busy := make([]float32, 64*64)
		Lanes(func() {
			SgemmShared(false, false, m, n, k, 1, a, k, b, n, 0, got, n)
		}, func() {
			// A short lane on the other core, so that it is idle (and
			// takes the other half) in some repetitions and not others.
			for i := 0; i < rep%4; i++ {
				Sgemm(false, false, 64, 64, 64, 1, small, 64, small, 64, 0, busy, 64)
			}
		})
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("rep %d: element %d is %v in a lane, %v outside", rep, i, got[i], want[i])
			}
		}
	}
}

// TestLanesSplitOnlySharedProducts: inside Lanes a large Sgemm runs as one
// call and a large SgemmShared as parts.
func TestLanesSplitOnlySharedProducts(t *testing.T) {
	splittingBackends(t, lanesSplitOnlySharedProducts)
}

func lanesSplitOnlySharedProducts(t *testing.T) {
	SetThreads(2)
	defer SetThreads(1)
	r := rand.New(rand.NewPCG(8, 8))
	const m, n, k = 300, 512, 100
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	parts := func(f func()) int {
		// Parts offered while lanes run are left in the queue when the
		// other lane is busy: count them.
		before := len(offered)
		f()
		return len(offered) - before
	}
	var plain, shared int
	block := make(chan struct{})
	Lanes(func() {
		plain = parts(func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
		shared = parts(func() { SgemmShared(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
		close(block)
	}, func() { <-block })
	if plain != 0 || shared != 1 {
		t.Fatalf("inside lanes: Sgemm offered %d parts, SgemmShared %d; want 0 and 1", plain, shared)
	}
}
