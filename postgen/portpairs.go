package postgen

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// Port keys: a port below 1024 is its own key; one from 1024 up is its
// range's, registered (1024-49151) or dynamic (49152 and up), so that the
// fresh ports drawn for one-off ports (encoding.TailRanges) pair as the
// real ones of their range do; counts with PortKeys.TailKeys key the tail
// classes' ports apart (keyTail).
const (
	keyRegistered = 1024
	keyDynamic    = 1025
	// sameBit marks the same registered or dynamic port on both sides.
	sameBit = 1 << 22
)

func portKey(p uint16) uint32 {
	switch {
	case p < 1024:
		return uint32(p)
	case p < 49152:
		return keyRegistered
	}
	return keyDynamic
}

// PortPairCell is the cell of a (source port, destination port) pair: the
// two ports' keys, and whether a port from 1024 up is the same on both
// sides.
func PortPairCell(sp, dp uint16) uint32 {
	c := portKey(sp)<<11 | portKey(dp)
	if sp == dp && sp >= 1024 {
		c |= sameBit
	}
	return c
}

func cellSrc(c uint32) uint32 { return c >> 11 & 0x7ff }
func cellDst(c uint32) uint32 { return c & 0x7ff }

// PortPairs is how a trace's flows pair their ports, per protocol with
// ports (TCP, UDP): the weight (records in a flow trace, flows in a
// capture) in each PortPairCell. A client's flow runs from an ephemeral
// port to a service port and the reply back, NTP from 123 to 123, so most
// cells are empty, while ports decoded one field at a time pair them at
// random: the synthetic `ctu-normal-42-day2` had 6% of its records on
// the same port on both sides against the real 0.1%, a C&C capture flows
// from 443 to 443, which it never holds, and an IoT-23 log DNS replies
// from port 123. Well-known ports are kept apart, one cell per pair of
// them, so that a trace's services pair as its real ones do; ports from
// 1024 up by their range.
type PortPairs struct {
	Cells map[uint8]map[uint32]float64 `json:"by_port"`
	PortKeys
}

// NewPortPairs returns pairs that count nothing yet.
func NewPortPairs() *PortPairs { return &PortPairs{Cells: map[uint8]map[uint32]float64{}} }

// Missing reports whether pp was not recorded: nil, or read from a run
// pre-processed before the pairs were kept by port (an empty trace's
// pairs are recorded, empty).
func (pp *PortPairs) Missing() bool { return pp == nil || pp.Cells == nil }

// Add counts weight w of a flow with key k.
func (pp *PortPairs) Add(k trace.Key, w float64) {
	if k.Proto != trace.ProtoTCP && k.Proto != trace.ProtoUDP {
		return
	}
	addCell(&pp.Cells, k.Proto, pp.keys.cell(k.Proto, k.SrcPort, k.DstPort), w)
}

// shares returns proto's cells as shares of its weight, nil when it has
// none.
func (pp *PortPairs) shares(proto uint8) map[uint32]float64 {
	if pp == nil {
		return nil
	}
	total := 0.0
	for _, x := range pp.Cells[proto] {
		total += x
	}
	if total <= 0 {
		return nil
	}
	out := make(map[uint32]float64, len(pp.Cells[proto]))
	for c, x := range pp.Cells[proto] {
		out[c] = x / total
	}
	return out
}

// followPortPairs exchanges ports between kept rows of the same protocol
// (destination ports, or source ports) so that the block's weight per
// port-pair cell follows the real shares pp holds: a row of a cell above
// its target takes the port of a row whose own pair, after the exchange,
// lands nearer the targets too, the exchange that cuts the summed
// distance to the targets most among rows of the cells below theirs that
// it could reach. Exchanging a field's values between rows of one
// protocol and one length keeps every (port, protocol) count, of flows,
// records and packets alike, so the marginals and the dstport-proto pairs
// stay; each row's encoded port moves with it, so features are generated
// for the port it now holds. It returns how many exchanges it made.
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
			n += followPairsOf(s, rows, byProto[p], share, pp.keys, weight, rng)
		}
	}
	return n
}

