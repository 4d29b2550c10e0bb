package postgen

import (
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// portLengthSchema builds a one-chunk flow schema of flows to port 80 of
// four records each and flows to one-off ports of one record each, with
// tail classes and the lengths per port class.
func portLengthSchema(t *testing.T) *encoding.Schema {
	t.Helper()
	var recs []trace.Flow
	for i := range 40 {
		for j := range 4 {
			recs = append(recs, trace.Flow{Start: int64(i*10+j) * 1000, Src: uint32(i), Dst: 9, SrcPort: uint16(1000 + i%5), DstPort: 80, Proto: 6, Packets: 3, Bytes: 300})
		}
	}
	for i := range 30 {
		recs = append(recs, trace.Flow{Start: int64(i*10+5) * 1000, Src: 9, Dst: uint32(100 + i), SrcPort: 80, DstPort: uint16(40000 + i), Proto: 6, Packets: 1, Bytes: 40})
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1})
	if err != nil {
		t.Fatal(err)
	}
	opt := encoding.BuildOptions{MaxLen: sp.Stats.MaxFlowLen, LengthAttr: true, QuantileKnots: 16, TailPortFlows: 2, PosteriorKappa: 20, PosteriorTopK: 8}
	spec, err := encoding.BuildFlowSpec(sp, opt)
	if err != nil {
		t.Fatal(err)
	}
	pl := encoding.NewPortLengths(spec.TailPorts)
	for _, f := range sp.Chunks[0].Flows {
		pl.Add(f.Key, len(f.Records))
	}
	k, n := pl.Knots(16)
	if k == nil {
		t.Fatal("no lengths per port class")
	}
	spec.PortLengthKnots, spec.PortLengthFlows = [][][]float64{k}, [][]int{n}
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
	g.calibrateLength(0, rs, all, nil, rand.New(rand.NewPCG(3, 4)))
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
	// Classes given override the ports: all rows as flows to known ports
	// take the whole chunk's lengths.
	rs = rows()
	g.calibrateLength(0, rs, all, make([]int8, len(rs)), rand.New(rand.NewPCG(3, 4)))
	if got, want := float64(records(rs)), realMean*200; got < 0.97*want || got > 1.03*want {
		t.Errorf("classed known: %v records for 200 flows, want about %v", got, want)
	}
	for i, r := range rs {
		if r.Attr.Key.DstPort == tok && r.Attr.Len != 4 {
			t.Fatalf("classed known: row %d, ranked long, has length %d", i, r.Attr.Len)
		}
	}
	// Without them, one ranking over the chunk's lengths: the rows the
	// model ranked long, the tail ports', are the long ones.
	g = NewStream(s, 1, Options{Calibrate: true}, "", &Stats{})
	rs = rows()
	g.calibrateLength(0, rs, all, nil, rand.New(rand.NewPCG(3, 4)))
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
