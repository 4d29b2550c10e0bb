package postgen

import (
	"cmp"
	"math"
	"slices"

	"github.com/netshare-go/netshare/encoding"
)

// snapIPs decodes the generated source and destination addresses jointly
// rather than bit by bit. Bit by bit, an address whose bits the model is
// unsure of becomes an arbitrary new address, so a trace comes out with
// far too many addresses seen once. Here each generated address picks, among
// its own bitwise decoding and the topK addresses generated most often, the
// one with the highest score
//
//	w·log(count(y) + ½) + Σ_b log p_b(y_b),
//
// where p_b is the model's probability for bit b, count(y) how often the
// generated trace holds y and w the weight (0 counts as 1): an address
// moves to a popular one only when the bits where they differ are ones the
// model was unsure of, the more readily the larger w. It uses nothing but
// the generated rows.
//
// With carried addresses for a field (past[f] non-nil: the addresses the
// flows written before used most), they are candidates too, each with the
// count it would have in a block of this size at its past rate (plus its
// count in the block), so that an address popular in earlier blocks and
// chunks stays popular, as a real heavy hitter does, rather than every
// block settling on its own.
//
// With a target (t non-nil), the weight of each field is instead the
// smallest, from 0 (no snapping) up, at which the rows that keep accepts
// hold at most t.want[f] addresses that t.seen[f] does not (found by
// bisection), so that the number of distinct addresses follows the real
// trace's; when even the bitwise decoding holds fewer, rows of shared
// addresses move to new ones instead (spread). It returns how many
// addresses changed.
func snapIPs(s *encoding.Schema, gen [][]Row, topK int, w float64, t *distinctTarget, keep func(Row) bool, past [2]*AddrCounts) int {
	if w == 0 {
		w = 1
	}
	changed := 0
	for fi, field := range []string{"srcip", "dstip"} {
		off, dim := s.AttrSlice(field)
		if off < 0 || dim != 64 {
			continue
		}
		sn := newSnapper(gen, field, off, topK, past[fi])
		if sn == nil {
			continue
		}
		wf := w
		if t != nil {
			wf = sn.weightFor(t.want[fi], keep, t.seen[fi])
			if have := sn.distinct(0, keep, t.seen[fi]); wf == 0 && have < t.want[fi] {
				changed += sn.spread(t.want[fi]-have, keep, t.seen[fi])
				continue
			}
		}
		changed += sn.apply(wf)
	}
	return changed
}

// distinctTarget bounds, per address field (srcip, dstip), how many
// addresses a block's kept rows may hold that seen does not.
type distinctTarget struct {
	want [2]int
	seen [2]map[uint32]struct{}
}

// line is one address a row may take, with the popularity term's slope a
// = log(count + ½) and the bits' log-probability l: its score at weight w
// is w·a + l.
type line struct {
	ip   uint32
	a, l float64
}

// snapper holds, for one address field of a block, what each row may
// move to: the lines of its own address and of the candidates that can
// win at some weight (the upper envelope's, found among the
// Pareto-optimal ones), so that trying a weight costs a few operations per
// row.
type snapper struct {
	gen   [][]Row
	field string
	off   int
	// per row, in gen order: the own address's line first, then the
	// candidates that may beat it
	lines [][]line
}

func newSnapper(gen [][]Row, field string, off, topK int, past *AddrCounts) *snapper {
	counts := map[uint32]float64{}
	rows := 0
	for _, rs := range gen {
		for _, r := range rs {
			counts[ipOf(r.Attr, field)]++
			rows++
		}
	}
	if past != nil && past.total > 0 {
		f := float64(rows) / past.total
		for ip, n := range past.n {
			counts[ip] += n * f
		}
	}
	pop := mostUsed(counts, 1, topK)
	if len(pop) == 0 {
		return nil
	}
	sn := &snapper{gen: gen, field: field, off: off}
	for _, rows := range gen {
		for i := range rows {
			r := &rows[i]
			lp := bitLogs(r.Vec, off)
			own := ipOf(r.Attr, field)
			ls := []line{{own, math.Log(counts[own] + 0.5), lp.of(own)}}
			// A candidate can win at some weight w ≥ 0 only if no other
			// line is both steeper and higher: keep the Pareto front in
			// (a, l) among those that beat the own line somewhere (a
			// steeper slope, or a higher log-probability).
			var cand []line
			for _, c := range pop {
				if c.ip == own {
					continue
				}
				l := line{c.ip, math.Log(c.n + 0.5), lp.of(c.ip)}
				if l.a > ls[0].a || l.l > ls[0].l {
					cand = append(cand, l)
				}
			}
			slices.SortFunc(cand, func(x, y line) int { // steepest first; ties: highest, then lowest address
				return cmp.Or(cmp.Compare(y.a, x.a), cmp.Compare(y.l, x.l), cmp.Compare(x.ip, y.ip))
			})
			best := math.Inf(-1)
			for _, c := range cand {
				if c.l > best {
					ls = append(ls, c)
					best = c.l
				}
			}
			sn.lines = append(sn.lines, ls)
		}
	}
	return sn
}

