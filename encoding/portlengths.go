package encoding

import (
	"slices"
	"strconv"

	"github.com/netshare-go/netshare/trace"
)

// Port classes of a flow, for lengths given ports (Spec.PortLengthKnots):
// whether its destination port is rare (PortsDstRare), else whether its
// source port is (PortsSrcRare), else neither (PortsCommon). A port is
// rare in a field when it is a tail class's token, or when fewer than
// RarePortFlows flows of its protocol use it in that field. Lengths differ
// by class in real traces: a flow to a port that one flow or two use (a
// reply to a client's ephemeral port, a scan probe) is mostly one record
// or packet long, a flow to a service port often many.
const (
	PortsCommon = iota
	PortsSrcRare
	PortsDstRare
	NumPortClasses
)

// RarePortFlows is the fewest flows that use a port in a field for it not
// to be rare there (PortClass): a DNS query's ephemeral source port, used
// again as the destination of the reply, is rare in both fields.
const RarePortFlows = 3

// MinPortClassFlows is the fewest flows a chunk's port class needs for its
// lengths to be kept (Spec.PortLengthKnots): fewer would make knots of a
// handful of flows, which say little and give away much.
const MinPortClassFlows = 20

// rareAny is the protocol of rareKey for a field whose prior is not per
// protocol.
const rareAny = 0x100

func rareKey(proto uint16, port uint16) uint32 { return uint32(proto)<<16 | uint32(port) }

// rarePorts returns the rare ports of the source and destination port
// fields among attrs, from their priors (flows per candidate, per
// protocol when the field has them so).
func rarePorts(attrs []FieldSpec) [2]map[uint32]struct{} {
	var out [2]map[uint32]struct{}
	for i, name := range []string{"srcport", "dstport"} {
		for _, f := range attrs {
			if f.Name != name {
				continue
			}
			out[i] = map[uint32]struct{}{}
			add := func(proto uint16, prior []float64) {
				for j, w := range prior {
					if j < len(f.Candidates) && w > 0 && w < RarePortFlows {
						out[i][rareKey(proto, uint16(f.Candidates[j]))] = struct{}{}
					}
				}
			}
			if len(f.ByProto) == 0 {
				add(rareAny, f.Prior)
			}
			for p, pp := range f.ByProto {
				if n, err := strconv.Atoi(p); err == nil && n >= 0 && n < 256 {
					add(uint16(n), pp.Prior)
				}
			}
		}
	}
	return out
}

// rarePort reports whether port is rare in field f (0 source, 1
// destination) for a flow of protocol proto.
func (s *Schema) rarePort(f int, proto uint8, port uint16) bool {
	if s.TailPorts != nil && s.TailPorts.tokenClass(proto, port) != nil {
		return true
	}
	m := s.rare[f]
	if m == nil {
		return false
	}
	if _, ok := m[rareKey(uint16(proto), port)]; ok {
		return true
	}
	_, ok := m[rareKey(rareAny, port)]
	return ok
}

// PortClass returns the port class of a flow whose 5-tuple k holds its
// ports as the embedding has them: tail ports as their class's token
// (TailPorts.CanonKey of a real flow's; a generated flow's as decoded).
// Portless protocols (ICMP) are PortsCommon.
func (s *Schema) PortClass(k trace.Key) int {
	switch {
	case portless(k.Proto):
		return PortsCommon
	case s.rarePort(1, k.Proto, k.DstPort):
		return PortsDstRare
	case s.rarePort(0, k.Proto, k.SrcPort):
		return PortsSrcRare
	}
	return PortsCommon
}

// PortLengths gathers one chunk's flow lengths per port class, for
// Spec.PortLengthKnots. Its memory is bounded by the sketches', not by the
// number of flows.
type PortLengths struct {
	s  *Schema
	sk [NumPortClasses]*quantileSketch
}

// NewPortLengths returns a gatherer of lengths per port class under
// schema s.
func NewPortLengths(s *Schema) *PortLengths {
	p := &PortLengths{s: s}
	for i := range p.sk {
		p.sk[i] = newSketch()
	}
	return p
}

// Add adds a real flow of 5-tuple k (its real ports) and n records.
func (p *PortLengths) Add(k trace.Key, n int) {
	p.sk[p.s.PortClass(p.s.TailPorts.CanonKey(k))].add(float64(n))
}

// Knots returns the quantile knots (k of them at most) of each class's
// lengths and each class's flows. A class of fewer than MinPortClassFlows
// flows, other than PortsCommon, is folded into PortsCommon (generation
// calibrates its flows with the common ones); a class that still has
// fewer has no knots (nil) and no flows. Both are nil when fewer than two
// classes have knots: the one would hold the chunk's lengths, which
// Spec.LengthKnots has.
func (p *PortLengths) Knots(k int) ([][]float64, []int) {
	known := newSketch()
	known.merge(p.sk[PortsCommon])
	for i, sk := range p.sk {
		if i != PortsCommon && sk.n < MinPortClassFlows {
			known.merge(sk)
		}
	}
	knots := make([][]float64, NumPortClasses)
	flows := make([]int, NumPortClasses)
	n := 0
	for i, sk := range p.sk {
		if i == PortsCommon {
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

// PortFlows returns, per port, the flows that use it as source or as
// destination port, over all protocols, from the port fields' priors (nil
// when the fields have none: no posterior decoding). A flow with the same
// port on both sides counts twice. Tail ports are counted as their
// class's token, which stands for them.
func (s *Schema) PortFlows() map[uint16]float64 {
	var out map[uint16]float64
	for _, f := range s.Attr {
		if (f.Name != "srcport" && f.Name != "dstport") || len(f.Prior) == 0 {
			continue
		}
		if out == nil {
			out = map[uint16]float64{}
		}
		for j, w := range f.Prior {
			if j < len(f.Candidates) && f.Candidates[j] >= 0 && f.Candidates[j] <= 0xffff {
				out[uint16(f.Candidates[j])] += w
			}
		}
	}
	return out
}
