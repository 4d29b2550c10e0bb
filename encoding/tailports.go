package encoding

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/trace"
)

// TailRanges are the port ranges that tail classes are drawn over, per
// protocol: the well-known ports, the registered ports below the usual
// ephemeral ranges, Linux's default ephemeral range up to the IANA dynamic
// range, and the IANA dynamic range (Windows' and BSD's ephemeral ports).
var TailRanges = [][2]uint16{{0, 1023}, {1024, 32767}, {32768, 49151}, {49152, 65535}}

// TailPorts replaces rare ports by class tokens. A (protocol, port) pair
// that fewer than MinFlows flows use, as source and destination port
// together, is in the tail (a flow counts in every chunk it reaches, but
// in a packet trace without chained flows once, in the chunk it starts
// in: tailCounts): IP2Vec sees it in too few sentences to learn a vector
// for it, so a generator cannot aim at it, and decoding to the nearest
// candidate would pull it towards some other port. Such ports are
// replaced, in the embedding's corpus and in the training data, by the
// token of their class: one per protocol and port range (TailRanges). A
// token is a port number that no flow of the trace uses otherwise, so it
// is learnt like any other port, with the class's flows behind it. At
// generation a flow whose port decodes to a class token takes an exact
// port drawn from the class's real values in that field (source or
// destination), in proportion to their flows and without replacement
// (TailDraws): tail ports keep their values, their protocol and their
// range, a port one real flow used is used by one synthetic flow, and the
// flows that carry them are the ones the model generated for the class.
//
// ICMP and ICMPv6 are left alone (their "ports" are type and code), and a
// range whose tail ports have fewer than MinFlows flows in all forms no
// class (its ports stay as they are).
type TailPorts struct {
	MinFlows int         `json:"min_flows"`
	Classes  []TailClass `json:"classes"`

	byToken map[uint16][]int // class indices per token
	// ranges holds, per proto<<16 | port of every class's values and
	// token, the index of its class's range (TailRangeOf).
	ranges map[uint32]uint8
}

// TailClass is one protocol's tail ports in one range.
type TailClass struct {
	Proto uint8  `json:"proto"`
	Lo    uint16 `json:"lo"`
	Hi    uint16 `json:"hi"`
	// Token is the port number that stands for the class.
	Token uint16 `json:"token"`
	// Src and Dst are the class's ports seen as source and as destination
	// port, with their flows: what a token decoded in that field draws
	// from (the other field's when the field has none).
	Src TailValues `json:"srcport"`
	Dst TailValues `json:"dstport"`
}

// TailValues are exact port values, ascending, with their weights.
type TailValues struct {
	Values []uint16  `json:"values,omitempty"`
	Flows  []float64 `json:"flows,omitempty"`
	// Records holds each value's records over its flows (absent in a
	// schema made before they were kept): a drawn port goes, among a few
	// drawn alike, to the value whose flows' mean length is nearest the
	// drawing flow's (TailDraws.DrawNear).
	Records []float64 `json:"records,omitempty"`

	cum []float64 // running sums of Flows
}

// portless says whether a protocol's port fields hold something other than
// ports (ICMP's and ICMPv6's type and code).
func portless(p uint8) bool { return p == trace.ProtoICMP || p == protoICMPv6 }

// protoICMPv6 is ICMPv6's protocol number (next header).
const protoICMPv6 = 58

// TailRange returns the bounds of the range of TailRanges that holds port.
func TailRange(port uint16) (lo, hi uint16) {
	r := TailRanges[rangeOf(port)]
	return r[0], r[1]
}

// rangeOf returns the index in TailRanges of the range holding port.
func rangeOf(port uint16) int {
	for i, r := range TailRanges {
		if port >= r[0] && port <= r[1] {
			return i
		}
	}
	return len(TailRanges) - 1
}

// tailCounts holds what buildTailPorts reads of one port field, per
// protocol and port.
type tailCounts struct {
	// flows counts each port's chunk flows (a flow once in every chunk it
	// reaches): the draws a tail value makes (TailValues.Flows).
	flows map[uint8]map[int]float64
	// records, when not nil, holds the records of those flows
	// (TailValues.Records).
	records map[uint8]map[int]float64
	// starts, when not nil, counts each port's flows in the chunk they
	// start in only (a split flow's segments there each), and decides
	// which ports are in the tail instead of flows. A capture's one-off port whose flow is cut by a chunk edge
	// (a login attempt, a long transfer) is one flow all the same; counted
	// in every chunk it reaches it would stay a word, decoded to some other
	// word. Its draws still count every chunk flow, so that it keeps the
	// pieces' packets.
	starts map[uint8]map[int]float64
}

