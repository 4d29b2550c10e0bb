package postgen

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// logKnots returns the knots of a class holding the given values once
// each (sorted), in log1p space as encoding.SizeClass holds them.
func logKnots(vals ...float64) []float64 {
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = math.Log1p(v)
	}
	return out
}

// Within a packet class, records keep the model's order and take the
// class's real values; a class the real chunk lacks is left alone.
func TestCalibrateSizes(t *testing.T) {
	classes := map[int]encoding.SizeClass{
		1: {Dur: logKnots(0, 0), Bytes: logKnots(40, 40)},                     // one packet
		2: {Dur: logKnots(1000, 5000), Bytes: logKnots(100, 300)},             // 2-3 packets
		3: {Dur: logKnots(10_000, 20_000, 30_000), Bytes: logKnots(500, 900)}, // 4-7 packets
	}
	fs := []trace.Flow{
		{Packets: 1, Dur: 700, Bytes: 60},
		{Packets: 2, Dur: 9, Bytes: 2000},
		{Packets: 3, Dur: 3, Bytes: 1000},
		{Packets: 5, Dur: 50, Bytes: 1},
		{Packets: 6, Dur: 10, Bytes: 2},
		{Packets: 4, Dur: 30, Bytes: 3},
		{Packets: 100, Dur: 77, Bytes: 7777}, // class 7: not in the real chunk
	}
	n := CalibrateSizes(classes, fs, rand.New(rand.NewPCG(1, 2)))
	if n != 6 {
		t.Errorf("%d records changed, want 6", n)
	}
	if fs[0].Dur != 0 || fs[0].Bytes != 40 {
		t.Errorf("one-packet record %+v, want duration 0 and 40 bytes", fs[0])
	}
	// Class 2: the longer of the two (duration 9) takes the upper value
	// at quantile ¾, the shorter the lower at ¼.
	if !(fs[1].Dur > fs[2].Dur) || fs[2].Dur < 1000 || fs[1].Dur > 5000 {
		t.Errorf("class 2 durations %d, %d: want the model's order within [1000, 5000]", fs[1].Dur, fs[2].Dur)
	}
	if !(fs[1].Bytes > fs[2].Bytes) || fs[2].Bytes < 100 || fs[1].Bytes > 300 {
		t.Errorf("class 2 bytes %d, %d: want the model's order within [100, 300]", fs[1].Bytes, fs[2].Bytes)
	}
	// Class 3: order by the generated durations 50 > 30 > 10, the middle
	// one at the median knot.
	if !(fs[3].Dur > fs[5].Dur && fs[5].Dur > fs[4].Dur) || fs[5].Dur != 20_000 {
		t.Errorf("class 3 durations %d %d %d: want the model's order, the middle one 20000", fs[3].Dur, fs[5].Dur, fs[4].Dur)
	}
	if fs[6].Dur != 77 || fs[6].Bytes != 7777 {
		t.Errorf("a class the real chunk lacks changed: %+v", fs[6])
	}
}

