package blas

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// EnvVar names the environment variable that selects the BLAS: unset or
// empty for netshare's own kernel (the best one the CPU runs), "avx512",
// "avx2" or "generic" for one of them, "openblas" for OpenBLAS from the
// loader's search path, the path of an OpenBLAS shared library, or "gonum"
// for gonum's pure-Go BLAS.
const EnvVar = "NETSHARE_BLAS"

// Backend identifies the implementation behind Sgemm and Dgemm.
type Backend int

const (
	// Gonum is gonum's pure-Go BLAS (gonum.org/v1/gonum/blas/gonum).
	Gonum Backend = iota
	// OpenBLAS is a run-time loaded OpenBLAS shared library.
	OpenBLAS
	// Own is netshare's own sgemm (packed panels and a SIMD micro-kernel
	// in assembly, see Kernels); its Dgemm is gonum's.
	Own
)

func (b Backend) String() string {
	switch b {
	case OpenBLAS:
		return "openblas"
	case Own:
		return "netshare"
	}
	return "gonum"
}

// Description says which BLAS is in use.
type Description struct {
	Backend Backend
	// Kernel is the micro-kernel of the Own backend ("avx512", "avx2",
	// "generic"); empty otherwise.
	Kernel string
	// Library is the shared library's path as opened (OpenBLAS only).
	Library string
	// Core is OpenBLAS's kernel name (e.g. "Haswell", "SkylakeX"); empty otherwise.
	Core string
	// Threads is how many cores one product may use: the number of blocks
	// a product is split into (Own, and OpenBLAS in Split threading),
	// OpenBLAS's thread count (Internal threading), or GOMAXPROCS for
	// gonum, which parallelises large products over goroutines.
	Threads   int
	Threading Threading
	// LoadError says why the BLAS asked for in $NETSHARE_BLAS is not the
	// one in use; empty otherwise.
	LoadError string
}

func (d Description) String() string {
	var s string
	switch d.Backend {
	case OpenBLAS:
		s = fmt.Sprintf("openblas (%s, core %s, %d threads, %v)", d.Library, d.Core, d.Threads, d.Threading)
	case Own:
		s = fmt.Sprintf("netshare %s sgemm (%d %s)", d.Kernel, d.Threads, plural(d.Threads, "thread"))
	default:
		s = fmt.Sprintf("gonum pure Go (%d goroutines)", d.Threads)
	}
	if d.LoadError != "" {
		s += "; " + d.LoadError
	}
	return s
}

