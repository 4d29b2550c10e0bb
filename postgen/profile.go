package postgen

import (
	"cmp"
	"iter"
	"math"
	"slices"
	"sort"

	"github.com/netshare-go/netshare/trace"
)

// AddrProfile is the rank-frequency profile of one address field of a
// trace: the weight of its addresses (records per address in a flow
// trace, 5-tuples per address in a capture, as eval's heavy-hitter task
// counts them), heaviest first, kept at a bounded number of ranks. It
// holds counts, never addresses.
type AddrProfile struct {
	// Total is the weight of all addresses.
	Total float64 `json:"total"`
	// Ranks are 1-based ranks, increasing; the last is the number of
	// distinct addresses. Weights[i] is the weight of the address at
	// Ranks[i].
	Ranks   []int     `json:"ranks"`
	Weights []float64 `json:"weights"`
}

// profileExact is how many of the heaviest ranks a profile keeps exactly;
// beyond them it keeps ranks growing by profileStep, and interpolates.
const (
	profileExact = 256
	profileStep  = 1.05
)

// NewAddrProfile returns the profile of addresses of the given weights in
// any order (nil without any).
func NewAddrProfile(weights []float64) *AddrProfile {
	w := slices.Clone(weights)
	slices.SortFunc(w, func(a, b float64) int { return cmp.Compare(b, a) })
	for len(w) > 0 && !(w[len(w)-1] > 0) {
		w = w[:len(w)-1]
	}
	if len(w) == 0 {
		return nil
	}
	p := &AddrProfile{}
	for _, x := range w {
		p.Total += x
	}
	for r := 1; ; {
		p.Ranks, p.Weights = append(p.Ranks, r), append(p.Weights, w[r-1])
		if r == len(w) {
			break
		}
		next := r + 1
		if r >= profileExact {
			next = max(next, int(math.Ceil(float64(r)*profileStep)))
		}
		r = min(next, len(w))
	}
	return p
}

// Distinct is the number of addresses of positive weight.
func (p *AddrProfile) Distinct() int { return p.Ranks[len(p.Ranks)-1] }

// At returns the weight of the address at 1-based rank r: exact at the
// kept ranks, interpolated between them (geometrically: weights fall
// roughly as a power of the rank), and the lightest weight past the last.
func (p *AddrProfile) At(r int) float64 {
	i := sort.SearchInts(p.Ranks, r)
	switch {
	case i == len(p.Ranks):
		return p.Weights[len(p.Weights)-1]
	case p.Ranks[i] == r || i == 0:
		return p.Weights[i]
	}
	r0, r1 := float64(p.Ranks[i-1]), float64(p.Ranks[i])
	w0, w1 := p.Weights[i-1], p.Weights[i]
	f := (float64(r) - r0) / (r1 - r0)
	return math.Exp(math.Log(w0) + f*(math.Log(w1)-math.Log(w0)))
}

// valid reports whether the profile can be followed.
func (p *AddrProfile) valid() bool {
	if p == nil || len(p.Ranks) == 0 || len(p.Ranks) != len(p.Weights) || !(p.Total > 0) {
		return false
	}
	for i, r := range p.Ranks {
		if r < 1 || (i > 0 && r <= p.Ranks[i-1]) || !(p.Weights[i] > 0) {
			return false
		}
	}
	return true
}

// profileKeep bounds the addresses whose running weight a stream keeps per
// field, after a prune (it prunes at four times as many): the profile is
// followed for about that many of the heaviest addresses, and the tail's
// addresses, each a few records, are left as generated.
const profileKeep = 4096

// profileCounts is a field's running weight per address over the rows
// written so far in the period.
type profileCounts struct {
	n     map[uint32]float64
	total float64
}

func (pc *profileCounts) add(ip uint32, w float64) {
	if pc.n == nil {
		pc.n = map[uint32]float64{}
	}
	pc.n[ip] += w
	pc.total += w
}

