package postgen

import (
	"math/rand/v2"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// separateKeys gives generated flows that share a 5-tuple distinct ones
// by exchanging source ports, or else destination ports, between flows of
// the same protocol, and returns how many flows it moved. In a packet
// capture a flow is nothing but its 5-tuple: two generated flows with the
// same one become a single flow of their summed packets once written, which
// inflates the flow sizes (packets per 5-tuple) of traces whose flows share
// addresses and a service port and differ only in the ephemeral port (the
// source port of a client's packets, the destination port of a server's).
// Exchanging ports keeps every port's count and every (port, protocol)
// pair the rows hold. Only rows that keep accepts take part. A collision
// that no exchange resolves (the ports a block could exchange all lead to
// 5-tuples written before, as with the client ports of a capture of a few
// hosts) takes a fresh ephemeral port (freshPort); one that has none
// (ICMP, say, whose source port is always 0) stays. held, when not nil, holds the 5-tuples of flows outside gen (those
// already written): a row on one of them moves too, and no exchange moves a
// row onto one.
func separateKeys(s *encoding.Schema, gen [][]Row, keep func(Row) bool, held map[trace.Key]struct{}, rng *rand.Rand) int {
	var rows []*Row
	for c := range gen {
		for i := range gen[c] {
			if keep(gen[c][i]) {
				rows = append(rows, &gen[c][i])
			}
		}
	}
	count := make(map[trace.Key]int, len(rows))
	taken := func(k trace.Key) bool {
		_, ok := held[k]
		return ok || count[k] > 0
	}
	byProto := map[uint8][]int{}
	for i, r := range rows {
		count[r.Attr.Key]++
		byProto[r.Attr.Key.Proto] = append(byProto[r.Attr.Key.Proto], i)
	}
	port := func(k *trace.Key, field string) *uint16 {
		if field == "srcport" {
			return &k.SrcPort
		}
		return &k.DstPort
	}
	const tries = 32
	moved := 0
rows:
	for _, r := range rows {
		if _, out := held[r.Attr.Key]; !out && count[r.Attr.Key] < 2 {
			continue
		}
		same := byProto[r.Attr.Key.Proto]
		for _, field := range []string{"srcport", "dstport"} {
			for range tries {
				o := rows[same[rng.IntN(len(same))]]
				ki, ko := r.Attr.Key, o.Attr.Key
				pi, po := port(&ki, field), port(&ko, field)
				if o == r || *pi == *po {
					continue
				}
				*pi, *po = *po, *pi
				if taken(ki) || taken(ko) {
					continue
				}
				count[r.Attr.Key]--
				count[o.Attr.Key]--
				count[ki]++
				count[ko]++
				r.Attr.Key, o.Attr.Key = ki, ko
				exchangeEncoded(s, r, o, field)
				moved++
				continue rows
			}
		}
		// No exchange frees the row: it takes a fresh ephemeral port.
		if old := r.Attr.Key; freshPort(r, taken, rng) {
			count[old]--
			count[r.Attr.Key]++
			moved++
		}
	}
	return moved
}

// freshPort moves row r, whose 5-tuple is taken, to a free one by drawing
// a new value for its ephemeral port: the higher of its ports at or above
// 1024 (a client's source port, or the destination port of a server's
// reply), drawn uniformly from that port's range in encoding.TailRanges,
// which real ephemeral ports also are. It leaves the row as it is, and
// returns false, when the flow has no such port (ICMP, or two service
// ports) or no free value turns up in freshTries draws. The row's vector
// keeps the old port's encoding.
func freshPort(r *Row, taken func(trace.Key) bool, rng *rand.Rand) bool {
	k := r.Attr.Key
	if k.Proto != trace.ProtoTCP && k.Proto != trace.ProtoUDP {
		return false
	}
	p := &k.SrcPort
	if k.DstPort > k.SrcPort {
		p = &k.DstPort
	}
	if *p < 1024 {
		return false
	}
	lo, hi := encoding.TailRange(*p)
	for range freshTries {
		*p = lo + uint16(rng.IntN(int(hi-lo)+1))
		if !taken(k) {
			r.Attr.Key = k
			return true
		}
	}
	return false
}

// freshTries bounds freshPort's draws.
const freshTries = 64
