package postgen

import (
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// tagSchema builds a flow schema with n chunks (and so tags) from a few
// records.
func tagSchema(t testing.TB, n int) *encoding.Schema {
	return schemaWith(t, n, encoding.BuildOptions{})
}

func schemaWith(t testing.TB, n int, opt encoding.BuildOptions) *encoding.Schema {
	t.Helper()
	var recs []trace.Flow
	for i := range 40 {
		recs = append(recs, trace.Flow{Start: int64(i) * 1000, Src: uint32(i % 7), Dst: 9, SrcPort: uint16(1000 + i%5), DstPort: 80, Proto: 6, Packets: uint64(1 + i%3), Bytes: uint64(40 * (1 + i%5)), Dur: int64(i * i)})
	}
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: n})
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxLen = sp.Stats.MaxFlowLen
	return schemaOf(t, recs, sp, opt)
}

// schemaOf builds the flow schema of split sp of recs, with an embedding
// trained on recs.
func schemaOf(t testing.TB, recs []trace.Flow, sp *flows.Split[trace.Flow], opt encoding.BuildOptions) *encoding.Schema {
	t.Helper()
	spec, err := encoding.BuildFlowSpec(sp, opt)
	if err != nil {
		t.Fatal(err)
	}
	return schemaFromSpec(t, recs, spec)
}