func (pc *profileCounts) prune() {
	if len(pc.n) <= 4*profileKeep {
		return
	}
	keep := mostUsed(pc.n, 0, profileKeep)
	clear(pc.n)
	for _, c := range keep {
		pc.n[c.ip] = c.n
	}
}

// profileWeight is a row's weight in the address profile: the records it
// decodes to in a flow trace (its length, at least 1), one 5-tuple in a
// capture.
func profileWeight(kind trace.Kind, r Row) float64 {
	if kind == trace.KindPackets {
		return 1
	}
	return float64(max(1, r.Attr.Len))
}

// profiles returns the current chunk's profiles (of the real chunks up
// to it) of records or flows, and of packets, per address field (nil
// where there are none).
func (g *Stream) profiles() (rec, pk [2]*AddrProfile) {
	if c := g.chunk; c >= 0 {
		if c < len(g.o.IPProfile) {
			rec = g.o.IPProfile[c]
		}
		if c < len(g.o.IPPacketProfile) {
			pk = g.o.IPPacketProfile[c]
		}
	}
	return rec, pk
}

// countProfile adds rows to the running weights of the profiled fields
// (and, in a capture, to their packets). Continuations (cont) add records
// to a flow trace's addresses; a capture's are their flow's 5-tuple again,
// counted where the flow started, and add only packets.
func (g *Stream) countProfile(rows []Row, cont bool) {
	capture := g.s.Kind() == trace.KindPackets
	recP, pkP := g.profiles()
	for fi, field := range []string{"srcip", "dstip"} {
		if !recP[fi].valid() {
			continue
		}
		if !cont || !capture {
			for _, r := range rows {
				g.prof[fi].add(ipOf(r.Attr, field), profileWeight(g.s.Kind(), r))
			}
			g.prof[fi].prune()
		}
		if !capture || !pkP[fi].valid() {
			continue
		}
		for _, r := range rows {
			g.profPk[fi].add(ipOf(r.Attr, field), packetWeight(r))
		}
		g.profPk[fi].prune()
	}
}

// followProfiles moves kept rows of a block between addresses the trace
// already holds, per profiled field, so that the weight per address
// written so far, ranked, follows the profile of the real chunks up to
// the current one, scaled to the weight written: the rank-frequency
// shape, which decides how traffic concentrates on the heaviest hosts
// (and so a sketch's heavy-hitter error), where snapping and the distinct
// targets fix only how many addresses there are. The profiles are those
// of the chunks up to each because the heaviest hosts change over a
// trace: against the whole trace's profile from the start, an early
// chunk's busiest address would be made the trace's heaviest while the
// real one dominates a later chunk. The target of rank r is the real
// share of rank r times the weight written (see profileGaps for fewer or
// more addresses than the real trace). An address above its target gives
// rows to addresses below theirs, largest shortfall first, each taking
// the heaviest row that does not overfill it, chosen among the rows of
// the addresses over target that the model was least sure of, by the
// bits' log-probability of the new address. A moved row changes its key,
// the address it is written with, not its vector: its features are
// generated for the flow the model made. None is added and no valid
// address is emptied (one that fails its protocol check gives all its
// rows away: profileGaps), so the distinct counts stay, and unless the
// trace keeps flows from a host to itself (Options.SelfLoops) no row takes
// the address of its other side (noLoops, in followProfile and the
// swaps). It returns how many rows moved (counting each row of a packet
// swap).
func (g *Stream) followProfiles(rows []Row, kept func(Row) bool) int {
	moved := 0
	recP, pkP := g.profiles()
	for fi, field := range []string{"srcip", "dstip"} {
		p := recP[fi]
		off, dim := g.s.AttrSlice(field)
		if !p.valid() || off < 0 || dim != 64 {
			continue
		}
		moved += followProfile(g.s.Kind(), p, rows, kept, field, off, &g.prof[fi], !g.o.SelfLoops)
		if pk := pkP[fi]; g.s.Kind() == trace.KindPackets && pk.valid() {
			moved += 2 * swapPackets(pk, rows, kept, field, &g.profPk[fi], !g.o.SelfLoops)
		}
	}
	return moved
}

