package blas

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// ownKernel is the micro-kernel of the Own backend.
var ownKernel atomic.Pointer[kernel]

// allKernels lists the kernels built for this architecture, fastest first;
// the generic one, last, runs everywhere.
func allKernels() []*kernel { return append(archKernels(), genericKernel) }

// bestKernel is the fastest kernel the CPU runs.
func bestKernel() *kernel {
	for _, k := range allKernels() {
		if k.supported() {
			return k
		}
	}
	return genericKernel
}

func kernelNamed(name string) *kernel {
	for _, k := range allKernels() {
		if k.name == name {
			return k
		}
	}
	return nil
}

// supported reports whether the CPU has the kernel's instructions.
func (k *kernel) supported() bool { return k.cpuOK == nil || k.cpuOK() }

// Kernels lists the names of the Own backend's kernels that this CPU runs,
// fastest first.
func Kernels() []string {
	var names []string
	for _, k := range allKernels() {
		if k.supported() {
			names = append(names, k.name)
		}
	}
	return names
}

// UseKernel selects the Own backend's kernel by name (for tests and
// comparisons; the default is the first of Kernels) and returns the name
// of the previous one. It does not change the backend (see Use).
func UseKernel(name string) (prev string, err error) {
	load()
	prev = ownKernel.Load().name
	k := kernelNamed(name)
	if k == nil || !k.supported() {
		return prev, fmt.Errorf("blas: no kernel %q on this CPU (have %s)", name, strings.Join(Kernels(), ", "))
	}
	ownKernel.Store(k)
	return prev, nil
}

// minOwnSplitMACs is the smallest product the Own backend splits across
// goroutines: below it the hand-off costs more than it saves.
const minOwnSplitMACs = 1 << 20

// ownSgemm runs the product with the Own kernel, split into row or column
// blocks of C across the SetThreads cores (see Sgemm and SgemmShared for
// when). The blocks are whole tiles, and the result does not depend on the
// split (see gemm.go).
func ownSgemm(shared, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern := ownKernel.Load()
	w := Threads()
	if w < 2 || float64(m)*float64(n)*float64(k) < minOwnSplitMACs || (!shared && lanesOn.Load() != 0) {
		kern.gemm(kern.pick(m, 1), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Rows when C is taller than wide (each block then packs all of B),
	// columns otherwise (each packs all of A).
	byRows := m >= n
	t := kern.pick(m, 1)
	total, unit := n, kern.nr
	if byRows {
		t = kern.pick(m, w)
		total, unit = m, t.mr
	}
	tiles := (total + unit - 1) / unit
	w = min(w, tiles)
	if w < 2 {
		kern.gemm(t, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	Parts(w, func(p int) {
		lo, hi := min(tiles*p/w*unit, total), min(tiles*(p+1)/w*unit, total)
		if lo == hi {
			return
		}
		sm, sn, sa, sb, sc := block(byRows, tA, tB, lo, hi, m, n, a, lda, b, ldb, c, ldc)
		kern.gemm(t, tA, tB, sm, sn, k, alpha, sa, lda, sb, ldb, beta, sc, ldc)
	})
}
