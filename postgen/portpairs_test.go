package postgen

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func TestPortPairCell(t *testing.T) {
	cases := []struct {
		sp, dp uint16
		want   int
	}{
		{50000, 443, 3*portDynamic + portWellKnown},
		{443, 50000, 3*portWellKnown + portDynamic},
		{8080, 1024, 3*portRegistered + portRegistered},
		{123, 123, 9 + portWellKnown},
		{49152, 49152, 9 + portDynamic},
		{1023, 80, 0},
	}
	for _, c := range cases {
		if got := PortPairCell(c.sp, c.dp); got != c.want {
			t.Errorf("PortPairCell(%d, %d) = %d, want %d", c.sp, c.dp, got, c.want)
		}
	}
}

// Ports decoded one field at a time pair a service port with itself; the
// real trace pairs ephemeral ports with service ports. Exchanging ports
// between flows of one length brings the pairs to the real shares while
// every port keeps its flows, and the encoded ports move with them.
func TestFollowPortPairs(t *testing.T) {
	s := tagSchema(t, 1)
	if off, _ := s.AttrSlice("dstport"); off < 0 {
		t.Fatal("the schema encodes no destination port")
	}
	var rows []Row
	add := func(n int, sp, dp uint16, length int) {
		for range n {
			r := softRow(t, s, 0x0a000001, nil, 1)
			r.Attr.Key = trace.Key{Src: 0x0a000001, Dst: 0x0a000002, SrcPort: sp, DstPort: dp, Proto: trace.ProtoTCP}
			r.Attr.Len = length
			r.Attr.StartsHere = true
			if off, dim := s.AttrSlice("dstport"); off >= 0 {
				for k := range dim {
					r.Vec[off+k] = float32(dp) + float32(k)/100 // a mark of the port
				}
			}
			rows = append(rows, r)
		}
	}
	add(10, 443, 443, 2)     // the model's pairs
	add(10, 50000, 50001, 2) // and the leftover ephemeral ones
	add(5, 443, 443, 7)      // no partner of this length
	var pp PortPairs
	for range 50 {
		pp.Add(trace.Key{SrcPort: 50000, DstPort: 443, Proto: trace.ProtoTCP}, 1)
		pp.Add(trace.Key{SrcPort: 443, DstPort: 50001, Proto: trace.ProtoTCP}, 1)
	}
	ports := func() (sp, dp []uint16) {
		for _, r := range rows {
			sp, dp = append(sp, r.Attr.Key.SrcPort), append(dp, r.Attr.Key.DstPort)
		}
		slices.Sort(sp)
		slices.Sort(dp)
		return sp, dp
	}
	sp0, dp0 := ports()
	kept := func(r Row) bool { return r.Attr.StartsHere }
	n := followPortPairs(s, rows, kept, &pp, func(r Row) float64 { return float64(r.Attr.Len) }, rand.New(rand.NewPCG(1, 2)))
	if n != 10 {
		t.Errorf("%d exchanges, want 10 (one per looping pair of length 2)", n)
	}
	same := 0
	for i, r := range rows[:20] {
		k := r.Attr.Key
		if k.SrcPort == k.DstPort {
			same++
		}
		if off, _ := s.AttrSlice("dstport"); off >= 0 && r.Vec[off] != float32(k.DstPort) {
			t.Errorf("row %d: its encoded destination port is %g, its key %d", i, r.Vec[off], k.DstPort)
		}
	}
	if same != 0 {
		t.Errorf("%d of the length-2 flows still from a port to itself", same)
	}
	for _, r := range rows[20:] {
		if r.Attr.Key.SrcPort != 443 || r.Attr.Key.DstPort != 443 {
			t.Errorf("a length-7 flow changed: %+v", r.Attr.Key)
		}
	}
	if sp, dp := ports(); !slices.Equal(sp, sp0) || !slices.Equal(dp, dp0) {
		t.Error("the ports' counts changed")
	}
	// No pairs recorded (DP, or an older run): nothing moves.
	if followPortPairs(s, rows, kept, nil, func(Row) float64 { return 1 }, rand.New(rand.NewPCG(1, 2))) != 0 {
		t.Error("exchanges without real pairs")
	}
}

// BenchmarkFollowPortPairs times a block of 65,536 flows (the largest
// generation block) whose ports were paired at random, against real pairs
// of client ports to service ports and replies.
func BenchmarkFollowPortPairs(b *testing.B) {
	s := tagSchema(b, 1)
	r := rand.New(rand.NewPCG(1, 2))
	svc := []uint16{53, 80, 123, 443}
	port := func() uint16 {
		if r.IntN(2) == 0 {
			return svc[r.IntN(len(svc))]
		}
		return uint16(32768 + r.IntN(28000))
	}
	base := make([]Row, 1<<16)
	for i := range base {
		row := Row{Vec: make([]float32, s.AttrDim())}
		row.Attr.Key = trace.Key{Src: 1, Dst: 2, SrcPort: port(), DstPort: port(), Proto: trace.ProtoTCP}
		row.Attr.Len = 1 + r.IntN(5)
		row.Attr.StartsHere = true
		base[i] = row
	}
	var pp PortPairs
	for range 1000 {
		pp.Add(trace.Key{SrcPort: 50000, DstPort: 443, Proto: trace.ProtoTCP}, 1)
		pp.Add(trace.Key{SrcPort: 443, DstPort: 50000, Proto: trace.ProtoTCP}, 1)
	}
	kept := func(r Row) bool { return r.Attr.StartsHere }
	weight := func(r Row) float64 { return float64(r.Attr.Len) }
	rows := make([]Row, len(base))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		copy(rows, base)
		b.StartTimer()
		followPortPairs(s, rows, kept, &pp, weight, rand.New(rand.NewPCG(3, 4)))
	}
}