// hostGaps returns, for separateHosts, each address's distance to its
// target in the record (or flow) profile of both address fields, the
// block's kept rows counted with the running weights; nil unless both
// fields have a profile.
func (g *Stream) hostGaps(rows []Row, kept func(Row) bool) *hostGaps {
	recP, _ := g.profiles()
	kind := g.s.Kind()
	h := &hostGaps{weight: func(r Row) float64 { return profileWeight(kind, r) }}
	for fi, field := range []string{"srcip", "dstip"} {
		p := recP[fi]
		if off, dim := g.s.AttrSlice(field); !p.valid() || off < 0 || dim != 64 {
			return nil
		}
		_, over, shorts := profileGaps(p, rowWeights(rows, kept, field, h.weight), &g.prof[fi], func(ip uint32) bool { return addrValid(field, ip) })
		h.gap[fi] = over
		if over == nil {
			h.gap[fi] = map[uint32]float64{}
		}
		for _, sh := range shorts {
			h.gap[fi][sh.ip] = -sh.def
		}
	}
	return h
}

// swapPackets exchanges the addresses of pairs of a capture's kept rows
// so that the packets per address follow the real packet profile, keeping
// the flows per address (see swapByPackets). It returns how many pairs
// swapped.
func swapPackets(p *AddrProfile, rows []Row, kept func(Row) bool, field string, past *profileCounts, noLoops bool) int {
	var items []swapItem
	var at []*Row
	for i := range rows {
		if r := &rows[i]; kept(*r) {
			it := swapItem{ip: ipOf(r.Attr, field), w: 1, pk: packetWeight(*r), other: noOther}
			if noLoops {
				it.other = uint64(ipOf(r.Attr, otherField(field)))
			}
			items = append(items, it)
			at = append(at, r)
		}
	}
	return swapByPackets(p, items, nil, past, func(i int, ip uint32, other uint64) {
		setKey(at[i], field, ip)
		if other != noOther {
			setKey(at[i], otherField(field), uint32(other))
		}
	})
}

// swapItem is what swapByPackets may give another address: a flow of w
// records (1 in a capture) and pk packets, now on address ip, that may not
// take address other (its address on the other side, so that no flow is
// swapped onto its own host; noOther for none).
type swapItem struct {
	ip    uint32
	w, pk float64
	other uint64
}

// noOther is a swapItem's other when any address may be given to it.
const noOther = math.MaxUint64

// otherField is the address field other than field.
func otherField(field string) string {
	if field == "srcip" {
		return "dstip"
	}
	return "srcip"
}

// swapByPackets exchanges the addresses of pairs of items of equal weight,
// a heavier one (in packets) of an address above its packet target for a
// lighter one of an address below its own, so that the packets per
// address, ranked, follow the real packet profile the way followProfile
// makes the flows or records per address follow theirs; a swap moves one
// item each way, so the flows or records per address stay. Between two
// addresses the pair chosen brings the two nearest their targets
// together; the addresses furthest from their targets go first
// (profileSwapAddrs of each side). The block's fixed items count towards
// the packets per address but keep theirs. Where a swap would give an item
// its own other address (swapItem.other), the two items exchange their
// address pairs instead, each taking the other's address on the other side
// too (its records per address stay, its packets move): in a trace
// captured at one host, every flow has that host at one end, so a heavy
// flow from the host can change its source only to a host whose flows
// all go to it. set gives item i address ip, and, unless other is
// noOther, the address other on the other side. It returns how many pairs
// swapped.
func swapByPackets(p *AddrProfile, items, fixed []swapItem, past *profileCounts, set func(i int, ip uint32, other uint64)) int {
	swaps := 0
	for range profileSwapRounds {
		n := swapRound(p, items, fixed, past, set)
		if n == 0 {
			break
		}
		swaps += n
	}
	return swaps
}

