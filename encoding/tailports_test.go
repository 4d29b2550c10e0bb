package encoding

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

func portCounts(m map[uint8]map[int]float64, p uint8, vals ...int) {
	for _, v := range vals {
		addTo(m, p, v, 1)
	}
}

func TestBuildTailPorts(t *testing.T) {
	src, dst := map[uint8]map[int]float64{}, map[uint8]map[int]float64{}
	// TCP: 80 is a service port (3 flows as destination); 50000-50002 are
	// one-off source ports, 40000 a one-off destination port; 1500 alone
	// in its range (one flow: no class).
	portCounts(dst, 6, 80, 80, 80, 40000)
	portCounts(src, 6, 50000, 50001, 50002, 1500)
	// 49152 is a service port of UDP, so it cannot be a token; UDP's
	// 50000 is a tail port of its own class.
	portCounts(dst, 17, 49152, 49152, 50000, 60000)
	// ICMP's "ports" are types and codes: never in the tail.
	portCounts(dst, 1, 2048)
	tp := buildTailPorts(2, tailCounts{flows: src}, tailCounts{flows: dst})
	if tp == nil {
		t.Fatal("no tail classes")
	}
	if err := tp.index(); err != nil {
		t.Fatal(err)
	}
	type cls struct {
		proto  uint8
		lo     uint16
		src    []uint16
		dst    []uint16
		tokens []uint16 // acceptable tokens
	}
	want := []cls{
		// TCP 32768-49151 holds 40000 alone (one flow): no class.
		{6, 49152, []uint16{50000, 50001, 50002}, nil, []uint16{49153}},
		{17, 49152, nil, []uint16{50000, 60000}, []uint16{49153, 49154}},
	}
	if len(tp.Classes) != len(want) {
		t.Fatalf("classes %+v, want %d", tp.Classes, len(want))
	}
	tokens := map[uint16]bool{}
	for i, w := range want {
		c := tp.Classes[i]
		if c.Proto != w.proto || c.Lo != w.lo || !slices.Equal(c.Src.Values, w.src) || !slices.Equal(c.Dst.Values, w.dst) {
			t.Errorf("class %d: %+v, want %+v", i, c, w)
		}
		if !slices.Contains(w.tokens, c.Token) {
			t.Errorf("class %d: token %d, want one of %v", i, c.Token, w.tokens)
		}
		tokens[c.Token] = true
	}
	if len(tokens) != len(want) {
		t.Errorf("tokens not distinct: %+v", tp.Classes)
	}
	for _, c := range []struct {
		proto      uint8
		port, want uint16
	}{
		{6, 80, 80}, {6, 50001, tp.Classes[0].Token}, {6, 40000, 40000}, {6, 1500, 1500},
		{17, 49152, 49152}, {17, 60000, tp.Classes[1].Token}, {17, 50000, tp.Classes[1].Token},
		{6, 61000, 61000}, // unseen: left alone
		{1, 2048, 2048},
	} {
		if got := tp.Canon(c.proto, c.port); got != c.want {
			t.Errorf("Canon(%d, %d) = %d, want %d", c.proto, c.port, got, c.want)
		}
	}
	// The corpus merges sentences that differ in tail ports only.
	sc := ip2vec.SentenceCounts{}
	sc[ip2vec.Sentence{SrcPort: 50000, DstPort: 80, Proto: 6}] = 2
	sc[ip2vec.Sentence{SrcPort: 50001, DstPort: 80, Proto: 6}] = 3
	sc[ip2vec.Sentence{SrcPort: 1500, DstPort: 80, Proto: 6}] = 1
	got := tp.CanonSentences(sc)
	if len(got) != 2 || got[ip2vec.Sentence{SrcPort: tp.Classes[0].Token, DstPort: 80, Proto: 6}] != 5 {
		t.Errorf("canonical corpus %v", got)
	}
	// No class below two flows, and none at all with minFlows < 2.
	if buildTailPorts(1, tailCounts{flows: src}, tailCounts{flows: dst}) != nil {
		t.Error("classes with min_flows 1")
	}
}

