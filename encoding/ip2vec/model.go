package ip2vec

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/netshare-go/netshare/trace"
)

// Kind tells port tokens from protocol tokens.
type Kind uint8

const (
	// KindPort is a TCP/UDP port (or ICMP type·256+code) token.
	KindPort Kind = iota
	// KindProto is an IP protocol number token.
	KindProto
)

func (k Kind) String() string {
	switch k {
	case KindPort:
		return "port"
	case KindProto:
		return "proto"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Token is one vocabulary entry: a kind and a value (a protocol's value is
// below 256).
type Token struct {
	Kind  Kind
	Value uint16
}

// Port returns the token of port p.
func Port(p uint16) Token { return Token{KindPort, p} }

// Proto returns the token of protocol p.
func Proto(p uint8) Token { return Token{KindProto, uint16(p)} }

func (t Token) String() string { return fmt.Sprintf("%v:%d", t.Kind, t.Value) }

// Sentence is one training sentence, the tokens [SrcPort, DstPort, Proto]
// of one record.
type Sentence struct {
	SrcPort, DstPort uint16
	Proto            uint8
}

// SentenceOf returns the sentence of a flow key.
func SentenceOf(k trace.Key) Sentence {
	return Sentence{SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto}
}

// Model is a trained IP2Vec embedding: a unit vector of Dim() components
// for every known port and protocol. A Model's embedding never changes
// after training or loading, and all its methods are safe for concurrent
// use. A Model must not be copied.
type Model struct {
	cfg       Config
	sentences int64 // sentences trained on

	dim         int
	ports       []uint16 // ascending
	portCounts  []uint64
	portVecs    []float32 // len(ports) × dim, row i for ports[i]
	protos      []uint8   // ascending
	protoCounts []uint64
	protoVecs   []float32

	portIdx  []int32 // 65536 entries: row of each port, −1 if unknown
	protoIdx [256]int32

	decoders decoderCache // for DecodePorts and DecodeProtos
}

// Dim returns the vector size.
func (m *Model) Dim() int { return m.dim }

// Config returns the configuration the model was trained with.
func (m *Model) Config() Config { return m.cfg }

// Sentences returns the number of sentences the model was trained on.
func (m *Model) Sentences() int64 { return m.sentences }

// Ports returns the known ports, ascending.
func (m *Model) Ports() []uint16 { return slices.Clone(m.ports) }

// Protos returns the known protocols, ascending.
func (m *Model) Protos() []uint8 { return slices.Clone(m.protos) }

// Count returns how often a known token occurred in the training corpus
// (0 for an unknown token).
func (m *Model) Count(t Token) uint64 {
	switch t.Kind {
	case KindPort:
		if i := m.portIdx[t.Value]; i >= 0 {
			return m.portCounts[i]
		}
	case KindProto:
		if t.Value < 256 {
			if i := m.protoIdx[t.Value]; i >= 0 {
				return m.protoCounts[i]
			}
		}
	}
	return 0
}

// Vector returns a known token's unit vector and true, or nil and false.
// The slice is shared with the model and must not be modified.
func (m *Model) Vector(t Token) ([]float32, bool) {
	d := m.dim
	switch t.Kind {
	case KindPort:
		if i := int(m.portIdx[t.Value]); i >= 0 {
			return m.portVecs[i*d : (i+1)*d : (i+1)*d], true
		}
	case KindProto:
		if t.Value < 256 {
			if i := int(m.protoIdx[t.Value]); i >= 0 {
				return m.protoVecs[i*d : (i+1)*d : (i+1)*d], true
			}
		}
	}
	return nil, false
}

// Similarity returns the cosine similarity of two known tokens (their
// vectors are unit vectors), or NaN if either is unknown.
func (m *Model) Similarity(a, b Token) float64 {
	va, ok1 := m.Vector(a)
	vb, ok2 := m.Vector(b)
	if !ok1 || !ok2 {
		return math.NaN()
	}
	s := 0.0
	for i := range va {
		s += float64(va[i]) * float64(vb[i])
	}
	return s
}

// NearestPort returns p if it is known, and otherwise the numerically
// nearest known port (the lower one on a tie); inVocab reports which.
func (m *Model) NearestPort(p uint16) (port uint16, inVocab bool) {
	if m.portIdx[p] >= 0 {
		return p, true
	}
	return nearest(m.ports, p), false
}

// NearestProto is [Model.NearestPort] for protocols.
func (m *Model) NearestProto(p uint8) (proto uint8, inVocab bool) {
	if m.protoIdx[p] >= 0 {
		return p, true
	}
	return nearest(m.protos, p), false
}

// nearest returns the value of the ascending, non-empty list vals nearest
// to v, the lower on a tie.
func nearest[T uint8 | uint16](vals []T, v T) T {
	i := sort.Search(len(vals), func(i int) bool { return vals[i] >= v })
	switch {
	case i == 0:
		return vals[0]
	case i == len(vals):
		return vals[len(vals)-1]
	}
	lo, hi := vals[i-1], vals[i]
	if v-lo <= hi-v {
		return lo
	}
	return hi
}

// EncodePort returns port p's unit vector. An unknown port is encoded as
// the numerically nearest known port; inVocab is false then, so the caller
// can count such substitutions. The slice is shared with the model and must
// not be modified (copy it, or use [Model.EncodePorts]).
func (m *Model) EncodePort(p uint16) (vec []float32, inVocab bool) {
	q, ok := m.NearestPort(p)
	v, _ := m.Vector(Port(q))
	return v, ok
}

// EncodeProto returns protocol p's unit vector, as [Model.EncodePort] does
// for ports.
func (m *Model) EncodeProto(p uint8) (vec []float32, inVocab bool) {
	q, ok := m.NearestProto(p)
	v, _ := m.Vector(Proto(q))
	return v, ok
}

// EncodePorts writes the vectors of ports into dst (len(ports) × Dim()
// values, row-major) and returns how many ports were not in the vocabulary
// and were encoded as their nearest known port.
func (m *Model) EncodePorts(ports []uint16, dst []float32) (oov int, err error) {
	return encodeAll(m, "ports", ports, dst, m.EncodePort)
}

// EncodeProtos is [Model.EncodePorts] for protocols.
func (m *Model) EncodeProtos(protos []uint8, dst []float32) (oov int, err error) {
	return encodeAll(m, "protocols", protos, dst, m.EncodeProto)
}

// encodeAll writes the vectors that encode gives vals into dst (row-major)
// and counts the values encoded as their nearest known one.
func encodeAll[T any](m *Model, what string, vals []T, dst []float32, encode func(T) ([]float32, bool)) (oov int, err error) {
	if len(dst) != len(vals)*m.dim {
		return 0, fmt.Errorf("ip2vec: encode %d %s into %d values, want %d", len(vals), what, len(dst), len(vals)*m.dim)
	}
	for i, v := range vals {
		vec, ok := encode(v)
		copy(dst[i*m.dim:], vec)
		if !ok {
			oov++
		}
	}
	return oov, nil
}

// buildIndex fills the value → row lookups from the sorted value lists.
func (m *Model) buildIndex() {
	m.portIdx = make([]int32, 1<<16)
	for i := range m.portIdx {
		m.portIdx[i] = -1
	}
	for i, p := range m.ports {
		m.portIdx[p] = int32(i)
	}
	for i := range m.protoIdx {
		m.protoIdx[i] = -1
	}
	for i, p := range m.protos {
		m.protoIdx[p] = int32(i)
	}
}

// normalize scales each dim-wide row of v to unit L2 norm (a zero row stays
// zero).
func normalize(v []float32, dim int) {
	for r := 0; r+dim <= len(v); r += dim {
		row := v[r : r+dim]
		s := 0.0
		for _, x := range row {
			s += float64(x) * float64(x)
		}
		if s == 0 {
			continue
		}
		inv := 1 / math.Sqrt(s)
		for i := range row {
			row[i] = float32(float64(row[i]) * inv)
		}
	}
}
