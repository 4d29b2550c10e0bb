package postgen

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// scannerTail returns tail classes of TCP holding the one-off ports
// 40001-40003 (registered range, token 40000) and 50001-50002 (dynamic
// range, token 50000).
func scannerTail(t *testing.T) *encoding.TailPorts {
	t.Helper()
	tp, err := encoding.IndexTailPorts(&encoding.TailPorts{MinFlows: 3, Classes: []encoding.TailClass{
		{Proto: trace.ProtoTCP, Lo: 32768, Hi: 49151, Token: 40000, Dst: encoding.TailValues{Values: []uint16{40001, 40002, 40003}, Flows: []float64{1, 1, 1}}},
		{Proto: trace.ProtoTCP, Lo: 49152, Hi: 65535, Token: 50000, Src: encoding.TailValues{Values: []uint16{50001, 50002}, Flows: []float64{1, 2}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// With tail keys a port of a tail class, its real value or its token, is
// keyed by its class's range, apart from the vocabulary's ports of the
// same range; without them (counts from before), by the range alone.
func TestPortKeysTail(t *testing.T) {
	tp := scannerTail(t)
	with, without := PortKeys{TailKeys: true}.with(tp), PortKeys{}.with(tp)
	const tcp = trace.ProtoTCP
	for _, c := range []struct {
		port      uint16
		with, old uint32
	}{
		{443, 443, 443},
		{40002, keyTail + 2, keyRegistered}, // a real tail value
		{40000, keyTail + 2, keyRegistered}, // the class's token
		{40500, keyRegistered, keyRegistered},
		{50002, keyTail + 3, keyDynamic},
		{52496, keyDynamic, keyDynamic},
	} {
		if got := with.key(tcp, c.port); got != c.with {
			t.Errorf("tail keys, port %d: key %d, want %d", c.port, got, c.with)
		}
		if got := without.key(tcp, c.port); got != c.old {
			t.Errorf("without tail keys, port %d: key %d, want %d", c.port, got, c.old)
		}
	}
	// UDP has no tail class: its ports key by range.
	if got := with.key(trace.ProtoUDP, 40002); got != keyRegistered {
		t.Errorf("UDP port 40002: key %d, want the range's", got)
	}
	// A scanner's fixed source port sending to one-off destinations, and
	// to a vocabulary port of the same range, fall in two cells.
	if a, b := with.cell(tcp, 52496, 40001), with.cell(tcp, 52496, 40500); a == b {
		t.Errorf("cells to a tail port and to a vocabulary port of its range are one: %#x", a)
	}
	if a, b := without.cell(tcp, 52496, 40001), without.cell(tcp, 52496, 40500); a != b {
		t.Errorf("without tail keys the cells differ: %#x, %#x", a, b)
	}
}

// pairsRoundTrip returns pp as split.json gives it back, and its JSON.
func pairsRoundTrip(t *testing.T, pp *PortPairs) (*PortPairs, []byte) {
	t.Helper()
	b, err := json.Marshal(pp)
	if err != nil {
		t.Fatal(err)
	}
	var back PortPairs
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return &back, b
}

// The flag survives split.json and keys the counts as they were counted.
func TestPortKeysJSON(t *testing.T) {
	tp := scannerTail(t)
	pp := NewPortPairs()
	pp.TailKeys = true
	pp.bind(tp, nil)
	pp.Add(trace.Key{SrcPort: 52496, DstPort: 40001, Proto: trace.ProtoTCP}, 1)
	back, b := pairsRoundTrip(t, pp)
	if !back.TailKeys {
		t.Fatalf("round trip lost the flag: %s", b)
	}
	back.bind(tp, nil)
	want := back.keys.cell(trace.ProtoTCP, 52496, 40003)
	if back.Cells[trace.ProtoTCP][want] != 1 {
		t.Errorf("cells %v, want the count in %#x", back.Cells, want)
	}
	// Counts without the flag ignore the tail classes they are bound to.
	old := NewPortPairs()
	old.bind(tp, nil)
	old.Add(trace.Key{SrcPort: 52496, DstPort: 40001, Proto: trace.ProtoTCP}, 1)
	if old.Cells[trace.ProtoTCP][PortPairCell(52496, 40001)] != 1 {
		t.Errorf("without tail keys: cells %v", old.Cells)
	}
}

// The model sends a scanner's fixed source port to a service and a
// client's one-off port to one-off destinations; the real trace has the
// scanner on one-off destinations and the clients on the service. Keyed
// by range alone the two pairings fall in the same cells and nothing
// moves; with tail keys the destinations are exchanged.
func TestFollowPortPairsTailKeys(t *testing.T) {
	tp := scannerTail(t)
	for _, tail := range []bool{false, true} {
		pp := NewPortPairs()
		pp.TailKeys = tail
		pp.bind(tp, nil)
		for i := range 10 {
			pp.Add(trace.Key{SrcPort: 52496, DstPort: 40001 + uint16(i%3), Proto: trace.ProtoTCP}, 1)
			pp.Add(trace.Key{SrcPort: 50001 + uint16(i%2), DstPort: 443, Proto: trace.ProtoTCP}, 1)
		}
		// The clients' ports are tail tokens.
		n, scannerToTail := followScanner(t, pp, func(int) (uint16, uint16) { return 50000, 40000 }, 40000)
		switch {
		case !tail && (n != 0 || scannerToTail != 0):
			t.Errorf("range keys: %d exchanges, %d scanner flows to one-off ports; the cells cannot tell them apart", n, scannerToTail)
		case tail && scannerToTail != 10:
			t.Errorf("tail keys: %d of 10 scanner flows to one-off ports after %d exchanges", scannerToTail, n)
		}
	}
}

// followScanner runs the port pairs pp on 20 rows of one length: ten
// from the scanner's port 52496 to 443, ten from and to the ports other
// gives the i-th. It returns the exchanges made and the rows from the
// scanner's port to dst after them.
func followScanner(t *testing.T, pp *PortPairs, other func(i int) (sp, dp uint16), dst uint16) (int, int) {
	t.Helper()
	s := tagSchema(t, 1)
	var rows []Row
	for i := range 20 {
		r := softRow(t, s, 0x0a000001, nil, 1)
		r.Attr.Key = trace.Key{Src: 1, Dst: 2 + uint32(i), SrcPort: 52496, DstPort: 443, Proto: trace.ProtoTCP}
		if i >= 10 {
			r.Attr.Key.SrcPort, r.Attr.Key.DstPort = other(i)
		}
		r.Attr.Len, r.Attr.StartsHere = 1, true
		rows = append(rows, r)
	}
	kept := func(r Row) bool { return r.Attr.StartsHere }
	n := followPortPairs(s, rows, kept, pp, func(Row) float64 { return 1 }, rand.New(rand.NewPCG(3, 4)))
	to := 0
	for _, r := range rows {
		if r.Attr.Key.SrcPort == 52496 && r.Attr.Key.DstPort == dst {
			to++
		}
	}
	return n, to
}

// Matching counts a row that takes a token as a flow of its tail class's
// length: the tokens of the row's protocol carry it, the others nothing.
func TestTokenWeights(t *testing.T) {
	tp := scannerTail(t)
	cands := []int{443, 40000, 50000, 40500}
	if got := tokenWeights(tp, cands, int(trace.ProtoTCP), 1.2); !slices.Equal(got, []float64{0, 1.2, 1.2, 0}) {
		t.Errorf("TCP: %v", got)
	}
	if got := tokenWeights(tp, cands, int(trace.ProtoUDP), 1.2); got != nil {
		t.Errorf("UDP, which has no tail class: %v", got)
	}
	if got := tokenWeights(tp, cands, -1, 1); !slices.Equal(got, []float64{0, 1, 1, 0}) {
		t.Errorf("any protocol: %v", got)
	}
	if got := tokenWeights(tp, cands, int(trace.ProtoTCP), 0); got != nil {
		t.Errorf("no length: %v", got)
	}
}

// Ports from 1024 up of at least the threshold's flows are keyed by
// themselves, the heaviest maxHeavyPorts of them, after the tail classes'
// keys; the others, and ports below 1024, as before.
func TestHeavyKeys(t *testing.T) {
	if keyHeavy < keyTail+len(encoding.TailRanges) {
		t.Fatalf("keyHeavy %d overlaps the tail ranges' keys from %d", keyHeavy, keyTail)
	}
	tp := scannerTail(t)
	flows := map[uint16]float64{443: 1000, 52496: 817, 8883: 40, 60000: 29, 40000: 50, 50001: 1}
	pk := PortKeys{TailKeys: true, HeavyFlows: 30}
	pk.bind(tp, flows)
	const tcp = trace.ProtoTCP
	k52496, k8883 := pk.keys.key(tcp, 52496), pk.keys.key(tcp, 8883)
	if k52496 < keyHeavy || k8883 < keyHeavy || k52496 == k8883 || max(k52496, k8883) >= 1<<11 {
		t.Errorf("heavy ports keyed %d and %d, want two keys from %d below 2048", k52496, k8883, keyHeavy)
	}
	for _, c := range []struct {
		port uint16
		want uint32
	}{
		{443, 443},           // below 1024: itself already
		{60000, keyDynamic},  // too few flows
		{40000, keyTail + 2}, // a tail class's token stays its class's
		{50001, keyTail + 3}, // a tail value
		{50500, keyDynamic},  // not in the trace
		{8883, k8883},        // the same key on UDP: keyed by the port
	} {
		if got := pk.keys.key(tcp, c.port); got != c.want {
			t.Errorf("port %d: key %d, want %d", c.port, got, c.want)
		}
	}
	if got := pk.keys.key(trace.ProtoUDP, 8883); got != k8883 {
		t.Errorf("UDP port 8883: key %d, want %d", got, k8883)
	}
	// A scanner's port and a client's port of the same range to one
	// service fall in two cells.
	if a, b := pk.keys.cell(tcp, 52496, 443), pk.keys.cell(tcp, 60000, 443); a == b {
		t.Errorf("the scanner's and the client's cells are one: %#x", a)
	}
	// Without the threshold (counts from before), by the range.
	old := PortKeys{TailKeys: true}
	old.bind(tp, flows)
	if got := old.keys.key(tcp, 52496); got != keyDynamic {
		t.Errorf("without heavy keys: port 52496 keyed %d", got)
	}
	// At most maxHeavyPorts, the heaviest.
	many := map[uint16]float64{}
	for i := range maxHeavyPorts + 10 {
		many[uint16(2000+i)] = float64(100 + i)
	}
	m := heavyKeys(many, 30)
	if len(m) != maxHeavyPorts {
		t.Fatalf("%d heavy ports, want %d", len(m), maxHeavyPorts)
	}
	for i := range 10 {
		if _, ok := m[uint16(2000+i)]; ok {
			t.Errorf("port %d, among the 10 lightest, keyed", 2000+i)
		}
	}
	if _, ok := m[uint16(2000+maxHeavyPorts+9)]; !ok {
		t.Error("the heaviest port is not keyed")
	}
}

// The threshold survives split.json, and the counts are keyed as they
// were counted.
func TestHeavyKeysJSON(t *testing.T) {
	tp := scannerTail(t)
	flows := map[uint16]float64{52496: 817}
	pp := NewPortPairs()
	pp.TailKeys, pp.HeavyFlows = true, 30
	pp.bind(tp, flows)
	pp.Add(trace.Key{SrcPort: 52496, DstPort: 443, Proto: trace.ProtoTCP}, 1)
	back, b := pairsRoundTrip(t, pp)
	back.bind(tp, flows)
	if back.HeavyFlows != 30 || back.Cells[trace.ProtoTCP][back.keys.cell(trace.ProtoTCP, 52496, 443)] != 1 {
		t.Errorf("round trip %s: threshold %v, cells %v", b, back.HeavyFlows, back.Cells)
	}
	if back.keys.cell(trace.ProtoTCP, 52496, 443) == back.keys.cell(trace.ProtoTCP, 60000, 443) {
		t.Error("after the round trip the scanner's port is keyed by its range")
	}
}

// The scanner's port sends to a service in the synthetic rows and the
// clients' ports (vocabulary ports of the same range, not tail ports) to
// the scanner's destinations; the real trace has it the other way round.
// Keyed by range, the cells cannot tell the two apart; with heavy keys
// the destinations are exchanged.
func TestFollowPortPairsHeavyKeys(t *testing.T) {
	tp := scannerTail(t)
	flows := map[uint16]float64{52496: 40}
	for _, heavy := range []float64{0, HeavyPortFlows} {
		pp := NewPortPairs()
		pp.TailKeys, pp.HeavyFlows = true, heavy
		pp.bind(tp, flows)
		for i := range 10 {
			pp.Add(trace.Key{SrcPort: 52496, DstPort: 40500 + uint16(i%4), Proto: trace.ProtoTCP}, 1)
			pp.Add(trace.Key{SrcPort: 60000 + uint16(i%3), DstPort: 443, Proto: trace.ProtoTCP}, 1)
		}
		n, scannerToService := followScanner(t, pp, func(i int) (uint16, uint16) { return 60000 + uint16(i%3), 40500 + uint16(i%4) }, 443)
		switch {
		case heavy == 0 && (n != 0 || scannerToService != 10):
			t.Errorf("range keys: %d exchanges, %d scanner flows to the service; the cells cannot tell them apart", n, scannerToService)
		case heavy > 0 && scannerToService != 0:
			t.Errorf("heavy keys: %d of 10 scanner flows still to the service after %d exchanges", scannerToService, n)
		}
	}
}
