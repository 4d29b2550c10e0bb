package ip2vec

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"testing"
)

// refTopK is the brute-force reference: every candidate's dot product with
// q in float64, ranked by score (NaN as −Inf), ties to the lower index.
func refTopK(q, rows []float32, dim, k int) (idx []int32, dots []float64) {
	m := len(rows) / dim
	all := make([]int32, m)
	score := make([]float64, m)
	for j := range m {
		all[j] = int32(j)
		s := 0.0
		for i, x := range q {
			s += float64(x) * float64(rows[j*dim+i])
		}
		if math.IsNaN(s) {
			s = math.Inf(-1)
		}
		score[j] = s
	}
	slices.SortStableFunc(all, func(a, b int32) int { return cmp.Compare(score[b], score[a]) })
	all = all[:min(k, m)]
	for _, j := range all {
		dots = append(dots, score[j])
	}
	return all, dots
}

func norm64(q []float32) float64 {
	s := 0.0
	for _, x := range q {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// topK runs dec.TopK on vecs, failing the test on an error.
func topK(t testing.TB, dec *Decoder, vecs []float32, k int) ([]int32, []float32, int) {
	t.Helper()
	kk := min(k, dec.Len())
	n := len(vecs) / dec.dim
	idx := make([]int32, n*kk)
	sims := make([]float32, n*kk)
	for i := range idx {
		idx[i] = -7 // must be overwritten
	}
	if err := dec.TopK(vecs, k, idx, sims); err != nil {
		t.Fatal(err)
	}
	return idx, sims, kk
}

// With small-integer vectors every score is exact in float32 whatever the
// order of the sums, and ties abound: the result must equal the reference
// exactly, across panel, block, chunk and parallel-split boundaries and
// odd dimensions.
func TestTopKExactWithTies(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		for _, c := range []struct{ dim, cands, queries, k int }{
			{10, 1, 7, 1}, {10, 1, 7, 5}, {10, 15, 50, 4}, {10, 16, 50, 16}, {10, 17, 50, 3},
			{10, 64, 33, 64}, {10, 64, 33, 100}, {10, 816, 40, 64}, {10, 817, 40, 64},
			{10, 2000, 300, 64}, {10, 2000, 20, 1500}, {10, 600, 5000, 8}, {1, 40, 30, 5},
			{1, 9000, 20, 64}, {2, 33, 30, 7}, {3, 333, 17, 33}, {7, 300, 40, 20},
			{15, 100, 40, 10}, {16, 4100, 30, 64}, {17, 500, 30, 20}, {24, 70, 20, 9},
			{10, 5000, 700, 1}, {3, 5000, 40, 400}, {10, 9000, 30, 700},
		} {
			r := rng{uint64(c.cands*31 + c.k)}
			small := func() float32 { return float32(int(r.below(5)) - 2) }
			rows := make([]float32, c.cands*c.dim)
			for i := range rows {
				rows[i] = small()
			}
			vals := make([]uint16, c.cands)
			for i := range vals {
				vals[i] = uint16(i)
			}
			dec, err := NewDecoder(KindPort, vals, rows)
			if err != nil {
				t.Fatal(err)
			}
			vecs := make([]float32, c.queries*c.dim)
			for i := range vecs {
				vecs[i] = small()
			}
			idx, sims, kk := topK(t, dec, vecs, c.k)
			for q := range c.queries {
				qv := vecs[q*c.dim : (q+1)*c.dim]
				want, dots := refTopK(qv, rows, c.dim, c.k)
				got := idx[q*kk : (q+1)*kk]
				if !slices.Equal(got, want) {
					t.Fatalf("dim %d, %d candidates, k %d, query %d: top %v, want %v", c.dim, c.cands, c.k, q, got, want)
				}
				inv := 1.0
				if nq := norm64(qv); nq > 0 {
					inv = 1 / nq
				}
				for i, s := range sims[q*kk : (q+1)*kk] {
					if w := float32(dots[i] * inv); s != w {
						t.Fatalf("dim %d, %d candidates, k %d, query %d: similarity %d is %v, want %v", c.dim, c.cands, c.k, q, i, s, w)
					}
				}
			}
		}
	})
}

