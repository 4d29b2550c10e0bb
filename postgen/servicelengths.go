package postgen

import (
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// Services given lengths. In a capture a flow's length is its packets,
// and every packet carries the flow's ports, so the port marginals
// counted per packet are made by a handful of long flows. Matched
// decoding gives each port its real share of packets in expectation, but
// which flow is the long one is the model's draw: on the long-flow capture
// (tools/longflows), whose longest flows are SSH sessions to port 22, the
// synthetic trace put 3,266 packets on one flow to the telnet port 2323,
// where every real flow to it is a scan of 100 packets.
//
// ServiceLengths is a capture's flows per chunk, protocol, port-pair cell
// and length class; followServiceLengths exchanges the port pairs of a
// block's flows of one protocol so that their (cell, length class) joint
// follows the chunk's. Every pair keeps its flows, and the flows their
// lengths, so the port pairs' flow counts stay; the packets move with the
// lengths to the services that hold them in the real trace.

// ServiceLengths counts, per chunk, a capture's flows that start in it
// per protocol (TCP and UDP), port-pair cell (PortKeys) and length class
// (PacketClass of the flow's length attribute: its packets in the chunk,
// or a chained flow's whole length there): Chunks[c][proto][cell<<6 |
// class].
type ServiceLengths struct {
	Chunks []map[uint8]map[uint32]float64 `json:"by_chunk"`
	PortKeys
}

// NewServiceLengths returns counts of chunks chunks that hold nothing yet.
func NewServiceLengths(chunks int) *ServiceLengths {
	return &ServiceLengths{Chunks: make([]map[uint8]map[uint32]float64, chunks)}
}

// Missing reports whether sl was not recorded (nil, or read from a run
// pre-processed before it was kept).
func (sl *ServiceLengths) Missing() bool { return sl == nil || sl.Chunks == nil }

// Add counts one flow of chunk c with key k and length attribute n.
func (sl *ServiceLengths) Add(c int, k trace.Key, n int) {
	if k.Proto != trace.ProtoTCP && k.Proto != trace.ProtoUDP {
		return
	}
	addCell(&sl.Chunks[c], k.Proto, sl.keys.cell(k.Proto, k.SrcPort, k.DstPort)<<6|uint32(PacketClass(uint64(max(n, 0)))), 1)
}

// followServiceLengths exchanges port pairs between the kept rows of
// each protocol (TCP, UDP) so that their (port-pair cell, length class)
// joint follows cells (one chunk's ServiceLengths), by planExchange; each
// row's encoded ports move with its ports, so features are generated for
// the service it then holds. It returns how many rows took another pair.
func followServiceLengths(s *encoding.Schema, rows []Row, keep func(Row) bool, cells map[uint8]map[uint32]float64, keys keyer, rng *rand.Rand) int {
	byProto := map[uint8][]int{}
	for i, r := range rows {
		if p := r.Attr.Key.Proto; keep(r) && cells[p] != nil && (p == trace.ProtoTCP || p == trace.ProtoUDP) {
			byProto[p] = append(byProto[p], i)
		}
	}
	spOff, spDim := s.AttrSlice("srcport")
	dpOff, dpDim := s.AttrSlice("dstport")
	moved := 0
	for _, p := range slices.Sorted(maps.Keys(byProto)) {
		idx := byProto[p]
		if len(idx) < 2 {
			continue
		}
		real := cells[p]
		total := 0.0
		for _, w := range real {
			total += w
		}
		cell, class := make([]uint64, len(idx)), make([]uint8, len(idx))
		// Each row's pair and its encoding, before any moves.
		type pair struct {
			sp, dp uint16
			enc    []float32
		}
		pairs := make([]pair, len(idx))
		for j, i := range idx {
			a := rows[i].Attr
			cell[j] = uint64(keys.cell(p, a.Key.SrcPort, a.Key.DstPort))
			class[j] = PacketClass(uint64(max(a.Len, 0)))
			pairs[j] = pair{sp: a.Key.SrcPort, dp: a.Key.DstPort}
			if spOff >= 0 {
				pairs[j].enc = append(pairs[j].enc, rows[i].Vec[spOff:spOff+spDim]...)
			}
			if dpOff >= 0 {
				pairs[j].enc = append(pairs[j].enc, rows[i].Vec[dpOff:dpOff+dpDim]...)
			}
		}
		x := planExchange(func(c uint64, k uint8) float64 { return real[uint32(c)<<6|uint32(k)] }, total, cell, class, rng)
		for _, j := range x.perm {
			if x.stay[j] {
				continue
			}
			pl := x.pool[x.got[j]]
			from := pairs[pl[len(pl)-1]]
			x.pool[x.got[j]] = pl[:len(pl)-1]
			r := &rows[idx[j]]
			if from.sp == r.Attr.Key.SrcPort && from.dp == r.Attr.Key.DstPort {
				continue
			}
			r.Attr.Key.SrcPort, r.Attr.Key.DstPort = from.sp, from.dp
			r.Vec = slices.Clone(r.Vec)
			e := from.enc
			if spOff >= 0 {
				copy(r.Vec[spOff:spOff+spDim], e[:spDim])
				e = e[spDim:]
			}
			if dpOff >= 0 {
				copy(r.Vec[dpOff:dpOff+dpDim], e[:dpDim])
			}
			moved++
		}
	}
	return moved
}
