package postgen

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// Flows that share a 5-tuple get distinct ones by exchanging source ports
// within a protocol: every port keeps its count, every row's vector encodes
// its new port, and collisions that no exchange can fix stay.
func TestSeparateKeys(t *testing.T) {
	s := tagSchema(t, 1)
	e := s.Embedded("srcport")
	if e == nil {
		t.Fatal("schema has no embedded srcport")
	}
	off, dim := s.AttrSlice("srcport")
	row := func(src uint32, sport uint16, proto uint8) Row {
		v := make([]float32, s.AttrDim())
		enc, known := e.E.EncodePort(sport)
		if !known && proto == trace.ProtoTCP {
			t.Fatalf("port %d not in the embedding's vocabulary", sport)
		}
		copy(v[off:off+dim], enc)
		r := Row{Vec: v}
		r.Attr.Key = trace.Key{Src: src, Dst: 9, SrcPort: sport, DstPort: 80, Proto: proto}
		if sport == 80 { // a server's flow: the ephemeral port is the destination
			r.Attr.Key.Src, r.Attr.Key.Dst, r.Attr.Key.DstPort = 9, src, 1000
		}
		r.Attr.StartsHere = true
		return r
	}
	var rows []Row
	// Three TCP flows on one 5-tuple, next to TCP flows of other hosts and
	// ports; two ICMP flows that cannot be told apart by ports.
	for range 3 {
		rows = append(rows, row(1, 1000, trace.ProtoTCP))
	}
	for i := range 6 {
		rows = append(rows, row(uint32(2+i%2), uint16(1001+i%3), trace.ProtoTCP))
	}
	rows = append(rows, row(5, 0, trace.ProtoICMP), row(5, 0, trace.ProtoICMP))
	ports := func(rs []Row) []uint16 {
		var p []uint16
		for _, r := range rs {
			p = append(p, r.Attr.Key.SrcPort)
		}
		slices.Sort(p)
		return p
	}
	before := ports(rows)
	gen := [][]Row{rows}
	moved := separateKeys(s, gen, func(Row) bool { return true }, nil, rand.New(rand.NewPCG(1, 2)))
	got := gen[0]
	if moved < 2 {
		t.Errorf("moved %d flows, want at least 2", moved)
	}
	if !slices.Equal(ports(got), before) {
		t.Errorf("source ports %v, want the same multiset as %v", ports(got), before)
	}
	seen := map[trace.Key]int{}
	for _, r := range got {
		seen[r.Attr.Key]++
	}
	for k, n := range seen {
		if n > 1 && k.Proto != trace.ProtoICMP {
			t.Errorf("5-tuple %v still held by %d flows", k, n)
		}
	}
	if seen[got[9].Attr.Key] != 2 {
		t.Errorf("the ICMP pair changed: %v", got[9:])
	}

	// Server flows (source port 80 throughout) are told apart by their
	// destination ports.
	srv := [][]Row{{row(1, 80, trace.ProtoTCP), row(1, 80, trace.ProtoTCP), row(2, 80, trace.ProtoTCP), row(2, 80, trace.ProtoTCP)}}
	srv[0][2].Attr.Key.DstPort, srv[0][3].Attr.Key.DstPort = 1002, 1001
	if moved := separateKeys(s, srv, func(Row) bool { return true }, nil, rand.New(rand.NewPCG(3, 4))); moved != 1 {
		t.Errorf("server flows: moved %d, want 1", moved)
	}
	srvKeys := map[trace.Key]bool{}
	for _, r := range srv[0] {
		srvKeys[r.Attr.Key] = true
	}
	if len(srvKeys) != 4 {
		t.Errorf("server flows still share 5-tuples: %v", srv[0])
	}
	for i, r := range got {
		a, err := s.DecodeAttributes(r.Vec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.Attr.Key.Proto == trace.ProtoTCP && a[0].Key.SrcPort != r.Attr.Key.SrcPort {
			t.Errorf("row %d: vector decodes to port %d, row holds %d", i, a[0].Key.SrcPort, r.Attr.Key.SrcPort)
		}
	}
}

// A row on a 5-tuple held outside the rows (a flow written by an earlier
// block) moves off it, and no exchange moves a row onto a held one.
func TestSeparateKeysAvoidsHeld(t *testing.T) {
	s := tagSchema(t, 1)
	mk := func(sport uint16) Row {
		r := Row{Vec: make([]float32, s.AttrDim())}
		r.Attr.Key = trace.Key{Src: 1, Dst: 9, SrcPort: sport, DstPort: 80, Proto: trace.ProtoTCP}
		r.Attr.StartsHere = true
		return r
	}
	rows := []Row{mk(1000), mk(1001), mk(1002), mk(1003)}
	held := map[trace.Key]struct{}{rows[0].Attr.Key: {}, mk(1004).Attr.Key: {}}
	gen := [][]Row{rows}
	moved := separateKeys(s, gen, func(Row) bool { return true }, held, rand.New(rand.NewPCG(5, 6)))
	if moved != 0 {
		// Exchanging ports among rows on free 5-tuples cannot free 1000:
		// whichever row takes port 1000 lands on the held 5-tuple.
		t.Errorf("moved %d rows, want 0: every exchange lands on a held 5-tuple", moved)
	}
	rows = append(rows, mk(1005))
	rows[4].Attr.Key.Src = 2 // another host: port 1000 is free for it
	gen = [][]Row{rows}
	if moved := separateKeys(s, gen, func(Row) bool { return true }, held, rand.New(rand.NewPCG(5, 6))); moved != 1 {
		t.Fatalf("moved %d rows, want 1", moved)
	}
	for _, r := range gen[0] {
		if _, ok := held[r.Attr.Key]; ok {
			t.Errorf("row left on held 5-tuple %v", r.Attr.Key)
		}
	}
}

// A row on a held 5-tuple that no exchange frees takes a fresh port in
// its ephemeral port's range, off every taken 5-tuple; a flow without an
// ephemeral port (ICMP, or service ports both) stays.
func TestSeparateKeysFreshPort(t *testing.T) {
	s := tagSchema(t, 1)
	mk := func(proto uint8, sport, dport uint16) Row {
		r := Row{Vec: make([]float32, s.AttrDim())}
		r.Attr.Key = trace.Key{Src: 1, Dst: 9, SrcPort: sport, DstPort: dport, Proto: proto}
		r.Attr.StartsHere = true
		return r
	}
	for seed := range uint64(20) {
		// A server's reply to the client port 50000, the 5-tuple held.
		rows := []Row{mk(trace.ProtoTCP, 443, 50000), mk(trace.ProtoTCP, 443, 50001), mk(trace.ProtoICMP, 0, 0x0800), mk(trace.ProtoUDP, 53, 123)}
		held := map[trace.Key]struct{}{rows[0].Attr.Key: {}, mk(trace.ProtoTCP, 443, 50001).Attr.Key: {}, rows[2].Attr.Key: {}, rows[3].Attr.Key: {}}
		gen := [][]Row{rows}
		moved := separateKeys(s, gen, func(Row) bool { return true }, held, rand.New(rand.NewPCG(seed, 6)))
		if moved != 2 {
			t.Fatalf("seed %d: moved %d rows, want the two TCP replies", seed, moved)
		}
		seen := map[trace.Key]bool{}
		for i, r := range rows[:2] {
			k := r.Attr.Key
			if _, ok := held[k]; ok || seen[k] || k.SrcPort != 443 || k.DstPort < 49152 {
				t.Fatalf("seed %d: row %d moved to %v", seed, i, k)
			}
			seen[k] = true
		}
		if rows[2].Attr.Key != mk(trace.ProtoICMP, 0, 0x0800).Attr.Key || rows[3].Attr.Key != mk(trace.ProtoUDP, 53, 123).Attr.Key {
			t.Fatalf("seed %d: the ICMP or the UDP service flow moved: %v %v", seed, rows[2].Attr.Key, rows[3].Attr.Key)
		}
	}
}
