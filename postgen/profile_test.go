package postgen

import (
	"math"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// A profile keeps the heaviest ranks exactly and interpolates the rest
// within a few percent for a power-law trace; its total and distinct
// count are exact.
func TestAddrProfile(t *testing.T) {
	var w []float64
	total := 0.0
	for r := 1; r <= 20_000; r++ {
		x := math.Floor(1e5 / math.Pow(float64(r), 1.1))
		w = append(w, max(1, x))
		total += max(1, x)
	}
	// Any order in, heaviest first out.
	shuffled := slices.Clone(w)
	for i := range shuffled {
		j := (i * 7919) % len(shuffled)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	p := NewAddrProfile(append(shuffled, 0, 0))
	if p.Distinct() != len(w) || p.Total != total {
		t.Fatalf("distinct %d total %g, want %d and %g", p.Distinct(), p.Total, len(w), total)
	}
	if len(p.Ranks) > profileExact+200 {
		t.Errorf("%d ranks kept for %d addresses", len(p.Ranks), len(w))
	}
	for r := 1; r <= len(w); r++ {
		got, want := p.At(r), w[r-1]
		if r <= profileExact && got != want {
			t.Fatalf("rank %d: %g, want exactly %g", r, got, want)
		}
		if math.Abs(got-want) > 0.05*want+1 {
			t.Fatalf("rank %d: %g, want %g", r, got, want)
		}
	}
	if p.At(len(w)+10) != w[len(w)-1] {
		t.Errorf("past the last rank: %g, want the lightest weight %g", p.At(len(w)+10), w[len(w)-1])
	}
	if NewAddrProfile([]float64{0, 0}) != nil || NewAddrProfile(nil) != nil {
		t.Error("a profile of no weight")
	}
}

// followProfile moves rows from an address far above its rank's share to
// the ones below theirs, so that the ranked weights come out as the
// profile's, keeping the addresses (no new one, none emptied), moving the
// rows the model was least sure of, and weighing a flow trace's row by its
// records.
func TestFollowProfile(t *testing.T) {
	s := tagSchema(t, 1)
	off, _ := s.AttrSlice("srcip")
	const a, b, c, d = 0x0a000001, 0x0a000002, 0x0a000003, 0x0a000004
	var rows []Row
	add := func(ip uint32, n int, unsure []int, p float32, recs int) {
		for range n {
			r := softRow(t, s, ip, unsure, p)
			r.Attr.Len = recs
			r.Attr.StartsHere = true
			rows = append(rows, r)
		}
	}
	add(a, 60, nil, 1, 1)         // the model was sure of these
	add(a, 10, []int{31}, 0.6, 1) // and unsure of the last bit of these (a^1 = 0x0a000000)
	add(b, 10, nil, 1, 1)
	add(c, 10, nil, 1, 1)
	add(d, 5, nil, 1, 2) // 10 records
	prof := NewAddrProfile([]float64{40, 30, 20, 10})
	kept := func(Row) bool { return true }
	generated := make([]uint32, len(rows))
	for i, r := range rows {
		generated[i] = ipOfVec(s, r)
	}
	moved := followProfile(trace.KindFlows, prof, rows, kept, "srcip", off, nil, true)
	got := map[uint32]float64{}
	for i, r := range rows {
		got[r.Attr.Key.Src] += profileWeight(trace.KindFlows, r)
		// The vector keeps the generated address (features are generated
		// for the flow the model made); the key is what is written.
		if ipOfVec(s, r) != generated[i] {
			t.Fatalf("row %d: its bits now encode %x, generated %x", i, ipOfVec(s, r), generated[i])
		}
	}
	var ranked []float64
	for _, w := range got {
		ranked = append(ranked, w)
	}
	slices.SortFunc(ranked, func(x, y float64) int { return int(y - x) })
	t.Logf("moved %d rows: weights %v", moved, ranked)
	if len(got) != 4 {
		t.Fatalf("%d addresses after, want the 4 before: %v", len(got), got)
	}
	if !slices.Equal(ranked, []float64{40, 30, 20, 10}) {
		t.Errorf("ranked weights %v, want the profile's 40 30 20 10", ranked)
	}
	// The ten unsure rows of a were among the first to go.
	left := 0
	for _, r := range rows[60:70] {
		if r.Attr.Key.Src == a {
			left++
		}
	}
	if left > 0 {
		t.Errorf("%d of the rows unsure of their address stayed, while sure ones moved", left)
	}
	// Again: nothing left to move.
	if n := followProfile(trace.KindFlows, prof, rows, kept, "srcip", off, nil, true); n != 0 {
		t.Errorf("a second pass moved %d rows", n)
	}
}

// An address that fails its field's protocol check (here a multicast
// source) takes no rank: protocol repair would move its rows after the
// profile, so the profile gives them all to valid addresses below their
// targets, emptying it, and the valid addresses take the profile's ranks.
func TestFollowProfileSkipsInvalidAddresses(t *testing.T) {
	s := tagSchema(t, 1)
	off, _ := s.AttrSlice("srcip")
	const a, b, c, mcast = 0x0a000001, 0x0a000002, 0x0a000003, 0xe20a5982 // 226.10.89.130
	var rows []Row
	for ip, n := range map[uint32]int{a: 10, b: 10, c: 10, mcast: 30} {
		for range n {
			r := softRow(t, s, ip, nil, 1)
			r.Attr.Len, r.Attr.StartsHere = 1, true
			rows = append(rows, r)
		}
	}
	prof := NewAddrProfile([]float64{30, 20, 10})
	followProfile(trace.KindFlows, prof, rows, func(Row) bool { return true }, "srcip", off, nil, true)
	got := map[uint32]float64{}
	for _, r := range rows {
		got[r.Attr.Key.Src]++
	}
	var ranked []float64
	for _, w := range got {
		ranked = append(ranked, w)
	}
	slices.SortFunc(ranked, func(x, y float64) int { return int(y - x) })
	if got[mcast] != 0 || !slices.Equal(ranked, []float64{30, 20, 10}) {
		t.Errorf("sources after: %v (ranked %v); want the multicast source emptied and 30 20 10 on the valid ones", got, ranked)
	}
}

// The running weights of earlier blocks count: a block whose own rows
// look spread but whose address was already heavy gives rows away.
func TestFollowProfileCountsThePast(t *testing.T) {
	s := tagSchema(t, 1)
	off, _ := s.AttrSlice("srcip")
	const a, b = 0x0a000001, 0x0a000002
	var rows []Row
	for i := range 20 {
		r := softRow(t, s, a, nil, 1)
		if i%2 == 1 {
			r = softRow(t, s, b, nil, 1)
		}
		rows = append(rows, r)
	}
	past := &profileCounts{n: map[uint32]float64{a: 30, b: 30}, total: 60}
	prof := NewAddrProfile([]float64{60, 20})
	moved := followProfile(trace.KindFlows, prof, rows, func(Row) bool { return true }, "srcip", off, past, true)
	n := map[uint32]int{}
	for _, r := range rows {
		n[r.Attr.Key.Src]++
	}
	// 80 in all: 60 and 20 is 20 more on one address, 20 fewer on the
	// other, from this block's rows only.
	if moved != 10 || !(n[a] == 20 || n[b] == 20) || n[a]+n[b] != 20 {
		t.Errorf("moved %d, block now %v; want 10 moved, every row on one address", moved, n)
	}
}

// In a capture, swapPackets trades a long flow of an address above its
// packet target for a short one of an address below, so that the packets
// per address follow the real packet profile while every address keeps its
// flows.
func TestSwapPackets(t *testing.T) {
	s := tagSchema(t, 1)
	const a, b = 0x0a000001, 0x0a000002
	var rows []Row
	add := func(ip uint32, lens ...int) {
		for _, l := range lens {
			r := softRow(t, s, ip, nil, 1)
			r.Attr.Len = l
			rows = append(rows, r)
		}
	}
	add(a, 1, 1, 1, 1, 1)     // 5 flows, 5 packets
	add(b, 10, 10, 10, 10, 5) // 5 flows, 45 packets
	// The real trace: 5 flows each, the heavier address with 40 packets, the
	// other with 10.
	pk := NewAddrProfile([]float64{40, 10})
	kept := func(Row) bool { return true }
	n := swapPackets(pk, rows, kept, "srcip", nil, true)
	flows, packets := map[uint32]int{}, map[uint32]int{}
	for _, r := range rows {
		flows[r.Attr.Key.Src]++
		packets[r.Attr.Key.Src] += r.Attr.Len
	}
	t.Logf("%d swaps: flows %v packets %v", n, flows, packets)
	if flows[a] != 5 || flows[b] != 5 {
		t.Errorf("flows per address %v, want 5 each as before", flows)
	}
	// The profile's shares, 0.8 and 0.2 of 50 packets: 40 and 10; b's
	// 5-packet flow for one of a's 1-packet flows gives 41 and 9, and no
	// pair of flows differs by 1.
	hi, lo := max(packets[a], packets[b]), min(packets[a], packets[b])
	if n != 1 || hi != 41 || lo != 9 || packets[b] != hi {
		t.Errorf("packets per address %v, want about 40 and 10", packets)
	}
}

// In a flow trace's decoded records, whole 5-tuples of as many records
// swap destinations by packets, records per address stay, and a held
// (carried) 5-tuple keeps its address while its packets count.
func TestSwapFlowPackets(t *testing.T) {
	const a, b = 0x0a000001, 0x0a000002
	var recs []trace.Flow
	add := func(dst uint32, sport uint16, pkts ...uint64) {
		for _, p := range pkts {
			recs = append(recs, trace.Flow{Src: 1, Dst: dst, SrcPort: sport, DstPort: 80, Proto: 6, Packets: p})
		}
	}
	add(a, 1, 1, 1)   // 2 records, 2 packets
	add(a, 2, 1)      // 1 record
	add(b, 3, 30, 30) // 2 records, 60 packets
	add(b, 4, 1)      // 1 record
	add(b, 5, 50, 50) // 2 records, 100 packets, carried to a later chunk
	held := map[trace.Key]struct{}{recs[len(recs)-1].Key(): {}}
	// The real trace: the heavier destination with 60% of the packets.
	// Of 164, that is 98.4: b's 161 less sport 3's 60 for sport 1's 2.
	pk := NewAddrProfile([]float64{60, 40})
	changed := swapFlowPackets(pk, recs, held, true, nil, true)
	records, packets := map[uint32]int{}, map[uint32]uint64{}
	for _, r := range recs {
		records[r.Dst]++
		packets[r.Dst] += r.Packets
	}
	t.Logf("%d records changed: records %v packets %v", changed, records, packets)
	if changed != 4 || records[a] != 3 || records[b] != 5 || packets[a] != 61 || packets[b] != 103 {
		t.Errorf("want 4 records changed, 3 and 5 records, 61 and 103 packets")
	}
	for _, r := range recs[len(recs)-2:] {
		if r.Dst != b {
			t.Errorf("a held flow moved to %x", r.Dst)
		}
	}
}
