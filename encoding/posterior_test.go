package encoding

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

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

// Weighted matching counts each row as many times as its weight: the
// values keep their share of records, not of rows.
func TestMatchedDecodingWeighted(t *testing.T) {
	vec := map[uint16][]float32{80: unit(1, 0, 0, 0), 443: unit(0, 1, 0, 0)}
	emb := &stubEmbedding{ports: vec, protos: map[uint8][]float32{6: unit(0, 0, 0, 1)}}
	c := &Embedded{Field: "dstport", E: emb, Candidates: []int{80, 443},
		Post: &Posterior{Prior: []float64{10, 10}, RecordPrior: []float64{30, 10}, Kappa: 2, TopK: 2}}
	r := rand.New(rand.NewPCG(3, 4))
	n := 20000
	vecs := make([]float32, 0, n*4)
	weights := make([]float64, n)
	for i := range n {
		vecs = append(vecs, float32(r.Float64()), float32(r.Float64()), 0, 0)
		weights[i] = float64(1 + i%3)
	}
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
			17: {Prior: []float64{5, 0, 0, 1}, RecordPrior: []float64{6, 0, 0, 2}},
			6:  {Prior: []float64{0, 3, 4, 0}},
		}}
	udp := c.ForProto(17)
	if udp == nil || !slices.Equal(udp.Candidates, []int{53, 5353}) || !slices.Equal(udp.Post.Prior, []float64{5, 1}) || !slices.Equal(udp.Post.RecordPrior, []float64{6, 2}) {
		t.Fatalf("UDP codec %+v", udp)
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
