package ip2vec

import (
	"fmt"
	"math"
	"testing"
)

// traceLikeCorpus is n sentences shaped like a NetFlow trace: service ports
// with a Zipf-like popularity, ephemeral client ports, mostly TCP.
func traceLikeCorpus(n int, seed uint64) []Sentence {
	r := rng{seed}
	services := []uint16{80, 443, 53, 22, 25, 123, 8080, 3389, 445, 139, 161, 993, 587, 3306, 5060}
	s := make([]Sentence, n)
	for i := range s {
		// Zipf-like choice of a service, or a random high port.
		var svc uint16
		if u := r.float(); u < 0.9 {
			svc = services[int(math.Floor(math.Pow(float64(len(services)), u*u)))-1]
		} else {
			svc = uint16(1024 + r.below(64512))
		}
		eph := uint16(1024 + r.below(64512))
		proto := uint8(6)
		switch u := r.below(100); {
		case svc == 53 || svc == 123 || svc == 161 || u < 15:
			proto = 17
		case u < 17:
			proto = 1
		}
		if r.below(2) == 0 {
			s[i] = Sentence{eph, svc, proto}
		} else {
			s[i] = Sentence{svc, eph, proto}
		}
	}
	return s
}

func BenchmarkTrain(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		sents := traceLikeCorpus(n, 1)
		b.Run(fmt.Sprintf("sentences=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Train(sents, DefaultConfig()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sentences/s")
		})
	}
}

// searchBench returns a decoder over cands random unit candidates and
// queries random 10-d vectors, with the portable path forced while the
// benchmark runs when generic.
func searchBench(b *testing.B, cands, queries int, generic bool) (*Decoder, []float32) {
	b.Helper()
	saved := useKernel
	b.Cleanup(func() { useKernel = saved })
	useKernel = useKernel && !generic
	m := randomModel(10, portRange(0, cands), []uint8{6}, 1)
	dec, err := m.NewPortDecoder(nil)
	if err != nil {
		b.Fatal(err)
	}
	vecs := randomVecs(queries*10, 2)
	return dec, vecs
}

// BenchmarkDecode decodes random vectors against random unit candidates
// with the default path (the AVX-512 kernel where available, for 16
// candidates or more) and with the portable path forced ("generic").
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		cands, queries int
		generic        bool
	}{
		{3, 1 << 20, false},
		{64, 1 << 20, false},
		{1024, 1 << 20, false},
		{8192, 1 << 20, false},
		{65536, 1 << 20, false},
		{64, 1 << 20, true},
		{1024, 1 << 16, true},
		{65536, 1 << 12, true},
	} {
		name := fmt.Sprintf("candidates=%d/vectors=%d", c.cands, c.queries)
		if c.generic {
			name += "/generic"
		}
		b.Run(name, func(b *testing.B) {
			dec, vecs := searchBench(b, c.cands, c.queries, c.generic)
			out := make([]int32, c.queries)
			for b.Loop() {
				if err := dec.DecodeIndex(vecs, out); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(c.queries)*float64(b.N)/sec, "vectors/s")
			b.ReportMetric(float64(c.queries)*float64(c.cands)*float64(b.N)/sec, "scores/s")
		})
	}
}
