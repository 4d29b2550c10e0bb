package postgen

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/internal/splitmix"
	"github.com/netshare-go/netshare/trace"
)

// LenderPool is the most rows of a chunk that do not start in it (the
// lenders of start positions and lengths to continuations) a Stream keeps:
// a uniform sample of them, so a lender drawn from it is a lender drawn
// from all of them.
const LenderPool = 1 << 16

// Stream runs the attribute and feature passes over a generation block by
// block: the pipeline generates each chunk's rows in blocks of a bounded
// number of flows, chunk after chunk, and hands each block to Own; once a
// chunk's own blocks are done, Continuations yields, in blocks, the
// continuations earlier chunks' flows stitch into it. Each pass works on
// one block with the same targets as over the whole trace: the rank
// calibrations give each block its chunk's share of the real marginal
// (SetTargets; so the union has the whole), matched decoding draws each
// block's ports in their real proportions, IP snapping ranks the
// addresses the block generated. What crosses blocks is only:
//
//   - the calibration targets, from pilot samples of bounded size
//     (SetTargets);
//   - the continuations: the rows that start in a chunk and whose tags
//     name later chunks, kept (encoded, fixed size) in one carry per later
//     chunk, in a temporary file under the stream's directory, or in memory
//     without one;
//   - per chunk, a bounded uniform sample (LenderPool) of its rows that do
//     not start in it, and their number;
//   - for packet traces, the 5-tuples of the flows written so far (Hold),
//     so that 5-tuple separation keeps keys distinct across blocks and
//     chunks: a capture's flow is its 5-tuple, so distinctness is a property
//     of the whole trace and no block can check it alone;
//   - the new 5-tuples the protocol repair gave flows that continue into
//     later chunks (Repair), so that their continuations carry them too.
//
// Each block draws from its own random streams, derived from the seed, the
// pass, the chunk and the block, so results depend on the seed and the
// block size alone.
type Stream struct {
	s     *encoding.Schema
	o     Options
	st    *Stats
	n     int
	dir   string
	carry []*carry
	// The current chunk's lenders.
	chunk   int
	lenders []lender
	nLend   int
	lendRNG *rand.Rand
	// With start targets (SetStartTargets): per chunk, the flows generated
	// for it and the real share of them that start in it; the current
	// chunk's rows and lenders over its blocks so far.
	startFlows          []int
	startShare          []float64
	rowsSeen, lendsSeen int
	held                map[trace.Key]struct{}
	remap               map[trace.Key]trace.Key
	// The 5-tuples of the last block's rows carried to later chunks.
	carried map[trace.Key]struct{}
	// Per chunk, the calibration targets of the length and of each
	// quantile feature (SetTargets).
	lenTo  []Target
	featTo [][]Target
	// Per chunk, the length target of the continuations carried into it
	// (SetGoingLengthTargets).
	goTo []Target
	// Per chunk, the length targets of each port class, when lengths are
	// calibrated given ports (SetPortLengthTargets).
	portLenTo []portTargets
	// The tail ports lent so far (drawTail), without replacement.
	tailDraws *encoding.TailDraws
	// The addresses of the flows kept so far, per field (IPCarry,
	// IPDistinct).
	past [2]*AddrCounts
	// With IPDistinct: the distinct addresses of the flows kept so far in
	// the period, per field, and how many the real trace holds for as many
	// flows (see distinctTarget).
	seen [2]map[uint32]struct{}
	goal [2]float64
	// With IPProfile: the weight per address of the rows written so far
	// in the period, per field (followProfiles), and with IPPacketProfile
	// their packets.
	prof, profPk [2]profileCounts
	// What the protocol repair left failing in the blocks so far, and,
	// for packet flows continued in later chunks, their TTL and last IP
	// id (Repair).
	repaired repairTally
	states   map[trace.Key]protocol.FlowState
}

// lender is what a continuation takes from a row that does not start in
// its chunk: its encoded start and length, and the decoded length; its
// port class and 5-tuple choose it (lendPools).
type lender struct {
	start float32
	len   []float32
	n     int
	class int // the lender's port class (encoding.PortClass)
	key   trace.Key
}

// NewStream starts the passes over a generation of chunks chunks, counting
// into st. Continuations are kept in temporary files under dir (removed by
// Close), or in memory when dir is empty.
func NewStream(s *encoding.Schema, chunks int, o Options, dir string, st *Stats) *Stream {
	g := &Stream{s: s, o: o, st: st, n: chunks, dir: dir, carry: make([]*carry, chunks), chunk: -1, remap: map[trace.Key]trace.Key{}}
	if s.Kind() == trace.KindPackets {
		g.held = map[trace.Key]struct{}{}
	}
	return g
}