// Name names the implementation alone, without the thread count (which
// callers set later, per stage): "netshare avx512 sgemm", "openblas
// (PATH, core C)", "gonum pure Go", and why a requested backend was not
// used, if it was not.
func (d Description) Name() string {
	var s string
	switch d.Backend {
	case OpenBLAS:
		s = fmt.Sprintf("openblas (%s, core %s)", d.Library, d.Core)
	case Own:
		s = fmt.Sprintf("netshare %s sgemm", d.Kernel)
	default:
		s = "gonum pure Go"
	}
	if d.LoadError != "" {
		s += "; " + d.LoadError
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

var (
	initOnce sync.Once
	backend  Backend // chosen at first use from $NETSHARE_BLAS
	loadErr  error   // why the backend asked for is not the one in use
	forced   Backend = -1
	mu       sync.RWMutex

	obOnce  sync.Once
	ob      *openblas
	obErr   error
	obPaths []string // where OpenBLAS is looked for
)

var defaultOpenBLASPaths = []string{"libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "/usr/lib64/libopenblas.so.0"}

func load() {
	initOnce.Do(func() {
		ownKernel.Store(bestKernel())
		env := strings.TrimSpace(os.Getenv(EnvVar))
		obPaths = defaultOpenBLASPaths
		backend = Own
		switch low := strings.ToLower(env); low {
		case "", "netshare", "own":
			return
		case "gonum", "go", "purego", "none", "off":
			backend = Gonum
			return
		case "openblas":
		default:
			if k := kernelNamed(low); k != nil {
				if !k.supported() {
					loadErr = fmt.Errorf("%s=%s: this CPU lacks the %s kernel's instructions", EnvVar, env, k.name)
					return
				}
				ownKernel.Store(k)
				return
			}
			obPaths = []string{env}
		}
		if err := loadOpenBLAS(); err != nil {
			loadErr = fmt.Errorf("%s=%s: openblas not used: %v", EnvVar, env, err)
			return
		}
		backend = OpenBLAS
	})
}

// loadOpenBLAS opens OpenBLAS once, from the path in $NETSHARE_BLAS or the
// usual places, single-threaded (SetThreads chooses).
func loadOpenBLAS() error {
	obOnce.Do(func() {
		ob, obErr = openOpenBLAS(obPaths)
		if obErr == nil {
			applyThreads()
		}
	})
	return obErr
}

func current() Backend {
	load()
	mu.RLock()
	f := forced
	mu.RUnlock()
	if f >= 0 {
		return f
	}
	return backend
}

// Info describes the BLAS in use.
func Info() Description {
	b := current()
	d := Description{Backend: b}
	if loadErr != nil {
		d.LoadError = loadErr.Error()
	}
	switch b {
	case OpenBLAS:
		d.Library = ob.path
		d.Core = ob.coreName()
		d.Threading = Threading(threading.Load())
		d.Threads = ob.getThreads()
		if d.Threading == Split {
			d.Threads = int(splitWays.Load())
		}
	case Own:
		d.Kernel = ownKernel.Load().name
		d.Threads = Threads()
	default:
		d.Threads = runtime.GOMAXPROCS(0)
	}
	return d
}

// Available reports whether OpenBLAS can be used (loading it on first
// call, from $NETSHARE_BLAS's path or the usual places), whether or not it
// is the backend in use.
func Available() bool {
	load()
	return loadOpenBLAS() == nil
}

// Use forces a backend (for tests and comparisons) and returns the previous
// one. Asking for OpenBLAS when it cannot be loaded is an error.
func Use(b Backend) (Backend, error) {
	load()
	if b == OpenBLAS {
		if err := loadOpenBLAS(); err != nil {
			return current(), fmt.Errorf("openblas is not available: %v", err)
		}
	}
	prev := current()
	mu.Lock()
	forced = b
	mu.Unlock()
	return prev, nil
}

// Threading selects how an OpenBLAS product uses several cores.
type Threading int

const (
	// Split runs a large product as several single-threaded OpenBLAS calls
	// on goroutines, each computing a block of the result (the default: on
	// a machine shared with other work it degrades more gracefully than
	// OpenBLAS's own spinning worker threads).
	Split Threading = iota
	// Internal lets OpenBLAS parallelise each call with its own threads.
	Internal
)

func (t Threading) String() string {
	if t == Internal {
		return "openblas-threads"
	}
	return "split"
}

var (
	threads   atomic.Int32
	splitWays atomic.Int32
	threading atomic.Int32
)

// SetThreads sets how many cores one product may use (n < 1 means 1): the
// number of blocks a large product is split into (Own, and OpenBLAS in
// Split threading) or OpenBLAS's own thread count (Internal threading). It
// has no effect on the gonum backend, whose parallelism follows GOMAXPROCS.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	load()
	threads.Store(int32(n))
	applyThreads()
}

// applyThreads passes the thread count and threading mode to OpenBLAS, when
// it is loaded.
func applyThreads() {
	n := Threads()
	if Threading(threading.Load()) == Internal {
		splitWays.Store(1)
	} else {
		splitWays.Store(int32(n))
		n = 1
	}
	if ob != nil {
		ob.setThreads(n)
	}
}

// Threads returns the core count set by SetThreads (1 by default). Package
// nn uses the same count for its element-wise loops, so SetThreads is the
// one setting for training speed.
func Threads() int { return max(int(threads.Load()), 1) }

// SetThreading selects the threading mode and reapplies the thread count.
func SetThreading(t Threading) {
	load()
	threading.Store(int32(t))
	applyThreads()
}

func trans(t bool) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}

var impl gonum.Implementation

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ as tA, tB say, op(A) is m×k, op(B) is k×n
// and C is m×n. Large products are split across the SetThreads cores,
// except inside Lanes (where each core has a lane to run: see SgemmShared).
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(false, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmShared is Sgemm, but inside Lanes it still splits a large product,
// offering its parts to a lane that has finished its own work. Outside
// Lanes the two are the same. A product split into parts that one lane
// then runs alone costs more than the whole product (each part packs the
// same operand), so the lanes' early work is better left whole and their
// late work shared.
func SgemmShared(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(true, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemm(shared, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC32(m, n, beta, c, ldc)
		return
	}
	checkDims("Sgemm", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	switch current() {
	case Own:
		ownSgemm(shared, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	case Gonum:
		impl.Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	w := int(splitWays.Load())
	if w < 2 || float64(m)*float64(n)*float64(k) < minSplitMACs || (!shared && lanesOn.Load() != 0) {
		ob.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	splitSgemm(w, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// minSplitMACs is the smallest product split across goroutines: below it
// the goroutine hand-off costs more than it saves.
const minSplitMACs = 1 << 23

// splitSgemm computes the product as w independent single-threaded OpenBLAS
// calls (see Parts), each on a block of C's rows (or columns, when C is
// wider than tall), which need only pointer offsets into A, B and C.
func splitSgemm(w int, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	byRows := m >= n
	total := n
	if byRows {
		total = m
	}
	w = min(w, total)
	Parts(w, func(p int) {
		lo, hi := total*p/w, total*(p+1)/w
		if lo == hi {
			return
		}
		sm, sn, sa, sb, sc := block(byRows, tA, tB, lo, hi, m, n, a, lda, b, ldb, c, ldc)
		ob.sgemm(tA, tB, sm, sn, k, alpha, sa, lda, sb, ldb, beta, sc, ldc)
	})
}

// block restricts the product C = op(A)·op(B) (C m×n) to rows [lo, hi) of
// C when byRows, or to its columns [lo, hi) otherwise: the block's shape
// and its views of A, B and C, which are only offsets into them.
func block(byRows, tA, tB bool, lo, hi, m, n int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) (bm, bn int, ba, bb, bc []float32) {
	if byRows {
		aOff := lo * lda // rows of op(A) are rows of A
		if tA {
			aOff = lo // ... or columns of A
		}
		return hi - lo, n, a[aOff:], b, c[lo*ldc:]
	}
	bOff := lo // columns of op(B) are columns of B
	if tB {
		bOff = lo * ldb // ... or rows of B
	}
	return m, hi - lo, a, b[bOff:], c[lo:]
}

// Dgemm is Sgemm for float64.
func Dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	checkDims("Dgemm", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if current() == OpenBLAS {
		ob.dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	impl.Dgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func scaleC32(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
}

// checkDims panics with a clear message when a matrix argument is too short
// for its shape: the C library would otherwise read or write out of bounds.
func checkDims(name string, tA, tB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if lda < max(1, ac) || ldb < max(1, bc) || ldc < max(1, n) ||
		la < (ar-1)*lda+ac || lb < (br-1)*ldb+bc || lc < (m-1)*ldc+n || m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas.%s: bad dimensions m=%d n=%d k=%d tA=%v tB=%v len(a)=%d lda=%d len(b)=%d ldb=%d len(c)=%d ldc=%d",
			name, m, n, k, tA, tB, la, lda, lb, ldb, lc, ldc))
	}
}
