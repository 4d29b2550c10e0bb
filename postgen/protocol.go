package postgen

import (
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
// trace in place (see [protocol.RepairPackets] and [protocol.RepairFlows]),
// leaving the checks named in skip alone, and keeps it sorted by time.
//
// In a packet trace the repair may give a flow a new 5-tuple (a redrawn
// port or address), which another generated flow may already hold: the two
// would become one flow once written, undoing the 5-tuple separation of
// the attribute passes. A repaired flow that lands on a 5-tuple held by
// another flow gets a source port drawn from the trace's own nonzero
// source ports of its protocol that makes its 5-tuple unique again; when
// none does (or the protocol has no ports) it keeps the 5-tuple it was
// generated with, unrepaired, when that is still free, and otherwise stays
// merged; both are counted.
func RepairProtocol(t *trace.Trace, skip []string, seed uint64) RepairStats {
	opt := protocol.RepairOptions{Seed: seed, Skip: skip}
	var st RepairStats
	if t.Kind != trace.KindPackets {
		t.Flows, st.Repairs = protocol.RepairFlows(t.Flows, opt)
		flows.SortByTime(t.Flows)
		return st
	}
	before := t.Packets
	t.Packets, st.Repairs = protocol.RepairPackets(before, opt)
	st.Separated, st.Unrepaired, st.Merged = unmerge(before, t.Packets, rand.New(rand.NewPCG(seed, 0x7265)))
	flows.SortByTime(t.Packets)
	return st
}

// unmerge finds the flows of before (by 5-tuple) whose packets in after
// (the same packets, repaired, in the same order) share a 5-tuple with the
// packets of another flow, and moves those whose 5-tuple the repair changed
// to a free source port, or else back to their original 5-tuple. It
// returns how many flows it moved to a new port, how many it moved back and
// how many remain merged.
func unmerge(before, after []trace.Packet, rng *rand.Rand) (moved, reverted, merged int) {
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
			if used[k] {
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
		case !used[mv.old]:
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