// slotIndex lists rows (positions in idx) per port key and length, and
// where each row sits in its list.
type slotIndex struct {
	lists map[[2]uint32][]int
	pos   []int
}

func newSlotIndex(n int) *slotIndex {
	return &slotIndex{lists: map[[2]uint32][]int{}, pos: make([]int, n)}
}

func (x *slotIndex) add(j int, key uint32, n int) {
	sl := [2]uint32{key, uint32(n)}
	x.pos[j] = len(x.lists[sl])
	x.lists[sl] = append(x.lists[sl], j)
}

func (x *slotIndex) remove(j int, key uint32, n int) {
	sl := [2]uint32{key, uint32(n)}
	l := x.lists[sl]
	last := l[len(l)-1]
	l[x.pos[j]], x.pos[last] = last, x.pos[j]
	x.lists[sl] = l[:len(l)-1]
}

// followPairsOf is followPortPairs for the rows idx of one protocol.
func followPairsOf(s *encoding.Schema, rows []Row, idx []int, share map[uint32]float64, keys keyer, weight func(Row) float64, rng *rand.Rand) int {
	key := func(j int) trace.Key { return rows[idx[j]].Attr.Key }
	proto := key(0).Proto
	cellOf := func(sp, dp uint16) uint32 { return keys.cell(proto, sp, dp) }
	keyOf := func(p uint16) uint32 { return keys.key(proto, p) }
	length := func(j int) int { return rows[idx[j]].Attr.Len }
	w := make([]float64, len(idx))
	cell := make([]uint32, len(idx))
	dev := map[uint32]float64{} // weight above the target, per cell
	// Rows per source and per destination key and length: ports move only
	// between flows of one length, so that each port keeps its records and
	// packets, not only its flows.
	bySrc, byDst, byCell := newSlotIndex(len(idx)), newSlotIndex(len(idx)), newSlotIndex(len(idx))
	total := 0.0
	for j := range idx {
		k := key(j)
		w[j] = weight(rows[idx[j]])
		total += w[j]
		cell[j] = cellOf(k.SrcPort, k.DstPort)
		dev[cell[j]] += w[j]
		bySrc.add(j, keyOf(k.SrcPort), length(j))
		byDst.add(j, keyOf(k.DstPort), length(j))
		byCell.add(j, cell[j], length(j))
	}
	for c, sh := range share {
		dev[c] -= sh * total
	}
	swaps := 0
	for range portPairRounds {
		// The cells below their targets, and those above (their rows are
		// the partners that gain from an exchange too), per source key and
		// per destination key, the furthest from their targets first.
		belowSrc, belowDst := cellsBeyond(dev, -1)
		aboveSrc, aboveDst := cellsBeyond(dev, 1)
		// The rows of cells above their targets, in a random order.
		var over []int
		for j := range idx {
			if dev[cell[j]] >= 0.5 {
				over = append(over, j)
			}
		}
		rng.Shuffle(len(over), func(a, b int) { over[a], over[b] = over[b], over[a] })
		moved := 0
		for _, x := range over {
			if dev[cell[x]] < w[x]/2 {
				continue // its cell reached the target meanwhile
			}
			kx, n := key(x), uint32(length(x))
			best, bestGain, bestDst := -1, 0.5, false
			try := func(l []int, dst bool) {
				for range min(len(l), portPairLook) {
					y := l[rng.IntN(len(l))]
					if y == x {
						continue
					}
					ky := key(y)
					var x2, y2 uint32
					if dst {
						if kx.DstPort == ky.DstPort {
							continue
						}
						x2, y2 = cellOf(kx.SrcPort, ky.DstPort), cellOf(ky.SrcPort, kx.DstPort)
					} else {
						if kx.SrcPort == ky.SrcPort {
							continue
						}
						x2, y2 = cellOf(ky.SrcPort, kx.DstPort), cellOf(kx.SrcPort, ky.DstPort)
					}
					if g := pairGain(dev, cell[x], x2, w[x], cell[y], y2, w[y]); g > bestGain {
						best, bestGain, bestDst = y, g, dst
					}
				}
			}
			// A destination port that takes x to a cell below its target
			// (same source key), or a source port (same destination key),
			// the cells furthest below first: a few rows of each cell above
			// its target holding that port's key, then a few of any cell.
			for i, c := range belowSrc[keyOf(kx.SrcPort)] {
				if i == portPairCells {
					break
				}
				for j, o := range aboveDst[cellDst(c)] {
					if j == portPairCells {
						break
					}
					try(byCell.lists[[2]uint32{o, n}], true)
				}
				try(byDst.lists[[2]uint32{cellDst(c), n}], true)
			}
			for i, c := range belowDst[keyOf(kx.DstPort)] {
				if i == portPairCells {
					break
				}
				for j, o := range aboveSrc[cellSrc(c)] {
					if j == portPairCells {
						break
					}
					try(byCell.lists[[2]uint32{o, n}], false)
				}
				try(bySrc.lists[[2]uint32{cellSrc(c), n}], false)
			}
			if best < 0 {
				continue
			}
			y := best
			field, index, port := "srcport", bySrc, func(k trace.Key) uint16 { return k.SrcPort }
			if bestDst {
				field, index, port = "dstport", byDst, func(k trace.Key) uint16 { return k.DstPort }
			}
			index.remove(x, keyOf(port(key(x))), int(n))
			index.remove(y, keyOf(port(key(y))), int(n))
			exchangePort(s, &rows[idx[x]], &rows[idx[y]], field)
			index.add(x, keyOf(port(key(x))), int(n))
			index.add(y, keyOf(port(key(y))), int(n))
			for _, j := range []int{x, y} {
				k := key(j)
				byCell.remove(j, cell[j], int(n))
				dev[cell[j]] -= w[j]
				cell[j] = cellOf(k.SrcPort, k.DstPort)
				dev[cell[j]] += w[j]
				byCell.add(j, cell[j], int(n))
			}
			moved++
		}
		swaps += moved
		if moved == 0 {
			break
		}
	}
	return swaps
}