// buildTailPorts derives the tail classes from the flows of each
// (protocol, port) pair as source (src) and destination (dst) port. It
// returns nil when no class forms.
func buildTailPorts(minFlows int, src, dst tailCounts) *TailPorts {
	if minFlows < 2 {
		return nil
	}
	protos := map[uint8]struct{}{}
	for p := range src.flows {
		protos[p] = struct{}{}
	}
	for p := range dst.flows {
		protos[p] = struct{}{}
	}
	ps := make([]uint8, 0, len(protos))
	for p := range protos {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	words := map[uint16]struct{}{} // ports that stay ports
	t := &TailPorts{MinFlows: minFlows}
	for _, p := range ps {
		both, count := map[int]float64{}, map[int]float64{}
		for _, f := range []tailCounts{src, dst} {
			for v, n := range f.flows[p] {
				both[v] += n
			}
			by := f.flows
			if f.starts != nil {
				by = f.starts
			}
			for v, n := range by[p] {
				count[v] += n
			}
		}
		tail := make([][]int, len(TailRanges))
		flows := make([]float64, len(TailRanges))
		for v, n := range both {
			if portless(p) || count[v] >= float64(minFlows) {
				words[uint16(v)] = struct{}{}
				continue
			}
			r := rangeOf(uint16(v))
			tail[r] = append(tail[r], v)
			flows[r] += n
		}
		for r, vs := range tail {
			if len(vs) == 0 {
				continue
			}
			if flows[r] < float64(minFlows) {
				for _, v := range vs {
					words[uint16(v)] = struct{}{}
				}
				continue
			}
			slices.Sort(vs)
			c := TailClass{Proto: p, Lo: TailRanges[r][0], Hi: TailRanges[r][1]}
			for _, v := range vs {
				c.Src.add(src, p, v)
				c.Dst.add(dst, p, v)
			}
			t.Classes = append(t.Classes, c)
		}
	}
	// Tokens: the lowest port of each class's range that is no word and
	// no other class's token. A range of 1,024 or more ports cannot be
	// full, since every word has a flow and the class has at least two.
	kept := t.Classes[:0]
	for _, c := range t.Classes {
		for v := int(c.Lo); v <= int(c.Hi); v++ {
			if _, used := words[uint16(v)]; !used {
				c.Token = uint16(v)
				words[uint16(v)] = struct{}{}
				kept = append(kept, c)
				break
			}
		}
	}
	t.Classes = kept
	if len(t.Classes) == 0 {
		return nil
	}
	return t
}

// add appends port v of protocol p with its flows and records in f, if
// it has any flow there.
func (tv *TailValues) add(f tailCounts, p uint8, v int) {
	n := f.flows[p][v]
	if n <= 0 {
		return
	}
	tv.Values, tv.Flows = append(tv.Values, uint16(v)), append(tv.Flows, n)
	if f.records != nil {
		tv.Records = append(tv.Records, f.records[p][v])
	}
}

// IndexTailPorts returns a checked copy of t, ready for Canon and NewDraws
// (as a Schema holds it).
func IndexTailPorts(t *TailPorts) (*TailPorts, error) {
	c := *t
	c.Classes = slices.Clone(t.Classes)
	if err := c.index(); err != nil {
		return nil, err
	}
	return &c, nil
}

// index checks the classes and builds the lookup tables.
func (t *TailPorts) index() error {
	t.byToken = map[uint16][]int{}
	t.ranges = map[uint32]uint8{}
	for i := range t.Classes {
		c := &t.Classes[i]
		if c.Lo > c.Hi || c.Token < c.Lo || c.Token > c.Hi {
			return fmt.Errorf("tail class %d: token %d outside its range %d-%d", i, c.Token, c.Lo, c.Hi)
		}
		for _, tv := range []*TailValues{&c.Src, &c.Dst} {
			if len(tv.Values) != len(tv.Flows) || !slices.IsSorted(tv.Values) {
				return fmt.Errorf("tail class %d: values must be ascending, one weight each", i)
			}
			if len(tv.Records) > 0 && len(tv.Records) != len(tv.Values) {
				return fmt.Errorf("tail class %d: %d records for %d values", i, len(tv.Records), len(tv.Values))
			}
			tv.cum = make([]float64, len(tv.Flows))
			sum := 0.0
			for j, w := range tv.Flows {
				if !(w > 0) || tv.Values[j] < c.Lo || tv.Values[j] > c.Hi {
					return fmt.Errorf("tail class %d: value %d with weight %g (range %d-%d)", i, tv.Values[j], w, c.Lo, c.Hi)
				}
				sum += w
				tv.cum[j] = sum
			}
		}
		if len(c.Src.Values)+len(c.Dst.Values) == 0 {
			return fmt.Errorf("tail class %d: no port to draw from", i)
		}
		for _, j := range t.byToken[c.Token] {
			if t.Classes[j].Proto == c.Proto {
				return fmt.Errorf("tail classes %d and %d: protocol %d has token %d twice", j, i, c.Proto, c.Token)
			}
		}
		t.byToken[c.Token] = append(t.byToken[c.Token], i)
		r := uint8(rangeOf(c.Lo))
		for _, tv := range []*TailValues{&c.Src, &c.Dst} {
			for _, v := range tv.Values {
				t.ranges[uint32(c.Proto)<<16|uint32(v)] = r
			}
		}
		t.ranges[uint32(c.Proto)<<16|uint32(c.Token)] = r
	}
	return nil
}

// Canon returns the port that stands for port of protocol proto in the
// embedding: its class's token when it is a tail port, else port itself.
func (t *TailPorts) Canon(proto uint8, port uint16) uint16 {
	if t == nil {
		return port
	}
	for i := range t.Classes {
		c := &t.Classes[i]
		if c.Proto != proto || port < c.Lo || port > c.Hi {
			continue
		}
		if has(c.Src.Values, port) || has(c.Dst.Values, port) {
			return c.Token
		}
		break
	}
	return port
}

func has(vs []uint16, v uint16) bool {
	_, ok := slices.BinarySearch(vs, v)
	return ok
}

// CanonKey returns k with both ports replaced by what stands for them.
func (t *TailPorts) CanonKey(k trace.Key) trace.Key {
	k.SrcPort = t.Canon(k.Proto, k.SrcPort)
	k.DstPort = t.Canon(k.Proto, k.DstPort)
	return k
}

// CanonSentences returns the IP2Vec corpus with tail ports replaced by
// their classes' tokens (the counts of sentences that become one summed).
func (t *TailPorts) CanonSentences(in ip2vec.SentenceCounts) ip2vec.SentenceCounts {
	if t == nil {
		return in
	}
	out := make(ip2vec.SentenceCounts, len(in))
	for s, n := range in {
		s.SrcPort = t.Canon(s.Proto, s.SrcPort)
		s.DstPort = t.Canon(s.Proto, s.DstPort)
		out[s] += n
	}
	return out
}

// tokenClass returns the class that token stands for in a flow of
// protocol proto: the protocol's own, or else (a token decoded with
// another protocol) the first class with that token; nil when port is no
// token.
func (t *TailPorts) tokenClass(proto uint8, port uint16) *TailClass {
	idx := t.byToken[port]
	if len(idx) == 0 {
		return nil
	}
	for _, i := range idx {
		if t.Classes[i].Proto == proto {
			return &t.Classes[i]
		}
	}
	return &t.Classes[idx[0]]
}

// TailDraws draws exact ports for tail classes' tokens: a token decoded
// in a field takes one of the class's real ports in that field (the other
// field's when the class has none in it), in proportion to their flows,
// without replacement: each real flow of a tail port lends its port to one drawn
// flow, so that ports one flow used in the real trace are used by one
// flow in the synthetic trace too, rather than some by several and others
// by none, as independent draws would. Once a field of a class has lent
// all its flows, its draws start again from all of them. A TailDraws
// keeps what it has lent; use one per generated trace (or period).
type TailDraws struct {
	t    *TailPorts
	left map[*TailValues]*tailLeft
}

// tailLeft is what a field of a class has left to lend: each value's
// flows, in a Fenwick tree for drawing in proportion to them.
type tailLeft struct {
	w     []float64
	tree  []float64 // 1-based Fenwick tree over w
	total float64
}

// NewDraws returns a drawer of t's tail ports without replacement (nil
// for no classes).
func (t *TailPorts) NewDraws() *TailDraws {
	if t == nil {
		return nil
	}
	return &TailDraws{t: t, left: map[*TailValues]*tailLeft{}}
}

// Draw replaces each port of k that is a class token by an exact port of
// the class, drawn with rng among those with flows left to lend, and
// returns how many it replaced.
func (d *TailDraws) Draw(k *trace.Key, rng *rand.Rand) int {
	return d.DrawNear(k, 0, rng)
}

// DrawNear is Draw for a flow of length records (0: any): of tailNear
// ports drawn alike (in proportion to their flows left, without taking
// them), it lends the one whose real flows' mean length is nearest, in
// log space, where the class keeps its values' records. A one-off port
// then goes on with about its real flow's records (a capture's port of a
// 40-packet flow lent to a flow of one packet moved its share of the
// packets, and the flow's (size, port) pair, with it), and its draws
// still follow the flows left.
func (d *TailDraws) DrawNear(k *trace.Key, length int, rng *rand.Rand) int {
	if d == nil {
		return 0
	}
	n := 0
	if c := d.t.tokenClass(k.Proto, k.SrcPort); c != nil {
		k.SrcPort = d.pick(c.field(&c.Src, &c.Dst), length, rng)
		n++
	}
	if c := d.t.tokenClass(k.Proto, k.DstPort); c != nil {
		k.DstPort = d.pick(c.field(&c.Dst, &c.Src), length, rng)
		n++
	}
	return n
}

// tailNear is how many ports DrawNear compares.
const tailNear = 8

// field returns own, or other when own has no values.
func (c *TailClass) field(own, other *TailValues) *TailValues {
	if len(own.Values) == 0 {
		return other
	}
	return own
}

func (d *TailDraws) pick(tv *TailValues, length int, rng *rand.Rand) uint16 {
	l := d.left[tv]
	if l == nil || l.total < 0.5 {
		l = newTailLeft(tv.Flows)
		d.left[tv] = l
	}
	i := l.find(rng.Float64() * l.total)
	if length > 0 && len(tv.Records) == len(tv.Values) {
		want := math.Log1p(float64(length))
		dist := func(j int) float64 { return math.Abs(math.Log1p(tv.Records[j]/tv.Flows[j]) - want) }
		for range tailNear - 1 {
			if j := l.find(rng.Float64() * l.total); dist(j) < dist(i) {
				i = j
			}
		}
	}
	take := min(1, l.w[i])
	l.w[i] -= take
	l.total -= take
	for j := i + 1; j < len(l.tree); j += j & -j {
		l.tree[j] -= take
	}
	return tv.Values[i]
}

func newTailLeft(flows []float64) *tailLeft {
	l := &tailLeft{w: slices.Clone(flows), tree: make([]float64, len(flows)+1)}
	for i, w := range flows {
		l.total += w
		for j := i + 1; j < len(l.tree); j += j & -j {
			l.tree[j] += w
		}
	}
	return l
}

// find returns the index whose running sum of weights first exceeds u,
// skipping values with none left.
func (l *tailLeft) find(u float64) int {
	pos := 0
	for step := 1 << bits.Len(uint(len(l.w))); step > 0; step >>= 1 {
		if next := pos + step; next < len(l.tree) && l.tree[next] <= u {
			pos = next
			u -= l.tree[next]
		}
	}
	// pos values lie wholly at or below u: the next with weight left.
	for pos < len(l.w)-1 && l.w[pos] <= 0 {
		pos++
	}
	for pos > 0 && l.w[pos] <= 0 {
		pos--
	}
	return pos
}

// TailRangeOf reports, for indexed classes (IndexTailPorts, as a Schema
// holds them), whether port of protocol proto is a tail port, a
// real one or its class's token, and the index in TailRanges of its
// class's range.
func (t *TailPorts) TailRangeOf(proto uint8, port uint16) (int, bool) {
	if t == nil || portless(proto) {
		return 0, false
	}
	if r, ok := t.ranges[uint32(proto)<<16|uint32(port)]; ok {
		return int(r), true
	}
	// A token decoded with another protocol stands for its own class.
	if c := t.tokenClass(proto, port); c != nil {
		return rangeOf(c.Lo), true
	}
	return 0, false
}

// IsToken reports whether port is a tail class's token for protocol proto
// (for any protocol when proto is negative).
func (t *TailPorts) IsToken(proto int, port uint16) bool {
	if t == nil {
		return false
	}
	for _, i := range t.byToken[port] {
		if proto < 0 || int(t.Classes[i].Proto) == proto {
			return true
		}
	}
	return false
}
