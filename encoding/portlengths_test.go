package encoding

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

func portTestClasses(t *testing.T) *TailPorts {
	t.Helper()
	tp, err := IndexTailPorts(&TailPorts{MinFlows: 2, Classes: []TailClass{
		{Proto: 6, Lo: 49152, Hi: 65535, Token: 49152, Src: TailValues{Values: []uint16{50000}, Flows: []float64{1}}, Dst: TailValues{Values: []uint16{50001}, Flows: []float64{1}}},
		{Proto: 17, Lo: 1024, Hi: 32767, Token: 1500, Dst: TailValues{Values: []uint16{2000}, Flows: []float64{1}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// A flow's port class comes from its ports as tokens: a destination
// token first, then a source token; without classes every flow is known.
func TestPortClass(t *testing.T) {
	tp := portTestClasses(t)
	for _, c := range []struct {
		k    trace.Key
		want int
	}{
		{trace.Key{SrcPort: 49152, DstPort: 443, Proto: 6}, PortsSrcTail},
		{trace.Key{SrcPort: 443, DstPort: 49152, Proto: 6}, PortsDstTail},
		{trace.Key{SrcPort: 49152, DstPort: 49152, Proto: 6}, PortsDstTail},
		{trace.Key{SrcPort: 53, DstPort: 1500, Proto: 17}, PortsDstTail},
		{trace.Key{SrcPort: 50000, DstPort: 443, Proto: 6}, PortsKnown}, // a real tail port, not its token
		{trace.Key{SrcPort: 1234, DstPort: 80, Proto: 6}, PortsKnown},
	} {
		if got := tp.PortClass(c.k); got != c.want {
			t.Errorf("%+v: class %d, want %d", c.k, got, c.want)
		}
	}
	var none *TailPorts
	if got := none.PortClass(trace.Key{SrcPort: 49152, DstPort: 49152, Proto: 6}); got != PortsKnown {
		t.Errorf("without classes: %d", got)
	}
	// Real flows are classed by their real ports, through the tokens.
	p := NewPortLengths(tp)
	p.Add(trace.Key{SrcPort: 80, DstPort: 50001, Proto: 6}, 3)
	if p.sk[PortsDstTail].n != 1 {
		t.Errorf("a real flow to tail port 50001 was not counted as one to a tail destination")
	}
}

// Knots are kept per class of at least MinPortClassFlows flows, and only
// when two classes have that many.
func TestPortLengthsKnots(t *testing.T) {
	tp := portTestClasses(t)
	p := NewPortLengths(tp)
	for i := range 40 {
		p.Add(trace.Key{SrcPort: 1234, DstPort: 80, Proto: 6}, 5+i%3)
	}
	if k, n := p.Knots(8); k != nil || n != nil {
		t.Fatalf("one class only: knots %v, flows %v, want none", k, n)
	}
	for range MinPortClassFlows - 1 {
		p.Add(trace.Key{SrcPort: 80, DstPort: 50001, Proto: 6}, 1)
	}
	if k, _ := p.Knots(8); k != nil {
		t.Fatalf("a class of %d flows: knots %v, want none", MinPortClassFlows-1, k)
	}
	p.Add(trace.Key{SrcPort: 53, DstPort: 2000, Proto: 17}, 1)
	// A small class is folded into the known ports'.
	p.Add(trace.Key{SrcPort: 50000, DstPort: 80, Proto: 6}, 9)
	k, n := p.Knots(8)
	if len(k) != NumPortClasses || k[PortsSrcTail] != nil || !slices.Equal(n, []int{41, 0, MinPortClassFlows}) {
		t.Fatalf("knots %v, flows %v", k, n)
	}
	if k[PortsDstTail][0] != 1 || k[PortsDstTail][len(k[PortsDstTail])-1] != 1 {
		t.Errorf("tail destinations' knots %v, want all 1", k[PortsDstTail])
	}
	if lo, hi := k[PortsKnown][0], k[PortsKnown][len(k[PortsKnown])-1]; lo != 5 || hi != 9 {
		t.Errorf("known ports' knots from %v to %v, want 5 to 9 (the folded flow)", lo, hi)
	}
}

// The knots go through the schema file, are checked, and come back as
// each class's positions under the length codec.
func TestPortLengthKnotsSchema(t *testing.T) {
	recs := sampleFlows()
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen, QuantileKnots: 16, LengthAttr: true})
	if err != nil {
		t.Fatal(err)
	}
	spec.PortLengthKnots = [][][]float64{nil, {{1, 1, 2}, nil, {1, 1, 1}}}
	spec.PortLengthFlows = [][]int{nil, {30, 0, 25}}
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := spec.Save(path); err != nil {
		t.Fatal(err)
	}
	if spec, err = LoadSpec(path); err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(spec, newStub([]uint16{53, 80, 443, 1024, 1025, 1026, 1027, 1028, 1029, 1030, 1031}, []uint8{6, 17}))
	if err != nil {
		t.Fatal(err)
	}
	if s.ChunkPortLengthPositions(0) != nil || s.ChunkPortLengthPositions(2) != nil || s.ChunkPortLengthFlows(0) != nil {
		t.Error("positions for a chunk without knots")
	}
	if !slices.Equal(s.ChunkPortLengthFlows(1), []int{30, 0, 25}) {
		t.Errorf("flows %v", s.ChunkPortLengthFlows(1))
	}
	pos := s.ChunkPortLengthPositions(1)
	if len(pos) != NumPortClasses || pos[PortsSrcTail] != nil || len(pos[PortsKnown]) != 3 || !slices.IsSorted(pos[PortsKnown]) {
		t.Fatalf("positions %v", pos)
	}
	// Length 2 lies above every position of length 1.
	if pos[PortsKnown][2] < pos[PortsDstTail][2] || pos[PortsKnown][2] <= pos[PortsKnown][0] {
		t.Errorf("positions %v", pos)
	}
	for name, bad := range map[string]struct {
		k [][][]float64
		n [][]int
	}{
		"two classes":              {[][][]float64{nil, {{1}, {1}}}, [][]int{nil, {1, 1}}},
		"one chunk of two":         {[][][]float64{nil}, [][]int{nil}},
		"no flows":                 {[][][]float64{nil, {{1}, nil, {1}}}, nil},
		"flows without knots":      {[][][]float64{nil, {{1}, nil, {1}}}, [][]int{nil, {30, 5, 25}}},
		"knots without flows":      {[][][]float64{nil, {{1}, nil, {1}}}, [][]int{nil, {30, 0, 0}}},
		"knots not non-decreasing": {[][][]float64{nil, {{2, 1}, nil, {1}}}, [][]int{nil, {30, 0, 25}}},
	} {
		spec.PortLengthKnots, spec.PortLengthFlows = bad.k, bad.n
		if _, err := NewSchema(spec, newStub([]uint16{53, 80, 443}, []uint8{6, 17})); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
