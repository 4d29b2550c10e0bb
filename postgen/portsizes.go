package postgen

import (
	"maps"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/trace"
)

// Ports given sizes. The ports are attributes, decoded before the model
// generates a flow's records, and matched, paired and drawn afterwards
// one field at a time; the packet counts are features. Nothing in that
// chain keeps a flow's size with its service: regenerated from the
// seventh sweep's models, the joint TVD of (destination port, packets)
// on `ctu-normal-40-day1` was 0.53, the independent-marginal sampler's
// 0.53. And the records' labels, which the model generates beside their
// packet counts, lost their ports with them.
//
// PortSizes is the real trace's records per (port-pair cell, packet
// class) and protocol; FollowPortSizes exchanges whole services (protocol
// and port pair; an ICMP flow's ports are its type and code) between a
// block's decoded TCP, UDP and ICMP flows of one length so that the
// block's joint of the two follows the real one. The exchange keeps every
// service's flows, records and packets, so the protocols' and ports'
// marginals, their pairs (port_pairs) and the lengths given ports stay.

// PacketClass is the class of a record with n packets: 0 for none, then
// 1, 2-3, 4-7, … (the bit length of n), at most 20.
func PacketClass(n uint64) uint8 { return uint8(min(bits.Len64(n), 20)) }

// PortSizes counts records per protocol, port-pair cell (PortPairCell)
// and size class (sizeClass): Cells[proto][cell<<6 | class].
type PortSizes struct {
	// Version is the layout of the cells (portSizesVersion); counts of
	// another are not used.
	Version int                          `json:"version,omitempty"`
	Cells   map[uint8]map[uint32]float64 `json:"by_cell_and_packets"`
	PortKeys
}

// portSizesVersion is the layout of PortSizes.Cells: 2 added the
// zero-duration bit to the class.
const portSizesVersion = 2

// NewPortSizes returns counts that hold nothing yet.
func NewPortSizes() *PortSizes {
	return &PortSizes{Version: portSizesVersion, Cells: map[uint8]map[uint32]float64{}}
}

// Size classes. A flow's size class is its packet class (of its records'
// mean packets) and whether its records last no time at all (zeroDur):
// a scanner's probe and a client's short exchange with a service can
// both be two packets, and only the duration tells them apart. On
// `ctu-normal-40-day1` half the synthetic records to the MQTT port 8883
// were two packets of no duration, as the scans' are (229 of 456),
// against 4% of the real ones (15 of 347).
const zeroDur = 1 << 5

// sizeClass returns the size class of a flow of records with mean
// packets pk, all of them of no duration when zero is set.
func sizeClass(pk uint64, zero bool) uint8 {
	c := PacketClass(pk)
	if zero {
		c |= zeroDur
	}
	return c
}

// Missing reports whether ps was not recorded (nil, or read from a run
// pre-processed before it was kept).
func (ps *PortSizes) Missing() bool {
	return ps == nil || ps.Cells == nil || ps.Version != portSizesVersion
}

// Add counts one record.
func (ps *PortSizes) Add(f *trace.Flow) {
	if !sizeProto(f.Proto) {
		return
	}
	addCell(&ps.Cells, f.Proto, ps.keys.cell(f.Proto, f.SrcPort, f.DstPort)<<6|uint32(sizeClass(f.Packets, f.Dur == 0)), 1)
}

// sizeMix is the weight of the independent joint mixed into the real one
// before fitting, so that a block whose cells and classes the real trace
// never combined still has a plan.
const sizeMix = 0.05

// sizeFlow is one decoded flow of a block: its records' indices, its
// service cell (sizeCell) and its size class (sizeClass).
type sizeFlow struct {
	recs  []int
	cell  uint64
	class uint8
}

// sizeProto reports whether ports given sizes counts and exchanges the
// services of protocol p: TCP, UDP and ICMP (whose "ports" are its type
// and code).
func sizeProto(p uint8) bool {
	return p == trace.ProtoTCP || p == trace.ProtoUDP || p == trace.ProtoICMP
}

// sizeCell keys a port-pair cell of one protocol among those of every
// protocol: the protocol above the cell.
func sizeCell(proto uint8, cell uint32) uint64 { return uint64(proto)<<32 | uint64(cell) }

// service is what FollowPortSizes exchanges: a protocol and port pair,
// with the TCP flags of the flow that held it, which go with it when it
// changes a flow's protocol.
type service struct {
	proto  uint8
	sp, dp uint16
	flags  uint8
}

