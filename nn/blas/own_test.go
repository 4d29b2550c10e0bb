package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// forEachKernel runs f with each of the Own backend's kernels selected (and
// the Own backend forced), skipping those the CPU lacks.
func forEachKernel(t *testing.T, f func(t *testing.T, k *kernel)) {
	for _, k := range allKernels() {
		t.Run(k.name, func(t *testing.T) {
			if !k.supported() {
				t.Skipf("this CPU lacks the %s kernel's instructions", k.name)
			}
			withBackend(t, Own)
			prev, err := UseKernel(k.name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { UseKernel(prev) })
			if d := Info(); d.Backend != Own || d.Kernel != k.name {
				t.Fatalf("Info = %+v after selecting %s", d, k.name)
			}
			f(t, k)
		})
	}
}

// checkProduct runs one product through Sgemm and compares it with the
// float64 reference, within the rounding bound of float32 sums: each
// element may be off by about (k+2)·2⁻²⁴ times the sum of the magnitudes
// of its terms. Padding in C (columns past n) must be left alone.
func checkProduct(t *testing.T, r *rand.Rand, c gemmCase) {
	t.Helper()
	checkRows(t, r, c, 0)
}

// checkRows is checkProduct comparing only about `sample` rows of C with
// the reference (all of them when sample is 0), for large products.
func checkRows(t *testing.T, r *rand.Rand, c gemmCase, sample int) {
	t.Helper()
	ar, br, lda, ldb, ldc := c.dims()
	a := randSlice(r, max(ar*lda-c.pad, 0))
	b := randSlice(r, max(br*ldb-c.pad, 0))
	cm := randSlice(r, c.m*ldc)
	rows := make([]int, 0, c.m)
	for i := 0; i < c.m; i++ {
		if sample == 0 || i == c.m-1 || r.IntN(c.m) < sample {
			rows = append(rows, i)
		}
	}
	// The reference for those rows: op(A) restricted to them.
	sa := make([]float32, len(rows)*c.k)
	for ri, i := range rows {
		for p := 0; p < c.k; p++ {
			if c.tA {
				sa[ri*c.k+p] = a[p*lda+i]
			} else {
				sa[ri*c.k+p] = a[i*lda+p]
			}
		}
	}
	sc := make([]float32, len(rows)*c.n)
	for ri, i := range rows {
		copy(sc[ri*c.n:(ri+1)*c.n], cm[i*ldc:i*ldc+c.n])
	}
	want := naive(false, c.tB, len(rows), c.n, c.k, float64(c.alpha), sa, c.k, b, ldb, float64(c.beta), sc, c.n)
	// The magnitudes: the same product of |A| and |B|.
	abs := func(s []float32) []float32 {
		o := make([]float32, len(s))
		for i, v := range s {
			o[i] = float32(math.Abs(float64(v)))
		}
		return o
	}
	mag := naive(false, c.tB, len(rows), c.n, c.k, math.Abs(float64(c.alpha)), abs(sa), c.k, abs(b), ldb, math.Abs(float64(c.beta)), abs(sc), c.n)
	got := append([]float32(nil), cm...)
	Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
	for ri, i := range rows {
		for j := 0; j < c.n; j++ {
			w, g := want[ri*c.n+j], float64(got[i*ldc+j])
			tol := float64(c.k+3)*0x1p-23*mag[ri*c.n+j] + 1e-30
			if math.Abs(g-w) > tol || math.IsNaN(g) {
				t.Fatalf("%+v: C[%d,%d] = %v, want %v (±%.3g)", c, i, j, g, w, tol)
			}
		}
	}
	for i := 0; i < c.m; i++ {
		for j := c.n; j < ldc && i*ldc+j < len(got); j++ {
			if got[i*ldc+j] != cm[i*ldc+j] {
				t.Fatalf("%+v: padding C[%d,%d] changed", c, i, j)
			}
		}
	}
}

// dims are sizes around the kernels' tile and block sizes, and primes.
var dims = []int{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 23, 31, 32, 33, 37, 47, 48, 63, 64, 65, 97, 100, 101, 127, 131, 191, 197, 256, 257, 263, 311}

var scalars = []float32{0, 1, -1, 0.5, 1.75}

