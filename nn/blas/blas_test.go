package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// naive computes the product in float64 with plain loops, as the reference.
func naive(tA, tB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = alpha*s + beta*float64(c[i*ldc+j])
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type gemmCase struct {
	tA, tB      bool
	m, n, k     int
	pad         int
	alpha, beta float32
}

// dims returns the row counts of A and B as stored (op undone) and the
// leading dimensions of A, B and C, each padded by c.pad.
func (c gemmCase) dims() (ar, br, lda, ldb, ldc int) {
	ar, ac := c.m, c.k
	if c.tA {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.tB {
		br, bc = c.n, c.k
	}
	return ar, br, ac + c.pad, bc + c.pad, c.n + c.pad
}

func cases() []gemmCase {
	var cs []gemmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			cs = append(cs,
				gemmCase{tA, tB, 7, 5, 3, 0, 1, 0},
				gemmCase{tA, tB, 33, 17, 65, 3, 0.5, -1.25},
				gemmCase{tA, tB, 1, 129, 40, 1, -2, 0.75},
				gemmCase{tA, tB, 64, 1, 300, 0, 1, 1},
				// large enough to be split across goroutines, tall and wide
				gemmCase{tA, tB, 301, 97, 120, 2, 0.5, 0.25},
				gemmCase{tA, tB, 90, 257, 131, 1, 1, -1},
			)
		}
	}
	return cs
}

func runCase(t *testing.T, r *rand.Rand, c gemmCase) {
	t.Helper()
	ar, br, lda, ldb, ldc := c.dims()
	a := randSlice(r, ar*lda)
	b := randSlice(r, br*ldb)
	cm := randSlice(r, c.m*ldc)
	want := naive(c.tA, c.tB, c.m, c.n, c.k, float64(c.alpha), a, lda, b, ldb, float64(c.beta), cm, ldc)
	got := append([]float32(nil), cm...)
	Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.n; j++ {
			w := want[i*c.n+j]
			g := float64(got[i*ldc+j])
			if math.Abs(g-w) > 1e-4*(1+math.Abs(w))*math.Sqrt(float64(c.k)) {
				t.Fatalf("%+v: C[%d,%d] = %v, want %v", c, i, j, g, w)
			}
		}
		// Padding columns must be untouched.
		for j := c.n; j < ldc; j++ {
			if got[i*ldc+j] != cm[i*ldc+j] {
				t.Fatalf("%+v: padding C[%d,%d] changed", c, i, j)
			}
		}
	}
}

func withBackend(t *testing.T, b Backend) {
	t.Helper()
	prev, err := Use(b)
	if err != nil {
		t.Skipf("backend %v: %v", b, err)
	}
	t.Cleanup(func() { Use(prev) })
}

func TestSgemmGonum(t *testing.T) {
	withBackend(t, Gonum)
	if Info().Backend != Gonum {
		t.Fatalf("Info says %v after forcing gonum", Info())
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases() {
		runCase(t, r, c)
	}
}

func TestSgemmOpenBLAS(t *testing.T) {
	if !Available() {
		t.Skipf("openblas not installed: %v", Info())
	}
	withBackend(t, OpenBLAS)
	defer SetThreading(Split)
	defer SetThreads(1)
	for _, mode := range []Threading{Split, Internal} {
		for _, n := range []int{1, 2, 3} {
			SetThreading(mode)
			SetThreads(n)
			d := Info()
			if d.Backend != OpenBLAS || d.Threads != n || d.Threading != mode || d.Library == "" {
				t.Fatalf("after SetThreads(%d) in %v: Info = %+v", n, mode, d)
			}
			r := rand.New(rand.NewPCG(3, 4))
			for _, c := range cases() {
				runCase(t, r, c)
			}
		}
	}
}

// TestBackendsAgree compares the backends on the same product, including
// non-trivial float32 alpha and beta (which purego passes to OpenBLAS in
// SSE registers).
func TestBackendsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 50, 70, 90
	a, b, c0 := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
	res := map[Backend][]float32{}
	for _, be := range []Backend{Gonum, Own, OpenBLAS} {
		prev, err := Use(be)
		if err != nil {
			t.Logf("%v: %v", be, err)
			continue
		}
		c := append([]float32(nil), c0...)
		Sgemm(false, true, m, n, k, 0.3, a, k, b, k, 1.7, c, n)
		Use(prev)
		res[be] = c
	}
	for be, c := range res {
		for i := range c0 {
			if d := math.Abs(float64(res[Gonum][i] - c[i])); d > 1e-4 {
				t.Fatalf("element %d: gonum %v, %v %v", i, res[Gonum][i], be, c[i])
			}
		}
	}
}

// TestConcurrentCalls runs products from several goroutines at once, with
// one and two OpenBLAS threads, and checks every result.
func TestConcurrentCalls(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprint(threads), func(t *testing.T) {
			SetThreads(threads)
			defer SetThreads(1)
			// Sizes above the split threshold run split products from
			// several goroutines at once.
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := 0; g < 6; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 9))
					m, n, k := 40+g*53, 120-g*7, 200+g*131
					a, b := randSlice(r, m*k), randSlice(r, k*n)
					want := naive(false, false, m, n, k, 1, a, k, b, n, 0, make([]float32, m*n), n)
					for it := 0; it < 10; it++ {
						c := make([]float32, m*n)
						Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
						for i := range c {
							if math.Abs(float64(c[i])-want[i]) > 1e-3*(1+math.Abs(want[i])) {
								errs <- fmt.Errorf("goroutine %d iteration %d: C[%d] = %v, want %v", g, it, i, c[i], want[i])
								return
							}
						}
					}
				}(g)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}

func TestDgemm(t *testing.T) {
	for _, be := range []Backend{Gonum, Own, OpenBLAS} {
		prev, err := Use(be)
		if err != nil {
			continue
		}
		a := []float64{1, 2, 3, 4, 5, 6} // 2×3
		b := []float64{1, 0, 0, 1, 1, 1} // 3×2
		c := []float64{10, 20, 30, 40}
		Dgemm(false, false, 2, 2, 3, 2, a, 3, b, 2, 1, c, 2)
		want := []float64{10 + 2*4, 20 + 2*5, 30 + 2*10, 40 + 2*11}
		Use(prev)
		for i := range want {
			if c[i] != want[i] {
				t.Fatalf("%v: got %v, want %v", be, c, want)
			}
		}
	}
}

func TestBadDimensionsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short matrix did not panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func TestMissingLibraryIsAnError(t *testing.T) {
	if _, err := openOpenBLAS([]string{"/nonexistent/libopenblas.so.0"}); err == nil {
		t.Fatal("opening a missing library succeeded")
	}
	if _, err := openOpenBLAS([]string{"libc.so.6"}); err == nil {
		t.Fatal("a library without sgemm_ was accepted")
	}
}

func TestDescriptionString(t *testing.T) {
	d := Description{Backend: Gonum, Threads: 2, LoadError: "not found"}
	if s := d.String(); s == "" || Info().String() == "" {
		t.Fatal("empty description")
	}
}