// choice returns the address a row's lines pick at weight w: the highest
// score, the own address on ties, then the order of pop (steepest first).
func choice(ls []line, w float64) uint32 {
	best, bestScore := ls[0].ip, w*ls[0].a+ls[0].l
	for _, c := range ls[1:] {
		if sc := w*c.a + c.l; sc > bestScore {
			best, bestScore = c.ip, sc
		}
	}
	return best
}

// valid reports whether ip passes the protocol check of the snapper's
// field (src_addr, dst_addr): protocol repair replaces an address that
// does not with one the trace holds, so it would not stay a distinct
// address.
func (sn *snapper) valid(ip uint32) bool { return addrValid(sn.field, ip) }

// distinct counts the distinct valid addresses of the rows keep accepts
// at weight w that seen does not hold.
func (sn *snapper) distinct(w float64, keep func(Row) bool, seen map[uint32]struct{}) int {
	fresh := map[uint32]struct{}{}
	k := 0
	for _, rows := range sn.gen {
		for i := range rows {
			if keep == nil || keep(rows[i]) {
				ip := choice(sn.lines[k], w)
				if _, old := seen[ip]; !old && sn.valid(ip) {
					fresh[ip] = struct{}{}
				}
			}
			k++
		}
	}
	return len(fresh)
}

// maxSnapWeight bounds the weight a distinct-count target may raise the
// snapping to (at 2¹⁰ every row that has a more popular candidate takes
// it); minSnapWeight is the lowest weight tried above 0.
const (
	maxSnapWeight = 1 << 10
	minSnapWeight = 1.0 / (1 << 10)
)

// weightFor returns the smallest weight (0, or on a log scale to a few
// percent between minSnapWeight and maxSnapWeight) at which the rows keep
// accepts hold at most want addresses that seen does not, or
// maxSnapWeight when none does.
func (sn *snapper) weightFor(want int, keep func(Row) bool, seen map[uint32]struct{}) float64 {
	if sn.distinct(0, keep, seen) <= want {
		return 0
	}
	if sn.distinct(minSnapWeight, keep, seen) <= want {
		return minSnapWeight
	}
	if sn.distinct(maxSnapWeight, keep, seen) > want {
		return maxSnapWeight
	}
	lo, hi := math.Log(minSnapWeight), math.Log(maxSnapWeight)
	for range 24 {
		mid := (lo + hi) / 2
		if sn.distinct(math.Exp(mid), keep, seen) <= want {
			hi = mid
		} else {
			lo = mid
		}
	}
	return math.Exp(hi)
}

// apply moves every row's address to its choice at weight w, and returns
// how many moved.
func (sn *snapper) apply(w float64) int {
	changed, k := 0, 0
	for _, rows := range sn.gen {
		for i := range rows {
			r := &rows[i]
			ls := sn.lines[k]
			k++
			best := choice(ls, w)
			if best == ls[0].ip {
				continue
			}
			changed++
			setAddr(r, sn.off, sn.field, best)
		}
	}
	return changed
}