// TestOwnRandomShapes: random shapes with every transpose combination,
// alpha and beta among 0, ±1 and others, and padded leading dimensions,
// with one and two threads (two split the larger products into blocks),
// with B read in place where the kernel may and always packed.
func TestOwnRandomShapes(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	forEachKernel(t, func(t *testing.T, k *kernel) {
		r := rand.New(rand.NewPCG(11, 12))
		defer func(dm int) { directMaxM = dm }(directMaxM)
		for _, threads := range []int{1, 2} {
			SetThreads(threads)
			// The second pass also packs B always.
			if threads == 2 {
				directMaxM = 0
			}
			for i := 0; i < n; i++ {
				c := gemmCase{
					tA: r.IntN(2) == 1, tB: r.IntN(2) == 1,
					m: dims[r.IntN(len(dims))], n: dims[r.IntN(len(dims))], k: dims[r.IntN(len(dims))],
					pad: []int{0, 0, 1, 3, 16}[r.IntN(5)], alpha: scalars[r.IntN(len(scalars))], beta: scalars[r.IntN(len(scalars))],
				}
				checkProduct(t, r, c)
			}
		}
		SetThreads(1)
	})
}

// TestOwnFixedCases runs the cases the other backends are tested on.
func TestOwnFixedCases(t *testing.T) {
	forEachKernel(t, func(t *testing.T, k *kernel) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, c := range cases() {
			runCase(t, r, c)
			checkProduct(t, r, c)
		}
	})
}

// TestOwnLargeShapes: products of several k, m and n blocks against the
// reference (a sample of rows), in every transpose case.
func TestOwnLargeShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	forEachKernel(t, func(t *testing.T, k *kernel) {
		r := rand.New(rand.NewPCG(3, 3))
		SetThreads(2)
		defer SetThreads(1)
		// Beyond one mc block of rows, one nc block of columns and two kc
		// blocks of k, with edges; and the iteration's largest shapes.
		shapes := [][3]int{{k.mc + k.tiles[0].mr + 3, k.nc + k.nr + 5, 2*k.kc + 7}, {200, 512, 3129}, {3129, 67, 300}}
		for _, s := range shapes {
			for tr := 0; tr < 4; tr++ {
				checkRows(t, r, gemmCase{tA: tr&1 == 1, tB: tr&2 == 2, m: s[0], n: s[1], k: s[2], pad: tr, alpha: 0.5, beta: 1}, 8)
			}
		}
	})
}

