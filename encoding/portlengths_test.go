package encoding

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// portSchema builds a one-chunk schema with tail classes and posterior
// priors from flows that use ports in every class: TCP flows from one-off
// source ports (a tail class) to port 80; UDP DNS queries from ports 5000
// to 5009, each answered (so each port is used by two flows, rare in both
// fields but no tail port); TCP flows from port 1025 to 443, common. It
// returns the schema, the split and the tail class's token.
func portSchema(t *testing.T) (*Schema, *flows.Split[trace.Flow], uint16) {
	t.Helper()
	var recs []trace.Flow
	add := func(ts int, sport, dport uint16, proto uint8, n int) {
		for j := range n {
			recs = append(recs, trace.Flow{Start: int64(ts*100+j) * 1000, Src: uint32(ts), Dst: 2, SrcPort: sport, DstPort: dport, Proto: proto, Packets: 1, Bytes: 60})
		}
	}
	for i := range 30 {
		add(i, uint16(40000+i), 80, 6, 1+i%2)
	}
	for i := range 10 {
		add(100+i, uint16(5000+i), 53, 17, 1)
		add(200+i, 53, uint16(5000+i), 17, 1)
	}
	for i := range 25 {
		add(300+i, 1025, 443, 6, 1)
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen, QuantileKnots: 16, LengthAttr: true, PosteriorKappa: 20, PosteriorTopK: 8, TailPortFlows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if spec.TailPorts == nil || len(spec.TailPorts.Classes) != 1 {
		t.Fatalf("tail classes %+v", spec.TailPorts)
	}
	tok := spec.TailPorts.Classes[0].Token
	ports := []uint16{tok, 53, 80, 443, 1025}
	for i := range 10 {
		ports = append(ports, uint16(5000+i))
	}
	s, err := NewSchema(spec, newStub(ports, []uint8{6, 17}))
	if err != nil {
		t.Fatal(err)
	}
	return s, sp, tok
}

// A flow's port class: a rare destination port first (a tail class's
// token, or a port fewer than RarePortFlows flows use as destination),
// then a rare source port; ICMP and flows between common ports are
// common.
func TestPortClass(t *testing.T) {
	s, _, tok := portSchema(t)
	for _, c := range []struct {
		k    trace.Key
		want int
	}{
		{trace.Key{SrcPort: tok, DstPort: 80, Proto: 6}, PortsSrcRare},
		{trace.Key{SrcPort: 80, DstPort: tok, Proto: 6}, PortsDstRare},
		{trace.Key{SrcPort: 53, DstPort: 5003, Proto: 17}, PortsDstRare}, // a reply
		{trace.Key{SrcPort: 5003, DstPort: 53, Proto: 17}, PortsSrcRare}, // its query
		{trace.Key{SrcPort: 5003, DstPort: 5004, Proto: 17}, PortsDstRare},
		{trace.Key{SrcPort: 1025, DstPort: 443, Proto: 6}, PortsCommon},
		{trace.Key{SrcPort: 5003, DstPort: 53, Proto: 6}, PortsCommon}, // no TCP flow uses 5003
		{trace.Key{SrcPort: 0, DstPort: 0x0800, Proto: 1}, PortsCommon},
	} {
		if got := s.PortClass(c.k); got != c.want {
			t.Errorf("%+v: class %d, want %d", c.k, got, c.want)
		}
	}
	// Real flows are classed by their real ports, through the tokens.
	p := NewPortLengths(s)
	p.Add(trace.Key{SrcPort: 40007, DstPort: 80, Proto: 6}, 3)
	if p.sk[PortsSrcRare].n != 1 {
		t.Errorf("a real flow from tail port 40007 was not counted as one from a rare source port")
	}
}

// Knots are kept per class of at least MinPortClassFlows flows, and only
// when two classes have that many; a smaller class is folded into the
// common one.
func TestPortLengthsKnots(t *testing.T) {
	s, sp, _ := portSchema(t)
	p := NewPortLengths(s)
	for range 40 {
		p.Add(trace.Key{SrcPort: 1025, DstPort: 443, Proto: 6}, 5)
	}
	if k, n := p.Knots(8); k != nil || n != nil {
		t.Fatalf("one class only: knots %v, flows %v, want none", k, n)
	}
	for range MinPortClassFlows - 1 {
		p.Add(trace.Key{SrcPort: 53, DstPort: 5001, Proto: 17}, 1)
	}
	if k, _ := p.Knots(8); k != nil {
		t.Fatalf("a class of %d flows: knots %v, want none", MinPortClassFlows-1, k)
	}
	p.Add(trace.Key{SrcPort: 80, DstPort: 40002, Proto: 6}, 1)
	p.Add(trace.Key{SrcPort: 40003, DstPort: 443, Proto: 6}, 9) // folded into the common class
	k, n := p.Knots(8)
	if len(k) != NumPortClasses || k[PortsSrcRare] != nil || !slices.Equal(n, []int{41, 0, MinPortClassFlows}) {
		t.Fatalf("knots %v, flows %v", k, n)
	}
	if k[PortsDstRare][0] != 1 || k[PortsDstRare][len(k[PortsDstRare])-1] != 1 {
		t.Errorf("rare destinations' knots %v, want all 1", k[PortsDstRare])
	}
	if lo, hi := k[PortsCommon][0], k[PortsCommon][len(k[PortsCommon])-1]; lo != 5 || hi != 9 {
		t.Errorf("common ports' knots from %v to %v, want 5 to 9 (the folded flow)", lo, hi)
	}
	// The split's own flows: every class but rare destinations (10
	// replies) has enough.
	p = NewPortLengths(s)
	for _, f := range sp.Chunks[0].Flows {
		p.Add(f.Key, len(f.Records))
	}
	if _, n := p.Knots(8); !slices.Equal(n, []int{35, 40, 0}) {
		t.Errorf("the split's flows per class %v, want [35 40 0]", n)
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
	if len(pos) != NumPortClasses || pos[PortsSrcRare] != nil || len(pos[PortsCommon]) != 3 || !slices.IsSorted(pos[PortsCommon]) {
		t.Fatalf("positions %v", pos)
	}
	// Length 2 lies above every position of length 1.
	if pos[PortsCommon][2] < pos[PortsDstRare][2] || pos[PortsCommon][2] <= pos[PortsCommon][0] {
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

// PortFlows sums the flows per port over both port fields: port 1025 is
// the source of 25 flows, 443 their destination, 53 the destination of
// ten queries and the source of ten replies, and 5003 one of each.
func TestPortFlows(t *testing.T) {
	s, _, tok := portSchema(t)
	got := s.PortFlows()
	for port, want := range map[uint16]float64{1025: 25, 443: 25, 53: 20, 5003: 2, 80: 30, tok: 30} {
		if got[port] != want {
			t.Errorf("port %d: %v flows, want %v", port, got[port], want)
		}
	}
	if _, ok := got[40007]; ok {
		t.Error("a tail port counted by itself; its class's token stands for it")
	}
}
