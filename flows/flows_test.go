package flows

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func rec(t int64, src uint32, sport uint16) trace.Flow {
	return trace.Flow{Start: t, Src: src, Dst: 100, SrcPort: sport, DstPort: 80, Proto: trace.ProtoTCP, Packets: 1, Bytes: 40}
}

func TestGroupKeepsOrderAndKeys(t *testing.T) {
	recs := []trace.Flow{rec(1, 1, 10), rec(2, 2, 20), rec(3, 1, 10), rec(4, 3, 30), rec(5, 2, 20)}
	fl := Group(recs)
	if len(fl) != 3 {
		t.Fatalf("got %d flows, want 3", len(fl))
	}
	want := [][]int64{{1, 3}, {2, 5}, {4}}
	for i, f := range fl {
		var ts []int64
		for _, r := range f.Records {
			ts = append(ts, r.Start)
			if r.Key() != f.Key {
				t.Errorf("flow %d holds a record of key %v", i, r.Key())
			}
		}
		if !slices.Equal(ts, want[i]) {
			t.Errorf("flow %d times %v, want %v", i, ts, want[i])
		}
	}
	if n := CountKeys(recs); n != 3 {
		t.Errorf("CountKeys = %d", n)
	}
}

func TestBoundsCoverRangeAndLastRecord(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int64
		n      int
	}{{0, 99, 10}, {0, 100, 10}, {5, 5, 3}, {1458298072364000, 1458298255197000, 7}, {0, 1, 4}} {
		e := Bounds(tc.lo, tc.hi, tc.n)
		if e[0] != tc.lo || e[tc.n] != tc.hi+1 {
			t.Errorf("%v: edges %v do not cover [lo, hi]", tc, e)
		}
		for i := 1; i <= tc.n; i++ {
			if e[i] < e[i-1] {
				t.Errorf("%v: edges not monotone: %v", tc, e)
			}
		}
		span := tc.hi - tc.lo + 1
		// Every time maps to the chunk whose edges contain it.
		for _, ts := range []int64{tc.lo, tc.hi, (tc.lo + tc.hi) / 2} {
			c := chunkOf(ts, tc.lo, span, tc.n)
			if c < 0 || c >= tc.n || ts < e[c] || ts >= e[c+1] {
				t.Errorf("%v: t=%d in chunk %d with edges [%d,%d)", tc, ts, c, e[c], e[c+1])
			}
		}
	}
}

