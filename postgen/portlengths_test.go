package postgen

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// portLengthSchema builds a one-chunk flow schema of flows to port 80 of
// four records each and flows to one-off ports of one record each, with
// tail classes and the lengths per port class.
func portLengthSchema(t *testing.T) *encoding.Schema { return portLengthSchemaN(t, 1) }

// portLengthSchemaN is portLengthSchema cut into n chunks.
func portLengthSchemaN(t *testing.T, n int) *encoding.Schema {
	t.Helper()
	var recs []trace.Flow
	for i := range 40 {
		for j := range 4 {
			recs = append(recs, trace.Flow{Start: int64(i*10+j) * 1000, Src: uint32(i), Dst: 9, SrcPort: uint16(1000 + i%5), DstPort: 80, Proto: 6, Packets: 3, Bytes: 300})
		}
	}
	// 30 per chunk, spread over the same time.
	for i := range 30 * n {
		recs = append(recs, trace.Flow{Start: int64(i*10/n+5) * 1000, Src: 9, Dst: uint32(100 + i), SrcPort: 80, DstPort: uint16(40000 + i), Proto: 6, Packets: 1, Bytes: 40})
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: n})
	if err != nil {
		t.Fatal(err)
	}
	opt := encoding.BuildOptions{MaxLen: sp.Stats.MaxFlowLen, LengthAttr: true, QuantileKnots: 16, TailPortFlows: 2, PosteriorKappa: 20, PosteriorTopK: 8}
	spec, err := encoding.BuildFlowSpec(sp, opt)
	if err != nil {
		t.Fatal(err)
	}
	s0 := schemaFromSpec(t, recs, spec)
	spec.PortLengthKnots, spec.PortLengthFlows = make([][][]float64, n), make([][]int, n)
	for c := range n {
		pl := encoding.NewPortLengths(s0)
		for _, f := range sp.Chunks[c].Flows {
			pl.Add(f.Key, len(f.Records))
		}
		k, m := pl.Knots(16)
		if k == nil {
			t.Fatalf("chunk %d: no lengths per port class", c)
		}
		spec.PortLengthKnots[c], spec.PortLengthFlows[c] = k, m
	}
	return schemaFromSpec(t, recs, spec)
}

// TestCalibrateLengthGivenPorts checks that with targets per port class
// the flows the model sent to a tail port's token take the real lengths
// of flows to one-off ports, however the model ranked them, and that the
// other flows take what the chunk's lengths leave, so that the block has
// the real chunk's records per flow although the model gave the one-off
// ports fewer flows (a quarter) than the real chunk (three sevenths);
// without the targets all take the chunk's lengths in one ranking.
func TestCalibrateLengthGivenPorts(t *testing.T) {
	s := portLengthSchema(t)
	tok := s.TailPorts.Classes[0].Token
	off := s.QuantileAttr("length")
	rows := func() []Row {
		rng := rand.New(rand.NewPCG(1, 2))
		var out []Row
		for i := range 200 {
			k := trace.Key{Src: uint32(i), Dst: 9, SrcPort: 1000, DstPort: 80, Proto: 6}
			v := make([]float32, s.AttrDim())
			v[off] = rng.Float32() / 2
			if i%4 == 0 {
				k.SrcPort, k.DstPort = 80, tok
				v[off] += 0.5 // the model ranks them long
			}
			out = append(out, Row{Vec: v, Attr: encoding.FlowAttr{Key: k}})
		}
		return out
	}
	all := func(Row) bool { return true }
	realMean := (40*4 + 30*1) / 70.0
	records := func(rs []Row) (sum int) {
		for _, r := range rs {
			sum += r.Attr.Len
		}
		return sum
	}
	g := NewStream(s, 1, Options{Calibrate: true}, "", &Stats{})
	g.SetPortLengthTargets([][][]float64{s.ChunkPortLengthPositions(0)}, [][]int{s.ChunkPortLengthFlows(0)})
	rs := rows()
	g.calibrateLength(0, rs, all, rand.New(rand.NewPCG(3, 4)))
	short := 0
	for i, r := range rs {
		switch {
		case r.Attr.Key.DstPort == tok && r.Attr.Len != 1:
			t.Fatalf("row %d to a one-off port: length %d, want 1", i, r.Attr.Len)
		case r.Attr.Key.DstPort != tok && r.Attr.Len != 1 && r.Attr.Len != 4:
			t.Fatalf("row %d to port 80: length %d, want 1 or 4", i, r.Attr.Len)
		case r.Attr.Key.DstPort != tok && r.Attr.Len == 1:
			short++
		}
	}
	// 150 rows to port 80 take 4/7 − 1/4 of the chunk's flows at length 1
	// over their share, 3/4: about 36 of them.
	if short < 26 || short > 46 {
		t.Errorf("%d rows to port 80 of length 1, want about 36", short)
	}
	if got, want := float64(records(rs)), realMean*200; got < 0.97*want || got > 1.03*want {
		t.Errorf("%v records for 200 flows, want about %v", got, want)
	}
	// Without them, one ranking over the chunk's lengths: the rows the
	// model ranked long, the tail ports', are the long ones.
	g = NewStream(s, 1, Options{Calibrate: true}, "", &Stats{})
	rs = rows()
	g.calibrateLength(0, rs, all, rand.New(rand.NewPCG(3, 4)))
	long := 0
	for _, r := range rs {
		if r.Attr.Key.DstPort == tok && r.Attr.Len > 1 {
			long++
		}
	}
	if long < 40 {
		t.Errorf("without port classes %d of 50 tail rows are long, want most", long)
	}
}