// profileSwapRounds bounds the rounds of swapByPackets: a round's swaps
// may leave an address below its target (and change ranks), which the
// next round's gaps see.
const profileSwapRounds = 4

// swapRound is one round of swapByPackets, from the gaps as the items
// now stand.
func swapRound(p *AddrProfile, items, fixed []swapItem, past *profileCounts, set func(i int, ip uint32, other uint64)) int {
	_, over, shorts := profileGaps(p, func(yield func(uint32, float64) bool) {
		for _, it := range slices.Concat(items, fixed) {
			if !yield(it.ip, it.pk) {
				return
			}
		}
	}, past, nil)
	if len(over) == 0 || len(shorts) == 0 {
		return 0
	}
	// Each address's items, lightest first.
	byAddr := map[uint32][]int{}
	for i, it := range items {
		byAddr[it.ip] = append(byAddr[it.ip], i)
	}
	byPk := func(a, b int) int { return cmp.Compare(items[a].pk, items[b].pk) }
	for _, is := range byAddr {
		slices.SortStableFunc(is, byPk)
	}
	donors := make([]short, 0, len(over))
	for ip, x := range over {
		if len(byAddr[ip]) > 0 {
			donors = append(donors, short{ip, x})
		}
	}
	slices.SortFunc(donors, func(a, b short) int { return cmp.Or(cmp.Compare(b.def, a.def), cmp.Compare(a.ip, b.ip)) })
	shorts = slices.DeleteFunc(shorts, func(s short) bool { return len(byAddr[s.ip]) == 0 })
	donors, shorts = donors[:min(len(donors), profileSwapAddrs)], shorts[:min(len(shorts), profileSwapAddrs)]
	swaps := 0
	for _, d := range donors {
		excess := d.def
		for k := range shorts {
			b := &shorts[k]
			for excess >= 0.5 && b.def >= 0.5 {
				// A swap moving δ packets from d to b cuts the two
				// addresses' summed distance to their targets by
				// excess + def − |excess − δ| − |def − δ|: 2δ up to the
				// smaller gap, the most between the two gaps (d may end
				// below its target, to be filled by others), less past
				// the larger. The pair cutting the most wins, then the
				// one moving more.
				cut := func(delta float64) float64 { return excess + b.def - math.Abs(excess-delta) - math.Abs(b.def-delta) }
				ra, rb := byAddr[d.ip], byAddr[b.ip]
				best, bestCut, bi, bj, bestPair := 0.0, 0.0, -1, -1, false
				for i, x := range ra {
					lo := items[x].pk - (excess + b.def)
					j := sort.Search(len(rb), func(y int) bool { return items[rb[y]].pk >= lo })
					for end := min(len(rb), j+profileSwapScan); j < end && items[rb[j]].pk < items[x].pk; j++ {
						ix, iy := items[x], items[rb[j]]
						if iy.w != ix.w {
							continue
						}
						pair := ix.other == uint64(b.ip) || iy.other == uint64(d.ip)
						if pair && (iy.other == uint64(b.ip) || ix.other == uint64(d.ip)) {
							continue // the exchanged pairs would hold a loop too
						}
						delta := ix.pk - iy.pk
						if c := cut(delta); c > bestCut || (c == bestCut && delta > best) {
							best, bestCut, bi, bj, bestPair = delta, c, i, j, pair
						}
					}
				}
				if bi < 0 || bestCut < 1 {
					break
				}
				x, y := ra[bi], rb[bj]
				if bestPair {
					ox, oy := items[x].other, items[y].other
					set(x, b.ip, oy)
					set(y, d.ip, ox)
					items[x].other, items[y].other = oy, ox
				} else {
					set(x, b.ip, noOther)
					set(y, d.ip, noOther)
				}
				items[x].ip, items[y].ip = b.ip, d.ip
				ra[bi], rb[bj] = y, x
				slices.SortStableFunc(ra, byPk)
				slices.SortStableFunc(rb, byPk)
				excess -= best
				b.def -= best
				swaps++
			}
			if excess < 0.5 {
				break
			}
		}
	}
	return swaps
}

