package blas

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSgemm measures float32 GEMM throughput at the shapes that dominate
// a DoppelGANger training iteration: the first layer of the discriminator
// (batch rows × 3129 inputs × 512 units) in its three forms, and the 512×512
// hidden layers. It reports GFLOP/s (2·m·n·k per product).
func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"fwd_300x512x3129", false, false, 300, 512, 3129},
		{"inputgrad_100x3129x512_NT", false, true, 100, 3129, 512},
		{"wgrad_3129x512x300_TN", true, false, 3129, 512, 300},
		{"hidden_300x512x512", false, false, 300, 512, 512},
		{"hidden_wgrad_512x512x300_TN", true, false, 512, 512, 300},
		{"lstm_100x400x100", false, false, 100, 400, 100},
		{"square_1024", false, false, 1024, 1024, 1024},
	}
	r := rand.New(rand.NewPCG(1, 1))
	type mode struct {
		be      Backend
		thr     Threading
		threads int
	}
	modes := []mode{{OpenBLAS, Split, 1}, {OpenBLAS, Split, 2}, {OpenBLAS, Internal, 2}, {Gonum, Split, 1}}
	for _, md := range modes {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%v/%v/t%d/%s", md.be, md.thr, md.threads, s.name), func(b *testing.B) {
				prev, err := Use(md.be)
				if err != nil {
					b.Skip(err)
				}
				defer Use(prev)
				SetThreading(md.thr)
				defer SetThreading(Split)
				SetThreads(md.threads)
				defer SetThreads(1)
				{
					ar, ac := s.m, s.k
					if s.tA {
						ar, ac = s.k, s.m
					}
					br, bc := s.k, s.n
					if s.tB {
						br, bc = s.n, s.k
					}
					a, bm, c := randSlice(r, ar*ac), randSlice(r, br*bc), make([]float32, s.m*s.n)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
					}
					b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				}
			})
		}
	}
}

// BenchmarkCallOverhead measures the cost of one tiny call (dominated by the
// foreign-call machinery).
func BenchmarkCallOverhead(b *testing.B) {
	for _, be := range []Backend{OpenBLAS, Gonum} {
		b.Run(be.String(), func(b *testing.B) {
			prev, err := Use(be)
			if err != nil {
				b.Skip(err)
			}
			defer Use(prev)
			a, bm, c := []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}, make([]float32, 4)
			for i := 0; i < b.N; i++ {
				Sgemm(false, false, 2, 2, 2, 1, a, 2, bm, 2, 0, c, 2)
			}
		})
	}
}
