package ip2vec

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
)

// randomVecs returns n values uniform in [-1, 1) from a generator seeded
// with seed: random query vectors.
func randomVecs(n int, seed uint64) []float32 {
	r := rng{seed}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.float()*2 - 1)
	}
	return v
}

// randomModel builds a model with random unit vectors over the given
// ports and protocols, for decoding tests that need no training.
func randomModel(dim int, ports []uint16, protos []uint8, seed uint64) *Model {
	r := rng{seed}
	m := &Model{cfg: DefaultConfig(), dim: dim, ports: ports, protos: protos}
	m.cfg.Dim = dim
	m.portVecs = make([]float32, len(ports)*dim)
	m.protoVecs = make([]float32, len(protos)*dim)
	for i := range m.portVecs {
		m.portVecs[i] = float32(r.float()*2 - 1)
	}
	for i := range m.protoVecs {
		m.protoVecs[i] = float32(r.float()*2 - 1)
	}
	normalize(m.portVecs, dim)
	normalize(m.protoVecs, dim)
	m.portCounts = make([]uint64, len(ports))
	m.protoCounts = make([]uint64, len(protos))
	for i := range m.portCounts {
		m.portCounts[i] = 1
	}
	for i := range m.protoCounts {
		m.protoCounts[i] = 1
	}
	m.buildIndex()
	return m
}

func portRange(lo, n int) []uint16 {
	p := make([]uint16, n)
	for i := range p {
		p[i] = uint16(lo + i)
	}
	return p
}

// withKernel runs f with the vectorised kernel on and, separately, off.
func withKernel(t *testing.T, f func(t *testing.T)) {
	saved := useKernel
	defer func() { useKernel = saved }()
	for _, on := range []bool{true, false} {
		if on && !saved {
			continue // not available on this machine
		}
		useKernel = on
		name := "generic"
		if on {
			name = "kernel"
		}
		t.Run(name, f)
	}
}

func TestRoundTripEveryValue(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		m, err := Train(serviceCorpus(4000, 3), DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		ports := m.Ports()
		vecs := make([]float32, len(ports)*m.Dim())
		if oov, err := m.EncodePorts(ports, vecs); err != nil || oov != 0 {
			t.Fatalf("EncodePorts: oov %d, %v", oov, err)
		}
		if got := m.DecodePorts(vecs, nil); !slices.Equal(got, ports) {
			t.Errorf("port round trip differs at %d values", countDiff(got, ports))
		}
		protos := m.Protos()
		pv := make([]float32, len(protos)*m.Dim())
		if oov, err := m.EncodeProtos(protos, pv); err != nil || oov != 0 {
			t.Fatalf("EncodeProtos: oov %d, %v", oov, err)
		}
		if got := m.DecodeProtos(pv, nil); !slices.Equal(got, protos) {
			t.Errorf("protocol round trip: %v, want %v", got, protos)
		}
	})
}

func countDiff[T comparable](a, b []T) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// Every vocabulary value of a large random model (more candidates than a
// block of the kernel) decodes to itself. Random unit vectors in 5 or more
// dimensions are far enough apart for float32 scores to tell them apart.
func TestRoundTripLargeVocabulary(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		for _, dim := range []int{10, 5, 16, 17} {
			m := randomModel(dim, portRange(0, 5000), []uint8{1, 6, 17}, uint64(dim))
			vecs := make([]float32, len(m.ports)*dim)
			if _, err := m.EncodePorts(m.ports, vecs); err != nil {
				t.Fatal(err)
			}
			if got := m.DecodePorts(vecs, nil); !slices.Equal(got, m.ports) {
				t.Errorf("dim %d: %d of %d ports decode wrongly", dim, countDiff(got, m.ports), len(m.ports))
			}
		}
	})
}

