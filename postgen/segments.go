package postgen

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// Split segments rejoined. With long_flows: split a capture's flow of more
// than max_flow_len packets in a chunk is learnt as several segments of
// the same 5-tuple, but generation gave every segment a 5-tuple of its
// own (separateKeys sees to it that no two rows share one): test7's SSH
// session of 137 packets in its second chunk, learnt as seven segments,
// came out as flows of up to 20 packets from as many client ports, so a
// capture's long flows came out as many short ones and the services that
// hold them with too many flows (its (flow size, destination port) joint,
// docs/BENCHMARKS.md).
//
// SplitSegments counts, per chunk and cell (protocol and destination
// port), the packets of the segments that start in the chunk and of each
// flow of several segments among them; rejoinSegments gives rows of a
// block the 5-tuple of another row of their cell, so that the cell's
// flows of several segments come out as flows of their real share of the
// cell's packets. Only flows that start in the chunk are rejoined: the
// rows of a flow going on from an earlier chunk are not the model's own
// (its rows that do not start in their chunk lend their start and length
// to the flows carried in), and the model's share of rows starting in a
// chunk is not the real one, so rows taken from the starting flows for
// the flows going on came out of the wrong ones (tried: on the ICMP TTL
// capture 780 rows were rejoined into 15 flows of up to 842 packets).

// SplitSegments is a capture's split segments per chunk: Chunks[c] maps
// a cell (its protocol and destination port key, PortKeys: heavy ports by
// themselves, the others by their range) to its counts, for the cells
// that hold a flow of more than one segment starting in the chunk. It is
// counted in two passes: the segments of each 5-tuple as the trace is cut
// into chunks (Add, Finish), then, once the schema's port keys are bound
// (Bind), every segment of the chunks' cells (Count).
type SplitSegments struct {
	Chunks []map[uint64]*SegmentCell `json:"by_chunk"`
	PortKeys
	run    segmentRun
	groups []segmentRun
}

// SegmentCell is one chunk's cell: the packets of its segments that start
// in the chunk, and those of each of their flows of more than one
// segment.
type SegmentCell struct {
	Packets int   `json:"packets"`
	Groups  []int `json:"groups"`
}

// segmentRun is a 5-tuple's segments in one chunk: how many, and their
// packets.
type segmentRun struct {
	c, n, packets int
	key           trace.Key
}

// NewSplitSegments returns counts of chunks chunks that hold nothing yet.
func NewSplitSegments(chunks int) *SplitSegments {
	return &SplitSegments{Chunks: make([]map[uint64]*SegmentCell, chunks)}
}

// Missing reports whether ss was not recorded (nil, or read from a run
// pre-processed before it was kept).
func (ss *SplitSegments) Missing() bool { return ss == nil || ss.Chunks == nil }

// cell returns the cell of a flow with 5-tuple k.
func (ss *SplitSegments) cell(k trace.Key) uint64 {
	return uint64(k.Proto)<<32 | uint64(ss.keys.key(k.Proto, k.DstPort))
}

// Add counts one segment of packets packets of chunk c with 5-tuple k,
// starting in the chunk or not (then it is not counted). A 5-tuple's
// segments of one chunk must come together, as flows.StreamSplitter hands
// them out; call Finish after the last.
func (ss *SplitSegments) Add(c int, k trace.Key, startsHere bool, packets int) {
	if !startsHere {
		return
	}
	if r := &ss.run; r.n > 0 && (r.c != c || r.key != k) {
		ss.flush()
	}
	r := &ss.run
	if r.n == 0 {
		r.c, r.key = c, k
	}
	r.n++
	r.packets += packets
}

func (ss *SplitSegments) flush() {
	if ss.run.n > 1 {
		ss.groups = append(ss.groups, ss.run)
	}
	ss.run = segmentRun{}
}

// Finish counts the last 5-tuple's segments.
func (ss *SplitSegments) Finish() { ss.flush() }

// Bind keys the flows of several segments by the schema's port keys
// (PortKeys.Bind), making the cells Count then counts the segments of.
func (ss *SplitSegments) Bind(s *encoding.Schema) {
	ss.PortKeys.Bind(s)
	ss.keyGroups()
}

// keyGroups puts the flows of several segments into their cells.
func (ss *SplitSegments) keyGroups() {
	for _, g := range ss.groups {
		m := ss.Chunks[g.c]
		if m == nil {
			m = map[uint64]*SegmentCell{}
			ss.Chunks[g.c] = m
		}
		x := ss.cell(g.key)
		if m[x] == nil {
			m[x] = &SegmentCell{}
		}
		m[x].Groups = append(m[x].Groups, g.packets)
	}
	ss.groups = nil
}

// Count counts one segment of packets packets of chunk c with 5-tuple k,
// starting in the chunk or not, after Bind.
func (ss *SplitSegments) Count(c int, k trace.Key, startsHere bool, packets int) {
	if cell := ss.Chunks[c][ss.cell(k)]; cell != nil && startsHere {
		cell.Packets += packets
	}
}

// Cells returns chunk c's cells, nil when it has none to rejoin.
func (ss *SplitSegments) Cells(c int) map[uint64]*SegmentCell {
	if ss.Missing() || c < 0 || c >= len(ss.Chunks) {
		return nil
	}
	return ss.Chunks[c]
}

