package postgen

import (
	"testing"

	"github.com/netshare-go/netshare/encoding"
)

// softRow makes a row whose srcip bits are ip, with the listed bits given
// probability p (instead of 1) for their value.
func softRow(t *testing.T, s interface {
	AttrSlice(string) (int, int)
	AttrDim() int
}, ip uint32, unsure []int, p float32) Row {
	t.Helper()
	v := make([]float32, s.AttrDim())
	off, _ := s.AttrSlice("srcip")
	for b := range 32 {
		bit := ip >> (31 - b) & 1
		hi, lo := float32(1), float32(0)
		for _, u := range unsure {
			if u == b {
				hi, lo = p, 1-p
			}
		}
		if bit == 1 {
			v[off+2*b], v[off+2*b+1] = lo, hi
		} else {
			v[off+2*b], v[off+2*b+1] = hi, lo
		}
	}
	r := Row{Vec: v}
	r.Attr.Key.Src = ip
	return r
}

func TestSnapIPsMovesOnlyUnsureVariants(t *testing.T) {
	s := tagSchema(t, 1)
	const pop = 0x93205167 // a popular address
	var rows []Row
	for range 20 {
		rows = append(rows, softRow(t, s, pop, nil, 1))
	}
	unsure := softRow(t, s, pop^1<<3, []int{28}, 0.6)      // bit 28 flipped, and the model was unsure of it
	sure := softRow(t, s, pop^1<<3, nil, 1)                // the same address, generated with confidence
	far := softRow(t, s, pop^0xff, []int{24, 25, 26}, 0.6) // eight bits away, three of them unsure
	rows = append(rows, unsure, sure, far)
	gen := [][]Row{rows}
	n := snapIPs(s, gen, 16, 1, nil, nil, [2]*AddrCounts{})
	got := gen[0]
	if got[20].Attr.Key.Src != pop {
		t.Errorf("unsure variant kept %x, want it moved to %x", got[20].Attr.Key.Src, pop)
	}
	if got[21].Attr.Key.Src != pop^1<<3 || got[22].Attr.Key.Src != pop^0xff {
		t.Errorf("confident or distant addresses moved: %x %x", got[21].Attr.Key.Src, got[22].Attr.Key.Src)
	}
	if n != 1 {
		t.Errorf("%d addresses changed, want 1", n)
	}
	// The moved row's bits now encode the popular address.
	a, _ := s.DecodeAttributes(got[20].Vec, 1)
	if a[0].Key.Src != pop {
		t.Errorf("vector of the moved row decodes to %x", a[0].Key.Src)
	}
}

// The weight of the popularity term: a variant the model was fairly sure of
// (its own bit at 0.97) stays with the plain score and moves to the popular
// address with weight 2; a confident one stays either way.
func TestSnapIPsWeight(t *testing.T) {
	s := tagSchema(t, 1)
	const pop = 0x93205167
	build := func() [][]Row {
		var rows []Row
		for range 20 {
			rows = append(rows, softRow(t, s, pop, nil, 1))
		}
		rows = append(rows, softRow(t, s, pop^1<<3, []int{28}, 0.97), softRow(t, s, pop^1<<3, nil, 1))
		return [][]Row{rows}
	}
	for _, c := range []struct {
		w     float64
		moved bool
	}{{0, false}, {1, false}, {2, true}} {
		gen := build()
		n := snapIPs(s, gen, 16, c.w, nil, nil, [2]*AddrCounts{})
		if got := gen[0][20].Attr.Key.Src == pop; got != c.moved || n != map[bool]int{false: 0, true: 1}[c.moved] {
			t.Errorf("weight %g: moved %v (%d changed), want %v", c.w, got, n, c.moved)
		}
		if gen[0][21].Attr.Key.Src != pop^1<<3 {
			t.Errorf("weight %g: a confident address moved", c.w)
		}
	}
}

