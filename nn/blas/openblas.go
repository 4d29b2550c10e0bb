package blas

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// openblas holds the entry points of a loaded OpenBLAS library.
//
// Products go through the Fortran entry points sgemm_/dgemm_, whose
// arguments are all pointers, called with purego.SyscallN: about 0.2 µs and
// one small allocation per call, against about 0.8 µs and a dozen
// allocations for cblas_sgemm through purego's reflective RegisterFunc (which
// is needed there to put alpha and beta in floating-point registers). A
// row-major product C = op(A)·op(B) is the column-major product
// Cᵀ = op(B)ᵀ·op(A)ᵀ, so A and B swap places.
//
// OpenBLAS's default integer is 32 bits (the LP64 interface), as in the
// Debian and Fedora packages; 64-bit-integer builds are named libopenblas64
// and are not looked for. The self-test at load time rejects a library that
// disagrees.
type openblas struct {
	path    string
	sgemmF  uintptr
	dgemmF  uintptr
	setNum  func(n int32)
	getNum  func() int32
	getCore func() *byte
	pool    sync.Pool
}

// gemmArgs holds the scalars passed by reference to sgemm_/dgemm_.
type gemmArgs struct {
	ta, tb                 byte
	_                      [2]byte
	m, n, k, lda, ldb, ldc int32
	alpha, beta            float32
	alphaD, betaD          float64
}

func openOpenBLAS(paths []string) (o *openblas, err error) {
	defer func() {
		// purego panics when a symbol has an unexpected shape; report it as
		// a load failure rather than crash.
		if r := recover(); r != nil {
			o, err = nil, fmt.Errorf("loading openblas: %v", r)
		}
	}()
	var errs []string
	for _, p := range paths {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		o := &openblas{path: p}
		o.pool.New = func() any { return new(gemmArgs) }
		o.sgemmF, _ = purego.Dlsym(h, "sgemm_")
		o.dgemmF, _ = purego.Dlsym(h, "dgemm_")
		if o.sgemmF == 0 || o.dgemmF == 0 {
			purego.Dlclose(h)
			errs = append(errs, fmt.Sprintf("%s: no sgemm_/dgemm_", p))
			continue
		}
		syms := []struct {
			name string
			fn   any
		}{
			{"openblas_set_num_threads", &o.setNum},
			{"openblas_get_num_threads", &o.getNum},
			{"openblas_get_corename", &o.getCore},
		}
		ok := true
		for _, s := range syms {
			addr, err := purego.Dlsym(h, s.name)
			if err != nil || addr == 0 {
				errs = append(errs, fmt.Sprintf("%s: no symbol %s", p, s.name))
				ok = false
				break
			}
			purego.RegisterFunc(s.fn, addr)
		}
		if !ok {
			purego.Dlclose(h)
			continue
		}
		if err := o.selfTest(); err != nil {
			purego.Dlclose(h)
			errs = append(errs, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		return o, nil
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

// selfTest checks one small product, so that a library with an unexpected
// calling convention (e.g. 64-bit integers) is rejected rather than trusted.
func (o *openblas) selfTest() error {
	a := []float32{1, 2, 3, 4, 5, 6}    // 2×3
	b := []float32{7, 8, 9, 10, 11, 12} // 3×2
	c := []float32{1, 1, 1, 1}          // 2×2
	o.sgemm(false, false, 2, 2, 3, 2, a, 3, b, 2, 0.5, c, 2)
	want := []float32{2*58 + 0.5, 2*64 + 0.5, 2*139 + 0.5, 2*154 + 0.5}
	for i := range want {
		if c[i] != want[i] {
			return fmt.Errorf("cblas_sgemm self-test gave %v, want %v", c, want)
		}
	}
	ad := []float64{1, 2, 3, 4, 5, 6}
	bd := []float64{7, 8, 9, 10, 11, 12}
	cd := []float64{1, 1, 1, 1}
	o.dgemm(true, true, 2, 2, 3, 1, ad, 2, bd, 3, 1, cd, 2)
	// Aᵀ (2×3 from 3×2 storage [[1,2],[3,4],[5,6]]) · Bᵀ (3×2 from 2×3 storage [[7,8,9],[10,11,12]]).
	wantd := []float64{1*7 + 3*8 + 5*9 + 1, 1*10 + 3*11 + 5*12 + 1, 2*7 + 4*8 + 6*9 + 1, 2*10 + 4*11 + 6*12 + 1}
	for i := range wantd {
		if cd[i] != wantd[i] {
			return fmt.Errorf("cblas_dgemm self-test gave %v, want %v", cd, wantd)
		}
	}
	return nil
}

func tc(t bool) byte {
	if t {
		return 'T'
	}
	return 'N'
}

func (o *openblas) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := o.pool.Get().(*gemmArgs)
	p.ta, p.tb = tc(tB), tc(tA)
	p.m, p.n, p.k = int32(n), int32(m), int32(k)
	p.lda, p.ldb, p.ldc = int32(ldb), int32(lda), int32(ldc)
	p.alpha, p.beta = alpha, beta
	purego.SyscallN(o.sgemmF,
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.tb)),
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.alpha)), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&p.beta)), uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	o.pool.Put(p)
}

func (o *openblas) dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	p := o.pool.Get().(*gemmArgs)
	p.ta, p.tb = tc(tB), tc(tA)
	p.m, p.n, p.k = int32(n), int32(m), int32(k)
	p.lda, p.ldb, p.ldc = int32(ldb), int32(lda), int32(ldc)
	p.alphaD, p.betaD = alpha, beta
	purego.SyscallN(o.dgemmF,
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.tb)),
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.alphaD)), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&p.betaD)), uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	o.pool.Put(p)
}

func (o *openblas) setThreads(n int) { o.setNum(int32(n)) }
func (o *openblas) getThreads() int  { return int(o.getNum()) }

func (o *openblas) coreName() string {
	p := o.getCore()
	if p == nil {
		return ""
	}
	var sb strings.Builder
	for i := 0; i < 64; i++ {
		ch := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if ch == 0 {
			break
		}
		sb.WriteByte(ch)
	}
	return sb.String()
}
