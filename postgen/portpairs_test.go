package postgen

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func TestPortPairCell(t *testing.T) {
	cases := []struct {
		sp, dp uint16
		want   uint32
	}{
		{50000, 443, keyDynamic<<11 | 443},
		{443, 50000, 443<<11 | keyDynamic},
		{8080, 1024, keyRegistered<<11 | keyRegistered},
		{8080, 8080, keyRegistered<<11 | keyRegistered | sameBit},
		{123, 123, 123<<11 | 123},
		{53, 123, 53<<11 | 123},
		{49152, 49152, keyDynamic<<11 | keyDynamic | sameBit},
		{1023, 0, 1023 << 11},
	}
	for _, c := range cases {
		got := PortPairCell(c.sp, c.dp)
		if got != c.want {
			t.Errorf("PortPairCell(%d, %d) = %#x, want %#x", c.sp, c.dp, got, c.want)
		}
		if cellSrc(got) != portKey(c.sp) || cellDst(got) != portKey(c.dp) {
			t.Errorf("cell %#x: keys %d, %d, want %d, %d", got, cellSrc(got), cellDst(got), portKey(c.sp), portKey(c.dp))
		}
	}
}

// Well-known ports pair as the real ones do, one by one: a DNS reply
// comes from 53, not from the NTP port, even where both are well-known.
func TestFollowPortPairsByService(t *testing.T) {
	s := tagSchema(t, 1)
	var rows []Row
	add := func(n int, sp, dp uint16) {
		for range n {
			r := softRow(t, s, 0x0a000001, nil, 1)
			r.Attr.Key = trace.Key{Src: 1, Dst: 2, SrcPort: sp, DstPort: dp, Proto: trace.ProtoUDP}
			r.Attr.Len = 1
			r.Attr.StartsHere = true
			rows = append(rows, r)
		}
	}
	add(20, 123, 123)  // NTP
	add(5, 123, 40000) // replies from the NTP port: none in the real trace
	add(5, 53, 123)    // and queries to NTP from the DNS port
	add(10, 53, 41000) // DNS replies
	add(10, 42000, 53) // DNS queries
	// The real trace: 25 NTP flows, 15 DNS replies and 10 queries.
	var pp PortPairs
	for range 25 {
		pp.Add(trace.Key{SrcPort: 123, DstPort: 123, Proto: trace.ProtoUDP}, 1)
	}
	for i := range 15 {
		pp.Add(trace.Key{SrcPort: 53, DstPort: 40000, Proto: trace.ProtoUDP}, 1)
		if i < 10 {
			pp.Add(trace.Key{SrcPort: 40000, DstPort: 53, Proto: trace.ProtoUDP}, 1)
		}
	}
	kept := func(r Row) bool { return r.Attr.StartsHere }
	followPortPairs(s, rows, kept, &pp, func(Row) float64 { return 1 }, rand.New(rand.NewPCG(5, 6)))
	got := map[uint32]int{}
	for _, r := range rows {
		got[PortPairCell(r.Attr.Key.SrcPort, r.Attr.Key.DstPort)]++
	}
	// The five replies from the NTP port and the five queries to it from
	// the DNS port exchange destinations: five more NTP flows, five more
	// DNS replies.
	want := map[uint32]int{123<<11 | 123: 25, 53<<11 | keyRegistered: 15, keyRegistered<<11 | 53: 10}
	if !maps.Equal(got, want) {
		t.Errorf("cells %v, want %v", got, want)
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
// of client ports to service ports and replies: four services, and a port
// scan's thousand.
func BenchmarkFollowPortPairs(b *testing.B) {
	b.Run("services=4", func(b *testing.B) { benchPortPairs(b, []uint16{53, 80, 123, 443}) })
	b.Run("services=1000", func(b *testing.B) {
		var svc []uint16
		for p := range uint16(1000) {
			svc = append(svc, p+1)
		}
		benchPortPairs(b, svc)
	})
}

// benchPortPairs is BenchmarkFollowPortPairs with the given service ports.
func benchPortPairs(b *testing.B, svc []uint16) {
	s := tagSchema(b, 1)
	r := rand.New(rand.NewPCG(1, 2))
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
	for _, p := range svc {
		pp.Add(trace.Key{SrcPort: 50000, DstPort: p, Proto: trace.ProtoTCP}, 1)
		pp.Add(trace.Key{SrcPort: p, DstPort: 50000, Proto: trace.ProtoTCP}, 1)
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