// Decoding finds the true maximum cosine, checked in float64 against every
// candidate, for batch sizes, candidate counts and dimensions around the
// kernel's panel, block and parallel-split boundaries.
func TestDecodeMatchesExhaustiveSearch(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		for _, c := range []struct{ dim, cands, queries int }{
			{10, 1, 7}, {10, 15, 50}, {10, 16, 50}, {10, 17, 50}, {10, 64, 33},
			{10, 4095, 20}, {10, 4097, 20}, {10, 9000, 700}, {1, 40, 30}, {2, 33, 30},
			{7, 300, 40}, {15, 100, 40}, {16, 4100, 30}, {24, 70, 20}, {10, 600, 5000},
		} {
			m := randomModel(c.dim, portRange(100, c.cands), []uint8{6}, uint64(c.cands))
			dec, err := m.NewPortDecoder(nil)
			if err != nil {
				t.Fatal(err)
			}
			vecs := randomVecs(c.queries*c.dim, uint64(c.queries))
			idx := make([]int32, c.queries)
			if err := dec.DecodeIndex(vecs, idx); err != nil {
				t.Fatal(err)
			}
			for q := 0; q < c.queries; q++ {
				qv := vecs[q*c.dim : (q+1)*c.dim]
				best, bestJ := math.Inf(-1), 0
				dot := func(j int) float64 {
					s := 0.0
					for k, x := range qv {
						s += float64(x) * float64(m.portVecs[j*c.dim+k])
					}
					return s
				}
				for j := 0; j < c.cands; j++ {
					if s := dot(j); s > best {
						best, bestJ = s, j
					}
				}
				// float32 rounding may swap near-ties only.
				if got := int(idx[q]); got != bestJ && dot(got) < best-1e-5 {
					t.Fatalf("dim %d, %d candidates, query %d: decoded %d (dot %.7f), best %d (dot %.7f)", c.dim, c.cands, q, got, dot(got), bestJ, best)
				}
			}
		}
	})
}

func TestDecodeCandidatesAndEdgeCases(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		m := randomModel(10, []uint16{20, 21, 22, 80, 443, 8080}, []uint8{1, 6, 17}, 5)
		v443, _ := m.Vector(Port(443))
		v80, _ := m.Vector(Port(80))
		// Restricted to a subset, 443's vector decodes to the subset's best.
		sub := []uint16{8080, 80, 80}
		want := uint16(80)
		if dotf(v443, v80) < dotf(v443, mustVec(m, Port(8080))) {
			want = 8080
		}
		if got := m.DecodePorts(v443, sub); len(got) != 1 || got[0] != want {
			t.Errorf("443 among %v decodes to %v, want %d", sub, got, want)
		}
		// Unknown candidates are reported by the strict constructor and
		// skipped by DecodePorts.
		if _, err := m.NewPortDecoder([]uint16{80, 9999}); err == nil {
			t.Error("unknown candidate port accepted")
		}
		if _, err := m.NewProtoDecoder([]uint8{6, 50}); err == nil {
			t.Error("unknown candidate protocol accepted")
		}
		if got := m.DecodePorts(v443, []uint16{443, 9999}); got[0] != 443 {
			t.Errorf("DecodePorts with an unknown candidate: %v", got)
		}
		// A zero or NaN vector decodes to the first (lowest) candidate.
		zero := make([]float32, 20)
		zero[10] = float32(math.NaN())
		if got := m.DecodePorts(zero, nil); !slices.Equal(got, []uint16{20, 20}) {
			t.Errorf("zero and NaN vectors decode to %v, want [20 20]", got)
		}
		// Exact ties go to the lower value.
		tie := randomModel(4, []uint16{5, 7, 9}, []uint8{6}, 1)
		copy(tie.portVecs[8:12], tie.portVecs[0:4]) // port 9 := port 5's vector
		if got := tie.DecodePorts(tie.portVecs[8:12], []uint16{9, 5}); got[0] != 5 {
			t.Errorf("tie between 5 and 9 decodes to %d", got[0])
		}
		// A trailing partial vector is ignored; a bad length is an error
		// for the strict decoder.
		if got := m.DecodePorts(append(slices.Clone(v80), 1, 2), nil); !slices.Equal(got, []uint16{80}) {
			t.Errorf("partial vector: %v", got)
		}
		dec, _ := m.NewPortDecoder(nil)
		if err := dec.Decode(make([]float32, 15), make([]uint16, 2)); err == nil {
			t.Error("15 values decoded as 2 vectors of 10")
		}
		if dec.Len() != 6 || dec.Value(0) != 20 || dec.Kind() != KindPort {
			t.Errorf("decoder: len %d, first %d, kind %v", dec.Len(), dec.Value(0), dec.Kind())
		}
		pd, err := m.NewProtoDecoder([]uint8{17, 6})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pd.Values(), []uint16{6, 17}) {
			t.Errorf("protocol candidates %v", pd.Values())
		}
	})
}

