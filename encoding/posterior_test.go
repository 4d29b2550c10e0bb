package encoding

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/netshare-go/netshare/nn/blas"
)

type cw struct {
	j   int
	sim float32
}

// topOf returns the k entries of row with the largest values (ties to the
// lower index), in no particular order, using a min-heap of size k.
func topOf(row []float32, k int, h []cw) []cw {
	h = h[:0]
	less := func(a, b cw) bool { return a.sim < b.sim || (a.sim == b.sim && a.j > b.j) }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for j, s := range row {
		e := cw{j, s}
		if len(h) < k {
			h = append(h, e)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !less(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if less(h[0], e) {
			h[0] = e
			down(0)
		}
	}
	return h
}

// denseSearch is the search posterior decoding made before the top-K
// search: the full similarity matrix (one product) and a heap selection
// per row, here ordered as the top-K search orders (most similar first,
// ties to the lower index).
func denseSearch(cand []float32, d int) topKFunc {
	m := len(cand) / d
	return func(vecs []float32, k int, idx []int32, sims []float32) {
		n := len(vecs) / d
		all := make([]float32, n*m)
		blas.Sgemm(false, true, n, m, d, 1, vecs, d, cand, d, 0, all, m)
		for i := range n {
			top := topOf(all[i*m:(i+1)*m], k, nil)
			slices.SortFunc(top, func(a, b cw) int {
				if c := cmp.Compare(b.sim, a.sim); c != 0 {
					return c
				}
				return cmp.Compare(a.j, b.j)
			})
			var nq float64
			for _, v := range vecs[i*d : (i+1)*d] {
				nq += float64(v) * float64(v)
			}
			inv := 1.0
			if nq > 0 {
				inv = 1 / math.Sqrt(nq)
			}
			for t, e := range top {
				idx[i*k+t] = int32(e.j)
				sims[i*k+t] = float32(float64(e.sim) * inv)
			}
		}
	}
}

func TestTopOfMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for trial := range 200 {
		m := 1 + r.IntN(300)
		k := 1 + r.IntN(m+5)
		row := make([]float32, m)
		for i := range row {
			row[i] = float32(r.IntN(20)) // many ties
		}
		got := topOf(row, k, nil)
		idx := make([]int, m)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		want := idx[:min(k, m)]
		var gj []int
		for _, e := range got {
			gj = append(gj, e.j)
		}
		slices.Sort(gj)
		slices.Sort(want)
		if !slices.Equal(gj, want) {
			t.Fatalf("trial %d: top %d of %v = %v, want %v", trial, k, row, gj, want)
		}
	}
}

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x * x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

// A posterior decoder with a huge concentration is the nearest-neighbour
// decoder.
func TestPosteriorSharpEqualsNearest(t *testing.T) {
	ports := []uint16{22, 53, 80, 443, 8080, 50000, 50001, 50002}
	emb := newStub(ports, []uint8{6, 17})
	var cand []int
	var prior []float64
	for i, p := range ports {
		cand = append(cand, int(p))
		prior = append(prior, float64(1+i))
	}
	near := &Embedded{Field: "dstport", E: emb, Candidates: cand}
	post := &Embedded{Field: "dstport", E: emb, Candidates: cand, Post: &Posterior{Prior: prior, Kappa: 1e5, TopK: 4}}
	r := rand.New(rand.NewPCG(1, 2))
	n := 500
	vecs := make([]float32, n*4)
	for i := range vecs {
		vecs[i] = float32(r.NormFloat64())
	}
	a, b := make([]float64, n), make([]float64, n)
	near.Decode(vecs, 4, 0, a)
	post.Decode(vecs, 4, 0, b)
	if !slices.Equal(a, b) {
		t.Error("sharp posterior decoding differs from nearest decoding")
	}
}

// Values sharing one direction are drawn in proportion to their prior, and
// values elsewhere are never drawn.
func TestPosteriorFollowsPrior(t *testing.T) {
	vec := map[uint16][]float32{
		50000: unit(1, 0.001, 0, 0), 50001: unit(1, 0, 0.001, 0), 50002: unit(1, 0, 0, 0.001),
		443: unit(0, 1, 0, 0), 80: unit(0, 0, 1, 0),
	}
	emb := &stubEmbedding{ports: vec, protos: map[uint8][]float32{6: unit(0, 0, 0, 1)}}
	cand := []int{80, 443, 50000, 50001, 50002}
	prior := []float64{100, 100, 1, 2, 7}
	c := &Embedded{Field: "srcport", E: emb, Candidates: cand, Post: &Posterior{Prior: prior, Kappa: 30, TopK: 5}}
	c.seed(7)
	n := 20000
	vecs := make([]float32, 0, n*4)
	for range n {
		vecs = append(vecs, 0.9, 0.01, -0.01, 0.02) // near the ephemeral direction
	}
	out := make([]float64, n)
	c.Decode(vecs, 4, 0, out)
	count := map[float64]int{}
	for _, v := range out {
		count[v]++
	}
	if count[80]+count[443] > n/1000 {
		t.Errorf("far values drawn: %v", count)
	}
	for i, v := range []float64{50000, 50001, 50002} {
		want := float64(n) * prior[2+i] / 10
		if got := float64(count[v]); math.Abs(got-want) > 4*math.Sqrt(want) {
			t.Errorf("value %v drawn %v times, want about %v", v, got, want)
		}
	}
	// Reseeding reproduces the draws.
	c.seed(7)
	again := make([]float64, n)
	c.Decode(vecs, 4, 0, again)
	if !slices.Equal(out, again) {
		t.Error("posterior decoding not reproducible after reseeding")
	}
}

// Matched decoding reproduces the prior's marginal even when the generated
// vectors all sit near one value.
func TestMatchedDecodingFollowsPrior(t *testing.T) {
	vec := map[uint16][]float32{
		80: unit(1, 0.2, 0, 0), 443: unit(1, -0.2, 0, 0), 8080: unit(0.8, 0, 0.6, 0),
		50000: unit(0, 1, 0, 0.1), 50001: unit(0, 1, 0.1, 0),
	}
	emb := &stubEmbedding{ports: vec, protos: map[uint8][]float32{6: unit(0, 0, 0, 1)}}
	cand := []int{80, 443, 8080, 50000, 50001}
	prior := []float64{40, 30, 10, 10, 10}
	c := &Embedded{Field: "dstport", E: emb, Candidates: cand, Post: &Posterior{Prior: prior, Kappa: 5, TopK: 5}}
	r := rand.New(rand.NewPCG(8, 8))
	n := 20000
	vecs := make([]float32, 0, n*4)
	for range n {
		// A generator that over-produces port 80's direction.
		vecs = append(vecs, 1, 0.25+0.3*float32(r.NormFloat64()), 0.1*float32(r.NormFloat64()), 0)
	}
	plain := make([]float64, n)
	c.seed(1)
	c.Decode(vecs, 4, 0, plain)
	matched := make([]float64, n)
	c.DecodeMatched(vecs, 4, 0, matched, nil, rand.New(rand.NewPCG(9, 9)))
	share := func(out []float64, v float64) float64 {
		k := 0
		for _, x := range out {
			if x == v {
				k++
			}
		}
		return float64(k) / float64(len(out))
	}
	if share(plain, 80) < 0.6 {
		t.Fatalf("test setup: plain posterior decoding gives port 80 only %.2f", share(plain, 80))
	}
	for i, v := range cand {
		want := prior[i] / 100
		if got := share(matched, float64(v)); math.Abs(got-want) > 0.02 {
			t.Errorf("matched decoding: port %d share %.3f, want %.2f", v, got, want)
		}
	}
}

// twoPorts returns a codec of the ports a and b, on two orthogonal
// vectors, with posterior post, and n rows spread at random between the
// two with weight(i) each.
func twoPorts(a, b uint16, post *Posterior, n int, seed uint64, weight func(i int) float64) (*Embedded, []float32, []float64) {
	vec := map[uint16][]float32{a: unit(1, 0, 0, 0), b: unit(0, 1, 0, 0)}
	emb := &stubEmbedding{ports: vec, protos: map[uint8][]float32{6: unit(0, 0, 0, 1)}}
	c := &Embedded{Field: "dstport", E: emb, Candidates: []int{int(a), int(b)}, Post: post}
	r := rand.New(rand.NewPCG(3, seed))
	vecs := make([]float32, 0, n*4)
	weights := make([]float64, n)
	for i := range n {
		vecs = append(vecs, float32(r.Float64()), float32(r.Float64()), 0, 0)
		weights[i] = weight(i)
	}
	return c, vecs, weights
}

// Weighted matching of a chunk's rows follows that chunk's records, with
// chunkSmooth records of the trace's shares mixed in: a chunk of 1,000
// records, 900 on port 80, gives port 80 (900 + 100) / 1,200 of them,
// where the trace's prior gives it half. With a capture's ChunkShare,
// the trace's shares weigh at most a tenth of the chunk's records: (900
// + 50) / 1,100, and a chunk of 10,000 records, 9,000 on port 80, still
// (9,000 + 100) / 10,200. A chunk without records, or no chunk, follows
// the trace.
func TestMatchedDecodingByChunk(t *testing.T) {
	n := 20000
	c, vecs, weights := twoPorts(80, 443, &Posterior{Prior: []float64{10, 10}, RecordPrior: []float64{1000, 1000},
		ChunkRecordPrior: [][]float64{{900, 100}, {0, 0}, {9000, 1000}}, Kappa: 2, TopK: 2},
		n, 6, func(i int) float64 { return float64(1 + i%2) })
	for _, tc := range []struct {
		chunk int
		share float64
		want  float64
	}{{0, 0, 1000.0 / 1200}, {0, CaptureChunkShare, 950.0 / 1100}, {2, CaptureChunkShare, 9100.0 / 10200}, {1, 0, 0.5}, {1, CaptureChunkShare, 0.5}, {-1, 0, 0.5}, {5, 0, 0.5}} {
		out := make([]float64, n)
		c.DecodeMatchedWith(vecs, 4, 0, out, MatchOptions{Weights: weights, Chunk: tc.chunk, ChunkShare: tc.share}, rand.New(rand.NewPCG(5, 8)))
		var w80, total float64
		for i, v := range out {
			total += weights[i]
			if v == 80 {
				w80 += weights[i]
			}
		}
		if got := w80 / total; math.Abs(got-tc.want) > 0.02 {
			t.Errorf("chunk %d, share %g: port 80's share of records %.3f, want %.3f", tc.chunk, tc.share, got, tc.want)
		}
	}
}

// A row that takes a candidate with a weight of its own (as) counts that
// weight: rows generated 5 records long that become one-record flows of a
// one-off port's token must be five times as many to give the token its
// share of records. The records, counted as they will be, keep their
// shares.
func TestMatchedDecodingTokenWeights(t *testing.T) {
	n := 20000
	c, vecs, weights := twoPorts(80, 40000, &Posterior{Prior: []float64{10, 10}, RecordPrior: []float64{10, 10}, Kappa: 2, TopK: 2},
		n, 5, func(int) float64 { return 5 })
	for _, as := range [][]float64{nil, {0, 1}} {
		out := make([]float64, n)
		c.DecodeMatchedWith(vecs, 4, 0, out, MatchOptions{Weights: weights, As: as, Chunk: -1}, rand.New(rand.NewPCG(5, 7)))
		var rows, recs80, recsTok float64
		for i, v := range out {
			if v == 40000 {
				rows++
				recsTok += 1
				if as == nil {
					recsTok += weights[i] - 1
				}
			} else {
				recs80 += weights[i]
			}
		}
		share := recsTok / (recsTok + recs80)
		wantRows := 0.5
		if as != nil {
			wantRows = 5.0 / 6
		}
		if got := rows / float64(n); math.Abs(got-wantRows) > 0.02 || math.Abs(share-0.5) > 0.02 {
			t.Errorf("as %v: %.3f of the rows and %.3f of the records on the token, want %.3f and 0.5", as, got, share, wantRows)
		}
	}
}

// Weighted matching counts each row as many times as its weight: the
// values keep their share of records, not of rows.
func TestMatchedDecodingWeighted(t *testing.T) {
	n := 20000
	c, vecs, weights := twoPorts(80, 443, &Posterior{Prior: []float64{10, 10}, RecordPrior: []float64{30, 10}, Kappa: 2, TopK: 2},
		n, 4, func(i int) float64 { return float64(1 + i%3) })
	out := make([]float64, n)
	c.DecodeMatched(vecs, 4, 0, out, weights, rand.New(rand.NewPCG(5, 6)))
	var w80, total float64
	for i, v := range out {
		total += weights[i]
		if v == 80 {
			w80 += weights[i]
		}
	}
	if got := w80 / total; math.Abs(got-0.75) > 0.02 {
		t.Errorf("weighted share of port 80 %.3f, want 0.75 (its share of records)", got)
	}
}

// A port codec restricted to one protocol keeps only the values seen with
// it, weighted by their frequency with it.
func TestForProtoRestrictsCandidates(t *testing.T) {
	emb := newStub([]uint16{53, 80, 443, 5353}, []uint8{6, 17})
	c := &Embedded{Field: "dstport", E: emb, Candidates: []int{53, 80, 443, 5353},
		Post: &Posterior{Prior: []float64{5, 3, 4, 1}, Kappa: 5, TopK: 4},
		ByProto: map[uint8]*Posterior{
			17: {Prior: []float64{5, 0, 0, 1}, RecordPrior: []float64{6, 0, 0, 2}, ChunkRecordPrior: [][]float64{{4, 0, 0, 0}, {2, 0, 0, 2}}},
			6:  {Prior: []float64{0, 3, 4, 0}},
		}}
	udp := c.ForProto(17)
	if udp == nil || !slices.Equal(udp.Candidates, []int{53, 5353}) || !slices.Equal(udp.Post.Prior, []float64{5, 1}) || !slices.Equal(udp.Post.RecordPrior, []float64{6, 2}) {
		t.Fatalf("UDP codec %+v", udp)
	}
	if cp := udp.Post.ChunkRecordPrior; len(cp) != 2 || !slices.Equal(cp[0], []float64{4, 0}) || !slices.Equal(cp[1], []float64{2, 2}) {
		t.Errorf("UDP codec's chunk priors %v, want [[4 0] [2 2]]", cp)
	}
	if c.ForProto(17) != udp {
		t.Error("restricted codec not reused")
	}
	if c.ForProto(1) != nil || (&Embedded{Post: c.Post}).ForProto(17) != nil {
		t.Error("a protocol without prior, or a codec without per-protocol priors, gave a codec")
	}
	out := make([]float64, 200)
	vecs := make([]float32, 200*4)
	for i := range vecs {
		vecs[i] = float32(i%7) - 3
	}
	udp.DecodeMatched(vecs, 4, 0, out, nil, rand.New(rand.NewPCG(1, 1)))
	for _, v := range out {
		if v != 53 && v != 5353 {
			t.Fatalf("UDP port decoded as %v", v)
		}
	}
}

// With small-integer vectors every dot product is exact in float32, so the
// top-K search and the dense search find the same candidates, in the same
// order, with the same similarities, ties (plentiful here) included; and
// posterior and matched decoding, which use the codec's top-K search, draw
// exactly what they draw with the dense search.
func TestTopKSearchMatchesDense(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	small := func() float32 { return float32(r.IntN(5) - 2) }
	const m, n = 300, 3000
	vec := map[uint16][]float32{}
	var cand []int
	var prior []float64
	for i := range m {
		p := uint16(1000 + 7*i)
		vec[p] = []float32{small(), small(), small(), small()}
		cand = append(cand, int(p))
		prior = append(prior, float64(1+r.IntN(50)))
	}
	emb := &stubEmbedding{ports: vec, protos: map[uint8][]float32{6: {0, 0, 0, 1}}}
	vecs := make([]float32, n*4)
	for i := range vecs {
		vecs[i] = small()
	}
	for _, k := range []int{1, 17, 64, m, m + 50} {
		c := &Embedded{Field: "srcport", E: emb, Candidates: cand, Post: &Posterior{Prior: prior, Kappa: 3, TopK: k}}
		dense := denseSearch(c.candidateVectors(), 4)
		kk := min(k, m)
		i1, s1 := make([]int32, n*kk), make([]float32, n*kk)
		i2, s2 := make([]int32, n*kk), make([]float32, n*kk)
		c.search()(vecs, kk, i1, s1)
		dense(vecs, kk, i2, s2)
		if !slices.Equal(i1, i2) || !slices.Equal(s1, s2) {
			t.Fatalf("k %d: top-K search differs from the dense search", k)
		}
		c.seed(5)
		got := make([]float64, n)
		c.Decode(vecs, 4, 0, got)
		idx := make([]int, n)
		decodePosterior(vecs, n, 4, m, dense, c.Post, rand.New(rand.NewPCG(5, 0x706f7374)), idx)
		for i, j := range idx {
			if got[i] != float64(cand[j]) {
				t.Fatalf("k %d: posterior decoding of row %d: %v, dense search %v", k, i, got[i], cand[j])
			}
		}
		c.DecodeMatched(vecs, 4, 0, got, nil, rand.New(rand.NewPCG(6, 6)))
		decodeMatched(vecs, n, 4, m, dense, c.Post, nil, nil, -1, 0, rand.New(rand.NewPCG(6, 6)), 200, idx)
		for i, j := range idx {
			if got[i] != float64(cand[j]) {
				t.Fatalf("k %d: matched decoding of row %d: %v, dense search %v", k, i, got[i], cand[j])
			}
		}
	}
}

// With random unit vectors (rounding differs between the two searches) and
// every candidate in the posterior, each row's posterior is the dense
// search's.
func TestTopKPosteriorMatchesDense(t *testing.T) {
	ports := make([]uint16, 500)
	for i := range ports {
		ports[i] = uint16(2000 + i)
	}
	emb := newStub(ports, []uint8{6})
	r := rand.New(rand.NewPCG(3, 3))
	var cand []int
	var prior []float64
	for _, p := range ports {
		cand = append(cand, int(p))
		prior = append(prior, r.ExpFloat64())
	}
	const n = 400
	m := len(cand)
	vecs := make([]float32, n*4)
	for i := range vecs {
		vecs[i] = float32(r.NormFloat64())
	}
	c := &Embedded{Field: "dstport", E: emb, Candidates: cand, Post: &Posterior{Prior: prior, Kappa: 20, TopK: m}}
	i1, s1 := make([]int32, n*m), make([]float32, n*m)
	i2, s2 := make([]int32, n*m), make([]float32, n*m)
	c.search()(vecs, m, i1, s1)
	denseSearch(c.candidateVectors(), 4)(vecs, m, i2, s2)
	post := func(idx []int32, sims []float32) []float64 {
		w := make([]float64, m)
		sum := posteriorWeights(idx, sims, c.Post, w)
		p := make([]float64, m)
		for k, j := range idx {
			p[j] = w[k] / sum
		}
		return p
	}
	for i := range n {
		a := post(i1[i*m:(i+1)*m], s1[i*m:(i+1)*m])
		b := post(i2[i*m:(i+1)*m], s2[i*m:(i+1)*m])
		for j := range a {
			if math.Abs(a[j]-b[j]) > 1e-5 {
				t.Fatalf("row %d: posterior of candidate %d is %.7f, dense search %.7f", i, j, a[j], b[j])
			}
		}
	}
}