// rejoinSegments gives kept rows of one block the 5-tuple of another row
// of their cell, so that the flows of several segments of each cell of
// ss's chunk c come out as flows of their real share of the cell's
// packets: the cell's rows' packets (their lengths) are the real cell's
// scaled, and each real flow of several segments, the most packets
// first, makes a group of that flow's packets scaled alike, led by a full
// row (full: a split segment's length; a flow's first segment is full),
// which rows join until it holds them. The rows that join are full rows
// of the leader's addresses first, then of its exact port pair, then
// any, then the others in the same order (a real flow's later segments
// are full but its last): the rows the model generated alike are likely
// one flow's, and an address or a port of the vocabulary keeps its
// packets where it can, while a tail port is a draw of its range anyway.
// The rows left are the cell's flows of one segment. A row that joins
// keeps its tags: carried to a later chunk with its group's 5-tuple, it
// goes on there as part of the group's flow (kept from the later chunks,
// the rejoined flows lost their continuations and the packets moved
// between protocols: on the capture of ten copies of the second C&C
// capture, joint TVD 0.473 → 0.485 against 0.470 with them). It returns
// how many rows took another 5-tuple.
func rejoinSegments(ss *SplitSegments, c int, rows []Row, keep func(Row) bool, full int, rng *rand.Rand) int {
	cells := ss.Cells(c)
	if len(cells) == 0 {
		return 0
	}
	byCell := map[uint64][]int{}
	for i, r := range rows {
		if !keep(r) {
			continue
		}
		if x := ss.cell(r.Attr.Key); cells[x] != nil {
			byCell[x] = append(byCell[x], i)
		}
	}
	moved := 0
	for _, x := range slices.Sorted(maps.Keys(byCell)) {
		idx, cell := byCell[x], cells[x]
		if cell.Packets == 0 {
			continue
		}
		packets := 0
		for _, i := range idx {
			packets += max(rows[i].Attr.Len, 1)
		}
		scale := float64(packets) / float64(cell.Packets)
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		free := newRowPools(rows, idx, full)
		groups := slices.Clone(cell.Groups)
		slices.SortFunc(groups, func(a, b int) int { return cmp.Compare(b, a) })
		for _, g := range groups {
			goal := float64(g) * scale
			i := free.lead()
			if i < 0 {
				break
			}
			lead, have := rows[i].Attr.Key, float64(rows[i].Attr.Len)
			// Rows join while the group is short of its goal by at least
			// half of what the next brings.
			for have < goal {
				i := free.next(lead)
				if i < 0 || goal-have < float64(max(rows[i].Attr.Len, 1))/2 {
					break
				}
				free.take(i)
				have += float64(max(rows[i].Attr.Len, 1))
				if r := &rows[i]; r.Attr.Key != lead {
					r.Attr.Key = lead
					moved++
				}
			}
		}
	}
	return moved
}

// rowPools holds a cell's free rows for rejoinSegments, full ones and the
// others apart, each by address pair and by exact port pair, so that a
// group takes first the rows that differ from its leader the least.
type rowPools struct {
	rows        []Row
	full        int
	used        map[int]bool
	byAddrs     [2]map[[2]uint32][]int
	byPorts     [2]map[[2]uint16][]int
	all         [2][]int
	leaderOrder []int
}

func newRowPools(rows []Row, idx []int, full int) *rowPools {
	p := &rowPools{rows: rows, full: full, used: map[int]bool{}}
	for f := range 2 {
		p.byAddrs[f], p.byPorts[f] = map[[2]uint32][]int{}, map[[2]uint16][]int{}
	}
	for _, i := range idx {
		f, k := p.class(i), rows[i].Attr.Key
		p.byAddrs[f][addrsOf(k)] = append(p.byAddrs[f][addrsOf(k)], i)
		p.byPorts[f][portsOf(k)] = append(p.byPorts[f][portsOf(k)], i)
		p.all[f] = append(p.all[f], i)
	}
	// Leaders: the full rows that the most full rows share addresses
	// with, then a port pair with (ties in the rows' random order).
	p.leaderOrder = slices.Clone(p.all[0])
	slices.SortStableFunc(p.leaderOrder, func(a, b int) int {
		ka, kb := rows[a].Attr.Key, rows[b].Attr.Key
		return cmp.Or(cmp.Compare(len(p.byAddrs[0][addrsOf(kb)]), len(p.byAddrs[0][addrsOf(ka)])),
			cmp.Compare(len(p.byPorts[0][portsOf(kb)]), len(p.byPorts[0][portsOf(ka)])))
	})
	return p
}

func addrsOf(k trace.Key) [2]uint32 { return [2]uint32{k.Src, k.Dst} }
func portsOf(k trace.Key) [2]uint16 { return [2]uint16{k.SrcPort, k.DstPort} }

// class is 0 for a full row, 1 for the others.
func (p *rowPools) class(i int) int {
	if p.rows[i].Attr.Len >= p.full {
		return 0
	}
	return 1
}

// first returns the first free row of l, dropping the used ones before
// it, or -1.
func (p *rowPools) first(l *[]int) int {
	for len(*l) > 0 {
		if i := (*l)[0]; !p.used[i] {
			return i
		}
		*l = (*l)[1:]
	}
	return -1
}

// lead returns a free full row to lead a group, taken, or -1.
func (p *rowPools) lead() int {
	i := p.first(&p.leaderOrder)
	if i >= 0 {
		p.take(i)
	}
	return i
}

// next returns the free row that joins lead's group next, not taken: a
// full one of its addresses, of its port pair, any full one, then one
// that is not full in the same order; -1 when none is left.
func (p *rowPools) next(lead trace.Key) int {
	for f := range 2 {
		l := p.byAddrs[f][addrsOf(lead)]
		i := p.first(&l)
		p.byAddrs[f][addrsOf(lead)] = l
		if i < 0 {
			l := p.byPorts[f][portsOf(lead)]
			i = p.first(&l)
			p.byPorts[f][portsOf(lead)] = l
		}
		if i < 0 {
			i = p.first(&p.all[f])
		}
		if i >= 0 {
			return i
		}
	}
	return -1
}

// take marks row i used.
func (p *rowPools) take(i int) { p.used[i] = true }
