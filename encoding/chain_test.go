package encoding

import (
	"math"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// TestChainedFlowsRoundTrip encodes packets whose flows are longer than
// the segment length as chained segments and decodes them back: every
// segment's length attribute is its whole flow's, only the segments after
// a flow's first follow, and decoding the segments in order, each after
// the one before, gives every packet back, its time within the gap
// codec's rounding.
func TestChainedFlowsRoundTrip(t *testing.T) {
	var recs []trace.Packet
	t0 := int64(1_600_000_000_000_000)
	for k, n := range []int{45, 7, 23} {
		tm := t0 + int64(k)*1000
		for i := range n {
			tm += int64(100 + (i*37+k*11)%900)
			recs = append(recs, trace.Packet{TS: tm, Src: 0x0a000001 + uint32(k), Dst: 0x0a0000ff, SrcPort: uint16(40000 + k), DstPort: 443, Proto: 6,
				Len: uint16(60 + i%7*100), TTL: 64, TCPFlags: 0x10, ID: uint16(i)})
		}
	}
	flows.SortByTime(recs)
	for _, quantile := range []int{0, 64} {
		sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1, MaxFlowLen: 10, Chain: true})
		if err != nil {
			t.Fatal(err)
		}
		if sp.Stats.LongestChain != 45 || sp.Stats.ChainedFlows != 2 {
			t.Fatalf("split stats %+v", sp.Stats)
		}
		spec, err := BuildPacketSpec(sp, BuildOptions{MaxLen: 10, LengthAttr: true, QuantileKnots: quantile, ChainLen: sp.Stats.LongestChain})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSchema(spec, newStub([]uint16{443, 40000, 40001, 40002}, []uint8{6}))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Chains() || s.LengthCap() != 45 {
			t.Fatalf("chains %v, length cap %d", s.Chains(), s.LengthCap())
		}
		ch := &sp.Chunks[0]
		d, st, err := s.EncodePackets(ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Changed) != 0 || st.Truncated != 0 {
			t.Fatalf("quantile %d: encoding changed values: %+v", quantile, st)
		}
		attrs, err := s.DecodeAttributes(d.Attr, d.N)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range attrs {
			f := ch.Flows[i]
			if a.Len != f.FlowLen || a.Follows != f.Follows || a.Key != f.Key {
				t.Fatalf("quantile %d: segment %d decodes to length %d follows %v, want %d %v", quantile, i, a.Len, a.Follows, f.FlowLen, f.Follows)
			}
		}
		// Decode each flow's segments together and in order, as generation
		// lays them out.
		order := make([]int, len(attrs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return int(attrs[a].Key.Src) - int(attrs[b].Key.Src) })
		dense := d.Dense()
		w := s.MaxLen * s.FeatDim()
		var oa []FlowAttr
		var of []float32
		var ol []int
		for _, i := range order {
			a := attrs[i]
			if a.Follows {
				a.Start = 0 // never read: a later segment starts after the one before
			}
			oa = append(oa, a)
			of = append(of, dense[i*w:(i+1)*w]...)
			ol = append(ol, d.Len[i])
		}
		got, err := s.DecodePackets(oa, of, ol, ChunkRange{Index: 0, Start: ch.Start, End: ch.End})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("quantile %d: decoded %d packets, want %d", quantile, len(got), len(recs))
		}
		for i := range recs {
			w, g := recs[i], got[i]
			// Times add up gap after gap along a chain: allow each gap its
			// rounding.
			if math.Abs(float64(g.TS-w.TS)) > 50+float64(w.TS-ch.Start)*1e-4 {
				t.Fatalf("quantile %d: packet %d at %d, want %d", quantile, i, g.TS, w.TS)
			}
			g.TS = w.TS
			if g != w {
				t.Fatalf("quantile %d: packet %d %+v, want %+v", quantile, i, g, w)
			}
		}
	}
}

