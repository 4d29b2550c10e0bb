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
// pair the rows hold. Only rows that keep accepts take part; a collision
// that no exchange resolves (ICMP, say, whose source port is always 0)
// stays. held, when not nil, holds the 5-tuples of flows outside gen (those
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
	for _, r := range rows {
		if _, out := held[r.Attr.Key]; !out && count[r.Attr.Key] < 2 {
			continue
		}
		same := byProto[r.Attr.Key.Proto]
	fields:
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
				if off, dim := s.AttrSlice(field); off >= 0 {
					// Each row owns its vector: exchange the port's encoding
					// too, so features are generated for the port the row
					// now holds.
					r.Vec = append([]float32(nil), r.Vec...)
					o.Vec = append([]float32(nil), o.Vec...)
					for k := off; k < off+dim; k++ {
						r.Vec[k], o.Vec[k] = o.Vec[k], r.Vec[k]
					}
				}
				moved++
				break fields
			}
		}
	}
	return moved
}
