package encoding

import (
	"math"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// Pre-processing keeps, per chunk and packet class, the durations and
// bytes of the chunk's own records, for flow traces with quantile knots
// only.
func TestSizeKnots(t *testing.T) {
	var recs []trace.Flow
	t0 := int64(1_000_000)
	for i := range 40 {
		// Chunk 0: one-packet records of 0 µs and 40 bytes, and 5-packet
		// ones of 1 s and 5,000 bytes; chunk 1: 5-packet records of 2 s.
		recs = append(recs,
			trace.Flow{Start: t0 + int64(i), Src: uint32(i), Dst: 1, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: 1, Bytes: 40},
			trace.Flow{Start: t0 + int64(i), Src: uint32(100 + i), Dst: 1, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: 5, Bytes: 5000, Dur: 1_000_000},
			trace.Flow{Start: t0 + 10_000 + int64(i), Src: uint32(200 + i), Dst: 1, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: 5, Bytes: 5000, Dur: 2_000_000})
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 2, MaxFlowLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: 4, QuantileKnots: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.SizeKnots) != 2 {
		t.Fatalf("%d size-knot sets, want one per chunk", len(spec.SizeKnots))
	}
	dur := func(c, class int, q float64) float64 { return At(spec.SizeKnots[c][class].Dur, q) }
	byt := func(c, class int, q float64) float64 { return At(spec.SizeKnots[c][class].Bytes, q) }
	for _, q := range []float64{0, 0.5, 1} {
		if d, b := dur(0, 1, q), byt(0, 1, q); d != 0 || b != 40 {
			t.Errorf("chunk 0, one packet, quantile %v: %v µs, %v bytes; want 0, 40", q, d, b)
		}
		if d := dur(0, 3, q); math.Abs(d-1e6) > 1 {
			t.Errorf("chunk 0, 4-7 packets, quantile %v: %v µs, want 1e6", q, d)
		}
		if d := dur(1, 3, q); math.Abs(d-2e6) > 2 {
			t.Errorf("chunk 1, 4-7 packets, quantile %v: %v µs, want 2e6", q, d)
		}
	}
	if _, ok := spec.SizeKnots[1][1]; ok {
		t.Error("chunk 1 has one-packet knots, but no one-packet record")
	}
	none, err := BuildFlowSpec(sp, BuildOptions{MaxLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	if none.SizeKnots != nil {
		t.Error("size knots without quantile knots")
	}
}

// A protocol's own packet class is kept beside the class of every
// protocol once the chunk holds SizeProtoMin records of it, and not
// before.
func TestSizeKnotsPerProtocol(t *testing.T) {
	s := sizeSketches{}
	for range 40 {
		s.add(&trace.Flow{Proto: trace.ProtoTCP, Packets: 1, Bytes: 44}, false)
	}
	for range SizeProtoMin {
		s.add(&trace.Flow{Proto: trace.ProtoICMP, Packets: 1, Bytes: 28}, false)
	}
	for range SizeProtoMin - 1 {
		s.add(&trace.Flow{Proto: trace.ProtoUDP, Packets: 1, Bytes: 76}, false)
	}
	k := s.knots(8)
	all, ok := k[PacketClass(1)]
	if !ok {
		t.Fatal("no class of every protocol")
	}
	if lo, hi := At(all.Bytes, 0), At(all.Bytes, 1); lo != 28 || hi != 76 {
		t.Errorf("class of every protocol spans %v to %v bytes, want 28 to 76", lo, hi)
	}
	for _, c := range []struct {
		proto uint8
		bytes float64
		kept  bool
	}{{trace.ProtoTCP, 44, true}, {trace.ProtoICMP, 28, true}, {trace.ProtoUDP, 76, false}} {
		key := SizeKey(c.proto, 1)
		if key <= 255 || key&255 != PacketClass(1) {
			t.Fatalf("SizeKey(%d, 1) = %d: not above the classes of every protocol", c.proto, key)
		}
		pc, ok := k[key]
		if ok != c.kept {
			t.Errorf("protocol %d: class kept %v, want %v", c.proto, ok, c.kept)
			continue
		}
		if ok && (At(pc.Bytes, 0) != c.bytes || At(pc.Bytes, 1) != c.bytes) {
			t.Errorf("protocol %d: bytes %v to %v, want %v", c.proto, At(pc.Bytes, 0), At(pc.Bytes, 1), c.bytes)
		}
	}
}

// A protocol's class is also kept by its flows' length, each side once it
// holds SizeProtoMin records: records of flows of one record apart from
// those of flows of several.
func TestSizeKnotsByFlowLength(t *testing.T) {
	s := sizeSketches{}
	for range SizeProtoMin {
		s.add(&trace.Flow{Proto: trace.ProtoTCP, Packets: 2, Dur: 0}, false)
		s.add(&trace.Flow{Proto: trace.ProtoTCP, Packets: 2, Dur: 3000}, true)
	}
	s.add(&trace.Flow{Proto: trace.ProtoUDP, Packets: 2, Dur: 10}, true)
	k := s.knots(8)
	one, ok1 := k[SizeLenKey(trace.ProtoTCP, 2, false)]
	many, ok2 := k[SizeLenKey(trace.ProtoTCP, 2, true)]
	if !ok1 || !ok2 {
		t.Fatalf("classes by length kept: %v, %v", ok1, ok2)
	}
	if At(one.Dur, 0) != 0 || At(one.Dur, 1) != 0 || At(many.Dur, 0) != 3000 || At(many.Dur, 1) != 3000 {
		t.Errorf("one-record flows' durations %v to %v, several-record flows' %v to %v", At(one.Dur, 0), At(one.Dur, 1), At(many.Dur, 0), At(many.Dur, 1))
	}
	if pc := k[SizeKey(trace.ProtoTCP, 2)]; At(pc.Dur, 0) != 0 || At(pc.Dur, 1) != 3000 {
		t.Errorf("the protocol's class holds %v to %v, want both lengths", At(pc.Dur, 0), At(pc.Dur, 1))
	}
	if _, ok := k[SizeLenKey(trace.ProtoUDP, 2, true)]; ok {
		t.Error("a class of one record kept")
	}
	keys := map[int]bool{PacketClass(2): true, SizeKey(trace.ProtoTCP, 2): true}
	for _, key := range []int{SizeLenKey(trace.ProtoTCP, 2, false), SizeLenKey(trace.ProtoTCP, 2, true), SizeLenKey(trace.ProtoUDP, 2, false)} {
		if keys[key] {
			t.Errorf("key %#x used twice", key)
		}
		keys[key] = true
	}
}

// The builder keeps the packets of each chunk's records in 5-tuples of one
// record, of several, and of all, each group of at least SizeProtoMin.
func TestPacketsKnotsByFlowLength(t *testing.T) {
	var recs []trace.Flow
	for i := range 40 { // one-record probes of two packets
		recs = append(recs, trace.Flow{Start: int64(i) * 1000, Src: uint32(i + 10), Dst: 2, SrcPort: 50000, DstPort: 23, Proto: trace.ProtoTCP, Packets: 2, Bytes: 120})
	}
	for i := range 20 { // a long-lived flow of 20 records of five packets
		recs = append(recs, trace.Flow{Start: int64(i)*1000 + 500, Src: 1, Dst: 2, SrcPort: 55768, DstPort: 8883, Proto: trace.ProtoTCP, Packets: 5, Bytes: 400})
	}
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen, QuantileKnots: 8})
	if err != nil {
		t.Fatal(err)
	}
	k := spec.SizeKnots[0]
	for _, c := range []struct {
		key    int
		lo, hi float64
	}{{PacketsOne, 2, 2}, {PacketsMany, 5, 5}, {PacketsAll, 2, 5}} {
		p := k[c.key].Packets
		if len(p) == 0 || At(p, 0) != c.lo || At(p, 1) != c.hi {
			t.Errorf("key %#x: packets %v to %v, want %v to %v", c.key, At(p, 0), At(p, 1), c.lo, c.hi)
		}
	}
}

// Pre-processing keeps, per chunk, the packet lengths of all its packets
// and of each protocol of at least SizeProtoMin packets, for packet
// traces with quantile knots only.
func TestPacketSizeKnots(t *testing.T) {
	var pkts []trace.Packet
	t0 := int64(1_000_000)
	for i := range 40 {
		// Chunk 0: TCP segments of 1,500 bytes and UDP datagrams of 60,
		// and 3 ICMP echoes (too few for knots of their own); chunk 1: TCP
		// segments of 40 bytes.
		pkts = append(pkts,
			trace.Packet{TS: t0 + int64(i), Src: uint32(i), Dst: 1, SrcPort: 1000, DstPort: 80, Proto: trace.ProtoTCP, Len: 1500},
			trace.Packet{TS: t0 + int64(i), Src: uint32(100 + i), Dst: 1, SrcPort: 1000, DstPort: 53, Proto: trace.ProtoUDP, Len: 60},
			trace.Packet{TS: t0 + 10_000 + int64(i), Src: uint32(200 + i), Dst: 1, SrcPort: 1000, DstPort: 80, Proto: trace.ProtoTCP, Len: 40})
		if i < 3 {
			pkts = append(pkts, trace.Packet{TS: t0 + int64(i), Src: uint32(300 + i), Dst: 1, Proto: trace.ProtoICMP, Len: 84})
		}
	}
	flows.SortByTime(pkts)
	sp, err := flows.SplitByTime(pkts, flows.Options{Chunks: 2, MaxFlowLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildPacketSpec(sp, BuildOptions{MaxLen: 4, QuantileKnots: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.PacketSizeKnots) != 2 {
		t.Fatalf("%d packet-size-knot sets, want one per chunk", len(spec.PacketSizeKnots))
	}
	c0, c1 := spec.PacketSizeKnots[0], spec.PacketSizeKnots[1]
	for _, q := range []float64{0, 0.5, 1} {
		if v := At(c0.ByProto[trace.ProtoTCP], q); v != 1500 {
			t.Errorf("chunk 0, TCP, quantile %v: %v bytes, want 1500", q, v)
		}
		if v := At(c0.ByProto[trace.ProtoUDP], q); v != 60 {
			t.Errorf("chunk 0, UDP, quantile %v: %v bytes, want 60", q, v)
		}
		if v := At(c1.ByProto[trace.ProtoTCP], q); v != 40 {
			t.Errorf("chunk 1, TCP, quantile %v: %v bytes, want 40", q, v)
		}
	}
	if _, ok := c0.ByProto[trace.ProtoICMP]; ok {
		t.Error("chunk 0 has ICMP knots of 3 packets")
	}
	if _, ok := c1.ByProto[trace.ProtoUDP]; ok {
		t.Error("chunk 1 has UDP knots, but no UDP packet")
	}
	// All packets of chunk 0: 40 of 60 bytes, 3 of 84, 40 of 1,500.
	if lo, hi := At(c0.All, 0.2), At(c0.All, 0.9); lo != 60 || hi != 1500 {
		t.Errorf("chunk 0, all packets: %v and %v bytes at quantiles 0.2 and 0.9, want 60 and 1500", lo, hi)
	}
	none, err := BuildPacketSpec(sp, BuildOptions{MaxLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	if none.PacketSizeKnots != nil {
		t.Error("packet-size knots without quantile knots")
	}
	if fs, err := BuildFlowSpec(mustFlowSplit(t), BuildOptions{MaxLen: 4, QuantileKnots: 16}); err != nil || fs.PacketSizeKnots != nil {
		t.Errorf("a flow trace's spec has packet-size knots (%v)", err)
	}
}

func mustFlowSplit(t *testing.T) *flows.Split[trace.Flow] {
	t.Helper()
	recs := []trace.Flow{{Start: 1, Src: 1, Dst: 2, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: 1, Bytes: 40}}
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1, MaxFlowLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