// fitTargets gives each class its own real lengths when the rows have the
// real class shares, and otherwise keeps the chunk's lengths: the classes'
// targets at the rows' shares make up the real chunk's.
func TestFitTargets(t *testing.T) {
	var long, short []float64
	for i := range 40 {
		long = append(long, 0.6+0.4*float64(i)/40)
	}
	for i := range 30 {
		short = append(short, 0.4*float64(i)/30)
	}
	pt := portTargets{to: []Target{{q: long}, {}, {q: short}}, flows: []float64{40, 0, 30}}
	below := func(t Target) float64 { // the share of t's positions under 0.5
		n := 0
		for _, p := range t.q {
			if p < 0.5 {
				n++
			}
		}
		return float64(n) / float64(len(t.q))
	}
	for _, c := range []struct {
		share         []float64
		common, short float64 // each target's share under 0.5
	}{
		{[]float64{4.0 / 7, 0, 3.0 / 7}, 0, 1},
		{[]float64{0.9, 0, 0.1}, (3.0/7 - 0.1) / 0.9, 1}, // the long class takes short lengths too
		{[]float64{0.25, 0, 0.75}, 0, 3.0 / 7 / 0.75},    // the short class takes long ones
		{[]float64{1, 0, 0}, 3.0 / 7, 0},                 // one class: the chunk's lengths
	} {
		to := pt.fitTargets(c.share)
		if got := below(to[0]); math.Abs(got-c.common) > 0.02 {
			t.Errorf("shares %v: the long class has %.3f under 0.5, want %.3f", c.share, got, c.common)
		}
		if c.share[2] > 0 {
			if got := below(to[2]); math.Abs(got-c.short) > 0.02 {
				t.Errorf("shares %v: the short class has %.3f under 0.5, want %.3f", c.share, got, c.short)
			}
		} else if len(to[2].q) != 0 {
			t.Errorf("shares %v: a target for a class without rows", c.share)
		}
		if len(to[1].q) != 0 {
			t.Errorf("shares %v: a target for a class without real flows", c.share)
		}
	}
}

// A flow carried into a later chunk takes the length of that chunk's
// flows of its port class: a continuation to a one-off port is one record
// long, as the real flows to one-off ports are, not as long as the
// later-segment lender it borrows its start from.
func TestContinuationLengthsGivenPorts(t *testing.T) {
	s := portLengthSchemaN(t, 2)
	tok := s.TailPorts.Classes[0].Token
	off := s.QuantileAttr("length")
	rng := rand.New(rand.NewPCG(5, 6))
	mk := func(i int, here bool, present []bool, dp uint16) Row {
		r := row(t, s, uint32(i), here, present, rng.Float32())
		r.Vec[off] = rng.Float32()
		r.Attr.Key = trace.Key{Src: uint32(i), Dst: 9, SrcPort: 1000, DstPort: dp, Proto: 6}
		r.Attr.Len = s.DecodeLength(r.Vec)
		return r
	}
	T, F := true, false
	var first, second []Row
	for i := range 20 {
		dp := uint16(80)
		if i%2 == 0 {
			dp = tok
		}
		first = append(first, mk(i, T, []bool{T, T}, dp)) // carried into chunk 1
	}
	for i := range 40 {
		second = append(second, mk(100+i, i%2 == 0, []bool{F, T}, 80)) // lenders: port 80
	}
	g := NewStream(s, 2, Options{Calibrate: true, Seed: 3}, "", &Stats{})
	defer g.Close()
	g.SetPortLengthTargets([][][]float64{s.ChunkPortLengthPositions(0), s.ChunkPortLengthPositions(1)}, [][]int{s.ChunkPortLengthFlows(0), s.ChunkPortLengthFlows(1)})
	var cont []Row
	for c, rows := range [][]Row{first, second} {
		if _, err := g.Own(c, 0, rows); err != nil {
			t.Fatal(err)
		}
		err := g.Continuations(c, 1, 64, func(_ int, rows []Row) error {
			cont = append(cont, rows...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rare := 0
	for _, r := range cont {
		if s.PortClass(s.TailPorts.CanonKey(r.Attr.Key)) != encoding.PortsDstRare {
			continue
		}
		rare++
		if r.Attr.Len != 1 {
			t.Errorf("continuation to one-off port %d: length %d, want 1", r.Attr.Key.DstPort, r.Attr.Len)
		}
	}
	if rare == 0 {
		t.Fatalf("no continuation to a one-off port among %d", len(cont))
	}
}