func TestSpanFlowScalesToTheSpan(t *testing.T) {
	ts := [][]int64{{10, 20}, {40, 50}}
	spanFlow(ts, 80)
	if !slices.Equal(ts[0], []int64{10, 30}) || !slices.Equal(ts[1], []int64{70, 90}) {
		t.Errorf("stretched to %v, want [[10 30] [70 90]]", ts)
	}
	ts = [][]int64{{10, 20}, {40, 50}}
	spanFlow(ts, 20)
	if !slices.Equal(ts[0], []int64{10, 15}) || !slices.Equal(ts[1], []int64{25, 30}) {
		t.Errorf("shrunk to %v, want [[10 15] [25 30]]", ts)
	}
	same := [][]int64{{7, 7}, {7}}
	spanFlow(same, 10)
	if !slices.Equal(same[0], []int64{7, 12}) || same[1][0] != 17 {
		t.Errorf("equal times spread to %v, want [[7 12] [17]]", same)
	}
	unknown := [][]int64{{10, 20}, {40}}
	spanFlow(unknown, 0)
	if !slices.Equal(unknown[0], []int64{10, 20}) || unknown[1][0] != 40 {
		t.Errorf("a span of 0 changed the times: %v", unknown)
	}
}

// The chained flows take the chunk's real span shares (of the time left
// from their first record to the chunk's end) in the order of their
// generated ones; a flow of one segment keeps its times.
func TestCalibrateSpansKeepsTheModelsOrder(t *testing.T) {
	q := &Quantile{Field: "span", Knots: []float64{0.1, 0.5, 1}}
	const end = 10001 // 10,000 µs from 0 to the chunk's last instant
	flows := [][][]int64{
		{{0, 5}, {10}},     // share 0.001
		{{100, 130}},       // one segment: left alone
		{{0, 500}, {1000}}, // 0.1
		{{50, 90}, {150}},  // 100 of 9,950
	}
	calibrateSpans(flows, q, end)
	for i, want := range map[int]int64{0: 1000, 2: 10000, 3: 4975} {
		if got, _ := flowSpan(flows[i]); got != want {
			t.Errorf("flow %d spans %d, want %d", i, got, want)
		}
	}
	if !slices.Equal(flows[1][0], []int64{100, 130}) {
		t.Errorf("a flow of one segment moved: %v", flows[1])
	}
	if flows[3][0][0] != 50 {
		t.Errorf("a flow's first record moved: %v", flows[3])
	}
	calibrateSpans(flows, nil, end) // no knots: nothing to do
}

func TestFitFlowScalesIntoTheChunk(t *testing.T) {
	ts := [][]int64{{10, 20}, {40, 50}}
	fitFlow(ts, 30)
	if !slices.Equal(ts[0], []int64{10, 15}) || !slices.Equal(ts[1], []int64{25, 30}) {
		t.Errorf("scaled to %v, want [[10 15] [25 30]]", ts)
	}
	inside := [][]int64{{10, 20}, {25}}
	fitFlow(inside, 30)
	if !slices.Equal(inside[0], []int64{10, 20}) || inside[1][0] != 25 {
		t.Errorf("a chain inside the chunk changed: %v", inside)
	}
	one := [][]int64{{10, 30, 90}}
	fitFlow(one, 30)
	if !slices.Equal(one[0], []int64{10, 15, 30}) {
		t.Errorf("one segment scaled to %v, want [[10 15 30]]", one)
	}
	late := [][]int64{{40, 50}}
	fitFlow(late, 30)
	if !slices.Equal(late[0], []int64{40, 50}) {
		t.Errorf("a flow starting past the end changed: %v", late)
	}
}