// FollowPortSizes exchanges services (protocol and port pair) between the
// TCP, UDP and ICMP flows in recs (one block's records) so that their
// (protocol, port-pair cell, size class) joint follows ps. A flow is the
// records of one 5-tuple; flows whose key fixed says must stay (continued
// across chunks) keep their service, and a flow only exchanges with flows
// of its number of records. A flow whose protocol changes takes the TCP
// flags of the flow its service came from (none for UDP and ICMP). It
// returns how many flows took another service.
//
// Exchanging across protocols lets a block whose model put TCP
// on one-packet flows and UDP on long ones, where the real trace has the
// reverse, follow the real (protocol, packets) joint as well as the
// ports'; within one protocol only, nothing moved a protocol off the
// packet counts the model gave it.
//
// Per group of exchangeable flows: the plan is the real joint (mixed with
// a little of the independent one) fitted by iterative proportional
// fitting to the group's own cell counts and class counts, so it keeps
// every port pair. Flows stay with their pair up to the plan's count of
// their (cell, class), rounded at random; the others put their pairs in
// their cell's pool and each draws a cell from what the plan has left for
// its class, taking a pair of that cell while the pool has one, and the
// flows whose cell ran out take the pairs left, at random. A pair that
// would give a flow the key of another flow of the block is passed over
// for another of the cell when one is free.
func FollowPortSizes(ps *PortSizes, recs []trace.Flow, fixed func(trace.Key) bool, rng *rand.Rand) int {
	if ps.Missing() || len(recs) == 0 {
		return 0
	}
	byKey := map[trace.Key][]int{}
	var order []trace.Key
	for i := range recs {
		k := recs[i].Key()
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	type group struct{ n int }
	groups := map[group][]sizeFlow{}
	var gorder []group
	for _, k := range order {
		if !sizeProto(k.Proto) {
			continue
		}
		if fixed != nil && fixed(k) {
			continue
		}
		idx := byKey[k]
		var pk uint64
		zero := true
		for _, i := range idx {
			pk += recs[i].Packets
			zero = zero && recs[i].Dur == 0
		}
		g := group{len(idx)}
		if _, ok := groups[g]; !ok {
			gorder = append(gorder, g)
		}
		groups[g] = append(groups[g], sizeFlow{recs: idx, cell: sizeCell(k.Proto, ps.keys.cell(k.Proto, k.SrcPort, k.DstPort)), class: sizeClass(pk/uint64(len(idx)), zero)})
	}
	keys := make(map[trace.Key]int, len(byKey))
	for k, idx := range byKey {
		keys[k] = len(idx)
	}
	var total float64 // the real records counted, of every protocol
	for _, cells := range ps.Cells {
		for _, w := range cells {
			total += w
		}
	}
	moved := 0
	for _, g := range gorder {
		if fl := groups[g]; len(fl) > 1 && total > 0 {
			moved += exchangeBySize(ps.Cells, total, recs, fl, keys, rng)
		}
	}
	return moved
}

// exchangeBySize is FollowPortSizes for one group of flows.
// cellsByProto are the real counts (PortSizes.Cells), total their sum.
func exchangeBySize(cellsByProto map[uint8]map[uint32]float64, total float64, recs []trace.Flow, fl []sizeFlow, keys map[trace.Key]int, rng *rand.Rand) int {
	real := func(c uint64, k uint8) float64 { return cellsByProto[uint8(c>>32)][uint32(c)<<6|uint32(k)] }
	cell, class := make([]uint64, len(fl)), make([]uint8, len(fl))
	svc := make([]service, len(fl)) // each flow's service before any moves
	for i, f := range fl {
		cell[i], class[i] = f.cell, f.class
		r := &recs[f.recs[0]]
		svc[i] = service{r.Proto, r.SrcPort, r.DstPort, r.TCPFlags}
	}
	x := planExchange(real, total, cell, class, rng)
	// Hand out the pairs, passing over one that would give the flow the
	// key of another flow of the block when another of the cell is free.
	moved := 0
	for _, i := range x.perm {
		if x.stay[i] {
			continue
		}
		f := fl[i]
		p := x.pool[x.got[i]]
		r := &recs[f.recs[0]]
		old := r.Key()
		pick := len(p) - 1
		for t := len(p) - 1; t >= max(0, len(p)-8); t-- {
			k := old
			k.Proto, k.SrcPort, k.DstPort = svc[p[t]].proto, svc[p[t]].sp, svc[p[t]].dp
			if k == old || keys[k] == 0 {
				pick = t
				break
			}
		}
		sv := svc[p[pick]]
		p[pick] = p[len(p)-1]
		x.pool[x.got[i]] = p[:len(p)-1]
		k := old
		k.Proto, k.SrcPort, k.DstPort = sv.proto, sv.sp, sv.dp
		if k == old {
			continue
		}
		if keys[old] -= len(f.recs); keys[old] <= 0 {
			delete(keys, old)
		}
		keys[k] += len(f.recs)
		for _, j := range f.recs {
			if recs[j].Proto != sv.proto {
				recs[j].Proto, recs[j].TCPFlags = sv.proto, sv.flags
			}
			recs[j].SrcPort, recs[j].DstPort = sv.sp, sv.dp
		}
		moved++
	}
	return moved
}

// exchangePlan is what planExchange decides for a group of items (flows):
// the order to hand services out in (perm), the items that keep their
// own (stay), and for each other item the cell whose pool it takes a
// service from (got); pool lists per cell the items whose services are
// handed out, each to be taken once.
type exchangePlan struct {
	perm []int
	stay []bool
	got  []int
	pool [][]int
}

// planExchange plans an exchange of services among items with the given
// cells and classes so that their (cell, class) joint follows real (the
// real counts, of sum total).
//
// The plan is the real joint (mixed with a little of the independent one)
// fitted by iterative proportional fitting to the group's own cell counts
// and class counts, so it keeps every cell's items. Items stay with their
// service up to the plan's count of their (cell, class), rounded at
// random; the others put their services in their cell's pool and each
// draws a cell from what the plan has left for its class, taking a
// service of that cell while the pool has one, and the items whose cell
// ran out take the services left, at random.
func planExchange(real func(c uint64, k uint8) float64, total float64, cellOf []uint64, classOf []uint8, rng *rand.Rand) exchangePlan {
	// The group's cells and classes, in a fixed order.
	cellN, classN := map[uint64]float64{}, map[uint8]float64{}
	for i := range cellOf {
		cellN[cellOf[i]]++
		classN[classOf[i]]++
	}
	cells := slices.Sorted(maps.Keys(cellN))
	classes := slices.Sorted(maps.Keys(classN))
	ci := make(map[uint64]int, len(cells))
	for i, c := range cells {
		ci[c] = i
	}
	ki := make(map[uint8]int, len(classes))
	for i, c := range classes {
		ki[c] = i
	}
	// The plan: real joint restricted to the group's cells and classes,
	// plus a little of the independent one, fitted to the group's margins.
	n := float64(len(cellOf))
	nc, nk := len(cells), len(classes)
	plan := make([]float64, nc*nk)
	for i, c := range cells {
		for j, k := range classes {
			plan[i*nk+j] = real(c, k)/total + sizeMix*cellN[c]/n*classN[k]/n
		}
	}
	rows, cols := make([]float64, nc), make([]float64, nk)
	for i, c := range cells {
		rows[i] = cellN[c]
	}
	for j, k := range classes {
		cols[j] = classN[k]
	}
	fitMargins(plan, rows, cols, 100, 1e-6)
	// Items whose (cell, class) holds no more than the plan stay, as many
	// as the plan rounds to, the others' services go to the pool of their
	// cell, and the plan less those staying is what the pool fills.
	x := exchangePlan{perm: rng.Perm(len(cellOf)), stay: make([]bool, len(cellOf)), got: make([]int, len(cellOf)), pool: make([][]int, nc)}
	kept := make([]float64, nc*nk)
	quota := make([]int, nc*nk)
	for i, m := range plan {
		quota[i] = int(m)
		if rng.Float64() < m-math.Floor(m) {
			quota[i]++
		}
	}
	for _, i := range x.perm {
		y := ci[cellOf[i]]*nk + ki[classOf[i]]
		if quota[y] > 0 {
			quota[y]--
			kept[y]++
			x.stay[i] = true
			continue
		}
		x.pool[ci[cellOf[i]]] = append(x.pool[ci[cellOf[i]]], i)
	}
	for _, p := range x.pool {
		rng.Shuffle(len(p), func(a, b int) { p[a], p[b] = p[b], p[a] })
	}
	// Each class's cumulative column of what is left of the plan, to draw
	// the moving items' cells from.
	cum := make([][]float64, nk)
	for j := range nk {
		cum[j] = make([]float64, nc)
		s := 0.0
		for i := range nc {
			s += max(0, plan[i*nk+j]-kept[i*nk+j])
			cum[j][i] = s
		}
	}
	taken := make([]int, nc)
	var left []int // moving items whose cell ran out
	for _, i := range x.perm {
		if x.stay[i] {
			continue
		}
		col := cum[ki[classOf[i]]]
		c := nc
		if col[nc-1] > 0 {
			c, _ = slices.BinarySearch(col, rng.Float64()*col[nc-1])
			c = min(c, nc-1)
		}
		if c == nc || taken[c] == len(x.pool[c]) {
			left = append(left, i)
			continue
		}
		x.got[i] = c
		taken[c]++
	}
	// They take the services left, at random.
	var rest []int
	for c := range nc {
		for range len(x.pool[c]) - taken[c] {
			rest = append(rest, c)
		}
	}
	rng.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	for j, i := range left {
		x.got[i] = rest[j]
	}
	return x
}