// A target of distinct addresses sets the weight, from 0 (no snapping) up,
// only as far as needed: the variants the model was least sure of move
// first, and the block ends with the target's number of distinct sources,
// fewer than the plain score gives or more.
func TestSnapIPsDistinctTarget(t *testing.T) {
	s := tagSchema(t, 1)
	const pop = 0x93205167
	// Ten variants of the popular address, one bit away each, the model
	// sure of that bit with probability 0.55, 0.6, …, 0.99.
	ps := []float32{0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995}
	build := func() [][]Row {
		var rows []Row
		for range 20 {
			rows = append(rows, softRow(t, s, pop, nil, 1))
		}
		for i, p := range ps {
			rows = append(rows, softRow(t, s, pop^1<<i, []int{31 - i}, p))
		}
		return [][]Row{rows}
	}
	for _, want := range []int{11, 6, 5, 2, 1} {
		gen := build()
		n := snapIPs(s, gen, 16, 1, &distinctTarget{want: [2]int{want, 0}}, nil, [2]*AddrCounts{})
		seen := map[uint32]bool{}
		for _, r := range gen[0] {
			seen[r.Attr.Key.Src] = true
		}
		// (At weight 1, without a target, the variants up to 0.9 move:
		// log 20.5 − log 1.5 = 2.6 outweighs log(p/(1−p)) up to 2.2, and
		// 6 distinct remain.)
		wantDistinct := want
		if len(seen) != wantDistinct {
			t.Errorf("target %d: %d distinct sources, want %d", want, len(seen), wantDistinct)
		}
		// The least sure variants moved, the surest stayed.
		for i := range ps {
			moved := gen[0][20+i].Attr.Key.Src == pop
			if wantMoved := i < 11-wantDistinct; moved != wantMoved {
				t.Errorf("target %d: variant %d (p %.3f) moved %v, want %v", want, i, ps[i], moved, wantMoved)
			}
		}
		if n != 11-wantDistinct {
			t.Errorf("target %d: %d changed, want %d", want, n, 11-wantDistinct)
		}
	}
}

// Addresses carried from the flows written before are candidates at
// their past rate: variants the model was unsure of move to an address
// the block itself never generated, when it was popular before, and not
// when it was rare.
func TestSnapIPsCarried(t *testing.T) {
	s := tagSchema(t, 1)
	const pop = 0x93205167
	build := func() [][]Row {
		var rows []Row
		for i := range 10 {
			rows = append(rows, softRow(t, s, pop^1<<i, []int{31 - i}, 0.6))
		}
		return [][]Row{rows}
	}
	all := func(Row) bool { return true }
	for _, c := range []struct {
		pastShare float64 // the popular address's share of the flows before
		moved     int
	}{{0, 0}, {0.01, 0}, {0.5, 10}} {
		past := newAddrCounts()
		var before []Row
		for i := range 100 {
			ip := uint32(0x0a000000 + i)
			if float64(i) < c.pastShare*100 {
				ip = pop
			}
			r := Row{}
			r.Attr.Key.Src = ip
			before = append(before, r)
		}
		past.add(before, "srcip", all)
		gen := build()
		n := snapIPs(s, gen, 16, 1, nil, nil, [2]*AddrCounts{past, nil})
		if n != c.moved {
			t.Errorf("past share %.2f: %d moved, want %d", c.pastShare, n, c.moved)
		}
		for _, r := range gen[0] {
			if n == 10 && r.Attr.Key.Src != pop {
				t.Errorf("past share %.2f: %x did not move to the popular address", c.pastShare, r.Attr.Key.Src)
			}
		}
	}
}

