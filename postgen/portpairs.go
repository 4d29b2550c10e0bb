package postgen

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// Port classes: well-known (below 1024), registered (1024-49151) and
// dynamic (49152 and up).
const (
	portWellKnown = iota
	portRegistered
	portDynamic
	portClasses
)

func portClass(p uint16) int {
	switch {
	case p < 1024:
		return portWellKnown
	case p < 49152:
		return portRegistered
	}
	return portDynamic
}

// PortPairCells is the number of port-pair cells: each (source class,
// destination class) pair of different ports, and the same port on both
// sides, by class.
const PortPairCells = portClasses*portClasses + portClasses

// PortPairCell is the cell of a (source port, destination port) pair.
func PortPairCell(sp, dp uint16) int {
	if sp == dp {
		return portClasses*portClasses + portClass(sp)
	}
	return portClasses*portClass(sp) + portClass(dp)
}

// PortPairs is how a trace's flows pair their ports, per protocol with
// ports (TCP, UDP): the weight (records in a flow trace, flows in a
// capture) in each PortPairCell. A client's flow runs from an ephemeral
// port to a service port and the reply back, so few real flows have two
// well-known ports and fewer the same port on both sides (NTP, IKE and
// NetBIOS do), while ports decoded one field at a time pair them at
// random: the synthetic `ctu-normal-42-day2` had 6% of its records on
// the same port on both sides against the real 0.1%, and a C&C capture
// flows from 443 to 443, which it never holds.
type PortPairs struct {
	Cells map[uint8][]float64 `json:"cells"`
}

// Add counts weight w of a flow with key k.
func (pp *PortPairs) Add(k trace.Key, w float64) {
	if k.Proto != trace.ProtoTCP && k.Proto != trace.ProtoUDP {
		return
	}
	if pp.Cells == nil {
		pp.Cells = map[uint8][]float64{}
	}
	c := pp.Cells[k.Proto]
	if c == nil {
		c = make([]float64, PortPairCells)
		pp.Cells[k.Proto] = c
	}
	c[PortPairCell(k.SrcPort, k.DstPort)] += w
}

// shares returns proto's cells as shares of its weight, nil when it has
// none (or the cells are malformed).
func (pp *PortPairs) shares(proto uint8) []float64 {
	if pp == nil {
		return nil
	}
	c := pp.Cells[proto]
	if len(c) != PortPairCells {
		return nil
	}
	total := 0.0
	for _, x := range c {
		total += x
	}
	if total <= 0 {
		return nil
	}
	out := make([]float64, len(c))
	for i, x := range c {
		out[i] = x / total
	}
	return out
}

// followPortPairs exchanges ports between kept rows of the same protocol
// (destination ports, or source ports) so that the block's weight per
// port-pair cell follows the real shares pp holds: a row of a cell above
// its target takes the port of a row whose own pair, after the exchange,
// lands nearer the targets too, the exchange that cuts the summed
// distance to the targets most. Exchanging a field's values between rows
// of one protocol and one length keeps every (port, protocol) count, of
// flows, records and packets alike, so the marginals and the dstport-proto
// pairs stay; each row's encoded port moves with it, so features are
// generated for the port it now holds. It returns how many exchanges it
// made.
func followPortPairs(s *encoding.Schema, rows []Row, keep func(Row) bool, pp *PortPairs, weight func(Row) float64, rng *rand.Rand) int {
	if pp == nil {
		return 0
	}
	byProto := map[uint8][]int{}
	for i, r := range rows {
		if p := r.Attr.Key.Proto; keep(r) && (p == trace.ProtoTCP || p == trace.ProtoUDP) {
			byProto[p] = append(byProto[p], i)
		}
	}
	protos := make([]uint8, 0, len(byProto))
	for p := range byProto {
		protos = append(protos, p)
	}
	slices.Sort(protos) // a fixed order keeps the draws reproducible
	n := 0
	for _, p := range protos {
		if share := pp.shares(p); share != nil {
			n += followPairsOf(s, rows, byProto[p], share, weight, rng)
		}
	}
	return n
}

