package blas

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// iterShape is a product of one DoppelGANger training iteration at
// NetShare's default configuration (dg's BenchmarkDGIteration: batch 100,
// D and D_a 5×512 over 3129 and 159 inputs, attribute generator 5×512, LSTM
// 100 over 27 steps), with how many times an iteration runs it.
type iterShape struct {
	name    string
	tA, tB  bool
	m, n, k int
	calls   int
}

// iterShapes are the iteration's products, largest share of FLOPs first:
// these sixteen are 98% of its 32.6 GFLOP of products.
var iterShapes = []iterShape{
	{"D_wgrad1_3129x512x300_TN", true, false, 3129, 512, 300, 5},
	{"hidden_fwd_300x512x512", false, false, 300, 512, 512, 30},
	{"hidden_bwd_300x512x512_NT", false, true, 300, 512, 512, 30},
	{"hidden_wgrad_512x512x300_TN", true, false, 512, 512, 300, 30},
	{"D_fwd1_200x512x3129", false, false, 200, 512, 3129, 5},
	{"gen_100x512x512", false, false, 100, 512, 512, 54},
	{"D_tangent1_100x512x3129", false, false, 100, 512, 3129, 6},
	{"D_inputgrad_100x3129x512_NT", false, true, 100, 3129, 512, 6},
	{"lstm_step_100x400x100", false, false, 100, 400, 100, 162},
	{"gen_bwd_100x512x512_NT", false, true, 100, 512, 512, 9},
	{"lstm_out_100x110x100", false, false, 100, 110, 100, 162},
	{"Da_wgrad1_159x512x300_TN", true, false, 159, 512, 300, 5},
	{"lstm_bwd_100x100x400_NT", false, true, 100, 100, 400, 27},
	{"lstm_wgrad_100x400x2700_TN", true, false, 100, 400, 2700, 1},
	{"Da_fwd1_200x512x159", false, false, 200, 512, 159, 5},
	{"gen_wgrad_512x512x100_TN", true, false, 512, 512, 100, 3},
}

func (s iterShape) flops() float64 { return 2 * float64(s.m) * float64(s.n) * float64(s.k) }

// operands returns random A, B and C for the shape, with their leading
// dimensions.
func (s iterShape) operands(r *rand.Rand) (a []float32, lda int, b []float32, ldb int, c []float32) {
	lda, ldb = s.k, s.n
	if s.tA {
		lda = s.m
	}
	if s.tB {
		ldb = s.k
	}
	return randSlice(r, s.m*s.k), lda, randSlice(r, s.k*s.n), ldb, make([]float32, s.m*s.n)
}

// benchMode is a backend (and kernel) with a thread count.
type benchMode struct {
	be      Backend
	kernel  string // Own only
	threads int
}

func (m benchMode) String() string {
	if m.be == Own {
		return fmt.Sprintf("netshare-%s/t%d", m.kernel, m.threads)
	}
	return fmt.Sprintf("%v/t%d", m.be, m.threads)
}

func benchModes() []benchMode {
	var ms []benchMode
	for i, k := range Kernels() {
		if k == "generic" && i > 0 {
			continue // slower than gonum where a SIMD kernel runs
		}
		ms = append(ms, benchMode{Own, k, 1}, benchMode{Own, k, 2})
	}
	return append(ms, benchMode{OpenBLAS, "", 1}, benchMode{OpenBLAS, "", 2}, benchMode{Gonum, "", 1})
}

// use selects the mode for the benchmark, or skips it.
func (m benchMode) use(b *testing.B) {
	prev, err := Use(m.be)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { Use(prev) })
	if m.be == Own {
		pk, err := UseKernel(m.kernel)
		if err != nil {
			b.Skip(err)
		}
		b.Cleanup(func() { UseKernel(pk) })
	}
	SetThreads(m.threads)
	b.Cleanup(func() { SetThreads(1) })
}