// With a target, only addresses unseen before count: rows move to a
// carried address that earlier blocks held, as few as the target allows,
// the least sure first.
func TestSnapIPsDistinctTargetSeen(t *testing.T) {
	s := tagSchema(t, 1)
	const pop = 0x93205167
	ps := []float32{0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995}
	all := func(Row) bool { return true }
	for _, want := range []int{10, 7, 3, 0} {
		past := newAddrCounts()
		var before []Row
		for range 50 {
			r := Row{}
			r.Attr.Key.Src = pop
			before = append(before, r)
		}
		past.add(before, "srcip", all)
		var rows []Row
		for i, p := range ps {
			rows = append(rows, softRow(t, s, pop^1<<i, []int{31 - i}, p))
		}
		gen := [][]Row{rows}
		seen := map[uint32]struct{}{pop: {}}
		n := snapIPs(s, gen, 16, 1, &distinctTarget{want: [2]int{want, 0}, seen: [2]map[uint32]struct{}{seen, nil}}, all, [2]*AddrCounts{past, nil})
		if n != 10-want {
			t.Errorf("target %d new: %d moved, want %d", want, n, 10-want)
		}
		for i := range ps {
			moved := gen[0][i].Attr.Key.Src == pop
			if wantMoved := i < 10-want; moved != wantMoved {
				t.Errorf("target %d new: variant %d (p %.3f) moved %v, want %v", want, i, ps[i], moved, wantMoved)
			}
		}
	}
}

// The carried counts keep the most used addresses when they prune.
func TestAddrCountsPrune(t *testing.T) {
	a := newAddrCounts()
	all := func(Row) bool { return true }
	var rows []Row
	for i := range 5*addrKeep + 1 {
		r := Row{}
		r.Attr.Key.Src = uint32(i)
		rows = append(rows, r)
	}
	for range 3 { // address 7 is the most used
		r := Row{}
		r.Attr.Key.Src = 7
		rows = append(rows, r)
	}
	a.add(rows, "srcip", all)
	if len(a.n) != addrKeep || a.n[7] != 4 || a.total != float64(len(rows)) {
		t.Errorf("after a prune: %d addresses kept (want %d), address 7 counted %v, total %v", len(a.n), addrKeep, a.n[7], a.total)
	}
}

// When the target asks for more addresses than the bitwise decoding
// holds, rows of a shared address move to new ones: one bit flipped, the
// rows and bits the model was least sure of first; no address loses its
// last row and no new address is shared.
func TestSnapIPsSpread(t *testing.T) {
	s := tagSchema(t, 1)
	const a, b = 0x93205167, 0x0a000001
	build := func() []Row {
		var rows []Row
		for i := range 12 {
			// The first three rows of a are unsure of bit 31 − i (p 0.6).
			if i < 3 {
				rows = append(rows, softRow(t, s, a, []int{31 - i}, 0.6))
			} else {
				rows = append(rows, softRow(t, s, a, nil, 1))
			}
		}
		return append(rows, softRow(t, s, b, []int{31}, 0.55)) // b's only row
	}
	gen := [][]Row{build()}
	seen := map[uint32]struct{}{}
	n := snapIPs(s, gen, 16, 1, &distinctTarget{want: [2]int{6, 0}, seen: [2]map[uint32]struct{}{seen, nil}}, nil, [2]*AddrCounts{})
	if n != 4 {
		t.Fatalf("%d moved, want 4 (2 addresses, 6 wanted)", n)
	}
	count := map[uint32]int{}
	for _, r := range gen[0] {
		count[r.Attr.Key.Src]++
	}
	if len(count) != 6 || count[b] != 1 || count[a] != 8 {
		t.Errorf("addresses after spreading: %v", count)
	}
	for i := range 3 {
		if got, want := gen[0][i].Attr.Key.Src, uint32(a^1<<i); got != want {
			t.Errorf("row %d (unsure of bit %d) moved to %x, want %x", i, 31-i, got, want)
		}
	}
	for i, r := range gen[0] {
		ip := r.Attr.Key.Src
		if ip != a && ip != b && count[ip] != 1 {
			t.Errorf("row %d: new address %x shared", i, ip)
		}
		if got := ipOfVec(s, r); got != ip {
			t.Errorf("row %d: vector decodes to %x, key %x", i, got, ip)
		}
	}
	// Without a deficit nothing spreads.
	gen = [][]Row{build()}
	if n := snapIPs(s, gen, 16, 1, &distinctTarget{want: [2]int{2, 0}, seen: [2]map[uint32]struct{}{{}, nil}}, nil, [2]*AddrCounts{}); n != 0 {
		t.Errorf("target met: %d moved", n)
	}
}

