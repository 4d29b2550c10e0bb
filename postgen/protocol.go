package postgen

import (
	"math"
	"math/rand/v2"

	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// RepairStats counts what the protocol repair changed.
type RepairStats struct {
	// Repairs counts, per check, the records the repair changed.
	Repairs protocol.Repairs `json:"protocol_repairs,omitempty"`
	// Separated counts the packet flows whose repaired 5-tuple was shared
	// with another flow and that were given a fresh source port.
	Separated int `json:"protocol_separated_keys,omitempty"`
	// Unrepaired counts the packet flows whose repaired 5-tuple was shared
	// with another flow and no free source port was found (or the protocol
	// has none): they keep their 5-tuple as generated, violation included.
	Unrepaired int `json:"protocol_unrepaired_keys,omitempty"`
	// Merged counts the packet flows whose 5-tuple stayed shared with
	// another flow: they are one flow in the written capture.
	Merged int `json:"protocol_merged_keys,omitempty"`
}

// Total is the number of repairs of every check together.
func (s *RepairStats) Total() int64 {
	var n int64
	for _, v := range s.Repairs {
		n += v
	}
	return n
}

// RepairProtocol repairs the protocol violations of a decoded synthetic
// trace in place (see [protocol.RepairPackets] and [protocol.RepairFlows])
// and keeps it sorted by time. A check named in fail (the share of the
// real trace's flows failing it: checks the real trace itself often
// fails) is repaired only down to that share: as many violating flows as
// bring the trace's failures of the check, as generated, down to it are
// left as they are, those whose coins are lowest ([protocol.Leaver]).
//
// In a packet trace the repair may give a flow a new 5-tuple (a redrawn
// port or address), which another generated flow may already hold: the two
// would become one flow once written, undoing the 5-tuple separation of
// the attribute passes. A repaired flow that lands on a 5-tuple held by
// another flow gets a source port drawn from the trace's own nonzero
// source ports of its protocol that makes its 5-tuple unique again; when
// none does (or the protocol has no ports) it keeps the 5-tuple it was
// generated with, unrepaired, when that is still free, and otherwise stays
// merged; both are counted. held, when not nil, holds the 5-tuples of
// packet flows outside t (written before it): a repaired flow that lands on
// one of them is moved the same way, and no flow is moved onto one.
//
// The repair's cross-record logic is per 5-tuple (a flow's TTLs, time and
// flag order, IP ids) and over the pools of valid values it draws from; on
// a block of whole flows it holds as on the whole trace, the pools being
// the block's own valid values, a sample of the same marginals.
func RepairProtocol(t *trace.Trace, fail map[string]float64, seed uint64, held map[trace.Key]struct{}) RepairStats {
	return repairProtocol(t, fail, seed, 0, held, nil, nil, nil)
}

// repairTally counts, over the blocks of one trace repaired so far, the
// flows (records of a flow trace) and, per check the repair brings down
// to a target share, those failing it as generated and those left failing.
// Blocks differ (a chunk's flows may fail a check far more often than
// another's), and the repair cannot raise a block's failures: brought to
// the target one by one, the blocks above it would be cut to it and those
// below it stay below, and the trace would end below the target. So each
// block leaves the larger of two counts of its violating flows: its
// failures at the rate the blocks so far call for together (the target
// over their share, protocol.LeaveRate), and as many as take the trace so
// far to the target (making up for blocks that fell short). The count is
// met exactly (protocol.Leaver), not drawn flow by flow. Flows going on
// from earlier blocks are judged across the cut (their earlier packets'
// state, protocol.PacketsAfter): counted alone they would look valid
// where the whole flow is not.
type repairTally struct {
	flows        int64
	failed, left map[string]int64
}

// choose counts t's flows and failures and returns the Leave
// probabilities of its repair (the coins seeded by seed).
func (tl *repairTally) choose(t *trace.Trace, fail map[string]float64, seed uint64, prior map[trace.Key]protocol.FlowState) map[string]float64 {
	if tl.failed == nil {
		tl.failed, tl.left = map[string]int64{}, map[string]int64{}
	}
	var l *protocol.Leaver
	if t.Kind == trace.KindPackets {
		l = protocol.PacketLeaver(t.Packets, prior, seed)
	} else {
		l = protocol.FlowLeaver(t.Flows, seed)
	}
	tl.flows += l.Flows()
	want := make(map[string]int64, len(fail))
	for c, target := range fail {
		f := l.Failing(c)
		tl.failed[c] += f
		byRate := int64(math.Round(protocol.LeaveRate(target, float64(tl.failed[c])/float64(max(tl.flows, 1))) * float64(f)))
		catchUp := int64(math.Round(target*float64(tl.flows))) - tl.left[c]
		want[c] = max(byRate, catchUp)
		tl.left[c] += max(0, min(want[c], f))
	}
	return l.Leave(want)
}

// repairProtocol is RepairProtocol, calling moved, when not nil, with the
// old and new 5-tuple of each record whose 5-tuple it changed; tally,
// when not nil, holds the earlier blocks of the same trace (repairTally),
// and prior what earlier blocks left of the packet flows going on in this
// one (protocol.RepairOptions.Prior); leaveSeed, when not zero, is the
// seed of the choice of flows left, the same for every block.
func repairProtocol(t *trace.Trace, fail map[string]float64, seed, leaveSeed uint64, held map[trace.Key]struct{}, moved func(old, new trace.Key), tally *repairTally, prior map[trace.Key]protocol.FlowState) RepairStats {
	opt := protocol.RepairOptions{Seed: seed, LeaveSeed: leaveSeed, Prior: prior}
	var st RepairStats
	if len(fail) > 0 {
		if tally == nil {
			tally = &repairTally{}
		}
		ls := seed
		if leaveSeed != 0 {
			ls = leaveSeed
		}
		opt.Leave = tally.choose(t, fail, ls, prior)
	}
	if t.Kind != trace.KindPackets {
		before := t.Flows
		t.Flows, st.Repairs = protocol.RepairFlows(before, opt)
		if moved != nil {
			for i := range before {
				if k, nk := before[i].Key(), t.Flows[i].Key(); k != nk {
					moved(k, nk)
				}
			}
		}
		flows.SortByTime(t.Flows)
		return st
	}
	before := t.Packets
	t.Packets, st.Repairs = protocol.RepairPackets(before, opt)
	st.Separated, st.Unrepaired, st.Merged = unmerge(before, t.Packets, held, rand.New(rand.NewPCG(seed, 0x7265)))
	if moved != nil {
		for i := range before {
			if k, nk := before[i].Key(), t.Packets[i].Key(); k != nk {
				moved(k, nk)
			}
		}
	}
	flows.SortByTime(t.Packets)
	return st
}

// Add adds o's counts to s.
func (s *RepairStats) Add(o RepairStats) {
	for k, v := range o.Repairs {
		if s.Repairs == nil {
			s.Repairs = protocol.Repairs{}
		}
		s.Repairs[k] += v
	}
	s.Separated += o.Separated
	s.Unrepaired += o.Unrepaired
	s.Merged += o.Merged
}

// unmerge finds the flows of before (by 5-tuple) whose packets in after
// (the same packets, repaired, in the same order) share a 5-tuple with the
// packets of another flow, and moves those whose 5-tuple the repair changed
// to a free source port, or else back to their original 5-tuple; a flow
// the repair moved onto a 5-tuple in held clashes too. It returns how many
// flows it moved to a new port, how many it moved back and how many remain
// merged.
func unmerge(before, after []trace.Packet, held map[trace.Key]struct{}, rng *rand.Rand) (moved, reverted, merged int) {
	type pair struct{ old, new trace.Key }
	owner := map[trace.Key]trace.Key{} // repaired 5-tuple → first original one
	var clashes []pair
	seen := map[pair]bool{}
	for i := range after {
		p := pair{before[i].Key(), after[i].Key()}
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, out := held[p.new]; out && p.old != p.new {
			clashes = append(clashes, p)
			continue
		}
		if o, ok := owner[p.new]; !ok {
			owner[p.new] = p.old
		} else if o != p.old {
			clashes = append(clashes, p)
		}
	}
	if len(clashes) == 0 {
		return 0, 0, 0
	}
	// The flow to move is the one the repair changed; if the first holder
	// of the 5-tuple was changed and this one was not, move the holder.
	var ports map[uint8][]uint16
	pool := func(proto uint8) []uint16 {
		if ports == nil {
			ports = map[uint8][]uint16{}
			for i := range after {
				k := after[i].Key()
				if (k.Proto == trace.ProtoTCP || k.Proto == trace.ProtoUDP) && k.SrcPort != 0 {
					ports[k.Proto] = append(ports[k.Proto], k.SrcPort)
				}
			}
		}
		return ports[proto]
	}
	used := map[trace.Key]bool{}
	for k := range owner {
		used[k] = true
	}
	isUsed := func(k trace.Key) bool {
		_, out := held[k]
		return out || used[k]
	}
	target := map[pair]trace.Key{}
	const tries = 32
	for _, c := range clashes {
		mv := c
		if c.old == c.new {
			mv = pair{owner[c.new], c.new}
		}
		if _, done := target[mv]; done {
			continue
		}
		ps := pool(mv.new.Proto)
		free := func(port uint16) bool {
			k := mv.new
			k.SrcPort = port
			if isUsed(k) {
				return false
			}
			used[k] = true
			target[mv] = k
			return true
		}
		// Draws weighted by the ports' counts, then the first free one.
		found := false
		for j := 0; j < tries && !found && len(ps) > 0; j++ {
			found = free(ps[rng.IntN(len(ps))])
		}
		for j := 0; j < len(ps) && !found; j++ {
			found = free(ps[j])
		}
		switch {
		case found:
			moved++
		case !isUsed(mv.old):
			used[mv.old] = true
			target[mv] = mv.old
			reverted++
		default:
			merged++
		}
	}
	for i := range after {
		if k, ok := target[pair{before[i].Key(), after[i].Key()}]; ok {
			p := &after[i]
			p.Src, p.Dst, p.SrcPort, p.DstPort = k.Src, k.Dst, k.SrcPort, k.DstPort
		}
	}
	return moved, reverted, merged
}