// Ties are broken at random from the stream given, so a block's values
// do not depend on the records' order, and the same stream gives the same
// result.
func TestCalibrateSizesTies(t *testing.T) {
	classes := map[int]encoding.SizeClass{1: {Dur: logKnots(0, 1000), Bytes: logKnots(40, 40)}}
	run := func(seed uint64) []int64 {
		fs := make([]trace.Flow, 100)
		for i := range fs {
			fs[i] = trace.Flow{Packets: 1, Dur: 5}
		}
		CalibrateSizes(classes, fs, rand.New(rand.NewPCG(seed, 0)))
		out := make([]int64, len(fs))
		for i := range fs {
			out[i] = fs[i].Dur
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	same, diff := true, false
	var sum int64
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
		sum += a[i]
	}
	if !same || !diff {
		t.Errorf("same seed same result %v, other seed other result %v", same, diff)
	}
	// The ranks span the class: a mean near the middle of [0, 1000] in
	// log space.
	if mean := float64(sum) / 100; mean < 50 || mean > 400 {
		t.Errorf("mean duration %.0f, want the class's spread", mean)
	}
}

// With a protocol's own class, the records of a packet class are ranked
// by protocol first: the ICMP records take the class's small byte counts
// even where the model gave them large ones, and the class's values stay
// the real ones. Without it, the model's order alone decides.
func TestCalibrateSizesByProtocol(t *testing.T) {
	all := encoding.SizeClass{Dur: logKnots(0, 0), Bytes: logKnots(28, 28, 28, 28, 44, 44, 44, 44)}
	icmp := encoding.SizeClass{Dur: logKnots(0, 0), Bytes: logKnots(28, 28)}
	tcp := encoding.SizeClass{Dur: logKnots(0, 0), Bytes: logKnots(44, 44)}
	block := func() []trace.Flow {
		return []trace.Flow{
			{Proto: trace.ProtoICMP, Packets: 1, Bytes: 900},
			{Proto: trace.ProtoTCP, Packets: 1, Bytes: 10},
			{Proto: trace.ProtoICMP, Packets: 1, Bytes: 800},
			{Proto: trace.ProtoTCP, Packets: 1, Bytes: 20},
		}
	}
	with := block()
	CalibrateSizes(map[int]encoding.SizeClass{
		1:                                    all,
		encoding.SizeKey(trace.ProtoICMP, 1): icmp,
		encoding.SizeKey(trace.ProtoTCP, 1):  tcp,
	}, with, rand.New(rand.NewPCG(1, 2)))
	for _, f := range with {
		want := uint64(44)
		if f.Proto == trace.ProtoICMP {
			want = 28
		}
		if f.Bytes != want {
			t.Errorf("protocol %d given %d bytes, want %d", f.Proto, f.Bytes, want)
		}
	}
	without := block()
	CalibrateSizes(map[int]encoding.SizeClass{1: all}, without, rand.New(rand.NewPCG(1, 2)))
	for _, f := range without {
		want := uint64(28)
		if f.Proto == trace.ProtoICMP {
			want = 44 // the model made them the larger ones
		}
		if f.Bytes != want {
			t.Errorf("without protocol classes, protocol %d given %d bytes, want %d", f.Proto, f.Bytes, want)
		}
	}
}

// The records of flows of several records take their durations from
// those flows' knots where the class holds them: the model made a
// long-lived flow's records the class's shortest, which calibrating the
// class together gives the probes' zero durations.
func TestCalibrateSizesByFlowLength(t *testing.T) {
	all := encoding.SizeClass{Dur: logKnots(0, 0, 0, 0, 3000, 3000, 3000, 3000), Bytes: logKnots(120, 120)}
	single := encoding.SizeClass{Dur: logKnots(0, 0), Bytes: logKnots(120, 120)}
	multi := encoding.SizeClass{Dur: logKnots(3000, 3000), Bytes: logKnots(120, 120)}
	block := func() []trace.Flow {
		probe := func(i uint32, dur int64) trace.Flow {
			return trace.Flow{Src: i, Dst: 9, SrcPort: 50000, DstPort: 23, Proto: trace.ProtoTCP, Packets: 2, Bytes: 120, Dur: dur}
		}
		long := trace.Flow{Src: 7, Dst: 9, SrcPort: 55768, DstPort: 8883, Proto: trace.ProtoTCP, Packets: 2, Bytes: 120}
		return []trace.Flow{probe(1, 900), long, probe(2, 800), long}
	}
	with := block()
	CalibrateSizes(map[int]encoding.SizeClass{
		encoding.PacketClass(2):                       all,
		encoding.SizeLenKey(trace.ProtoTCP, 2, false): single,
		encoding.SizeLenKey(trace.ProtoTCP, 2, true):  multi,
	}, with, rand.New(rand.NewPCG(1, 2)))
	for _, f := range with {
		want := int64(0)
		if f.DstPort == 8883 {
			want = 3000
		}
		if f.Dur != want {
			t.Errorf("flow to %d given %d µs, want %d", f.DstPort, f.Dur, want)
		}
	}
	without := block()
	CalibrateSizes(map[int]encoding.SizeClass{encoding.PacketClass(2): all}, without, rand.New(rand.NewPCG(1, 2)))
	for _, f := range without {
		want := int64(3000)
		if f.DstPort == 8883 {
			want = 0 // the model made them the shortest
		}
		if f.Dur != want {
			t.Errorf("without the classes by length, flow to %d given %d µs, want %d", f.DstPort, f.Dur, want)
		}
	}
}

// The long-lived flow's records take the large packet counts and the
// probes the small ones, though the model made them the other way round;
// the block's packet counts are the chunk's real ones either way. Without
// the three groups' knots nothing changes.
func TestCalibratePackets(t *testing.T) {
	classes := map[int]encoding.SizeClass{
		encoding.PacketsOne:  {Packets: logKnots(2, 2, 2, 2)},
		encoding.PacketsMany: {Packets: logKnots(5, 5, 5, 5)},
		// 21 knots, so that the ten records' quantiles fall on knots 1, 3, …, 19.
		encoding.PacketsAll: {Packets: logKnots(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5)},
	}
	block := func() []trace.Flow {
		var fs []trace.Flow
		for i := range 6 { // probes, which the model made large
			fs = append(fs, trace.Flow{Src: uint32(i), Dst: 9, SrcPort: 50000, DstPort: 23, Proto: trace.ProtoTCP, Packets: 9})
		}
		for range 4 { // one long-lived flow of four records, made small
			fs = append(fs, trace.Flow{Src: 7, Dst: 9, SrcPort: 55768, DstPort: 8883, Proto: trace.ProtoTCP, Packets: 1})
		}
		return fs
	}
	fs := block()
	if n := CalibratePackets(classes, fs, rand.New(rand.NewPCG(1, 2))); n != 10 {
		t.Errorf("%d records changed, want 10", n)
	}
	var sum uint64
	for _, f := range fs {
		want := uint64(2)
		if f.DstPort == 8883 {
			want = 5
		}
		if f.Packets != want {
			t.Errorf("record to %d given %d packets, want %d", f.DstPort, f.Packets, want)
		}
		sum += f.Packets
	}
	if sum != 6*2+4*5 {
		t.Errorf("%d packets in all, want the chunk's %d", sum, 6*2+4*5)
	}
	partial := block()
	delete(classes, encoding.PacketsAll)
	if n := CalibratePackets(classes, partial, rand.New(rand.NewPCG(1, 2))); n != 0 || partial[0].Packets != 9 {
		t.Errorf("without the knots of all records: %d changed", n)
	}
}