// With random unit vectors the t-th listed candidate's score is the t-th
// best score, up to float32 rounding, and the similarities are cosines.
func TestTopKMatchesExhaustiveSearch(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		for _, c := range []struct{ dim, cands, queries, k int }{
			{10, 9000, 300, 64}, {10, 4097, 40, 600}, {10, 60000, 8, 64}, {5, 3000, 50, 17},
			{16, 1000, 60, 3}, {10, 600, 5000, 64},
		} {
			m := randomModel(c.dim, portRange(0, c.cands), []uint8{6}, uint64(c.cands))
			dec, err := m.NewPortDecoder(nil)
			if err != nil {
				t.Fatal(err)
			}
			vecs := randomVecs(c.queries*c.dim, uint64(c.queries))
			idx, sims, kk := topK(t, dec, vecs, c.k)
			for q := range c.queries {
				qv := vecs[q*c.dim : (q+1)*c.dim]
				_, dots := refTopK(qv, m.portVecs, c.dim, c.k)
				got := idx[q*kk : (q+1)*kk]
				seen := map[int32]bool{}
				for i, j := range got {
					if j < 0 || int(j) >= c.cands || seen[j] {
						t.Fatalf("dim %d, %d candidates, query %d: bad or repeated index %d in %v", c.dim, c.cands, q, j, got)
					}
					seen[j] = true
					d := dotf(qv, m.portVecs[int(j)*c.dim:(int(j)+1)*c.dim])
					if math.Abs(d-dots[i]) > 1e-5 {
						t.Fatalf("dim %d, %d candidates, query %d: rank %d has score %.7f, want %.7f", c.dim, c.cands, q, i, d, dots[i])
					}
					if cos := d / norm64(qv); math.Abs(float64(sims[q*kk+i])-cos) > 1e-5 {
						t.Fatalf("dim %d, %d candidates, query %d: rank %d similarity %v, want %v", c.dim, c.cands, q, i, sims[q*kk+i], cos)
					}
					if i > 0 && sims[q*kk+i] > sims[q*kk+i-1] {
						t.Fatalf("dim %d, %d candidates, query %d: similarities not descending at %d", c.dim, c.cands, q, i)
					}
				}
			}
		}
	})
}

// k = 1 is DecodeIndex, to the bit: both search the same float32 scores.
func TestTopKOneIsDecodeIndex(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		for _, c := range []struct{ dim, cands, queries int }{
			{10, 3, 100}, {10, 40, 1000}, {10, 9000, 700}, {7, 2000, 300}, {16, 5000, 200}, {10, 600, 5000},
		} {
			m := randomModel(c.dim, portRange(0, c.cands), []uint8{6}, uint64(c.dim*c.cands))
			dec, err := m.NewPortDecoder(nil)
			if err != nil {
				t.Fatal(err)
			}
			vecs := randomVecs(c.queries*c.dim, uint64(c.cands))
			want := make([]int32, c.queries)
			if err := dec.DecodeIndex(vecs, want); err != nil {
				t.Fatal(err)
			}
			got, _, _ := topK(t, dec, vecs, 1)
			if n := countDiff(got, want); n > 0 {
				t.Errorf("dim %d, %d candidates: top-1 differs from DecodeIndex for %d of %d vectors", c.dim, c.cands, n, c.queries)
			}
		}
	})
}

// Zero, NaN and infinite vectors, handled as DecodeIndex handles them:
// NaN scores rank as −Inf, ties go to the lower index.
func TestTopKDegenerateVectors(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		for _, cands := range []int{5, 40, 1000} {
			const dim = 10
			r := rng{uint64(cands)}
			rows := make([]float32, cands*dim)
			for i := range rows {
				rows[i] = float32(int(r.below(3)) - 1)
			}
			vals := make([]uint16, cands)
			for i := range vals {
				vals[i] = uint16(i)
			}
			dec, err := NewDecoder(KindPort, vals, rows)
			if err != nil {
				t.Fatal(err)
			}
			nan, inf := float32(math.NaN()), float32(math.Inf(1))
			vecs := make([]float32, 4*dim) // zero vector
			vecs[dim] = nan                // NaN vector
			for i := 2 * dim; i < 3*dim; i++ {
				vecs[i] = nan
			}
			vecs[3*dim] = inf // +Inf·c, −Inf·c or NaN scores
			for _, k := range []int{1, 3, 64, cands + 1} {
				idx, sims, kk := topK(t, dec, vecs, k)
				first := make([]int32, kk)
				for i := range first {
					first[i] = int32(i)
				}
				if got := idx[:kk]; !slices.Equal(got, first) || slices.ContainsFunc(sims[:kk], func(s float32) bool { return s != 0 }) {
					t.Errorf("%d candidates, k %d: zero vector gives %v, %v; want %v, zeros", cands, k, got, sims[:kk], first)
				}
				for q := 1; q <= 2; q++ {
					if got := idx[q*kk : (q+1)*kk]; !slices.Equal(got, first) {
						t.Errorf("%d candidates, k %d: NaN vector %d gives %v, want %v", cands, k, q, got, first)
					}
				}
				want, _ := refTopK(vecs[3*dim:], rows, dim, k)
				if got := idx[3*kk:]; !slices.Equal(got, want) {
					t.Errorf("%d candidates, k %d: infinite vector gives %v, want %v", cands, k, got, want)
				}
				dix := make([]int32, 4)
				if err := dec.DecodeIndex(vecs, dix); err != nil {
					t.Fatal(err)
				}
				for q := range 4 {
					if idx[q*kk] != dix[q] {
						t.Errorf("%d candidates: vector %d: top candidate %d, DecodeIndex %d", cands, q, idx[q*kk], dix[q])
					}
				}
			}
		}
	})
}

