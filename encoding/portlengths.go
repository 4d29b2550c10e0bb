package encoding

import (
	"slices"

	"github.com/netshare-go/netshare/trace"
)

// Port classes of a flow, for lengths given ports (Spec.PortLengthKnots):
// whether its destination port is a tail port (PortsDstTail), else
// whether its source port is (PortsSrcTail), else neither (PortsKnown).
// Their lengths differ in real traces: a flow to a one-off port (a reply
// to a client's ephemeral port, a scan probe) is mostly one record or
// packet long, a flow to a service port often many.
const (
	PortsKnown = iota
	PortsSrcTail
	PortsDstTail
	NumPortClasses
)

// MinPortClassFlows is the fewest flows a chunk's port class needs for its
// lengths to be kept (Spec.PortLengthKnots): fewer would make knots of a
// handful of flows, which say little and give away much.
const MinPortClassFlows = 20

// PortClass returns the port class of a flow whose 5-tuple k holds its
// ports as the embedding has them: tail ports as their class's token
// (CanonKey for a real flow; a generated flow's decoded ports). Without
// tail classes every flow is PortsKnown.
func (t *TailPorts) PortClass(k trace.Key) int {
	switch {
	case t == nil:
		return PortsKnown
	case t.tokenClass(k.Proto, k.DstPort) != nil:
		return PortsDstTail
	case t.tokenClass(k.Proto, k.SrcPort) != nil:
		return PortsSrcTail
	}
	return PortsKnown
}

// PortLengths gathers one chunk's flow lengths per port class, for
// Spec.PortLengthKnots. Its memory is bounded by the sketches', not by the
// number of flows.
type PortLengths struct {
	t  *TailPorts
	sk [NumPortClasses]*quantileSketch
}

// NewPortLengths returns a gatherer of lengths per port class under the
// tail classes t.
func NewPortLengths(t *TailPorts) *PortLengths {
	if t != nil && t.byToken == nil { // as built, not yet indexed
		if it, err := IndexTailPorts(t); err == nil {
			t = it
		}
	}
	p := &PortLengths{t: t}
	for i := range p.sk {
		p.sk[i] = newSketch()
	}
	return p
}

// Add adds a real flow of 5-tuple k (its real ports) and n records.
func (p *PortLengths) Add(k trace.Key, n int) {
	p.sk[p.t.PortClass(p.t.CanonKey(k))].add(float64(n))
}

// Knots returns the quantile knots (k of them at most) of each class's
// lengths and each class's flows. A class of fewer than MinPortClassFlows
// flows, other than PortsKnown, is folded into PortsKnown (generation
// calibrates its flows as ones to known ports); a class that still has
// fewer has no knots (nil) and no flows. Both are nil when fewer than two
// classes have knots: the one would hold the chunk's lengths, which
// Spec.LengthKnots has.
func (p *PortLengths) Knots(k int) ([][]float64, []int) {
	known := newSketch()
	known.merge(p.sk[PortsKnown])
	for i, sk := range p.sk {
		if i != PortsKnown && sk.n < MinPortClassFlows {
			known.merge(sk)
		}
	}
	knots := make([][]float64, NumPortClasses)
	flows := make([]int, NumPortClasses)
	n := 0
	for i, sk := range p.sk {
		if i == PortsKnown {
			sk = known
		}
		if sk.n >= MinPortClassFlows {
			knots[i], flows[i] = sk.knots(k, false), int(sk.n)
			n++
		}
	}
	if n < 2 {
		return nil, nil
	}
	return knots, flows
}

// ChunkPortLengthPositions returns, per port class, the encoded positions,
// sorted, of chunk c's real flow lengths in that class
// (Spec.PortLengthKnots), as ChunkLengthPositions does for all its flows:
// nil for a class without knots, and nil altogether without any.
func (s *Schema) ChunkPortLengthPositions(c int) [][]float64 {
	i := s.attrIndex("length")
	if i < 0 || c < 0 || c >= len(s.PortLengthKnots) || s.PortLengthKnots[c] == nil {
		return nil
	}
	q, ok := s.attr[i].(*Quantile)
	if !ok {
		return nil
	}
	out := make([][]float64, len(s.PortLengthKnots[c]))
	for k, knots := range s.PortLengthKnots[c] {
		out[k] = q.positions(knots)
	}
	return out
}

// ChunkPortLengthFlows returns the real flows of each port class of chunk
// c (Spec.PortLengthFlows; nil without them).
func (s *Schema) ChunkPortLengthFlows(c int) []int {
	if c < 0 || c >= len(s.PortLengthFlows) {
		return nil
	}
	return s.PortLengthFlows[c]
}

// positions returns the encoded positions, sorted, of values (nil for
// none).
func (q *Quantile) positions(values []float64) []float64 {
	if len(values) == 0 {
		return nil
	}
	out := make([]float64, len(values))
	for j, v := range values {
		out[j], _ = q.position(v)
	}
	slices.Sort(out)
	return out
}