// profileSwapAddrs bounds the addresses of each side swapByPackets pairs,
// and profileSwapScan the items of a receiver it looks at for each item of
// a donor.
const (
	profileSwapAddrs = 256
	profileSwapScan  = 64
)

// FlowPackets follows the real packet profile in a flow trace's block of
// decoded records (t, with IPPacketProfile; records keep the 5-tuples of
// their rows): records of a 5-tuple swap addresses with those of another
// 5-tuple of as many records (swapByPackets), so the records per address
// that followProfiles set stay. Flows carried to later chunks keep their
// addresses (their continuations were written with them), and so do
// continuation blocks and chained segments. Every block's packets then
// count in the running packets per address. It returns how many records
// changed address.
func (g *Stream) FlowPackets(t *trace.Trace) int {
	if t.Kind != trace.KindFlows {
		return 0
	}
	changed := 0
	recP, pkP := g.profiles()
	on := func(fi int) bool { return recP[fi].valid() && pkP[fi].valid() }
	if g.carried != nil && !g.s.Chains() {
		for fi := range 2 {
			if on(fi) {
				changed += swapFlowPackets(pkP[fi], t.Flows, g.carried, fi == 1, &g.profPk[fi], !g.o.SelfLoops)
			}
		}
	}
	// The block's packets count once both fields are done (each field's
	// swaps see the other's running packets without this block).
	for fi := range 2 {
		if !on(fi) {
			continue
		}
		for i := range t.Flows {
			f := &t.Flows[i]
			ip := f.Src
			if fi == 1 {
				ip = f.Dst
			}
			g.profPk[fi].add(ip, float64(f.Packets))
		}
		g.profPk[fi].prune()
	}
	return changed
}

// swapFlowPackets groups records by 5-tuple and swaps the groups' source
// (dst false) or destination addresses by packets; the records of held
// keys keep theirs. With noLoops no group takes its own other address.
func swapFlowPackets(p *AddrProfile, recs []trace.Flow, held map[trace.Key]struct{}, dst bool, past *profileCounts, noLoops bool) int {
	group := map[trace.Key]int{}
	var items, fixed []swapItem
	var members [][]int
	for i := range recs {
		k := recs[i].Key()
		if _, ok := held[k]; ok {
			ip, o := k.Src, k.Dst
			if dst {
				ip, o = k.Dst, k.Src
			}
			fixed = append(fixed, swapItem{ip: ip, w: 1, pk: float64(recs[i].Packets), other: uint64(o)})
			continue
		}
		j, ok := group[k]
		if !ok {
			j = len(items)
			group[k] = j
			ip, other := k.Src, k.Dst
			if dst {
				ip, other = k.Dst, k.Src
			}
			it := swapItem{ip: ip, other: noOther}
			if noLoops {
				it.other = uint64(other)
			}
			items = append(items, it)
			members = append(members, nil)
		}
		items[j].w++
		items[j].pk += float64(recs[i].Packets)
		members[j] = append(members[j], i)
	}
	changed := 0
	swapByPackets(p, items, fixed, past, func(j int, ip uint32, other uint64) {
		for _, i := range members[j] {
			field, otherSide := &recs[i].Src, &recs[i].Dst
			if dst {
				field, otherSide = otherSide, field
			}
			*field = ip
			if other != noOther {
				*otherSide = uint32(other)
			}
			changed++
		}
	})
	return changed
}

// rowWeights yields the address in field and the weight w of each row
// keep accepts.
func rowWeights(rows []Row, keep func(Row) bool, field string, w func(Row) float64) iter.Seq2[uint32, float64] {
	return func(yield func(uint32, float64) bool) {
		for _, r := range rows {
			if keep(r) && !yield(ipOf(r.Attr, field), w(r)) {
				return
			}
		}
	}
}