// peakGFLOPS measures a kernel's register-only FMA rate on one core, once
// per kernel (0 when it has no peak loop): the best of many short runs, so
// that a busy machine lowers it little.
var peakGFLOPS = sync.OnceValue(func() map[string]float64 {
	res := map[string]float64{}
	for _, k := range allKernels() {
		if k.peak == nil || !k.supported() {
			continue
		}
		const rounds = 20000
		best := time.Hour
		for i := 0; i < 200; i++ {
			t0 := time.Now()
			k.peak(rounds)
			best = min(best, time.Since(t0))
		}
		res[k.name] = k.peakFLOPs * rounds / best.Seconds() / 1e9
	}
	return res
})

// BenchmarkFMAPeak is each SIMD kernel's peak: a loop of independent
// register-only FMAs (no loads), in GFLOP/s on one core (mean, and best of
// the b.N runs), the ceiling that BenchmarkSgemm's "%peak" refers to.
func BenchmarkFMAPeak(b *testing.B) {
	for _, k := range allKernels() {
		if k.peak == nil {
			continue
		}
		b.Run(k.name, func(b *testing.B) {
			if !k.supported() {
				b.Skip("not on this CPU")
			}
			const rounds = 20000
			best := time.Hour
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				k.peak(rounds)
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(k.peakFLOPs*rounds*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(k.peakFLOPs*rounds/best.Seconds()/1e9, "best-GFLOP/s")
		})
	}
}

// BenchmarkSgemm measures float32 GEMM at the products of a training
// iteration (iterShapes) for each backend, own kernel and thread count,
// reporting GFLOP/s (2·m·n·k per product) over all b.N products and for the
// fastest one (best-GFLOP/s: on a machine shared with other work, the
// speed when the cores were free), and, for the own SIMD kernels, the best
// as a percentage of the FMA peak of the cores used (peak measured once
// per kernel in the same process, the best of 200 runs of
// BenchmarkFMAPeak's loop).
func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, md := range benchModes() {
		for _, s := range iterShapes {
			b.Run(md.String()+"/"+s.name, func(b *testing.B) {
				md.use(b)
				a, lda, bm, ldb, c := s.operands(r)
				peak := peakGFLOPS()[md.kernel]
				b.ResetTimer()
				best := time.Hour
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
					best = min(best, time.Since(t0))
				}
				b.ReportMetric(s.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				bg := s.flops() / best.Seconds() / 1e9
				b.ReportMetric(bg, "best-GFLOP/s")
				if md.be == Own && peak > 0 {
					b.ReportMetric(100*bg/(peak*float64(md.threads)), "%peak")
				}
			})
		}
	}
}

// BenchmarkSgemmIteration runs all of an iteration's products (iterShapes,
// each as many times as an iteration does) per operation: the time one
// iteration spends in sgemm, outside Lanes (mean, and best of b.N).
func BenchmarkSgemmIteration(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	type ops struct {
		a, bm, c []float32
		lda, ldb int
	}
	all := make([]ops, len(iterShapes))
	var flops float64
	for i, s := range iterShapes {
		o := &all[i]
		o.a, o.lda, o.bm, o.ldb, o.c = s.operands(r)
		flops += s.flops() * float64(s.calls)
	}
	for _, md := range benchModes() {
		b.Run(md.String(), func(b *testing.B) {
			md.use(b)
			best := time.Hour
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for j, s := range iterShapes {
					o := &all[j]
					for range s.calls {
						Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, o.a, o.lda, o.bm, o.ldb, 0, o.c, s.n)
					}
				}
				best = min(best, time.Since(t0))
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/iter")
			b.ReportMetric(best.Seconds()*1e3, "best-ms/iter")
			b.ReportMetric(flops/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkCallOverhead measures the cost of one tiny call.
func BenchmarkCallOverhead(b *testing.B) {
	for _, md := range []benchMode{{Own, bestKernel().name, 1}, {OpenBLAS, "", 1}, {Gonum, "", 1}} {
		b.Run(md.String(), func(b *testing.B) {
			md.use(b)
			a, bm, c := []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}, make([]float32, 4)
			for i := 0; i < b.N; i++ {
				Sgemm(false, false, 2, 2, 2, 1, a, 2, bm, 2, 0, c, 2)
			}
		})
	}
}