// Exact duplicates of candidate vectors score alike to the bit (whatever
// their lanes and panels): the lower index ranks first.
func TestTopKDuplicateCandidates(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		const dim, distinct, cands = 10, 7, 3000
		base := randomModel(dim, portRange(0, distinct), []uint8{6}, 3)
		rows := make([]float32, cands*dim)
		vals := make([]uint16, cands)
		for j := range cands {
			copy(rows[j*dim:], base.portVecs[(j*5%distinct)*dim:][:dim])
			vals[j] = uint16(j)
		}
		dec, err := NewDecoder(KindPort, vals, rows)
		if err != nil {
			t.Fatal(err)
		}
		vecs := randomVecs(200*dim, 4)
		for _, k := range []int{1, 100, 1000} {
			idx, sims, kk := topK(t, dec, vecs, k)
			for q := range 200 {
				got := idx[q*kk : (q+1)*kk]
				// Group by score: within a group indices ascend; groups
				// are the distinct vectors in descending score order.
				for i := 1; i < kk; i++ {
					a, b := sims[q*kk+i-1], sims[q*kk+i]
					if b > a || (a == b && got[i] < got[i-1]) {
						t.Fatalf("k %d, query %d: rank %d (%d, %v) after (%d, %v)", k, q, i, got[i], b, got[i-1], a)
					}
				}
				want, _ := refTopK(vecs[q*dim:(q+1)*dim], rows, dim, k)
				if !slices.Equal(got, want) {
					t.Fatalf("k %d, query %d: %v…, want %v…", k, q, got[:min(kk, 12)], want[:min(kk, 12)])
				}
			}
		}
	})
}

// selectTop puts the k largest keys first, the k-th largest at k−1.
func TestSelectTop(t *testing.T) {
	r := rng{8}
	for trial := range 300 {
		n := 1 + int(r.below(300))
		h := make([]uint64, n)
		for i := range h {
			h[i] = r.next()
		}
		switch trial % 3 {
		case 1:
			slices.Sort(h)
		case 2:
			slices.Sort(h)
			slices.Reverse(h)
		}
		k := 1 + int(r.below(uint64(n)))
		want := slices.Clone(h)
		slices.Sort(want)
		slices.Reverse(want)
		selectTop(h, k)
		top := slices.Clone(h[:k])
		slices.Sort(top)
		slices.Reverse(top)
		if !slices.Equal(top, want[:k]) || h[k-1] != want[k-1] {
			t.Fatalf("trial %d: top %d of %d keys wrong", trial, k, n)
		}
	}
}

func TestTopKErrors(t *testing.T) {
	m := randomModel(10, portRange(0, 50), []uint8{6}, 1)
	dec, _ := m.NewPortDecoder(nil)
	vecs := make([]float32, 30)
	for _, c := range []struct {
		vecs   []float32
		k      int
		ni, ns int
	}{
		{vecs, 0, 0, 0}, {vecs[:25], 2, 5, 5}, {vecs, 2, 5, 6}, {vecs, 2, 7, 7}, {vecs, 60, 180, 180},
	} {
		if err := dec.TopK(c.vecs, c.k, make([]int32, c.ni), make([]float32, c.ns)); err == nil {
			t.Errorf("top-%d of %d values into %d indices, %d similarities accepted", c.k, len(c.vecs), c.ni, c.ns)
		}
	}
	if err := dec.TopK(vecs, 60, make([]int32, 3*50), make([]float32, 3*50)); err != nil {
		t.Errorf("k above the candidate count: %v", err)
	}
	if _, err := NewDecoder(KindPort, []uint16{1, 2}, make([]float32, 5)); err == nil {
		t.Error("5 values as the vectors of 2 candidates accepted")
	}
	if _, err := NewDecoder(KindPort, nil, nil); err == nil {
		t.Error("decoder without candidates accepted")
	}
}

// BenchmarkTopK searches the 64 best of random unit candidates for random
// vectors, with the default path and with the portable path forced
// ("generic").
func BenchmarkTopK(b *testing.B) {
	for _, c := range []struct {
		cands, queries, k int
		generic           bool
	}{
		{65536, 1 << 20, 64, false},
		{60000, 100_000, 64, false},
		{60000, 10_000, 1024, false},
		{1024, 1 << 20, 64, false},
		{60000, 10_000, 64, true},
	} {
		name := fmt.Sprintf("candidates=%d/vectors=%d/k=%d", c.cands, c.queries, c.k)
		if c.generic {
			name += "/generic"
		}
		b.Run(name, func(b *testing.B) {
			dec, vecs := searchBench(b, c.cands, c.queries, c.generic)
			idx := make([]int32, c.queries*c.k)
			sims := make([]float32, c.queries*c.k)
			for b.Loop() {
				if err := dec.TopK(vecs, c.k, idx, sims); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(c.queries)*float64(b.N)/sec, "vectors/s")
			b.ReportMetric(float64(c.queries)*float64(c.cands)*float64(b.N)/sec, "scores/s")
		})
	}
}