func TestSplitTagsMultichunkFlows(t *testing.T) {
	// Time span 0..99 in 4 chunks of 25 µs.
	recs := []trace.Flow{
		rec(0, 1, 10),  // A chunk 0
		rec(10, 2, 20), // B chunk 0
		rec(30, 1, 10), // A chunk 1
		rec(60, 3, 30), // C chunk 2
		rec(70, 2, 20), // B chunk 2 (skips chunk 1: non-contiguous)
		rec(99, 1, 10), // A chunk 3 (last record included)
	}
	sp, err := SplitByTime(recs, Options{Chunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{len(sp.Chunks[0].Flows), len(sp.Chunks[1].Flows), len(sp.Chunks[2].Flows), len(sp.Chunks[3].Flows)}; !slices.Equal(got, []int{2, 1, 2, 1}) {
		t.Fatalf("flows per chunk %v", got)
	}
	a := sp.Chunks[3].Flows[0]
	if a.Key.Src != 1 || a.StartsHere || !slices.Equal(a.Present, []bool{true, true, false, true}) {
		t.Errorf("flow A in chunk 3: %+v", a)
	}
	if a0 := sp.Chunks[0].Flows[0]; !a0.StartsHere || !slices.Equal(a0.Present, []bool{true, true, false, true}) {
		t.Errorf("flow A in chunk 0: %+v", a0)
	}
	c := sp.Chunks[2].Flows[0]
	if c.Key.Src != 3 || !c.StartsHere || !slices.Equal(c.Present, []bool{false, false, true, false}) {
		t.Errorf("flow C: %+v", c)
	}
	st := sp.Stats
	if st.Flows != 3 || st.MultiChunkFlows != 2 || st.NonContiguous != 2 || st.EmptyChunks != 0 {
		t.Errorf("stats %+v", st)
	}
	total := 0
	for _, ch := range sp.Chunks {
		total += ch.Records
		for _, f := range ch.Flows {
			for _, r := range f.Records {
				if r.Start < ch.Start || r.Start >= ch.End {
					t.Errorf("record at %d outside chunk %d [%d,%d)", r.Start, ch.Index, ch.Start, ch.End)
				}
			}
		}
	}
	if total != len(recs) {
		t.Errorf("chunks hold %d records, want %d", total, len(recs))
	}
}

func TestSplitTruncatesAndCounts(t *testing.T) {
	var recs []trace.Flow
	for i := range 10 {
		recs = append(recs, rec(int64(i), 1, 10))
	}
	recs = append(recs, rec(10, 2, 20), rec(11, 2, 20))
	sp, err := SplitByTime(recs, Options{Chunks: 1, MaxFlowLen: 3})
	if err != nil {
		t.Fatal(err)
	}
	st := sp.Stats
	if st.TruncatedFlows != 1 || st.TruncatedRecords != 7 || st.MaxFlowLen != 3 {
		t.Errorf("stats %+v", st)
	}
	if f := sp.Chunks[0].Flows[0]; len(f.Records) != 3 || f.Truncated != 7 || f.Records[2].Start != 2 {
		t.Errorf("flow %+v", f)
	}
	if sp.Chunks[0].Records != 5 {
		t.Errorf("chunk keeps %d records", sp.Chunks[0].Records)
	}
}

func TestSplitFixedRangeCountsOutOfRange(t *testing.T) {
	recs := []trace.Flow{rec(-5, 1, 1), rec(0, 1, 1), rec(50, 2, 2), rec(100, 3, 3), rec(101, 4, 4)}
	sp, err := SplitByTime(recs, Options{Chunks: 4, Start: 0, End: 100})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Stats.OutOfRange != 2 {
		t.Errorf("out of range %d, want 2", sp.Stats.OutOfRange)
	}
	if sp.Stats.EmptyChunks != 1 {
		t.Errorf("empty chunks %d, want 1 (chunk 1 holds nothing)", sp.Stats.EmptyChunks)
	}
}

func TestSplitErrors(t *testing.T) {
	if _, err := SplitByTime([]trace.Flow{}, Options{Chunks: 2}); err == nil {
		t.Error("empty input: want error")
	}
	if _, err := SplitByTime([]trace.Flow{rec(2, 1, 1), rec(1, 1, 1)}, Options{Chunks: 2}); err == nil {
		t.Error("unsorted input: want error")
	}
	if _, err := SplitByTime([]trace.Flow{rec(1, 1, 1)}, Options{Chunks: 0}); err == nil {
		t.Error("zero chunks: want error")
	}
}

// Splitting then concatenating the chunks' flows gives back every record,
// for random traces and chunk counts.
func TestSplitPartitionProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 1 + r.IntN(200)
		recs := make([]trace.Flow, n)
		for i := range recs {
			recs[i] = rec(r.Int64N(1_000_000), uint32(r.IntN(20)), uint16(r.IntN(3)))
		}
		SortByTime(recs)
		chunks := 1 + r.IntN(12)
		sp, err := SplitByTime(recs, Options{Chunks: chunks})
		if err != nil {
			t.Fatal(err)
		}
		count := map[trace.Key]int{}
		for _, ch := range sp.Chunks {
			for _, f := range ch.Flows {
				if !f.Present[ch.Index] {
					t.Fatalf("trial %d: flow not present in its own chunk", trial)
				}
				first := slices.Index(f.Present, true)
				if f.StartsHere != (first == ch.Index) {
					t.Fatalf("trial %d: StartsHere wrong", trial)
				}
				count[f.Key] += len(f.Records)
			}
		}
		want := map[trace.Key]int{}
		for _, x := range recs {
			want[x.Key()]++
		}
		if len(count) != len(want) {
			t.Fatalf("trial %d: %d keys, want %d", trial, len(count), len(want))
		}
		for k, v := range want {
			if count[k] != v {
				t.Fatalf("trial %d: key %v has %d records, want %d", trial, k, count[k], v)
			}
		}
	}
}