// Restart begins another period of a longer trace (generate.duration):
// the chunks come again from the first, with the passes seeded from seed.
// The calibration targets stay, as do, for packet traces, the 5-tuples
// held; continuations not taken (none once every chunk is done) are
// dropped.
func (g *Stream) Restart(seed uint64) error {
	if err := g.Close(); err != nil {
		return err
	}
	g.o.Seed = seed
	g.chunk, g.lenders, g.nLend = -1, nil, 0
	g.remap, g.carried = map[trace.Key]trace.Key{}, nil
	g.states = nil
	g.seen, g.goal = [2]map[uint32]struct{}{}, [2]float64{}
	g.prof, g.profPk = [2]profileCounts{}, [2]profileCounts{}
	g.tailDraws = nil
	return nil
}

// BlockRNG is the random stream of one pass (stream) over block b of chunk
// c.
func BlockRNG(seed, stream uint64, c, b int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^splitmix.Mix(uint64(c)<<32|uint64(uint32(b))), stream))
}

// Own runs the attribute passes over block b of the rows chunk c's model
// generated, and returns the rows chunk c generates features for: those
// that start in it (all of them with one chunk). In order: the length
// calibrated (with lengths given ports, within the port classes), ports
// and protocols matched (with lengths given ports, the lengths calibrated
// again within the classes matching gave, the ports matched again,
// and the lengths calibrated within their classes once more),
// addresses snapped, flows from a host to itself given another address
// (separateHosts), the length calibrated again to the chunk's lengths
// whatever the port classes, addresses moved to follow the real profile
// (weighing rows by those lengths), tail classes' tokens drawn as exact
// ports without replacement, and ports exchanged so that their pairs
// follow the real ones (followPortPairs) and, in captures, given the
// flows' lengths (followServiceLengths), over the rows that will be kept;
// packet flows separated from each other and from the flows held; then
// the merge's part: a row that starts in its chunk has its own presence
// tag forced on and is carried, as a continuation, to every later chunk
// its tags name; a row that does not start in its chunk is dropped, since
// continuations come from the chunk where the flow starts, but it lends
// its start position and length to them. Chunks come in order and a
// chunk's blocks before its continuations.
func (g *Stream) Own(c, b int, rows []Row) ([]Row, error) {
	if c != g.chunk {
		if c < g.chunk {
			return nil, fmt.Errorf("postgen: chunk %d after chunk %d", c, g.chunk)
		}
		g.chunk, g.lenders, g.nLend = c, nil, 0
		g.rowsSeen, g.lendsSeen = 0, 0
		g.lendRNG = BlockRNG(g.o.Seed, 0x1e4d, c, 0)
	}
	s, n := g.s, g.n
	g.st.MadeLenders += g.lendSurplus(c, rows, BlockRNG(g.o.Seed, 0x57a7, c, b))
	kept := func(row Row) bool { return n == 1 || row.Attr.StartsHere }
	block := [][]Row{rows}
	if g.o.Calibrate {
		g.calibrateLength(c, rows, kept, BlockRNG(g.o.Seed, 0x1e9, c, b))
	}
	if g.o.MatchPorts {
		matchKeys(s, block, kept, c, g.rareLength(c), BlockRNG(g.o.Seed, 0x6d61, c, b))
	}
	// With lengths given ports, matching moved some rows to another port
	// class: they take lengths of their new class, and the ports are
	// matched again with those lengths.
	if g.o.Calibrate && g.o.MatchPorts && g.portLengths(c) {
		for it := range portRematches {
			g.calibrateLength(c, rows, kept, BlockRNG(g.o.Seed, 0x1eb+uint64(it), c, b))
			matchKeys(s, block, kept, c, g.rareLength(c), BlockRNG(g.o.Seed, 0x6d62+uint64(it), c, b))
		}
		// The last matching moved some rows to another class again:
		// without this, a row of a long class that it moved to a one-off
		// port stayed long (Malware-20's DNS flows of 20 records).
		g.calibrateLength(c, rows, kept, BlockRNG(g.o.Seed, 0x1eb+uint64(portRematches), c, b))
	}
	nKept := 0
	for _, r := range rows {
		if kept(r) {
			nKept++
		}
	}
	if g.o.IPSnapTop > 0 {
		g.st.SnappedIPs += snapIPs(s, block, g.o.IPSnapTop, g.o.IPSnapWeight, g.distinctTarget(c, nKept), kept, g.past)
	}
	if !g.o.SelfLoops {
		g.st.SeparatedHosts += separateHosts(s, rows, kept, g.hostGaps(rows, kept))
	}
	if g.o.Calibrate {
		// Over the chunk's lengths, whatever the port classes: the
		// class-wise calibrations before decided which flows are the long
		// ones, and this one keeps the chunk's records exactly where the
		// model's class shares are not the real ones. (Before the address
		// profile, which weighs rows by their lengths.)
		calibrateAttr(s, block, "length", kept, g.lenTarget(c), BlockRNG(g.o.Seed, 0x1ea, c, b))
		if g.portLengths(c) {
			g.st.PortLengths += nKept
		}
	}
	g.st.ProfiledIPs += g.followProfiles(rows, kept)
	if g.o.IPSnapTop > 0 {
		if g.o.IPCarry || g.o.IPDistinct != nil {
			for f, field := range []string{"srcip", "dstip"} {
				if g.past[f] == nil {
					g.past[f] = newAddrCounts()
				}
				g.past[f].add(rows, field, kept)
			}
		}
		if g.o.IPDistinct != nil {
			g.countSeen(rows, kept)
		}
	}
	if t := s.TailPorts; t != nil {
		g.drawTail(t, rows, kept, BlockRNG(g.o.Seed, 0x7461, c, b))
	}
	if g.o.PortPairs != nil {
		kind := s.Kind()
		g.st.PortPairSwaps += followPortPairs(s, rows, kept, g.o.PortPairs, func(r Row) float64 { return profileWeight(kind, r) }, BlockRNG(g.o.Seed, 0x7070, c, b))
	}
	if sl := g.o.ServiceLengths; sl != nil && c < len(sl.Chunks) && sl.Chunks[c] != nil {
		g.st.ServiceLengthSwaps += followServiceLengths(s, rows, kept, sl.Chunks[c], sl.keys, BlockRNG(g.o.Seed, 0x736c, c, b))
	}
	if s.Kind() == trace.KindPackets {
		g.st.SeparatedKeys += separateKeys(s, block, kept, g.held, BlockRNG(g.o.Seed, 0x5e9, c, b))
	}
	// After the separation, which would undo it: the rows that stand for
	// a long flow's later segments take its 5-tuple.
	if g.o.Segments.Cells(c) != nil {
		g.st.RejoinedSegments += rejoinSegments(g.o.Segments, c, rows, kept, s.MaxLen, BlockRNG(g.o.Seed, 0x736567, c, b))
	}
	var own []Row
	g.carried = map[trace.Key]struct{}{}
	startOff, _ := s.AttrSlice("flow_start")
	lenOff, lenDim := s.AttrSlice("length")
	for _, row := range rows {
		a := row.Attr
		switch {
		case n == 1:
			own = append(own, row)
		case !a.StartsHere:
			// Reservoir sampling keeps a uniform sample of the lenders.
			l := lender{start: row.Vec[startOff], n: a.Len, class: g.portClass(a.Key), key: a.Key}
			if lenOff >= 0 {
				l.len = slices.Clone(row.Vec[lenOff : lenOff+lenDim])
			}
			g.nLend++
			if len(g.lenders) < LenderPool {
				g.lenders = append(g.lenders, l)
			} else if j := g.lendRNG.IntN(g.nLend); j < LenderPool {
				g.lenders[j] = l
			}
		default:
			if !a.Present[c] {
				// A flow that starts in a chunk is present in it.
				row.Vec = slices.Clone(row.Vec)
				setTag(s, row.Vec, encoding.PresentName(c), true)
				row.Attr.Present = slices.Clone(a.Present)
				row.Attr.Present[c] = true
				g.st.FixedTags++
			}
			own = append(own, row)
			for j := c + 1; j < n; j++ {
				if a.Present[j] {
					g.carried[a.Key] = struct{}{}
					if err := g.carryTo(j).put(row); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	g.countProfile(own, false)
	return own, nil
}

// lendPools draws the lenders of a chunk's continuations (with
// Options.NearestLenders), each once (until
// every lender has lent, then again), from the pool closest to the
// continuation's 5-tuple that has one left: the model's rows that go on in
// the chunk carry the start and length it generated for flows of their
// own identity, so a continuing SSH flow takes those of a row of the same
// service. The pools, most specific first: the protocol and destination
// port, the protocol and source port, then (with lengths given ports) the
// port class within the protocol and the class alone, so that a
// continuation to a one-off port takes the length of a flow to one, not
// that of a long flow's later segment; then the protocol, then any.
// Within the pool it takes, of the last lendWindow unused lenders (in a
// random order), the one whose length is nearest the continuation's own in
// the chunk it comes from: a long flow goes on long. draw is called only
// with lenders left (newLendPools of none is never drawn from).
// (Drawn from the class alone with replacement, as without the option, a
// capture's long continuing flows lend their lengths to flows of other
// protocols and services at random.)
type lendPools struct {
	lens  []int // each lender's length
	used  []bool
	left  int
	pools map[lendKey][]int // what is left of each pool, drawn from the end
	full  map[lendKey][]int // each pool's lender indices, shuffled
	class bool
}

// lendKey names a pool: its tier and the values it holds fixed.
type lendKey struct {
	tier  uint8
	proto uint8
	port  uint16
	class int
}

const (
	tierDstPort = iota
	tierSrcPort
	tierProtoClass
	tierClass
	tierProto
	tierAny
)

func (p *lendPools) keys(k trace.Key, class int) []lendKey {
	keys := []lendKey{{tier: tierDstPort, proto: k.Proto, port: k.DstPort}, {tier: tierSrcPort, proto: k.Proto, port: k.SrcPort}}
	if p.class {
		keys = append(keys, lendKey{tier: tierProtoClass, proto: k.Proto, class: class}, lendKey{tier: tierClass, class: class})
	}
	return append(keys, lendKey{tier: tierProto, proto: k.Proto}, lendKey{tier: tierAny})
}

func newLendPools(lenders []lender, byClass bool, r *rand.Rand) *lendPools {
	p := &lendPools{used: make([]bool, len(lenders)), full: map[lendKey][]int{}, class: byClass}
	var order []lendKey // the pools in order of first use, for a reproducible shuffle
	for i, l := range lenders {
		p.lens = append(p.lens, l.n)
		for _, k := range p.keys(l.key, l.class) {
			if _, ok := p.full[k]; !ok {
				order = append(order, k)
			}
			p.full[k] = append(p.full[k], i)
		}
	}
	shuffle := func(ix []int) { r.Shuffle(len(ix), func(a, b int) { ix[a], ix[b] = ix[b], ix[a] }) }
	for _, k := range order {
		shuffle(p.full[k])
	}
	p.reset()
	return p
}

// reset makes every lender available again, in every pool.
func (p *lendPools) reset() {
	clear(p.used)
	p.left = len(p.used)
	p.pools = make(map[lendKey][]int, len(p.full))
	for k, ix := range p.full {
		p.pools[k] = ix
	}
}

// draw returns the index of an unused lender from the first pool of the
// 5-tuple k (of port class class) that has one, marking it used: of the
// last lendWindow unused lenders of the pool, the one whose length is
// nearest n (the continuation's length in the chunk it comes from).
func (p *lendPools) draw(k trace.Key, class, n int) int {
	if p.left == 0 { // every lender has lent: a new round
		p.reset()
	}
	want := math.Log1p(float64(n))
	dist := func(i int) float64 { return math.Abs(math.Log1p(float64(p.lens[i])) - want) }
	take := func(ix []int) ([]int, int) {
		for len(ix) > 0 && p.used[ix[len(ix)-1]] {
			ix = ix[:len(ix)-1]
		}
		if len(ix) == 0 {
			return ix, -1
		}
		best, seen := len(ix)-1, 0
		for j := len(ix) - 1; j >= 0 && seen < lendWindow; j-- {
			if p.used[ix[j]] {
				continue
			}
			seen++
			if dist(ix[j]) < dist(ix[best]) {
				best = j
			}
		}
		last := len(ix) - 1
		ix[best], ix[last] = ix[last], ix[best]
		return ix[:last], ix[last]
	}
	for _, key := range p.keys(k, class) { // the last pool holds every lender
		ix, i := take(p.pools[key])
		p.pools[key] = ix
		if i >= 0 {
			p.used[i], p.left = true, p.left-1
			return i
		}
	}
	panic("postgen: a lender left unused in no pool")
}

// lendWindow is how many unused lenders of a pool draw compares.
const lendWindow = 64

// portRematches is how many times, with lengths given ports, the ports
// are matched again once the lengths have been calibrated within the port
// classes matching gave: matching weighs each flow by its length, so that
// values keep their share of records, and a flow moved into a class of
// short flows by the first matching takes a short length after it.
const portRematches = 1

// distinctTarget returns the distinct-address targets of a block of n kept
// flows of chunk c (nil without IPDistinct or a count for the chunk). The
// goal grows, per field, by the addresses the real chunk brings per flow
// starting in it, times n, and the block may bring as many addresses
// unseen before as the goal exceeds the addresses seen: a shortfall of
// earlier blocks and chunks is made up later, and an excess absorbed.
func (g *Stream) distinctTarget(c, n int) *distinctTarget {
	if c >= len(g.o.IPDistinct) || g.o.IPDistinct[c].Flows <= 0 {
		return nil
	}
	d := g.o.IPDistinct[c]
	f := float64(n) / float64(d.Flows)
	for i, brings := range [2]int{d.NewSrc, d.NewDst} {
		g.goal[i] += float64(brings) * f
		if g.seen[i] == nil {
			g.seen[i] = map[uint32]struct{}{}
		}
	}
	t := &distinctTarget{seen: g.seen}
	for i := range t.want {
		t.want[i] = max(0, int(math.Round(g.goal[i]))-len(g.seen[i]))
	}
	return t
}

// countSeen adds the addresses of a block's kept rows to those seen.
func (g *Stream) countSeen(rows []Row, kept func(Row) bool) {
	for i, field := range []string{"srcip", "dstip"} {
		if g.seen[i] == nil {
			g.seen[i] = map[uint32]struct{}{}
		}
		for _, r := range rows {
			if kept(r) {
				g.seen[i][ipOf(r.Attr, field)] = struct{}{}
			}
		}
	}
}

// drawTail gives each kept row whose port is a tail class's token one of
// the class's real ports, lent without replacement across the period's
// blocks and chunks (the row's vector keeps the token's: features are
// generated for the class, as the model learnt them). In a packet trace a
// flow is its 5-tuple, so a draw that lands on a 5-tuple already taken (by
// the block's rows before it or by the flows held) is drawn again, up to
// maxTailRedraws times: the tail's ports are one-off, and drawn with
// replacement they would make flows collide that 5-tuple separation can
// only partly pull apart. (A port drawn and given up for a taken 5-tuple
// counts as lent.)
func (g *Stream) drawTail(t *encoding.TailPorts, rows []Row, kept func(Row) bool, rng *rand.Rand) {
	var used map[trace.Key]struct{}
	if g.held != nil {
		used = map[trace.Key]struct{}{}
	}
	taken := func(k trace.Key) bool {
		if _, ok := used[k]; ok {
			return true
		}
		_, ok := g.held[k]
		return ok
	}
	// In a capture a tail port goes to a flow of about its real flow's
	// packets (encoding.TailDraws.DrawNear). Not in a flow trace: nearly
	// every flow of a one-off port there is one record, so the lengths
	// tell the ports apart little, and on five flow traces the draws
	// by length moved the metrics by no more than another seed's draws.
	byLength := g.held != nil // a packet trace
	for i := range rows {
		if !kept(rows[i]) {
			continue
		}
		k0, length := rows[i].Attr.Key, 0
		if byLength {
			length = rows[i].Attr.Len
		}
		for try := 0; ; try++ {
			k := k0
			n := g.tailDraw(t, &k, length, rng)
			if used == nil || n == 0 || try == maxTailRedraws || !taken(k) {
				rows[i].Attr.Key = k
				g.st.TailPorts += n
				break
			}
		}
		if used != nil {
			used[rows[i].Attr.Key] = struct{}{}
		}
	}
}

// tailDraw draws the tail ports of k, without replacement across the
// blocks and chunks of a period (encoding.TailDraws).
func (g *Stream) tailDraw(t *encoding.TailPorts, k *trace.Key, length int, rng *rand.Rand) int {
	if g.tailDraws == nil {
		g.tailDraws = t.NewDraws()
	}
	return g.tailDraws.DrawNear(k, length, rng)
}

// maxTailRedraws bounds the redraws of a tail port whose 5-tuple is taken.
const maxTailRedraws = 8

// Continuations yields, in blocks of at most size rows numbered from
// first, the continuations carried into chunk c, as rows that do not start
// in it. Chunk c's own model says how many of its flows continue earlier
// ones (the rows it generated that do not start in it): at most that many
// come in, chosen at random, so that a model whose tags are poor (little
// training, DP noise) does not copy flows into every later chunk and
// inflate the trace. Each takes the start position and length of a lender
// of chunk c drawn at random: a continuation starts, and lasts, as chunk
// c's model has its own continuations do. Their 5-tuples follow the
// protocol repair of the flows they continue (Repair), and their length is
// calibrated per block. Call it after chunk c's last Own.
func (g *Stream) Continuations(c, first, size int, yield func(b int, rows []Row) error) error {
	cr := g.carry[c]
	if cr == nil || cr.count == 0 {
		return nil
	}
	if c != g.chunk {
		g.chunk, g.lenders, g.nLend = c, nil, 0 // no own rows: no lenders
	}
	k := min(cr.count, g.nLend)
	g.st.DroppedCopies += cr.count - k
	g.carried = nil
	if k == 0 {
		return g.drop(c)
	}
	s := g.s
	startOff, _ := s.AttrSlice("flow_start")
	lenOff, lenDim := s.AttrSlice("length")
	pick := BlockRNG(g.o.Seed, 0xc0de, c, 0)
	var pools *lendPools
	var byClass map[int][]lender
	switch {
	case g.o.NearestLenders:
		pools = newLendPools(g.lenders, g.portLengths(c), pick)
	case g.portLengths(c):
		byClass = map[int][]lender{}
		for _, l := range g.lenders {
			byClass[l.class] = append(byClass[l.class], l)
		}
	}
	r, err := cr.reader()
	if err != nil {
		return err
	}
	b := first
	var rows []Row
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		all := func(Row) bool { return true }
		switch {
		case !g.o.Calibrate:
		case c < len(g.goTo) && len(g.goTo[c].q) > 0:
			// To the real chunk's flows going on from earlier ones.
			calibrateAttr(g.s, [][]Row{rows}, "length", all, g.goTo[c], BlockRNG(g.o.Seed, 0x1ea, c, b))
		default:
			// Within their port classes where the chunk's lengths are
			// calibrated so: a continuation to a one-off port is as
			// short as the real flows to one.
			g.calibrateLength(c, rows, all, BlockRNG(g.o.Seed, 0x1ea, c, b))
		}
		g.countProfile(rows, true)
		err := yield(b, rows)
		rows = nil
		b++
		return err
	}
	// Selection sampling: each carried row is taken with probability
	// (rows still wanted)/(rows left), which takes exactly k of them,
	// every k-subset alike, in one pass.
	left, want := cr.count, k
	for ; left > 0 && want > 0; left-- {
		row, err := cr.get(r)
		if err != nil {
			return err
		}
		if pick.IntN(left) >= want {
			continue
		}
		want--
		var l lender
		if pools != nil {
			l = g.lenders[pools.draw(row.Attr.Key, g.portClass(row.Attr.Key), row.Attr.Len)]
		} else {
			// A lender of the row's port class when the chunk has one: a
			// continuation to a one-off port takes the length of a flow
			// to one, not that of a long flow's later segment.
			from := g.lenders
			if own := byClass[g.portClass(row.Attr.Key)]; len(own) > 0 {
				from = own
			}
			l = from[pick.IntN(len(from))]
		}
		v := row.Vec
		setTag(s, v, "starts_here", false)
		v[startOff] = l.start
		if lenOff >= 0 {
			copy(v[lenOff:lenOff+lenDim], l.len)
			row.Attr.Len = l.n
		}
		row.Attr.StartsHere = false
		row.Attr.Start = float64(v[startOff])
		if k, ok := g.remap[row.Attr.Key]; ok {
			row.Attr.Key = k
		}
		rows = append(rows, row)
		g.st.Continuations++
		if len(rows) == size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return g.drop(c)
}

// Skip drops the continuations carried into chunk c, which has no model,
// and counts them.
func (g *Stream) Skip(c int) error {
	if cr := g.carry[c]; cr != nil {
		g.st.DroppedEmpty += cr.count
	}
	return g.drop(c)
}

// Features runs the feature passes over block b of chunk c's generated
// flows: the quantile calibration of flow starts and features, when
// configured.
func (g *Stream) Features(c, b int, o *Generated) {
	if g.o.Calibrate {
		var to []Target
		if c < len(g.featTo) {
			to = g.featTo[c]
		}
		calibrate(g.s, []*Generated{o}, to, BlockRNG(g.o.Seed, 0xca11, c, b))
	}
}

// SetTargets sets what the calibrations of the length and of the quantile
// features map each chunk's ranks through (Target): from pilot samples of
// every chunk's values, drawn in proportion to the values each generates,
// lens[c] the length attribute positions of chunk c's pilot, feats[j][c]
// quantile feature j's (QuantileFeatureOffsets order). The length and the
// features share one set of knots across chunks, and ranking over the
// whole trace kept the chunks' differences (a chunk of longer flows kept
// longer flows); ranking each block alone would give every block the whole
// marginal and erase them. With the targets every block of a chunk takes
// the share of the marginal the chunk's pilot takes, and the chunks
// together still the whole. Without them (one chunk, no calibration) each
// block takes the whole marginal.
func (g *Stream) SetTargets(lens [][]float32, feats [][][]float32) {
	if lens != nil {
		g.lenTo = Targets(lens)
	}
	g.featTo = make([][]Target, g.n)
	for _, f := range feats {
		for c, t := range Targets(f) {
			g.featTo[c] = append(g.featTo[c], t)
		}
	}
}

// SetStartTargets sets, per chunk, the flows generated for it and the
// share of the real chunk's flows that start in it (the others go on from
// an earlier chunk). See lendSurplus. Generation sets it for chained long
// flows only.
func (g *Stream) SetStartTargets(flows []int, share []float64) {
	g.startFlows, g.startShare = flows, share
}

// lendSurplus makes rows of a block of chunk c that start in it lenders
// (rows that do not, whose start and length continuations of earlier
// chunks' flows take) when the chunk has fewer lenders than it should: the
// model marks some rows of a later chunk as new flows where the real chunk
// continues flows (on a capture whose every flow spans four chunks, 511
// of the later chunks' 1,020 rows, chained), and a flow carried into the chunk with
// no lender left is dropped there, so the trace's flows come out cut into
// new 5-tuples. The chunk should have as many lenders as the carried
// copies, up to the real share of its flows that continue; over its
// blocks, in proportion to the rows so far. The rows made lenders are
// those the model gave the least weight to starting here (ties in random
// order). It returns how many; 0 without start targets or in chunk 0.
func (g *Stream) lendSurplus(c int, rows []Row, r *rand.Rand) int {
	if c == 0 || c >= len(g.startFlows) || g.startFlows[c] <= 0 {
		return 0
	}
	total := g.startFlows[c]
	carried := 0
	if cr := g.carry[c]; cr != nil {
		carried = cr.count
	}
	want := min(carried, int(math.Round(float64(total)*(1-g.startShare[c]))))
	g.rowsSeen += len(rows)
	target := int(math.Round(float64(want) * float64(min(g.rowsSeen, total)) / float64(total)))
	var starting []int
	for i, row := range rows {
		if row.Attr.StartsHere {
			starting = append(starting, i)
		} else {
			g.lendsSeen++
		}
	}
	need := min(target-g.lendsSeen, len(starting))
	if need <= 0 {
		return 0
	}
	off, dim := g.s.AttrSlice("starts_here")
	weighed := off >= 0 && dim == 2
	weight := func(i int) float32 {
		if !weighed {
			return 0
		}
		return rows[i].Vec[off+1]
	}
	r.Shuffle(len(starting), func(i, j int) { starting[i], starting[j] = starting[j], starting[i] })
	slices.SortStableFunc(starting, func(a, b int) int { return cmp.Compare(weight(a), weight(b)) })
	for _, i := range starting[:need] {
		rows[i].Vec = slices.Clone(rows[i].Vec)
		setTag(g.s, rows[i].Vec, "starts_here", false)
		rows[i].Attr.StartsHere = false
	}
	g.lendsSeen += need
	return need
}

// SetLengthTargets replaces the length targets by given distributions of
// positions, per chunk (nil leaves a chunk's as it is): with chained long
// flows, each chunk's real lengths (encoding.Schema.ChunkLengthPositions),
// since one long flow more or less in a chunk moves its records by
// thousands.
func (g *Stream) SetLengthTargets(pos [][]float64) {
	for len(g.lenTo) < len(pos) {
		g.lenTo = append(g.lenTo, Target{})
	}
	for c, p := range pos {
		if len(p) > 0 {
			g.lenTo[c] = Target{q: slices.Sorted(slices.Values(p))}
		}
	}
}

// SetGoingLengthTargets sets, per chunk, the encoded positions of the
// lengths of the real flows that go on into it from an earlier chunk
// (their first segment there), which its continuations' lengths are then
// calibrated to, instead of to the chunk's flows (nil or empty leaves a
// chunk's as they are): a flow cut by a chunk's start holds, in the
// chunk, what is left of it, not what a flow starting there holds.
func (g *Stream) SetGoingLengthTargets(pos [][]float64) {
	g.goTo = make([]Target, len(pos))
	for c, p := range pos {
		if len(p) > 0 {
			g.goTo[c] = Target{q: slices.Sorted(slices.Values(p))}
		}
	}
}

func (g *Stream) lenTarget(c int) Target {
	if c < len(g.lenTo) {
		return g.lenTo[c]
	}
	return Target{}
}

// Repair repairs the protocol violations of the records decoded from the
// last block (Own or Continuations), sorted by time, with RepairProtocol
// (seeded per block), keeping packet flows off the 5-tuples already held;
// a flow carried to later chunks that the repair gives a new 5-tuple takes
// it there too. A check in fail is repaired down to its share, each block
// at the rate the blocks so far call for together (repairTally). Hold the
// records once repaired.
func (g *Stream) Repair(c, b int, t *trace.Trace, fail map[string]float64, seed uint64) RepairStats {
	if t.Kind == trace.KindPackets && g.states == nil {
		g.states = map[trace.Key]protocol.FlowState{}
	}
	to := map[trace.Key]struct{}{} // the new 5-tuples of carried flows this block moved
	st := repairProtocol(t, fail, seed^splitmix.Mix(uint64(c)<<32|uint64(uint32(b))), splitmix.Mix(seed), g.held, func(old, new trace.Key) {
		if _, ok := g.carried[old]; ok {
			g.remap[old] = new
			to[new] = struct{}{}
		}
	}, &g.repaired, g.states)
	if t.Kind == trace.KindPackets {
		// The flows going on in later chunks keep what their packets so
		// far leave, under the 5-tuple they go on with (those of earlier
		// blocks are in states already).
		protocol.UpdateFlowStates(t.Packets, g.states, func(k trace.Key) bool {
			if _, ok := to[k]; ok {
				return true
			}
			_, carried := g.carried[k]
			_, moved := g.remap[k]
			return carried && !moved
		})
	}
	return st
}

// Hold records the 5-tuples of a block's records, once final, in a packet
// trace: 5-tuple separation and the protocol repair of later blocks keep
// their flows off them. The set grows with the number of packet flows
// written (a few tens of bytes each); flow records need none.
func (g *Stream) Hold(t *trace.Trace) {
	if g.held == nil {
		return
	}
	for i := range t.Packets {
		g.held[t.Packets[i].Key()] = struct{}{}
	}
}

// Close removes the carries' temporary files.
func (g *Stream) Close() error {
	var errs []error
	for c := range g.carry {
		errs = append(errs, g.drop(c))
	}
	return errors.Join(errs...)
}

func (g *Stream) drop(c int) error {
	cr := g.carry[c]
	g.carry[c] = nil
	if cr == nil {
		return nil
	}
	return cr.close()
}

func (g *Stream) carryTo(c int) *carry {
	if g.carry[c] == nil {
		g.carry[c] = &carry{dim: g.s.AttrDim(), chunks: g.n, dir: g.dir}
	}
	return g.carry[c]
}

// carry holds the continuations carried into one chunk, each encoded in a
// fixed-size record: the attribute vector, then the decoded attributes.
type carry struct {
	dim, chunks int
	dir         string
	count       int
	f           *os.File
	w           *bufio.Writer
	mem         bytes.Buffer
	buf         []byte
}

func (cr *carry) size() int { return 4*cr.dim + 13 + 8 + 1 + cr.chunks + 8 }

func (cr *carry) put(r Row) error {
	if cr.w == nil {
		if cr.dir == "" {
			cr.w = bufio.NewWriter(&cr.mem)
		} else {
			f, err := os.CreateTemp(cr.dir, "carry-*.tmp")
			if err != nil {
				return fmt.Errorf("continuations: %w", err)
			}
			cr.f, cr.w = f, bufio.NewWriterSize(f, 1<<16)
		}
	}
	b := cr.buf[:0]
	for _, v := range r.Vec {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	k := r.Attr.Key
	b = binary.LittleEndian.AppendUint32(b, k.Src)
	b = binary.LittleEndian.AppendUint32(b, k.Dst)
	b = binary.LittleEndian.AppendUint16(b, k.SrcPort)
	b = binary.LittleEndian.AppendUint16(b, k.DstPort)
	b = append(b, k.Proto)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Attr.Start))
	b = append(b, boolByte(r.Attr.StartsHere))
	for _, p := range r.Attr.Present {
		b = append(b, boolByte(p))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(int64(r.Attr.Len)))
	cr.buf = b
	cr.count++
	if _, err := cr.w.Write(b); err != nil {
		return fmt.Errorf("continuations: %w", err)
	}
	return nil
}

// reader flushes what was written and reads it back from the start.
func (cr *carry) reader() (*bufio.Reader, error) {
	if err := cr.w.Flush(); err != nil {
		return nil, fmt.Errorf("continuations: %w", err)
	}
	if cr.f == nil {
		return bufio.NewReader(&cr.mem), nil
	}
	if _, err := cr.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("continuations: %w", err)
	}
	return bufio.NewReaderSize(cr.f, 1<<16), nil
}

func (cr *carry) get(r *bufio.Reader) (Row, error) {
	b := slices.Grow(cr.buf[:0], cr.size())[:cr.size()]
	cr.buf = b
	if _, err := io.ReadFull(r, b); err != nil {
		return Row{}, fmt.Errorf("continuations: reading back: %w", err)
	}
	var row Row
	row.Vec = make([]float32, cr.dim)
	for i := range row.Vec {
		row.Vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	b = b[4*cr.dim:]
	a := &row.Attr
	a.Key = trace.Key{Src: binary.LittleEndian.Uint32(b), Dst: binary.LittleEndian.Uint32(b[4:]),
		SrcPort: binary.LittleEndian.Uint16(b[8:]), DstPort: binary.LittleEndian.Uint16(b[10:]), Proto: b[12]}
	a.Start = math.Float64frombits(binary.LittleEndian.Uint64(b[13:]))
	a.StartsHere = b[21] == 1
	a.Present = make([]bool, cr.chunks)
	for i := range a.Present {
		a.Present[i] = b[22+i] == 1
	}
	a.Len = int(int64(binary.LittleEndian.Uint64(b[22+cr.chunks:])))
	return row, nil
}

func (cr *carry) close() error {
	if cr.f == nil {
		return nil
	}
	name := cr.f.Name()
	cr.f.Close()
	cr.f = nil
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
