package postgen

import (
	"math"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/eval/protocol"
)

// hostGaps gives, per address field (srcip, dstip), each address's weight
// above (positive) or below (negative) its target in the real address
// profile, as profileGaps finds them, and the weight of a row; nil where
// there is no profile.
type hostGaps struct {
	gap    [2]map[uint32]float64
	weight func(Row) float64
}

// separateHosts gives the kept rows whose source and destination address
// are the same (a host talking to itself, which real traces all but never
// hold: a LAND packet) another address on one side. The loops come from
// the address fields being decoded one at a time: both snap to a heavy
// host where the model put the flow near it, while in the real trace
// (often captured at that host) the host is one end of every flow, the
// source of some and the destination of the others.
//
// With the address profile (gaps not nil), the side moved is the one
// where the host stands further above its target (the other when that
// one has no other valid address), and the new address is
// among those below theirs, by log(shortfall + ½) plus the log-probability
// the row's bits give it, so that the profile pass after it (followProfile)
// finds the loops' weight where the real trace has it. Without, of both
// sides, the address with the highest plain snapping score (log(count +
// ½) plus the bits' log-probability, snapIPs) among the block's
// selfLoopTop most used of that field, against the row's own. A new
// address is never the row's other one and always valid in its field (the
// src_addr and dst_addr checks). It returns how many rows moved.
func separateHosts(s *encoding.Schema, rows []Row, keep func(Row) bool, gaps *hostGaps) int {
	fields := [2]string{"srcip", "dstip"}
	var offs [2]int
	var counts [2]map[uint32]float64
	for f, field := range fields {
		off, dim := s.AttrSlice(field)
		if off < 0 || dim != 64 {
			return 0
		}
		offs[f] = off
		counts[f] = map[uint32]float64{}
	}
	loops := 0
	for _, r := range rows {
		if !keep(r) {
			continue
		}
		k := r.Attr.Key
		counts[0][k.Src]++
		counts[1][k.Dst]++
		if k.Src == k.Dst {
			loops++
		}
	}
	if loops == 0 {
		return 0
	}
	// Per field, the addresses a row may move to, and whether they are
	// scored by their shortfall (else by their count): with no address
	// below its target, by count.
	var pool [2][]ipCount
	var byGap [2]bool
	for f := range fields {
		if gaps != nil {
			below := map[uint32]float64{}
			for ip, d := range gaps.gap[f] {
				if d <= -0.5 {
					below[ip] = -d
				}
			}
			pool[f] = mostUsed(below, 0, selfLoopTop)
			byGap[f] = len(pool[f]) > 0
		}
		if !byGap[f] {
			pool[f] = mostUsed(counts[f], 0, selfLoopTop)
		}
	}
	moved := 0
	for i := range rows {
		r := &rows[i]
		if !keep(*r) || r.Attr.Key.Src != r.Attr.Key.Dst {
			continue
		}
		own := r.Attr.Key.Src
		sides := []int{0, 1}
		if gaps != nil && gaps.gap[0][own] < gaps.gap[1][own] {
			sides = []int{1, 0} // the side where the host is further above its target first
		}
		bestF, bestIP, bestLoss := -1, uint32(0), math.Inf(1)
		for _, f := range sides {
			if gaps != nil && bestF >= 0 {
				break // the preferred side had an address to give
			}
			lp := bitLogs(r.Vec, offs[f])
			score := func(ip uint32) float64 {
				if byGap[f] {
					return math.Log(max(-gaps.gap[f][ip], 0)+0.5) + lp.of(ip)
				}
				return math.Log(counts[f][ip]+0.5) + lp.of(ip)
			}
			base := score(own)
			for _, c := range pool[f] {
				if c.ip == own || !addrValid(fields[f], c.ip) {
					continue
				}
				if loss := base - score(c.ip); loss < bestLoss {
					bestF, bestIP, bestLoss = f, c.ip, loss
				}
			}
		}
		if bestF < 0 {
			continue // one address on both sides: nothing else to give
		}
		setAddr(r, offs[bestF], fields[bestF], bestIP)
		counts[bestF][own]--
		counts[bestF][bestIP]++
		if gaps != nil {
			w := gaps.weight(*r)
			gaps.gap[bestF][own] -= w
			gaps.gap[bestF][bestIP] += w
		}
		moved++
	}
	return moved
}

// selfLoopTop is how many addresses of a field separateHosts considers
// for a row.
const selfLoopTop = 64

// addrValid reports whether ip passes the protocol check of an address
// field (src_addr, dst_addr).
func addrValid(field string, ip uint32) bool {
	if field == "srcip" {
		return protocol.SrcAddrValid(ip)
	}
	return protocol.DstAddrValid(ip)
}