// TestOwnEveryTile runs each tile height of each kernel directly (a
// product picks one by its row count) on shapes with edges in every
// direction, against the reference.
func TestOwnEveryTile(t *testing.T) {
	forEachKernel(t, func(t *testing.T, k *kernel) {
		r := rand.New(rand.NewPCG(6, 6))
		defer func(dm int) { directMaxM = dm }(directMaxM)
		for ti := range k.tiles {
			directMaxM = []int{0, 1 << 30}[ti%2] // B packed, or read in place
			tl := &k.tiles[ti]
			for _, s := range [][3]int{{1, 1, 1}, {tl.mr, k.nr, 3}, {2*tl.mr + 1, 3*k.nr - 1, 300}, {k.mc + 5, 47, 17}} {
				for tr := 0; tr < 4; tr++ {
					c := gemmCase{tA: tr&1 == 1, tB: tr&2 == 2, m: s[0], n: s[1], k: s[2], pad: tr, alpha: 1.5, beta: -0.5}
					ar, br, lda, ldb, ldc := c.dims()
					a, b, c0 := randSlice(r, ar*lda), randSlice(r, br*ldb), randSlice(r, c.m*ldc)
					want := naive(c.tA, c.tB, c.m, c.n, c.k, float64(c.alpha), a, lda, b, ldb, float64(c.beta), c0, ldc)
					got := append([]float32(nil), c0...)
					k.gemm(tl, c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
					for i := 0; i < c.m; i++ {
						for j := 0; j < ldc; j++ {
							g := float64(got[i*ldc+j])
							if j >= c.n {
								if got[i*ldc+j] != c0[i*ldc+j] {
									t.Fatalf("mr=%d %+v: padding C[%d,%d] changed", tl.mr, c, i, j)
								}
								continue
							}
							if w := want[i*c.n+j]; math.Abs(g-w) > 1e-4*(1+math.Abs(w))*math.Sqrt(float64(c.k)) {
								t.Fatalf("mr=%d %+v: C[%d,%d] = %v, want %v", tl.mr, c, i, j, g, w)
							}
						}
					}
				}
			}
		}
	})
}

// TestPickTile: the tile height pads the rows least, per row block.
func TestPickTile(t *testing.T) {
	k := &kernel{tiles: []tile{{14, nil}, {12, nil}, {10, nil}, {8, nil}}}
	for _, c := range []struct{ m, w, want int }{{100, 1, 10}, {300, 1, 12}, {300, 2, 10}, {512, 2, 10}, {14, 1, 14}, {3129, 1, 14}, {1, 1, 8}, {5, 1, 8}, {200, 1, 12}} {
		if got := k.pick(c.m, c.w).mr; got != c.want {
			t.Errorf("pick(%d, %d) = %d rows, want %d", c.m, c.w, got, c.want)
		}
	}
}

// TestOwnBetaZeroIgnoresC: with beta = 0, C's old contents (NaN here) are
// not read; with alpha = 0, A and B are not (C is only scaled).
func TestOwnBetaZeroIgnoresC(t *testing.T) {
	forEachKernel(t, func(t *testing.T, k *kernel) {
		r := rand.New(rand.NewPCG(4, 4))
		for _, s := range [][3]int{{1, 1, 1}, {13, 33, 7}, {64, 64, 64}, {29, 97, 300}} {
			m, n, kk := s[0], s[1], s[2]
			a, b := randSlice(r, m*kk), randSlice(r, kk*n)
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(math.NaN())
			}
			Sgemm(false, false, m, n, kk, 1, a, kk, b, n, 0, c, n)
			for i, v := range c {
				if math.IsNaN(float64(v)) {
					t.Fatalf("%v: C[%d] is NaN with beta = 0", s, i)
				}
			}
			a[0] = float32(math.Inf(1))
			c2 := append([]float32(nil), c...)
			Sgemm(false, false, m, n, kk, 0, a, kk, b, n, 2, c2, n)
			for i := range c2 {
				if c2[i] != 2*c[i] {
					t.Fatalf("%v: alpha = 0 gave C[%d] = %v, want %v", s, i, c2[i], 2*c[i])
				}
			}
		}
	})
}