// spread gives up to n kept rows whose address another kept row of the
// block also holds, or that seen holds, a new address: their own with
// the one bit flipped that costs the least log-probability among those
// giving a valid address (sn.valid) neither the block nor seen holds;
// the rows whose flip costs least go first. The target asked for more
// addresses than the model's bitwise decoding holds: the bits the model
// was least sure of decide which rows leave a shared address. It returns
// how many rows moved.
func (sn *snapper) spread(n int, keep func(Row) bool, seen map[uint32]struct{}) int {
	type move struct {
		row  *Row
		from uint32
		bits [32]float64 // per bit: the log-probability lost by flipping it
	}
	used := map[uint32]int{} // the kept rows' addresses, with their rows
	held := map[uint32]bool{}
	var moves []move
	for _, rows := range sn.gen {
		for i := range rows {
			r := &rows[i]
			ip := ipOf(r.Attr, sn.field)
			held[ip] = true
			if keep != nil && !keep(*r) {
				continue
			}
			used[ip]++
			m := move{row: r, from: ip}
			lp := bitLogs(r.Vec, sn.off)
			for b := 0; b < 32; b++ {
				bit := ip >> (31 - b) & 1
				m.bits[b] = lp[bit][b] - lp[1-bit][b]
			}
			moves = append(moves, m)
		}
	}
	// Each row's cheapest flips (flips of them) that land on an address
	// nobody holds; rows of one address mostly share their cheapest flips,
	// so when those run out before n rows moved, a second pass offers every
	// flip of the rows left.
	type cand struct {
		m    int
		to   uint32
		cost float64
	}
	moved := 0
	done := make([]bool, len(moves))
	for _, flips := range []int{spreadFlips, 32} {
		var cands []cand
		for k := range moves {
			if done[k] {
				continue
			}
			m := &moves[k]
			order := make([]int, 32)
			for b := range order {
				order[b] = b
			}
			slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(m.bits[x], m.bits[y]) })
			got := 0
			for _, b := range order {
				to := m.from ^ 1<<(31-b)
				if _, old := seen[to]; !held[to] && !old && sn.valid(to) {
					cands = append(cands, cand{k, to, m.bits[b]})
					if got++; got == flips {
						break
					}
				}
			}
		}
		slices.SortStableFunc(cands, func(x, y cand) int { return cmp.Compare(x.cost, y.cost) })
		for _, c := range cands {
			if moved == n {
				return moved
			}
			m := moves[c.m]
			_, old := seen[m.from]
			if done[c.m] || held[c.to] || (used[m.from] < 2 && !old) {
				continue // moved already, taken by an earlier move, or the address's last row
			}
			done[c.m] = true
			used[m.from]--
			held[c.to] = true
			setAddr(m.row, sn.off, sn.field, c.to)
			moved++
		}
	}
	return moved
}

// spreadFlips is how many flips spread considers per row in its first
// pass.
const spreadFlips = 4

func ipOf(a encoding.FlowAttr, field string) uint32 {
	if field == "srcip" {
		return a.Key.Src
	}
	return a.Key.Dst
}

// AddrCounts counts the addresses of one field over the flows written so
// far, keeping the most used (at most addrKeep after a prune) and the
// number of flows counted.
type AddrCounts struct {
	n     map[uint32]float64
	total float64
}

// addrKeep bounds the addresses an AddrCounts keeps after a prune; it
// prunes when it holds four times as many.
const addrKeep = 4096

func newAddrCounts() *AddrCounts { return &AddrCounts{n: map[uint32]float64{}} }

// add counts the field's address of each row keep accepts.
func (a *AddrCounts) add(rows []Row, field string, keep func(Row) bool) {
	for _, r := range rows {
		if keep(r) {
			a.n[ipOf(r.Attr, field)]++
			a.total++
		}
	}
	if len(a.n) > 4*addrKeep {
		keep := mostUsed(a.n, 0, addrKeep)
		clear(a.n)
		for _, c := range keep {
			a.n[c.ip] = c.n
		}
	}
}

// ipCount is an address and how often it is used.
type ipCount struct {
	ip uint32
	n  float64
}

// mostUsed returns the at most k addresses of counts used more than
// above times, the most used first (ties: the lower address first).
func mostUsed(counts map[uint32]float64, above float64, k int) []ipCount {
	var out []ipCount
	for ip, n := range counts {
		if n > above {
			out = append(out, ipCount{ip, n})
		}
	}
	slices.SortFunc(out, func(x, y ipCount) int { return cmp.Or(cmp.Compare(y.n, x.n), cmp.Compare(x.ip, y.ip)) })
	return out[:min(len(out), k)]
}