// followPairsOf is followPortPairs for the rows idx of one protocol.
func followPairsOf(s *encoding.Schema, rows []Row, idx []int, share []float64, weight func(Row) float64, rng *rand.Rand) int {
	w := make([]float64, len(idx))
	cell := make([]int, len(idx))
	// Positions in idx per cell and length: ports move only between flows
	// of one length, so that each port keeps its records and packets, not
	// only its flows.
	type slot struct{ cell, len int }
	members := map[slot][]int{}
	where := make([]int, len(idx))        // position of each in its slot's list
	dev := make([]float64, PortPairCells) // weight above the target
	total := 0.0
	for j, i := range idx {
		r := rows[i]
		w[j] = weight(r)
		total += w[j]
		cell[j] = PortPairCell(r.Attr.Key.SrcPort, r.Attr.Key.DstPort)
		sl := slot{cell[j], r.Attr.Len}
		where[j] = len(members[sl])
		members[sl] = append(members[sl], j)
		dev[cell[j]] += w[j]
	}
	for c := range dev {
		dev[c] -= share[c] * total
	}
	move := func(j, to int) {
		n := rows[idx[j]].Attr.Len
		from := cell[j]
		l := members[slot{from, n}]
		last := l[len(l)-1]
		l[where[j]], where[last] = last, where[j]
		members[slot{from, n}] = l[:len(l)-1]
		where[j] = len(members[slot{to, n}])
		members[slot{to, n}] = append(members[slot{to, n}], j)
		cell[j] = to
		dev[from] -= w[j]
		dev[to] += w[j]
	}
	swaps := 0
	for range portPairRounds {
		moved := 0
		// The rows of cells above their targets, in a random order.
		var over []int
		for j := range idx {
			if dev[cell[j]] >= 0.5 {
				over = append(over, j)
			}
		}
		rng.Shuffle(len(over), func(a, b int) { over[a], over[b] = over[b], over[a] })
		for _, x := range over {
			if dev[cell[x]] < w[x]/2 {
				continue // its cell reached the target meanwhile
			}
			kx := rows[idx[x]].Attr.Key
			best, bestGain, bestDst := -1, 0.5, false
			// Partners of its length from every cell: a few rows each,
			// at random.
			for c := range PortPairCells {
				l := members[slot{c, rows[idx[x]].Attr.Len}]
				for range min(len(l), portPairLook) {
					y := l[rng.IntN(len(l))]
					if y == x {
						continue
					}
					ky := rows[idx[y]].Attr.Key
					for _, dst := range []bool{true, false} {
						var x2, y2 int
						if dst {
							if kx.DstPort == ky.DstPort {
								continue
							}
							x2, y2 = PortPairCell(kx.SrcPort, ky.DstPort), PortPairCell(ky.SrcPort, kx.DstPort)
						} else {
							if kx.SrcPort == ky.SrcPort {
								continue
							}
							x2, y2 = PortPairCell(ky.SrcPort, kx.DstPort), PortPairCell(kx.SrcPort, ky.DstPort)
						}
						if g := pairGain(dev, cell[x], x2, w[x], cell[y], y2, w[y]); g > bestGain {
							best, bestGain, bestDst = y, g, dst
						}
					}
				}
			}
			if best < 0 {
				continue
			}
			field := "srcport"
			if bestDst {
				field = "dstport"
			}
			exchangePort(s, &rows[idx[x]], &rows[idx[best]], field)
			rx, ry := rows[idx[x]].Attr.Key, rows[idx[best]].Attr.Key
			move(x, PortPairCell(rx.SrcPort, rx.DstPort))
			move(best, PortPairCell(ry.SrcPort, ry.DstPort))
			moved++
		}
		swaps += moved
		if moved == 0 {
			break
		}
	}
	return swaps
}

// pairGain is how much moving weight wa from cell a to a2 and wb from b to
// b2 cuts the summed distance of the cells' weights to their targets (dev:
// the weight above each target).
func pairGain(dev []float64, a, a2 int, wa float64, b, b2 int, wb float64) float64 {
	var cs [4]int
	var ds [4]float64
	n := 0
	for _, m := range [4]struct {
		c int
		d float64
	}{{a, -wa}, {a2, wa}, {b, -wb}, {b2, wb}} {
		i := 0
		for i < n && cs[i] != m.c {
			i++
		}
		if i == n {
			cs[n] = m.c
			n++
		}
		ds[i] += m.d
	}
	g := 0.0
	for i := range n {
		g += math.Abs(dev[cs[i]]) - math.Abs(dev[cs[i]]+ds[i])
	}
	return g
}

// portPairRounds bounds followPortPairs' passes over the rows of cells
// above their targets, and portPairLook the partners it draws from each
// cell for a row.
const (
	portPairRounds = 3
	portPairLook   = 4
)

// exchangePort exchanges field (srcport or dstport) between rows r and o,
// keys and encoded values alike (each row owns its vector after).
func exchangePort(s *encoding.Schema, r, o *Row, field string) {
	if field == "srcport" {
		r.Attr.Key.SrcPort, o.Attr.Key.SrcPort = o.Attr.Key.SrcPort, r.Attr.Key.SrcPort
	} else {
		r.Attr.Key.DstPort, o.Attr.Key.DstPort = o.Attr.Key.DstPort, r.Attr.Key.DstPort
	}
	if off, dim := s.AttrSlice(field); off >= 0 {
		r.Vec = slices.Clone(r.Vec)
		o.Vec = slices.Clone(o.Vec)
		for k := off; k < off+dim; k++ {
			r.Vec[k], o.Vec[k] = o.Vec[k], r.Vec[k]
		}
	}
}