// cellsBeyond returns the cells whose weight lies at least ½ beyond their
// target on the side of sign (1: above, −1: below), per source key and per
// destination key, the furthest beyond first (ties: the lower cell).
func cellsBeyond(dev map[uint32]float64, sign float64) (bySrc, byDst map[uint32][]uint32) {
	var cells []uint32
	for c, d := range dev {
		if sign*d >= 0.5 {
			cells = append(cells, c)
		}
	}
	slices.SortFunc(cells, func(a, b uint32) int { return cmp.Or(cmp.Compare(sign*dev[b], sign*dev[a]), cmp.Compare(a, b)) })
	bySrc, byDst = map[uint32][]uint32{}, map[uint32][]uint32{}
	for _, c := range cells {
		bySrc[cellSrc(c)] = append(bySrc[cellSrc(c)], c)
		byDst[cellDst(c)] = append(byDst[cellDst(c)], c)
	}
	return bySrc, byDst
}

// pairGain is how much moving weight wa from cell a to a2 and wb from b to
// b2 cuts the summed distance of the cells' weights to their targets (dev:
// the weight above each target).
func pairGain(dev map[uint32]float64, a, a2 uint32, wa float64, b, b2 uint32, wb float64) float64 {
	var cs [4]uint32
	var ds [4]float64
	n := 0
	for _, m := range [4]struct {
		c uint32
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
// above their targets; for a row, portPairCells bounds the cells below
// their targets it looks into on each side, and portPairLook the rows it
// draws from each.
const (
	portPairRounds = 3
	portPairCells  = 16
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
	exchangeEncoded(s, r, o, field)
}

// exchangeEncoded exchanges the encoding of field between rows r and o,
// each row owning its vector after, so that features are generated for the
// value each now holds.
func exchangeEncoded(s *encoding.Schema, r, o *Row, field string) {
	if off, dim := s.AttrSlice(field); off >= 0 {
		r.Vec = slices.Clone(r.Vec)
		o.Vec = slices.Clone(o.Vec)
		for k := off; k < off+dim; k++ {
			r.Vec[k], o.Vec[k] = o.Vec[k], r.Vec[k]
		}
	}
}