func TestTailPortsDraw(t *testing.T) {
	tp := &TailPorts{MinFlows: 2, Classes: []TailClass{
		{Proto: 6, Lo: 49152, Hi: 65535, Token: 49152,
			Src: TailValues{Values: []uint16{50000, 51000, 52000}, Flows: []float64{1, 2, 7}}},
		{Proto: 17, Lo: 1024, Hi: 32767, Token: 1024, Dst: TailValues{Values: []uint16{2000}, Flows: []float64{3}}},
	}}
	if err := tp.index(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	d := tp.NewDraws()
	const n = 20000
	count := map[uint16]int{}
	for range n {
		k := trace.Key{Proto: 6, SrcPort: 49152, DstPort: 443}
		if d := d.Draw(&k, rng); d != 1 || k.DstPort != 443 {
			t.Fatalf("Draw changed %d ports, key %+v", d, k)
		}
		count[k.SrcPort]++
	}
	for v, w := range map[uint16]float64{50000: 0.1, 51000: 0.2, 52000: 0.7} {
		if got := float64(count[v]) / n; math.Abs(got-w) > 0.02 {
			t.Errorf("port %d drawn %.3f of the time, want %.1f", v, got, w)
		}
	}
	// A token draws from the other field's values when the class has none
	// in its own.
	k := trace.Key{Proto: 6, SrcPort: 80, DstPort: 49152}
	d.Draw(&k, rng)
	if k.SrcPort != 80 || !slices.Contains([]uint16{50000, 51000, 52000}, k.DstPort) {
		t.Errorf("destination draw %+v", k)
	}
	k = trace.Key{Proto: 17, SrcPort: 1024, DstPort: 53}
	d.Draw(&k, rng)
	if k.SrcPort != 2000 || k.DstPort != 53 {
		t.Errorf("source draw from the destination values %+v", k)
	}
	// A token decoded with another protocol draws from its own class.
	k = trace.Key{Proto: 17, SrcPort: 49152}
	d.Draw(&k, rng)
	if !slices.Contains([]uint16{50000, 51000, 52000}, k.SrcPort) {
		t.Errorf("cross-protocol token %+v", k)
	}
	var none *TailPorts
	k = trace.Key{Proto: 6, SrcPort: 49152}
	if none.NewDraws().Draw(&k, rng) != 0 || k.SrcPort != 49152 || none.Canon(6, 50000) != 50000 {
		t.Error("a nil TailPorts changed a port")
	}
}

func TestTailPortsIndexRejectsBadClasses(t *testing.T) {
	for name, c := range map[string]TailClass{
		"token outside range":   {Proto: 6, Lo: 1024, Hi: 2047, Token: 80},
		"unsorted values":       {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Src: TailValues{Values: []uint16{1500, 1400}, Flows: []float64{1, 1}}},
		"records not per value": {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Src: TailValues{Values: []uint16{1400, 1500}, Flows: []float64{1, 1}, Records: []float64{3}}},
		"missing weights":       {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Dst: TailValues{Values: []uint16{1500}}},
		"value outside range":   {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Dst: TailValues{Values: []uint16{3000}, Flows: []float64{1}}},
		"zero weight":           {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Dst: TailValues{Values: []uint16{1500}, Flows: []float64{0}}},
		"no values":             {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024},
	} {
		tp := &TailPorts{MinFlows: 2, Classes: []TailClass{c}}
		if err := tp.index(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	one := TailValues{Values: []uint16{1500}, Flows: []float64{1}}
	dup := &TailPorts{MinFlows: 2, Classes: []TailClass{{Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Src: one}, {Proto: 6, Lo: 1024, Hi: 2047, Token: 1024, Src: one}}}
	if err := dup.index(); err == nil {
		t.Error("a protocol's token twice: accepted")
	}
}

// TestTailPortsSchema builds a spec with tail classes from a trace whose
// source ports are one-off, and checks the whole path: the spec's port
// candidates hold the token in place of the tail ports, with their summed
// priors; the saved spec loads; a tail port encodes as its token's vector;
// and a generated token draws one of the real tail ports.
func TestTailPortsSchema(t *testing.T) {
	recs := sampleFlows()
	for i := range recs {
		if recs[i].Proto == 6 {
			recs[i].SrcPort = uint16(40000 + i) // one-off
		}
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	opt := BuildOptions{MaxLen: sp.Stats.MaxFlowLen, QuantileKnots: 16, PosteriorKappa: 20, PosteriorTopK: 8, TailPortFlows: 2}
	spec, err := BuildFlowSpec(sp, opt)
	if err != nil {
		t.Fatal(err)
	}
	tp := spec.TailPorts
	if tp == nil || len(tp.Classes) != 1 || tp.Classes[0].Proto != 6 || tp.Classes[0].Lo != 32768 {
		t.Fatalf("tail classes %+v", tp)
	}
	if src := tp.Classes[0].Src; len(src.Records) != len(src.Values) {
		t.Fatalf("tail class records %v for values %v", src.Records, src.Values)
	} else {
		for j := range src.Values {
			// Each one-off port's flow holds one record.
			if src.Records[j] != src.Flows[j] {
				t.Errorf("tail port %d: %v records for %v flows, want one each", src.Values[j], src.Records[j], src.Flows[j])
			}
		}
	}
	tok := int(tp.Classes[0].Token)
	var sport FieldSpec
	for _, f := range spec.Attr {
		if f.Name == "srcport" {
			sport = f
		}
	}
	tcpFlows := 0.0
	for _, c := range sp.Chunks {
		for _, f := range c.Flows {
			if f.Key.Proto == 6 {
				tcpFlows++
			}
		}
	}
	i := slices.Index(sport.Candidates, tok)
	if i < 0 || sport.ByProto["6"].Prior[i] != tcpFlows {
		t.Fatalf("srcport candidates %v: token %d with TCP prior %v, want %v", sport.Candidates, tok, sport.ByProto["6"].Prior, tcpFlows)
	}
	for _, v := range sport.Candidates {
		if v >= 40000 && v < 40300 {
			t.Fatalf("tail port %d still a candidate", v)
		}
	}
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := spec.Save(path); err != nil {
		t.Fatal(err)
	}
	if spec, err = LoadSpec(path); err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(spec, newStub([]uint16{uint16(tok), 53, 80, 443, 1024, 1025, 1026, 1027, 1028, 1029, 1030, 1031}, []uint8{6, 17}))
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := s.EncodeFlows(&sp.Chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	off, dim := s.AttrSlice("srcport")
	want, _ := s.Embedded("srcport").E.EncodePort(uint16(tok))
	attrs := d.Attr
	seen := 0
	for fi, f := range sp.Chunks[0].Flows {
		if f.Key.Proto != 6 {
			continue
		}
		seen++
		if got := attrs[fi*s.AttrDim()+off : fi*s.AttrDim()+off+dim]; !slices.Equal(got, want) {
			t.Fatalf("flow %d: tail port %d encoded as %v, want the token's %v", fi, f.Key.SrcPort, got, want)
		}
	}
	if seen == 0 {
		t.Fatal("no TCP flow in chunk 0")
	}
	k := trace.Key{Proto: 6, SrcPort: uint16(tok), DstPort: 80}
	if s.TailPorts.NewDraws().Draw(&k, rand.New(rand.NewPCG(5, 5))) != 1 || k.SrcPort < 40000 || k.SrcPort >= 40300 {
		t.Errorf("token drew %+v", k)
	}
}

// TestTailDrawsWithoutReplacement checks that drawing as many ports as a
// field's values have flows gives each value exactly its flows, that the
// draws then start again from all of them, that a field without values
// lends the other field's, and that ports that are no token stay.
func TestTailDrawsWithoutReplacement(t *testing.T) {
	tp, err := IndexTailPorts(&TailPorts{MinFlows: 2, Classes: []TailClass{
		{Proto: 6, Lo: 32768, Hi: 49151, Token: 32768,
			Src: TailValues{Values: []uint16{40000, 40001, 40002, 40003}, Flows: []float64{1, 1, 3, 1}},
			Dst: TailValues{Values: []uint16{41000, 41001}, Flows: []float64{1, 1}}},
		{Proto: 17, Lo: 32768, Hi: 49151, Token: 32769, Src: TailValues{Values: []uint16{42000, 42001, 42002}, Flows: []float64{1, 1, 1}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		d := tp.NewDraws()
		got := map[uint16]int{}
		for i := range 12 { // two rounds of the TCP source field's 6 flows
			k := trace.Key{SrcPort: 32768, DstPort: 443, Proto: 6}
			if n := d.Draw(&k, rng); n != 1 || k.DstPort != 443 {
				t.Fatalf("draw %d: %d ports replaced, destination %d", i, n, k.DstPort)
			}
			got[k.SrcPort]++
			if i == 5 && (got[40000] != 1 || got[40001] != 1 || got[40002] != 3 || got[40003] != 1) {
				t.Fatalf("round %d: the first 6 draws gave %v, want each value its flows", round, got)
			}
		}
		if got[40000] != 2 || got[40001] != 2 || got[40002] != 6 || got[40003] != 2 {
			t.Fatalf("round %d: 12 draws gave %v, want each value twice its flows", round, got)
		}
		// UDP destinations: the class has none, so the sources lend.
		udp := map[uint16]bool{}
		for range 3 {
			k := trace.Key{SrcPort: 53, DstPort: 32769, Proto: 17}
			d.Draw(&k, rng)
			udp[k.DstPort] = true
		}
		if len(udp) != 3 || !udp[42000] || !udp[42001] || !udp[42002] {
			t.Fatalf("round %d: UDP destinations %v, want each source value once", round, udp)
		}
	}
	var none *TailPorts
	if d := none.NewDraws(); d.Draw(&trace.Key{SrcPort: 32768}, rng) != 0 {
		t.Error("a drawer without classes replaced a port")
	}
}

// TestTailDrawsNearLength checks that DrawNear lends a port whose real
// flows' mean length is near the drawing flow's, still without
// replacement: of a class of 50 one-record ports and 50 of 40-record
// flows, 50 flows of 40 records drawing first get mostly the long flows'
// ports and 50 of one record the rest; the 100 draws still lend every
// port once. Without records in the class, or with no length, DrawNear
// draws as Draw does.
func TestTailDrawsNearLength(t *testing.T) {
	var vals []uint16
	var flows, recs []float64
	for i := range 100 {
		vals = append(vals, uint16(50000+i))
		flows = append(flows, 1)
		recs = append(recs, float64(1+39*(i%2))) // odd values: 40 records
	}
	class := func(withRecs bool) *TailPorts {
		tv := TailValues{Values: vals, Flows: flows}
		if withRecs {
			tv.Records = recs
		}
		tp, err := IndexTailPorts(&TailPorts{MinFlows: 2, Classes: []TailClass{{Proto: 6, Lo: 49152, Hi: 65535, Token: 49152, Src: tv}}})
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	long := func(p uint16) bool { return (p-50000)%2 == 1 }
	d := class(true).NewDraws()
	rng := rand.New(rand.NewPCG(7, 8))
	lent := map[uint16]int{}
	longToLong, shortToShort := 0, 0
	for i := range 100 {
		n := 40
		if i >= 50 {
			n = 1
		}
		k := trace.Key{Proto: 6, SrcPort: 49152, DstPort: 443}
		if d.DrawNear(&k, n, rng) != 1 {
			t.Fatalf("draw %d replaced no port", i)
		}
		lent[k.SrcPort]++
		switch {
		case n == 40 && long(k.SrcPort):
			longToLong++
		case n == 1 && !long(k.SrcPort):
			shortToShort++
		}
	}
	if len(lent) != 100 {
		t.Fatalf("100 draws lent %d distinct ports, want each once", len(lent))
	}
	if longToLong < 40 || shortToShort < 40 {
		t.Errorf("flows of 40 records took %d long flows' ports of 50, flows of one %d short ones'", longToLong, shortToShort)
	}
	// Without records, and with no length, the draws are Draw's.
	for _, c := range []struct {
		recs bool
		n    int
	}{{false, 40}, {true, 0}} {
		a, b := class(c.recs).NewDraws(), class(c.recs).NewDraws()
		ra, rb := rand.New(rand.NewPCG(3, 3)), rand.New(rand.NewPCG(3, 3))
		for i := range 60 {
			ka, kb := trace.Key{Proto: 6, SrcPort: 49152}, trace.Key{Proto: 6, SrcPort: 49152}
			a.Draw(&ka, ra)
			b.DrawNear(&kb, c.n, rb)
			if ka != kb {
				t.Fatalf("records %v, length %d: draw %d gave %v, Draw %v", c.recs, c.n, i, kb, ka)
			}
		}
	}
}

// TestTailPortsCountedWhereFlowsStart checks that in a packet trace cut
// with split segments a port is in the tail by its flows counted in the
// chunk they start in, and draws as many times as it has chunk flows,
// while a flow trace and a chained packet trace count every chunk flow for
// both.
func TestTailPortsCountedWhereFlowsStart(t *testing.T) {
	const chunks = 4
	type piece struct {
		sport  uint16
		chunk  int
		starts bool
		pkts   int
		// A segment of a chained flow: the flow's records in the chunk,
		// and whether a segment goes before it there.
		flowLen int
		follows bool
	}
	pieces := []piece{
		// 50000: one flow cut by three chunk edges (one start, four chunk
		// flows, 20 packets).
		{50000, 0, true, 5, 0, false}, {50000, 1, false, 5, 0, false}, {50000, 2, false, 5, 0, false}, {50000, 3, false, 5, 0, false},
		// 50001: one flow of two packets in chunk 1.
		{50001, 1, true, 2, 0, false},
		// 50002: a long flow cut into three segments in the chunk it
		// starts in: three flows where it starts, a word.
		{50002, 0, true, 20, 0, false}, {50002, 0, true, 20, 0, false}, {50002, 0, true, 4, 0, false},
	}
	// Chained flows (the chained packet trace only): 50003 of three
	// segments in one chunk, one chunk flow of 45 records; 50004 in chunks
	// 2 and 3, two chunk flows of 30 records.
	chained := []piece{
		{50003, 0, true, 20, 45, false}, {50003, 0, true, 20, 45, true}, {50003, 0, true, 5, 45, true},
		{50004, 2, true, 20, 20, false}, {50004, 3, false, 10, 10, false},
	}
	const (
		split = iota
		chain
		flowTrace
	)
	build := func(mode int) *TailPorts {
		pb, fb := NewPacketSpecBuilder(chunks), NewFlowSpecBuilder(chunks)
		all := pieces
		if mode == chain {
			all = append(slices.Clone(pieces), chained...)
		}
		for i, p := range all {
			start, end := int64(p.chunk)*1000, int64(p.chunk+1)*1000
			k := trace.Key{Src: 1, Dst: 2, SrcPort: p.sport, DstPort: 80, Proto: 6}
			if mode == flowTrace {
				cf := &flows.ChunkFlow[trace.Flow]{Flow: flows.Flow[trace.Flow]{Key: k}, StartsHere: p.starts}
				for j := range p.pkts {
					cf.Records = append(cf.Records, trace.Flow{Start: start + int64(10*i+j), Src: 1, Dst: 2, SrcPort: p.sport, DstPort: 80, Proto: 6, Packets: 1, Bytes: 60})
				}
				fb.Add(p.chunk, start, end, cf)
				continue
			}
			cf := &flows.ChunkFlow[trace.Packet]{Flow: flows.Flow[trace.Packet]{Key: k}, StartsHere: p.starts, FlowLen: p.flowLen, Follows: p.follows}
			for j := range p.pkts {
				cf.Records = append(cf.Records, trace.Packet{TS: start + int64(10*i+j), Src: 1, Dst: 2, SrcPort: p.sport, DstPort: 80, Proto: 6, Len: 60, TTL: 64})
			}
			pb.Add(p.chunk, start, end, cf)
		}
		opt := BuildOptions{MaxLen: 20, QuantileKnots: 16, PosteriorKappa: 20, PosteriorTopK: 8, TailPortFlows: 3, LengthAttr: true}
		var spec Spec
		var err error
		switch mode {
		case flowTrace:
			spec, err = fb.Spec(opt)
		case chain:
			opt.ChainLen = 100
			fallthrough
		default:
			spec, err = pb.Spec(opt)
		}
		if err != nil {
			t.Fatal(err)
		}
		return spec.TailPorts
	}
	for _, c := range []struct {
		name           string
		mode           int
		values         []uint16
		flows, records []float64
	}{
		// Split: 50000 is in the tail with its four pieces; 50002's three
		// segments where it starts keep it a word.
		{"split", split, []uint16{50000, 50001}, []float64{4, 1}, []float64{20, 2}},
		// Chained: every chunk flow counts, so 50000 is a word; 50003 is
		// one chunk flow.
		{"chain", chain, []uint16{50001, 50003, 50004}, []float64{1, 1, 2}, []float64{2, 45, 30}},
	} {
		tp := build(c.mode)
		if tp == nil || len(tp.Classes) != 1 {
			t.Fatalf("%s: tail classes %+v, want one", c.name, tp)
		}
		src := tp.Classes[0].Src
		if !slices.Equal(src.Values, c.values) || !slices.Equal(src.Flows, c.flows) || !slices.Equal(src.Records, c.records) {
			t.Errorf("%s: tail source ports %+v, want %v with flows %v and records %v", c.name, src, c.values, c.flows, c.records)
		}
	}
	if tp := build(flowTrace); tp != nil {
		t.Errorf("flow trace: tail classes %+v, want none (50000 has four chunk flows)", tp.Classes)
	}
}