func TestSplitLongFlowsKeepsEveryRecord(t *testing.T) {
	var recs []trace.Flow
	for i := range 10 {
		recs = append(recs, rec(int64(i), 1, 10))
	}
	recs = append(recs, rec(10, 2, 20))
	sp, err := SplitByTime(recs, Options{Chunks: 1, MaxFlowLen: 4, SplitLong: true})
	if err != nil {
		t.Fatal(err)
	}
	fl := sp.Chunks[0].Flows
	lens := segmentLengths(fl)
	// Flow 1 becomes segments of 4, 4 and 2 records; flow 2 stays whole.
	if !slices.Equal(lens, []int{4, 4, 2, 1}) {
		t.Fatalf("segment lengths %v", lens)
	}
	if fl[1].Key != fl[0].Key || fl[1].Records[0].Start != 4 || fl[2].Records[0].Start != 8 || fl[3].Key == fl[0].Key {
		t.Errorf("segments out of order: %+v", fl)
	}
	st := sp.Stats
	if st.SplitFlows != 2 || st.TruncatedRecords != 0 || st.MaxFlowLen != 4 || sp.Chunks[0].Records != 11 {
		t.Errorf("stats %+v, records %d", st, sp.Chunks[0].Records)
	}
}

// segmentLengths returns the records of each chunk flow.
func segmentLengths(fl []ChunkFlow[trace.Flow]) []int {
	var lens []int
	for _, f := range fl {
		lens = append(lens, len(f.Records))
	}
	return lens
}

func TestSplitChainsLongFlows(t *testing.T) {
	var recs []trace.Flow
	for i := range 10 {
		recs = append(recs, rec(int64(i*i), 1, 10)) // gaps 1, 3, 5, ...
	}
	recs = append(recs, rec(100, 2, 20))
	for _, tc := range []struct {
		cap     int
		lens    []int
		flowLen int
		trunc   int
		span    int64 // first record to last kept one
	}{
		{0, []int{4, 4, 2, 1}, 10, 0, 81},
		{9, []int{4, 4, 1, 1}, 9, 1, 64},
	} {
		sp, err := SplitByTime(recs, Options{Chunks: 1, MaxFlowLen: 4, Chain: true, MaxChainLen: tc.cap})
		if err != nil {
			t.Fatal(err)
		}
		fl := sp.Chunks[0].Flows
		lens := segmentLengths(fl)
		if !slices.Equal(lens, tc.lens) {
			t.Fatalf("cap %d: segment lengths %v, want %v", tc.cap, lens, tc.lens)
		}
		for i, f := range fl[:3] {
			if f.FlowLen != tc.flowLen || f.Follows != (i > 0) || f.Span != tc.span {
				t.Errorf("cap %d: segment %d has flow length %d, follows %v, span %d", tc.cap, i, f.FlowLen, f.Follows, f.Span)
			}
		}
		// The lead is the gap from the previous segment's last record.
		if fl[0].Lead != 0 || fl[1].Lead != 16-9 || fl[2].Lead != 64-49 {
			t.Errorf("cap %d: leads %d, %d, %d", tc.cap, fl[0].Lead, fl[1].Lead, fl[2].Lead)
		}
		if fl[3].FlowLen != 1 || fl[3].Follows || fl[3].Span != 0 || fl[2].Truncated != tc.trunc {
			t.Errorf("cap %d: short flow %+v, truncated %d", tc.cap, fl[3], fl[2].Truncated)
		}
		st := sp.Stats
		if st.ChainedFlows != 1 || st.SplitFlows != 2 || st.TruncatedRecords != tc.trunc || st.LongestChain != tc.flowLen {
			t.Errorf("cap %d: stats %+v", tc.cap, st)
		}
	}
}