// TestChunkLengthPositions checks that each chunk's length positions
// decode, through the trace-wide length codec, to that chunk's own flow
// lengths: short flows in the first chunk, long ones in the second, with
// chained long flows and without; one chunk, or no length attribute, has
// none.
func TestChunkLengthPositions(t *testing.T) {
	var recs []trace.Packet
	t0 := int64(1_000_000)
	add := func(src uint32, at int64, n int) {
		for i := range n {
			recs = append(recs, trace.Packet{TS: at + int64(i), Src: src, Dst: 1, SrcPort: 1000, DstPort: 80, Proto: 6, Len: 60, TTL: 64})
		}
	}
	for i := range 20 {
		add(uint32(10+i), t0+int64(i)*100, 1+i%3) // chunk 0: flows of 1 to 3 packets
	}
	for i := range 5 {
		add(uint32(100+i), t0+10_000+int64(i)*1000, 30+10*i) // chunk 1: flows of 30 to 70
	}
	flows.SortByTime(recs)
	for _, c := range []struct {
		name          string
		chunks        int
		maxLen        int
		chain, length bool
		knots         bool
	}{
		{"chained", 2, 8, true, true, true},
		{"split", 2, 80, false, true, true},
		{"one chunk", 1, 80, false, true, false},
		{"no length attribute", 2, 80, false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sp, err := flows.SplitByTime(recs, flows.Options{Chunks: c.chunks, MaxFlowLen: c.maxLen, Chain: c.chain})
			if err != nil {
				t.Fatal(err)
			}
			spec, err := BuildPacketSpec(sp, BuildOptions{MaxLen: c.maxLen, LengthAttr: c.length, QuantileKnots: 32, ChainLen: sp.Stats.LongestChain})
			if err != nil {
				t.Fatal(err)
			}
			if !c.knots {
				if spec.LengthKnots != nil {
					t.Fatalf("%d length knot sets, want none", len(spec.LengthKnots))
				}
				return
			}
			s, err := NewSchema(spec, newStub([]uint16{80, 1000}, []uint8{6}))
			if err != nil {
				t.Fatal(err)
			}
			off, _ := s.AttrSlice("length")
			decode := func(pos float64) int {
				v := make([]float32, s.AttrDim())
				v[off] = float32(pos)
				return s.DecodeLength(v)
			}
			for c, want := range [][2]int{{1, 3}, {30, 70}} {
				pos := s.ChunkLengthPositions(c)
				if len(pos) < 2 || !slices.IsSorted(pos) {
					t.Fatalf("chunk %d: positions %v", c, pos)
				}
				for _, p := range pos {
					if n := decode(p); n < want[0] || n > want[1] {
						t.Errorf("chunk %d: position %.3f decodes to length %d, outside the chunk's [%d, %d]", c, p, n, want[0], want[1])
					}
				}
			}
			if s.ChunkLengthPositions(2) != nil {
				t.Error("positions for a chunk that does not exist")
			}
		})
	}
}

// A flow whose generated gaps run past its chunk's end decodes with its
// records scaled into the chunk, each flow's in order, none lost.
func TestDecodeFitsFlowsIntoTheChunk(t *testing.T) {
	var recs []trace.Packet
	t0 := int64(1_600_000_000_000_000)
	for k := range 3 {
		for i := range 6 {
			recs = append(recs, trace.Packet{TS: t0 + int64(k)*100 + int64(i)*1000, Src: 0x0a000001 + uint32(k), Dst: 0x0a0000ff, SrcPort: 40000, DstPort: 443, Proto: 6, Len: 60, TTL: 64, TCPFlags: 0x10})
		}
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1, MaxFlowLen: 10})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildPacketSpec(sp, BuildOptions{MaxLen: 10, LengthAttr: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(spec, newStub([]uint16{443, 40000}, []uint8{6}))
	if err != nil {
		t.Fatal(err)
	}
	ch := &sp.Chunks[0]
	d, _, err := s.EncodePackets(ch)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := s.DecodeAttributes(d.Attr, d.N)
	if err != nil {
		t.Fatal(err)
	}
	// The same flows decoded into a chunk of a third of the time: their
	// starts fall inside it, their gaps would carry them past its end.
	short := ChunkRange{Start: ch.Start, End: ch.Start + (ch.End-ch.Start)/3}
	for i := range attrs {
		attrs[i].Start = 0
	}
	got, err := s.DecodePackets(attrs, d.Dense(), d.Len, short)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("decoded %d packets, want %d", len(got), len(recs))
	}
	last := map[uint32]int64{}
	for _, p := range got {
		if p.TS < short.Start || p.TS >= short.End {
			t.Fatalf("packet at %d outside the chunk [%d, %d)", p.TS, short.Start, short.End)
		}
		if p.TS < last[p.Src] {
			t.Fatalf("flow %x out of order", p.Src)
		}
		last[p.Src] = p.TS
	}
}