// Rows of one address share their cheapest flips, which give as many new
// addresses as flips: when the target asks for more, spread goes on to
// the rows' other flips (here the model generated every row at one
// address, as a DP model does at small ε).
func TestSnapIPsSpreadPastTheCheapestFlips(t *testing.T) {
	s := tagSchema(t, 1)
	const a = 0x0a000001
	var rows []Row
	for range 20 {
		rows = append(rows, softRow(t, s, a, []int{28, 29, 30, 31}, 0.6))
	}
	gen := [][]Row{rows}
	if n := snapIPs(s, gen, 16, 1, &distinctTarget{want: [2]int{12, 0}, seen: [2]map[uint32]struct{}{{}, nil}}, nil, [2]*AddrCounts{}); n != 11 {
		t.Fatalf("%d moved, want 11 (one address, 12 wanted)", n)
	}
	count := map[uint32]int{}
	for _, r := range gen[0] {
		count[r.Attr.Key.Src]++
	}
	if len(count) != 12 || count[a] != 9 {
		t.Errorf("addresses after spreading: %v", count)
	}
	for i := range 4 { // the cheapest flips went first
		if count[a^1<<i] != 1 {
			t.Errorf("bit %d, the model's least sure, not flipped: %v", 31-i, count)
		}
	}
}

// ipOfVec decodes a row's source address from its bit vector.
func ipOfVec(s *encoding.Schema, r Row) uint32 {
	off, _ := s.AttrSlice("srcip")
	var ip uint32
	for b := range 32 {
		if r.Vec[off+2*b+1] > r.Vec[off+2*b] {
			ip |= 1 << (31 - b)
		}
	}
	return ip
}

// Spreading and the distinct count leave out addresses that protocol
// repair would replace: a flip into 0/8 is passed over for the next
// cheapest, and a source in 224/4 is no new address.
func TestSnapIPsSpreadValid(t *testing.T) {
	s := tagSchema(t, 1)
	const a = 0x01000001 // 1.0.0.1: flipping bit 7 gives 0.0.0.1
	var rows []Row
	for range 4 {
		// Least sure of bit 7 (p 0.55), then of bit 30 (p 0.6).
		r := softRow(t, s, a, []int{7}, 0.55)
		off, _ := s.AttrSlice("srcip")
		r.Vec[off+2*30], r.Vec[off+2*30+1] = 0.6, 0.4 // bit 30 is 0 in a
		rows = append(rows, r)
	}
	gen := [][]Row{rows}
	if n := snapIPs(s, gen, 16, 1, &distinctTarget{want: [2]int{2, 0}, seen: [2]map[uint32]struct{}{{}, nil}}, nil, [2]*AddrCounts{}); n != 1 {
		t.Fatalf("%d moved, want 1", n)
	}
	moved := 0
	for _, r := range gen[0] {
		if ip := r.Attr.Key.Src; ip != a {
			moved++
			if ip != a^1<<1 {
				t.Errorf("moved to %x, want %x (bit 30 flipped, not bit 7 into 0/8)", ip, uint32(a^1<<1))
			}
		}
	}
	if moved != 1 {
		t.Errorf("%d rows moved", moved)
	}
	sn := &snapper{gen: [][]Row{make([]Row, 2)}, field: "srcip", lines: [][]line{{{ip: 0xe0000001}}, {{ip: 0x0a000001}}}}
	if got := sn.distinct(0, nil, nil); got != 1 {
		t.Errorf("distinct valid sources of {224.0.0.1, 10.0.0.1}: %d, want 1", got)
	}
}