// schemaFromSpec builds the schema of spec with an embedding trained on
// recs (tail ports as their tokens).
func schemaFromSpec(t testing.TB, recs []trace.Flow, spec encoding.Spec) *encoding.Schema {
	t.Helper()
	var sents []ip2vec.Sentence
	for _, r := range recs {
		sents = append(sents, ip2vec.SentenceOf(spec.TailPorts.CanonKey(r.Key())))
	}
	emb, err := ip2vec.Train(sents, ip2vec.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := encoding.NewSchema(spec, emb)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// row makes an encoded attribute row with the given tags and start value.
func row(t *testing.T, s *encoding.Schema, src uint32, here bool, present []bool, start float32) Row {
	t.Helper()
	v := make([]float32, s.AttrDim())
	setTag(s, v, "starts_here", here)
	for i, p := range present {
		setTag(s, v, encoding.PresentName(i), p)
	}
	off, _ := s.AttrSlice("flow_start")
	v[off] = start
	ipOff, _ := s.AttrSlice("srcip")
	for b := range 32 {
		bit := src >> (31 - b) & 1
		v[ipOff+2*b], v[ipOff+2*b+1] = float32(1-bit), float32(bit)
	}
	attrs, err := s.DecodeAttributes(v, 1)
	if err != nil {
		t.Fatal(err)
	}
	return Row{Vec: v, Attr: attrs[0]}
}

func TestMergeChunksStitchesFlows(t *testing.T) {
	s := tagSchema(t, 3)
	T, F := true, false
	gen := [][]Row{
		{
			row(t, s, 1, T, []bool{T, F, T}, 0.1), // continues into chunk 2
			row(t, s, 2, T, []bool{F, T, F}, 0.2), // inconsistent: starts here but not present; continues into 1
			row(t, s, 3, F, []bool{T, F, F}, 0.3), // does not start here: dropped
		},
		nil, // chunk 1 has no model
		{
			row(t, s, 4, T, []bool{F, F, T}, 0.4),
			row(t, s, 5, F, []bool{T, T, T}, 0.9), // lends its start to continuations
		},
	}
	st := &Stats{}
	out := mergeChunks(t, s, gen, 1, st)
	srcs := func(rows []Row) []uint32 {
		var o []uint32
		for _, r := range rows {
			o = append(o, r.Attr.Key.Src)
		}
		return o
	}
	if got := srcs(out[0]); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("chunk 0 keeps %v, want [1 2]", got)
	}
	if out[1] != nil {
		t.Errorf("chunk without a model got rows %v", srcs(out[1]))
	}
	if got := srcs(out[2]); !slices.Equal(got, []uint32{4, 1}) {
		t.Errorf("chunk 2 holds %v, want [4 1] (its own flow, then the continuation)", got)
	}
	if st.FixedTags != 1 || st.Continuations != 1 || st.DroppedEmpty != 1 {
		t.Errorf("stats %+v, want 1 fixed tag, 1 continuation, 1 dropped into an empty chunk", st)
	}
	// The fixed row is present in its chunk; the continuation does not
	// start in chunk 2, keeps its other tags, and starts where chunk 2's
	// own continuations do.
	fixed := out[0][1]
	if !fixed.Attr.Present[0] {
		t.Error("inconsistent row not fixed")
	}
	if a, _ := s.DecodeAttributes(fixed.Vec, 1); !a[0].Present[0] {
		t.Error("fixed tag not written into the vector")
	}
	c := out[2][1]
	dec, _ := s.DecodeAttributes(c.Vec, 1)
	if c.Attr.StartsHere || dec[0].StartsHere || !dec[0].Present[2] || !dec[0].Present[0] {
		t.Errorf("continuation tags wrong: %+v", dec[0])
	}
	if c.Attr.Start != float64(float32(0.9)) || dec[0].Start != c.Attr.Start {
		t.Errorf("continuation starts at %v, want 0.9", c.Attr.Start)
	}
	// The source row is untouched.
	if a, _ := s.DecodeAttributes(gen[0][0].Vec, 1); !a[0].StartsHere {
		t.Error("merge modified the generated row it copied")
	}
}

func TestMergeSingleChunkPassesThrough(t *testing.T) {
	s := tagSchema(t, 1)
	gen := [][]Row{{row(t, s, 1, false, nil, 0.5), row(t, s, 2, true, nil, 0.5)}}
	out := mergeChunks(t, s, gen, 1, &Stats{})
	if len(out[0]) != 2 {
		t.Errorf("one chunk: %d rows kept, want 2", len(out[0]))
	}
}

// Copies into a chunk are capped at the number of continuations the
// chunk's own model generated.
func TestMergeCapsContinuations(t *testing.T) {
	s := tagSchema(t, 2)
	T, F := true, false
	gen := [][]Row{
		{row(t, s, 1, T, []bool{T, T}, 0.1), row(t, s, 2, T, []bool{T, T}, 0.1), row(t, s, 3, T, []bool{T, T}, 0.1)},
		{row(t, s, 4, T, []bool{F, T}, 0.5), row(t, s, 5, F, []bool{T, T}, 0.7)},
	}
	st := &Stats{}
	out := mergeChunks(t, s, gen, 2, st)
	if len(out[1]) != 2 || st.Continuations != 1 || st.DroppedCopies != 2 {
		t.Errorf("chunk 1 holds %d rows, %d continuations, %d dropped; want 2, 1, 2", len(out[1]), st.Continuations, st.DroppedCopies)
	}
}

// mergeChunks runs the merge of a Stream without the other passes over
// every chunk's rows (nil for a chunk without a model), each chunk one
// block, and returns the rows each chunk generates features for: its own,
// then the continuations.
func mergeChunks(t *testing.T, s *encoding.Schema, gen [][]Row, seed uint64, st *Stats) [][]Row {
	t.Helper()
	return mergeIn(t, s, gen, seed, st, "")
}

// mergeIn is mergeChunks with the continuations carried in temporary files
// under dir (in memory when dir is empty).
func mergeIn(t *testing.T, s *encoding.Schema, gen [][]Row, seed uint64, st *Stats, dir string) [][]Row {
	t.Helper()
	return mergeWith(t, s, gen, seed, st, dir, nil)
}

// mergeWith is mergeIn with setup called on the Stream before the chunks.
func mergeWith(t *testing.T, s *encoding.Schema, gen [][]Row, seed uint64, st *Stats, dir string, setup func(*Stream)) [][]Row {
	t.Helper()
	g := NewStream(s, len(gen), Options{Seed: seed}, dir, st)
	defer g.Close()
	if setup != nil {
		setup(g)
	}
	out := make([][]Row, len(gen))
	for c, rows := range gen {
		if rows == nil {
			if err := g.Skip(c); err != nil {
				t.Fatal(err)
			}
			continue
		}
		own, err := g.Own(c, 0, rows)
		if err != nil {
			t.Fatal(err)
		}
		out[c] = own
		err = g.Continuations(c, 1, 2, func(_ int, rows []Row) error {
			out[c] = append(out[c], rows...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Continuations carried through a temporary file come back as those
// carried in memory, and the file goes once they are read.
func TestMergeCarriesThroughFiles(t *testing.T) {
	s := tagSchema(t, 3)
	var gen [][]Row
	for c := range 3 {
		var rows []Row
		for i := range 40 {
			rows = append(rows, row(t, s, uint32(100*c+i), i%3 != 0, []bool{c == 0 || i%2 == 0, i%4 != 1, i%5 != 2}, float32(i)/40))
		}
		gen = append(gen, rows)
	}
	mem, disk := &Stats{}, &Stats{}
	want := mergeIn(t, s, gen, 7, mem, "")
	dir := t.TempDir()
	got := mergeIn(t, s, gen, 7, disk, dir)
	if *mem != *disk || mem.Continuations == 0 {
		t.Errorf("stats through files %+v, in memory %+v (want equal, with continuations)", disk, mem)
	}
	for c := range want {
		if len(got[c]) != len(want[c]) {
			t.Fatalf("chunk %d: %d rows through files, %d in memory", c, len(got[c]), len(want[c]))
		}
		for i := range want[c] {
			if !slices.Equal(got[c][i].Vec, want[c][i].Vec) || got[c][i].Attr.Key != want[c][i].Attr.Key ||
				got[c][i].Attr.Start != want[c][i].Attr.Start || !slices.Equal(got[c][i].Attr.Present, want[c][i].Attr.Present) {
				t.Errorf("chunk %d row %d differs through files", c, i)
			}
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// With start targets, rows of a later chunk that the model marked as new
// flows become lenders, those it weighed least first, until the chunk has
// as many lenders as carried copies (up to the real share of its flows
// that continue), so that no carried flow is dropped for want of one.
func TestMergeMakesLendersOfSurplusStarts(t *testing.T) {
	s := tagSchema(t, 2)
	T, F := true, false
	off, _ := s.AttrSlice("starts_here")
	weighed := func(r Row, p float32) Row {
		r.Vec[off], r.Vec[off+1] = 1-p, p
		return r
	}
	gen := [][]Row{
		{row(t, s, 1, T, []bool{T, T}, 0.1), row(t, s, 2, T, []bool{T, T}, 0.1), row(t, s, 3, T, []bool{T, T}, 0.1)},
		{
			weighed(row(t, s, 4, T, []bool{F, T}, 0.5), 0.9),
			weighed(row(t, s, 5, T, []bool{F, T}, 0.5), 0.55),
			weighed(row(t, s, 6, T, []bool{F, T}, 0.5), 0.6),
			row(t, s, 7, F, []bool{T, T}, 0.7),
		},
	}
	for _, tc := range []struct {
		share         float64 // of chunk 1's real flows that start in it
		made, dropped int
		own           []uint32
	}{
		{0.25, 2, 0, []uint32{4}},    // three lenders wanted: the two least sure starts lend
		{0.5, 1, 1, []uint32{4, 6}},  // two lenders: one carried copy dropped
		{1, 0, 2, []uint32{4, 5, 6}}, // every real flow starts there: nothing made
	} {
		st := &Stats{}
		in := [][]Row{slices.Clone(gen[0]), slices.Clone(gen[1])}
		out := mergeWith(t, s, in, 3, st, "", func(g *Stream) { g.SetStartTargets([]int{3, 4}, []float64{1, tc.share}) })
		var own []uint32
		for _, r := range out[1] {
			if r.Attr.StartsHere {
				own = append(own, r.Attr.Key.Src)
			}
		}
		if st.MadeLenders != tc.made || st.DroppedCopies != tc.dropped || !slices.Equal(own, tc.own) {
			t.Errorf("share %g: made %d lenders, dropped %d copies, own flows %v; want %d, %d, %v", tc.share, st.MadeLenders, st.DroppedCopies, own, tc.made, tc.dropped, tc.own)
		}
		if st.Continuations+st.DroppedCopies != 3 {
			t.Errorf("share %g: %d continuations and %d dropped of 3 carried", tc.share, st.Continuations, st.DroppedCopies)
		}
	}
	// A row made a lender has its tag written into a vector of its own.
	if a, _ := s.DecodeAttributes(gen[1][1].Vec, 1); !a[0].StartsHere {
		t.Error("making a lender changed the generated vector in place")
	}
}

// A continuation takes its lender from the pool nearest its 5-tuple with
// one left, each lender once until all have lent.
func TestLendPoolsPreferTheSameService(t *testing.T) {
	key := func(proto uint8, sp, dp uint16) trace.Key { return trace.Key{Proto: proto, SrcPort: sp, DstPort: dp} }
	lenders := []lender{{key: key(6, 50000, 22)}, {key: key(6, 50001, 80)}, {key: key(17, 50002, 53)}, {key: key(6, 50003, 443)}}
	p := newLendPools(lenders, false, rand.New(rand.NewPCG(1, 2)))
	if i := p.draw(key(6, 41000, 22), 0, 1); i != 0 {
		t.Errorf("an SSH continuation took lender %d, want the SSH one (0)", i)
	}
	if i := p.draw(key(17, 41001, 53), 0, 1); i != 2 {
		t.Errorf("a DNS continuation took lender %d, want the DNS one (2)", i)
	}
	seen := map[int]bool{0: true, 2: true}
	for range 2 { // the SSH lender has lent: another TCP one
		i := p.draw(key(6, 41000, 22), 0, 1)
		if seen[i] || lenders[i].key.Proto != 6 {
			t.Errorf("second SSH continuation took lender %d (seen %v)", i, seen)
		}
		seen[i] = true
	}
	// Every lender has lent: a new round starts with the SSH one again.
	if i := p.draw(key(6, 41000, 22), 0, 1); i != 0 {
		t.Errorf("new round: an SSH continuation took lender %d, want 0", i)
	}
}

// With NearestLenders a continuation takes its start from the lender of
// its own service.
func TestMergeNearestLenders(t *testing.T) {
	s := tagSchema(t, 2)
	T := true
	onPort := func(r Row, port uint16) Row {
		r.Attr.Key.DstPort = port
		return r
	}
	gen := [][]Row{
		{onPort(row(t, s, 1, T, []bool{T, T}, 0.1), 22), onPort(row(t, s, 2, T, []bool{T, T}, 0.1), 80)},
		{onPort(row(t, s, 8, false, []bool{T, T}, 0.3), 80), onPort(row(t, s, 9, false, []bool{T, T}, 0.8), 22)},
	}
	for seed := range uint64(4) {
		g := NewStream(s, 2, Options{Seed: seed, NearestLenders: true}, "", &Stats{})
		starts := map[uint16]float64{}
		for c, rows := range gen {
			if _, err := g.Own(c, 0, slices.Clone(rows)); err != nil {
				t.Fatal(err)
			}
			err := g.Continuations(c, 1, 8, func(_ int, rows []Row) error {
				for _, r := range rows {
					starts[r.Attr.Key.DstPort] = r.Attr.Start
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		g.Close()
		if starts[22] != float64(float32(0.8)) || starts[80] != float64(float32(0.3)) {
			t.Errorf("seed %d: continuations start at %v, want port 22 at 0.8 and 80 at 0.3", seed, starts)
		}
	}
}

// Within a pool, a continuation takes the lender whose length is nearest
// its own in the chunk it comes from.
func TestLendPoolsNearestLength(t *testing.T) {
	ssh := trace.Key{Proto: 6, SrcPort: 50000, DstPort: 22}
	lenders := []lender{{key: ssh, n: 1}, {key: ssh, n: 50}, {key: ssh, n: 2000}, {key: ssh, n: 3}}
	for seed := range uint64(5) {
		p := newLendPools(lenders, false, rand.New(rand.NewPCG(seed, 9)))
		got := []int{p.draw(ssh, 0, 1800), p.draw(ssh, 0, 2), p.draw(ssh, 0, 2), p.draw(ssh, 0, 2)}
		if want := []int{2, 3, 0, 1}; !slices.Equal(got, want) {
			t.Errorf("seed %d: lenders %v, want %v (nearest length first, then the next nearest left)", seed, got, want)
		}
	}
}