// TestOwnSplitSameBits: a product split into blocks across goroutines, or
// offered to an idle lane, gives the same bits as the whole product on one.
func TestOwnSplitSameBits(t *testing.T) {
	forEachKernel(t, func(t *testing.T, k *kernel) {
		r := rand.New(rand.NewPCG(5, 5))
		for _, s := range [][3]int{{300, 512, 100}, {100, 3129, 64}, {257, 131, 301}} {
			for tr := 0; tr < 4; tr++ {
				tA, tB := tr&1 == 1, tr&2 == 2
				m, n, kk := s[0], s[1], s[2]
				lda, ldb := kk, n
				if tA {
					lda = m
				}
				if tB {
					ldb = kk
				}
				a, b, c0 := randSlice(r, m*kk), randSlice(r, kk*n), randSlice(r, m*n)
				run := func(threads int, lanes bool) []float32 {
					SetThreads(threads)
					defer SetThreads(1)
					c := append([]float32(nil), c0...)
					if lanes {
						Lanes(func() { SgemmShared(tA, tB, m, n, kk, 0.7, a, lda, b, ldb, 0.3, c, n) }, func() {})
					} else {
						Sgemm(tA, tB, m, n, kk, 0.7, a, lda, b, ldb, 0.3, c, n)
					}
					return c
				}
				want := run(1, false)
				for _, g := range [][]float32{run(2, false), run(3, false), run(2, true)} {
					for i := range want {
						if math.Float32bits(g[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v tA=%v tB=%v: element %d is %v split, %v whole", s, tA, tB, i, g[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestKernelSelection: the default is the first kernel the CPU runs, an
// unknown name is an error, and Info names the kernel.
func TestKernelSelection(t *testing.T) {
	if got := Kernels(); len(got) == 0 || got[len(got)-1] != "generic" {
		t.Fatalf("Kernels() = %v, want a list ending in generic", got)
	}
	if bestKernel().name != Kernels()[0] {
		t.Fatalf("best kernel %s, Kernels() %v", bestKernel().name, Kernels())
	}
	if _, err := UseKernel("nonesuch"); err == nil {
		t.Fatal("unknown kernel accepted")
	}
	d := Description{Backend: Own, Kernel: "avx512", Threads: 2}
	if s := d.String(); s != "netshare avx512 sgemm (2 threads)" {
		t.Fatalf("String() = %q", s)
	}
	if s := d.Name(); s != "netshare avx512 sgemm" {
		t.Fatalf("Name() = %q", s)
	}
	g := Description{Backend: Gonum, Threads: 2, LoadError: "NETSHARE_BLAS=gonum"}
	if s := g.Name(); s != "gonum pure Go; NETSHARE_BLAS=gonum" {
		t.Fatalf("Name() = %q", s)
	}
}

// FuzzSgemm checks random shapes, transposes, paddings and scalars against
// the reference with every kernel the CPU runs. The seed corpus runs in a
// plain go test.
func FuzzSgemm(f *testing.F) {
	f.Add(uint16(1), uint16(1), uint16(1), uint8(0), uint8(0), uint8(0), uint8(0), uint64(1))
	f.Add(uint16(17), uint16(33), uint16(5), uint8(1), uint8(2), uint8(1), uint8(2), uint64(2))
	f.Add(uint16(100), uint16(400), uint16(100), uint8(0), uint8(0), uint8(1), uint8(0), uint64(3))
	f.Add(uint16(131), uint16(1), uint16(300), uint8(3), uint8(5), uint8(4), uint8(3), uint64(4))
	f.Add(uint16(2), uint16(257), uint16(513), uint8(2), uint8(0), uint8(0), uint8(1), uint64(5))
	f.Add(uint16(300), uint16(110), uint16(17), uint8(1), uint8(31), uint8(3), uint8(4), uint64(6))
	f.Fuzz(func(t *testing.T, m, n, k uint16, trans, pad, as, bs uint8, seed uint64) {
		c := gemmCase{
			tA: trans&1 == 1, tB: trans&2 == 2,
			m: 1 + int(m)%320, n: 1 + int(n)%320, k: 1 + int(k)%600,
			pad: int(pad) % 40, alpha: scalars[int(as)%len(scalars)], beta: scalars[int(bs)%len(scalars)],
		}
		for _, kn := range allKernels() {
			if !kn.supported() {
				continue
			}
			t.Run(fmt.Sprint(kn.name), func(t *testing.T) {
				withBackend(t, Own)
				prev, _ := UseKernel(kn.name)
				defer UseKernel(prev)
				checkProduct(t, rand.New(rand.NewPCG(seed, 7)), c)
			})
		}
	})
}

// TestEnvSelection runs this test binary with each $NETSHARE_BLAS value in
// a child process (the choice is made once per process) and checks what
// Info reports there.
func TestEnvSelection(t *testing.T) {
	if os.Getenv("NETSHARE_BLAS_CHILD") != "" {
		fmt.Printf("INFO %d|%s|%s\n", Info().Backend, Info().Kernel, Info().LoadError)
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	best := Kernels()[0]
	cases := []struct {
		env     string
		backend Backend
		kernel  string
		loadErr bool
	}{
		{"", Own, best, false},
		{"gonum", Gonum, "", false},
		{"generic", Own, "generic", false},
		{"/nonexistent/libopenblas.so.0", Own, best, true},
	}
	if Available() {
		cases = append(cases, struct {
			env     string
			backend Backend
			kernel  string
			loadErr bool
		}{"openblas", OpenBLAS, "", false})
	} else {
		cases = append(cases, struct {
			env     string
			backend Backend
			kernel  string
			loadErr bool
		}{"openblas", Own, best, true})
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvSelection$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NETSHARE_BLAS_CHILD=1", EnvVar+"="+c.env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%q: %v\n%s", EnvVar, c.env, err, out)
		}
		var line string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "INFO ") {
				line = strings.TrimPrefix(l, "INFO ")
			}
		}
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			t.Fatalf("%s=%q: no report in %s", EnvVar, c.env, out)
		}
		if f[0] != fmt.Sprint(int(c.backend)) || f[1] != c.kernel || (f[2] != "") != c.loadErr {
			t.Errorf("%s=%q: backend %s, kernel %q, load error %q; want %d (%v), %q, error %v", EnvVar, c.env, f[0], f[1], f[2], c.backend, c.backend, c.kernel, c.loadErr)
		}
	}
}