// packetWeight is a capture's row's packets.
func packetWeight(r Row) float64 { return float64(max(1, r.Attr.Len)) }

// profileCand is a row that may move to another address.
type profileCand struct {
	row  *Row
	from uint32
	w    float64
	logs addrLogs // its vector's bit log-probabilities
	own  float64  // log-probability of its own address
}

// short is an address below its target, by def.
type short struct {
	ip  uint32
	def float64
}

// profileGaps returns, for the weights of the block (each address with
// a weight, an address possibly many times) added to the running weights
// past, each address's weight (have), those above their rank's target by
// at least ½ with their excess (over), and those below by at least ½ with
// their shortfall, the largest first. The targets are those of the ranks
// the trace holds so far (past keeps the profileKeep heaviest after a
// prune, so with more than that the light tail is not counted): each
// rank's share of the profile's weight times the weight written, so that
// the heavy hitters' shares are the real ones;
// with fewer addresses than the profile, the weight of its ranks past them
// is spread evenly over all, and with more, every share is scaled down
// alike. With valid, an address it rejects takes no rank: its target is
// nothing, so all its weight is over (protocol repair would give its rows
// other addresses after the profile, which left the heavy ranks given to
// such addresses short: on ctu-normal-40-day1 under DP at ε = 1, a
// multicast source made the second busiest).
func profileGaps(p *AddrProfile, block iter.Seq2[uint32, float64], past *profileCounts, valid func(uint32) bool) (have, over map[uint32]float64, shorts []short) {
	have = map[uint32]float64{}
	total := 0.0
	if past != nil {
		for ip, n := range past.n {
			have[ip] = n
		}
		total = past.total
	}
	for ip, x := range block {
		have[ip] += x
		total += x
	}
	ranked := make([]ipCount, 0, len(have))
	var invalid []ipCount
	for ip, x := range have {
		if valid != nil && !valid(ip) {
			invalid = append(invalid, ipCount{ip, x})
			continue
		}
		ranked = append(ranked, ipCount{ip, x})
	}
	if len(ranked) < 2 {
		return have, nil, nil
	}
	slices.SortFunc(ranked, func(a, b ipCount) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.ip, b.ip)) })
	n := len(ranked)
	held := 0.0
	for r := 1; r <= n; r++ {
		held += p.At(r)
	}
	scale, even := total/held, 0.0
	if held < p.Total {
		scale, even = total/p.Total, (p.Total-held)/p.Total*total/float64(n)
	}
	over = map[uint32]float64{}
	for _, a := range invalid {
		if a.n >= 0.5 {
			over[a.ip] = a.n
		}
	}
	for i, a := range ranked {
		switch d := a.n - (p.At(i+1)*scale + even); {
		case d >= 0.5:
			over[a.ip] = d
		case d <= -0.5:
			shorts = append(shorts, short{a.ip, -d})
		}
	}
	slices.SortFunc(shorts, func(a, b short) int { return cmp.Or(cmp.Compare(b.def, a.def), cmp.Compare(a.ip, b.ip)) })
	return have, over, shorts
}

