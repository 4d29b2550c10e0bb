package flows

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// randomFlows returns n flow records over few 5-tuples and times with many
// ties, in no particular order.
func randomFlows(r *rand.Rand, n, keys int, span int64) []trace.Flow {
	out := make([]trace.Flow, n)
	labels := []string{"background", "anomaly", ""}
	for i := range out {
		k := r.IntN(keys)
		out[i] = trace.Flow{Start: 1000 + r.Int64N(span), Dur: r.Int64N(5000), Src: uint32(k % 7), Dst: uint32(k / 7),
			SrcPort: uint16(k * 13), DstPort: 80, Proto: trace.ProtoTCP, Packets: uint64(r.IntN(9) + 1), Bytes: uint64(r.IntN(1500)),
			Label: labels[r.IntN(len(labels))], TCPFlags: uint8(r.IntN(64)), Fwd: uint8(i % 3)}
	}
	return out
}

// streamSplit splits recs as the streaming pre-processing does: external
// sort by 5-tuple and time, stream split, chunk spill, chunk by chunk. With
// each, the chunks are read back one flow at a time (ChunkSpill.Each) and
// gathered; otherwise whole (ChunkSpill.Load).
func streamSplit(t *testing.T, recs []trace.Flow, opt Options, buf int, each bool) ([]Chunk[trace.Flow], SplitStats) {
	t.Helper()
	dir := t.TempDir()
	codec := NewFlowCodec()
	s := NewSorter[trace.Flow](dir, codec, CompareKeyTime[trace.Flow], buf)
	lo, hi := int64(1<<62), int64(-1<<62)
	for i := range recs {
		if _, err := s.Add(&recs[i]); err != nil {
			t.Fatal(err)
		}
		lo, hi = min(lo, recs[i].Start), max(hi, recs[i].Start)
	}
	m, err := s.Merge()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sp := NewChunkSpill[trace.Flow](dir, codec, opt.Chunks)
	defer sp.Cleanup()
	ss, err := NewStreamSplitter[trace.Flow](lo, hi, opt, sp.Write)
	if err != nil {
		t.Fatal(err)
	}
	var r trace.Flow
	for {
		seq, err := m.Next(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.Add(&r, seq); err != nil {
			t.Fatal(err)
		}
	}
	st, nf, nr, err := ss.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Finish(); err != nil {
		t.Fatal(err)
	}
	edges := ss.Edges()
	var chunks []Chunk[trace.Flow]
	for c := range opt.Chunks {
		var ch *Chunk[trace.Flow]
		if each {
			ch = &Chunk[trace.Flow]{Index: c, Start: edges[c], End: edges[c+1]}
			err = sp.Each(c, func(f *ChunkFlow[trace.Flow]) error {
				g := *f // f and its slices are only valid during the call
				g.Records, g.Present = slices.Clone(f.Records), slices.Clone(f.Present)
				ch.Flows = append(ch.Flows, g)
				ch.Records += len(g.Records)
				return nil
			})
		} else {
			ch, err = sp.Load(c, edges[c], edges[c+1])
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(sp.path(c)); !os.IsNotExist(err) {
			t.Errorf("chunk %d: the spill file is still there after reading it back (%v)", c, err)
		}
		if len(ch.Flows) != nf[c] || ch.Records != nr[c] {
			t.Errorf("chunk %d: %d flows, %d records read back; the splitter counted %d, %d", c, len(ch.Flows), ch.Records, nf[c], nr[c])
		}
		chunks = append(chunks, *ch)
	}
	return chunks, st
}

func TestStreamSplitMatchesSplitByTime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		n, keys, chunks, maxLen int
		split                   bool
		span                    int64
		fixed                   [2]int64
		chain, chainCap         int // chain: 1 for Options.Chain
	}{
		{500, 20, 4, 0, false, 10000, [2]int64{}, 0, 0},
		{500, 20, 4, 3, false, 10000, [2]int64{}, 0, 0},
		{500, 20, 4, 3, true, 10000, [2]int64{}, 0, 0},
		{800, 200, 7, 2, true, 50, [2]int64{}, 0, 0}, // many ties
		{300, 5, 1, 4, false, 1000, [2]int64{}, 0, 0},
		{400, 30, 3, 5, true, 10000, [2]int64{3000, 8000}, 0, 0}, // fixed range: records outside dropped
		{50, 10, 5, 0, false, 1, [2]int64{}, 0, 0},               // one instant
		{500, 8, 3, 4, false, 10000, [2]int64{}, 1, 0},           // chained segments
		{500, 8, 3, 4, false, 10000, [2]int64{}, 1, 30},          // chained, capped at 30 records per chunk flow
		{800, 3, 1, 7, false, 50, [2]int64{}, 1, 100},            // long chains, many ties
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			recs := randomFlows(r, tc.n, tc.keys, tc.span)
			opt := Options{Chunks: tc.chunks, MaxFlowLen: tc.maxLen, SplitLong: tc.split, Start: tc.fixed[0], End: tc.fixed[1],
				Chain: tc.chain == 1, MaxChainLen: tc.chainCap}
			for _, run := range []struct {
				buf  int
				each bool
			}{{0, false}, {7, false}, {64, false}, {0, true}, {7, true}, {64, true}} {
				buf := run.buf
				got, gotSt := streamSplit(t, recs, opt, buf, run.each)
				sorted := slices.Clone(recs)
				SortByTime(sorted)
				want, err := SplitByTime(sorted, opt)
				if err != nil {
					t.Fatal(err)
				}
				if gotSt != want.Stats {
					t.Errorf("buffer %d: stats %+v, want %+v", buf, gotSt, want.Stats)
				}
				if !reflect.DeepEqual(got, want.Chunks) {
					for c := range want.Chunks {
						if !reflect.DeepEqual(got[c], want.Chunks[c]) {
							t.Errorf("buffer %d, flow by flow %v: chunk %d differs: %d flows vs %d", buf, run.each, c, len(got[c].Flows), len(want.Chunks[c].Flows))
						}
					}
				}
			}
		})
	}
}

func TestSorterManyRunsTiesAndTinyBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	recs := randomFlows(r, 5000, 40, 300) // many equal (key, time) pairs
	for _, buf := range []int{1, 3, 50, 100000} {
		dir := t.TempDir()
		s := NewSorter[trace.Flow](dir, NewFlowCodec(), CompareKeyTime[trace.Flow], buf)
		for i := range recs {
			if seq, err := s.Add(&recs[i]); err != nil || seq != int64(i) {
				t.Fatalf("Add %d: seq %d, %v", i, seq, err)
			}
		}
		if buf == 1 && s.Runs() != len(recs) {
			t.Errorf("a buffer of 1 record wrote %d runs, want %d", s.Runs(), len(recs))
		}
		seen := make([]bool, len(recs))
		if err := s.Scan(func(r *trace.Flow, seq int64) {
			if *r != recs[seq] || seen[seq] {
				t.Fatalf("Scan gave record %d twice or wrong", seq)
			}
			seen[seq] = true
		}); err != nil {
			t.Fatal(err)
		}
		if i := slices.Index(seen, false); i >= 0 {
			t.Errorf("buffer %d: Scan missed record %d", buf, i)
		}
		m, err := s.Merge()
		if err != nil {
			t.Fatal(err)
		}
		type pair struct {
			f   trace.Flow
			seq int64
		}
		var got []pair
		var f trace.Flow
		for {
			seq, err := m.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, pair{f, seq})
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		want := make([]pair, len(recs))
		for i := range recs {
			want[i] = pair{recs[i], int64(i)}
		}
		slices.SortStableFunc(want, func(a, b pair) int { return CompareKeyTime(&a.f, &b.f) })
		if !reflect.DeepEqual(got, want) {
			t.Errorf("buffer %d: merged order differs from a stable sort", buf)
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("buffer %d: %d files left after Close", buf, len(left))
		}
	}
}

func TestPacketCodecRoundTrip(t *testing.T) {
	p := trace.Packet{TS: -5, Src: 1<<32 - 1, Dst: 7, SrcPort: 65535, DstPort: 1, Proto: 17, Len: 1500, TOS: 3, ID: 999, Flags: 2, FragOff: 8191, TTL: 64, TCPFlags: 0x12}
	var c PacketCodec
	b := make([]byte, c.Size())
	c.Put(b, &p)
	var q trace.Packet
	c.Get(b, &q)
	if p != q {
		t.Errorf("round trip: %+v, want %+v", q, p)
	}
}

func TestSpillErrorSaysTheDiskIsFull(t *testing.T) {
	err := SpillError(&os.PathError{Op: "write", Path: "run-1.bin", Err: syscall.ENOSPC})
	if !strings.Contains(err.Error(), "disk is full") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("%v", err)
	}
	if err := SpillError(os.ErrPermission); strings.Contains(err.Error(), "disk is full") {
		t.Errorf("%v", err)
	}
}

// Sorted by time alone, blocks each already in time order come out as a
// stable sort of their concatenation (equal times in block order), the
// same whether the sorter keeps them in memory or merges spilled runs, and
// flow labels come back through the codec's dictionary.
func TestSorterByTimeKeepsBlockOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var blocks [][]trace.Flow
	var all []trace.Flow
	for range 30 {
		b := randomFlows(r, 1+r.IntN(200), 25, 400) // many equal times
		for i := range b {
			b[i].Label = fmt.Sprintf("label-%d", r.IntN(12))
		}
		SortByTime(b)
		blocks = append(blocks, b)
		all = append(all, b...)
	}
	want := slices.Clone(all)
	SortByTime(want)
	for _, buf := range []int{1, 7, 100, 1 << 20} {
		dir := t.TempDir()
		s := NewSorter[trace.Flow](dir, NewFlowCodec(), CompareTime[trace.Flow], buf)
		for _, b := range blocks {
			for i := range b {
				if _, err := s.Add(&b[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if spilled := s.Runs() > 0; spilled != (buf < len(all)) {
			t.Errorf("buffer %d of %d records: %d runs spilled", buf, len(all), s.Runs())
		}
		m, err := s.Merge()
		if err != nil {
			t.Fatal(err)
		}
		var got []trace.Flow
		var f trace.Flow
		for {
			if _, err := m.Next(&f); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			got = append(got, f)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("buffer %d: order by time differs from a stable sort of the blocks", buf)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("buffer %d: %d files left after Close", buf, len(left))
		}
	}
}