func mustVec(m *Model, t Token) []float32 { v, _ := m.Vector(t); return v }

func dotf(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestEncodeOutOfVocabulary(t *testing.T) {
	m := randomModel(10, []uint16{20, 30, 1000}, []uint8{6, 17}, 9)
	for _, c := range []struct{ in, want uint16 }{
		{20, 20}, {0, 20}, {24, 20}, {25, 20}, {26, 30}, {514, 30}, {515, 30}, {516, 1000}, {65535, 1000},
	} {
		got, ok := m.NearestPort(c.in)
		if got != c.want || ok != (c.in == c.want) {
			t.Errorf("NearestPort(%d) = %d, %v; want %d", c.in, got, ok, c.want)
		}
		vec, ok := m.EncodePort(c.in)
		if !slices.Equal(vec, mustVec(m, Port(c.want))) || ok != (c.in == c.want) {
			t.Errorf("EncodePort(%d) is not port %d's vector", c.in, c.want)
		}
	}
	for _, c := range []struct{ in, want uint8 }{{6, 6}, {1, 6}, {11, 6}, {12, 17}, {255, 17}} {
		got, ok := m.NearestProto(c.in)
		if got != c.want || ok != (c.in == c.want) {
			t.Errorf("NearestProto(%d) = %d, %v; want %d", c.in, got, ok, c.want)
		}
	}
	vecs := make([]float32, 4*10)
	oov, err := m.EncodePorts([]uint16{20, 21, 30, 999}, vecs)
	if err != nil || oov != 2 {
		t.Errorf("EncodePorts: %d out of vocabulary, %v; want 2", oov, err)
	}
	if _, err := m.EncodePorts([]uint16{20}, vecs); err == nil {
		t.Error("wrong destination size accepted")
	}
	if !math.IsNaN(m.Similarity(Port(20), Port(21))) {
		t.Error("similarity with an unknown token is not NaN")
	}
}

// DecodePorts keeps the last candidate set's decoder; switching sets, and
// calls from several goroutines, must still decode against the right set.
func TestDecodeCacheAndConcurrency(t *testing.T) {
	m := randomModel(10, portRange(1000, 300), []uint8{6, 17}, 11)
	vecs := make([]float32, 300*10)
	if _, err := m.EncodePorts(m.ports, vecs); err != nil {
		t.Fatal(err)
	}
	setA := portRange(1000, 100)
	setB := portRange(1100, 200)
	check := func(cands []uint16) error {
		got := m.DecodePorts(vecs, cands)
		for i, p := range got {
			if !slices.Contains(cands, p) {
				return fmt.Errorf("vector %d decoded to %d, outside the candidates", i, p)
			}
			if slices.Contains(cands, m.ports[i]) && p != m.ports[i] {
				return fmt.Errorf("port %d decoded to %d", m.ports[i], p)
			}
		}
		return nil
	}
	for _, c := range [][]uint16{setA, setB, setA, nil} {
		all := c
		if all == nil {
			all = m.ports
		}
		if err := check(all); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			set := setA
			if g%2 == 1 {
				set = setB
			}
			for range 5 {
				if err := check(set); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