func followProfile(kind trace.Kind, p *AddrProfile, rows []Row, kept func(Row) bool, field string, off int, past *profileCounts, noLoops bool) int {
	other := otherField(field)
	valid := func(ip uint32) bool { return addrValid(field, ip) }
	have, over, shorts := profileGaps(p, rowWeights(rows, kept, field, func(r Row) float64 { return profileWeight(kind, r) }), past, valid)
	if len(over) == 0 || len(shorts) == 0 {
		return 0
	}
	// The candidates by weight, least sure of their own address first.
	byW := map[float64][]profileCand{}
	for i := range rows {
		r := &rows[i]
		if !kept(*r) {
			continue
		}
		ip := ipOf(r.Attr, field)
		if _, ok := over[ip]; !ok {
			continue
		}
		w := profileWeight(kind, *r)
		c := profileCand{row: r, from: ip, w: w, logs: bitLogs(r.Vec, off)}
		c.own = c.logs.of(ip)
		byW[w] = append(byW[w], c)
	}
	weights := make([]float64, 0, len(byW))
	for w, cs := range byW {
		weights = append(weights, w)
		slices.SortStableFunc(cs, func(a, b profileCand) int { return cmp.Compare(a.own, b.own) })
	}
	slices.Sort(weights)
	// take removes and returns the best candidate of weight w for address
	// to among the first profileLook that may still leave their address.
	take := func(w float64, to uint32) *profileCand {
		cs := byW[w]
		best, bestScore, looked := -1, math.Inf(-1), 0
		for i := 0; i < len(cs) && looked < profileLook; i++ {
			c := &cs[i]
			if over[c.from] < c.w/2 || (have[c.from]-c.w <= 0 && valid(c.from)) || (noLoops && ipOf(c.row.Attr, other) == to) {
				continue
			}
			looked++
			if sc := c.logs.of(to); sc > bestScore {
				best, bestScore = i, sc
			}
		}
		if best < 0 {
			return nil
		}
		c := cs[best]
		byW[w] = slices.Delete(cs, best, best+1)
		return &c
	}
	moved := 0
	for _, s := range shorts {
		def := s.def
		for def >= 0.5 {
			// The heaviest weight that does not overfill the address.
			i := sort.SearchFloat64s(weights, def+0.5+1e-9) - 1
			var c *profileCand
			for ; i >= 0 && c == nil; i-- {
				c = take(weights[i], s.ip)
			}
			if c == nil {
				break
			}
			setKey(c.row, field, s.ip)
			over[c.from] -= c.w
			have[c.from] -= c.w
			have[s.ip] += c.w
			def -= c.w
			moved++
		}
	}
	return moved
}

// profileLook is how many candidates of a weight followProfile scores for
// each move.
const profileLook = 32

// addrLogs holds, per bit of an encoded address, the log-probabilities of
// 0 ([0]) and of 1 ([1]) a row's vector gives it.
type addrLogs [2][32]float64

// bitLogs returns the bit log-probabilities of the address encoded at off
// in vec (64 values: per bit, the weights of 0 and 1, normalised; equal
// when both are zero), each at least log 10⁻⁶.
func bitLogs(vec []float32, off int) (l addrLogs) {
	for b := 0; b < 32; b++ {
		p0, p1 := float64(vec[off+2*b]), float64(vec[off+2*b+1])
		sum := p0 + p1
		if !(sum > 0) {
			p0, p1, sum = 1, 1, 2
		}
		l[0][b] = math.Log(math.Max(p0/sum, 1e-6))
		l[1][b] = math.Log(math.Max(p1/sum, 1e-6))
	}
	return l
}

// of is the log-probability of address ip.
func (l *addrLogs) of(ip uint32) float64 {
	sc := 0.0
	for b := 0; b < 32; b++ {
		sc += l[ip>>(31-b)&1][b]
	}
	return sc
}

// setKey gives a row the address ip in field, in its key only: the
// address it is written with. Its vector keeps the address the model
// generated, so its features are generated for the flow the model made.
func setKey(r *Row, field string, ip uint32) {
	if field == "srcip" {
		r.Attr.Key.Src = ip
	} else {
		r.Attr.Key.Dst = ip
	}
}

// setAddr gives a row the address ip in field (encoded at off, 64 values):
// its bits one-hot in a copy of the vector, and its key.
func setAddr(r *Row, off int, field string, ip uint32) {
	r.Vec = slices.Clone(r.Vec)
	for b := 0; b < 32; b++ {
		bit := ip >> (31 - b) & 1
		r.Vec[off+2*b], r.Vec[off+2*b+1] = float32(1-bit), float32(bit)
	}
	setKey(r, field, ip)
}
