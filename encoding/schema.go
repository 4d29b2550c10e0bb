package encoding

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/trace"
)

// Field types of a FieldSpec.
const (
	TypeBits        = "bits"
	TypeContinuous  = "continuous"
	TypeCategorical = "categorical"
	TypeConst       = "const"
	TypeQuantile    = "quantile"
	TypePort        = "port"
	TypeProto       = "proto"
)

// FieldSpec is the persisted description of one field's codec.
type FieldSpec struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Width   int       `json:"width,omitempty"`
	Lo      float64   `json:"lo,omitempty"`
	Hi      float64   `json:"hi,omitempty"`
	Log     bool      `json:"log,omitempty"`
	Round   bool      `json:"round,omitempty"`
	Choices []float64 `json:"choices,omitempty"`
	Knots   []float64 `json:"knots,omitempty"`
	// Probs, beside Knots, are their probabilities when not evenly
	// spaced (Quantile.Probs).
	Probs      []float64 `json:"probs,omitempty"`
	Value      float64   `json:"value,omitempty"`
	Candidates []int     `json:"candidates,omitempty"`
	// Prior, Kappa and TopK select posterior decoding of a port or
	// protocol field (Prior aligned with Candidates; see Posterior).
	Prior []float64 `json:"prior,omitempty"`
	// RecordPrior counts each candidate's records rather than flows: the
	// target of matched decoding weighted by flow length.
	RecordPrior []float64 `json:"record_prior,omitempty"`
	// ChunkRecordPrior holds RecordPrior per time chunk (chunk ×
	// candidate), for matched decoding of each chunk's flows to its own
	// mix of values.
	ChunkRecordPrior [][]float64 `json:"chunk_record_prior,omitempty"`
	// ByProto holds a port field's priors per protocol (keyed by the
	// protocol number), for decoding ports given the generated protocol.
	ByProto map[string]ProtoPrior `json:"by_proto,omitempty"`
	Kappa   float64               `json:"kappa,omitempty"`
	TopK    int                   `json:"top_k,omitempty"`
}

// ProtoPrior is a port field's prior among the flows (and records) of one
// protocol, aligned with the field's candidates.
type ProtoPrior struct {
	Prior            []float64   `json:"prior"`
	RecordPrior      []float64   `json:"record_prior,omitempty"`
	ChunkRecordPrior [][]float64 `json:"chunk_record_prior,omitempty"`
}

// Spec is the persisted description of a dataset's encoding: enough, with
// the embedding model, to rebuild the Schema that encoded the training data.
type Spec struct {
	Kind   trace.Kind  `json:"kind"` // "flows" or "packets"
	Chunks int         `json:"chunks"`
	MaxLen int         `json:"max_len"`
	Labels []string    `json:"labels,omitempty"`
	Attr   []FieldSpec `json:"attributes"`
	Feat   []FieldSpec `json:"features"`
	// StartKnots, when set, holds per chunk the quantile knots of the flows'
	// start positions in the chunk: flow_start then encodes a flow's
	// quantile position in its own chunk's distribution of starts.
	StartKnots [][]float64 `json:"start_knots,omitempty"`
	// TailPorts, when set, are the classes whose tokens stand for rare
	// ports in the port fields (see TailPorts).
	TailPorts *TailPorts `json:"tail_ports,omitempty"`
	// ChainLen, when positive, says long flows are chained segments of at
	// most MaxLen records (flows.Options.Chain): the length attribute is
	// then the whole flow's length in its chunk, up to ChainLen, and the
	// attribute follows marks the segments after a flow's first, whose
	// first gap is the time since the segment before.
	ChainLen int `json:"chain_len,omitempty"`
	// LengthKnots, with a quantile-encoded length attribute and more than
	// one chunk or chained flows, holds per chunk the quantile knots of its
	// flows' lengths in it (a chained flow counted once): generation
	// calibrates each chunk's lengths to its own (ChunkLengthPositions).
	// Under DP it is not set.
	LengthKnots [][]float64 `json:"length_knots,omitempty"`
	// ChainSpanKnots, with chained flows, holds per chunk the quantile
	// knots of the spans of its flows of more than one segment: the time
	// from a flow's first record in the chunk to its last
	// (flows.ChunkFlow.Span), as a share of the time from that first
	// record to the chunk's end. Decoding calibrates the generated chained
	// flows' spans to them, keeping the model's order (empty for a chunk
	// without such flows).
	ChainSpanKnots [][]float64 `json:"chain_span_knots,omitempty"`
	// SizeKnots, for flow traces with quantile encoding, holds per chunk
	// and per packet class the quantile knots of the records' durations
	// and bytes (SizeClass), for generate.sizes_given_packets, and under
	// PacketsOne, PacketsMany and PacketsAll the packets of its records by
	// their 5-tuple's number of records in the chunk. Under DP
	// they are post-processing of DP histograms (the same for every chunk),
	// or not set.
	SizeKnots []map[int]SizeClass `json:"size_knots,omitempty"`
	// PortLengthKnots, with tail port classes and a quantile-encoded
	// length attribute, holds per chunk and per port class (PortClass) the
	// quantile knots of the chunk's flow lengths in that class (nil for a
	// class of fewer than MinPortClassFlows flows, and for a chunk with
	// fewer than two such classes), for generate.lengths_given_ports.
	// Under DP it is not set.
	PortLengthKnots [][][]float64 `json:"port_length_knots,omitempty"`
	// PortLengthFlows holds, beside PortLengthKnots, the flows of each
	// class that has knots (0 for the others).
	PortLengthFlows [][]int `json:"port_length_flows,omitempty"`
	// PacketSizeKnots, for packet traces with quantile encoding, holds per
	// chunk the quantile knots of its packets' IP total lengths, of all
	// and per protocol of at least SizeProtoMin packets there, for
	// generate.packet_sizes_given_protocol. Not under DP.
	PacketSizeKnots []PacketSizes `json:"packet_size_knots,omitempty"`
}

// Schema encodes flows of one dataset kind into model tensors and decodes
// generated tensors back into records.
type Schema struct {
	Spec
	attr, feat       []Codec
	attrOff, featOff []int
	attrDim, featDim int
	kind             trace.Kind
	labelIndex       map[string]int
	startQ           []*Quantile
	spanQ            []*Quantile // per chunk, from ChainSpanKnots (nil where empty)
	// accessors of the attributes (aligned with attr) and of the records'
	// features (the one for the schema's kind), built by bindFields
	attrAcc   []attrField
	flowRec   *recordCodec[trace.Flow]
	packetRec *recordCodec[trace.Packet]
	// rare holds, per port field (source, destination), the ports that
	// fewer than RarePortFlows flows of a protocol use in the field, keyed
	// by rareKey (PortClass).
	rare [2]map[uint32]struct{}
}

// NewSchema builds the codecs of spec; emb provides the port and protocol
// embeddings (it may be nil when spec has no port or protocol field).
func NewSchema(spec Spec, emb Embedding) (*Schema, error) {
	s := &Schema{Spec: spec}
	if spec.Kind != trace.KindFlows && spec.Kind != trace.KindPackets {
		return nil, fmt.Errorf("schema: unknown kind %q", spec.Kind)
	}
	s.kind = spec.Kind
	if spec.Chunks < 1 || spec.MaxLen < 1 {
		return nil, fmt.Errorf("schema: chunks %d and max_len %d must be positive", spec.Chunks, spec.MaxLen)
	}
	s.labelIndex = make(map[string]int, len(spec.Labels))
	for i, l := range spec.Labels {
		s.labelIndex[l] = i
	}
	var err error
	if s.attr, s.attrOff, s.attrDim, err = buildCodecs(spec.Attr, emb); err != nil {
		return nil, fmt.Errorf("schema attributes: %w", err)
	}
	if s.feat, s.featOff, s.featDim, err = buildCodecs(spec.Feat, emb); err != nil {
		return nil, fmt.Errorf("schema features: %w", err)
	}
	for _, need := range []string{"srcip", "dstip", "srcport", "dstport", "proto", "flow_start"} {
		if s.attrIndex(need) < 0 {
			return nil, fmt.Errorf("schema: attribute %s missing", need)
		}
	}
	if s.featIndex("gap") < 0 {
		return nil, errors.New("schema: feature gap missing")
	}
	if spec.ChainLen > 0 && (s.attrIndex("length") < 0 || s.attrIndex("follows") < 0) {
		return nil, errors.New("schema: chained flows need the length and follows attributes")
	}
	if n := len(spec.SizeKnots); n > 0 && (n != spec.Chunks || spec.Kind != trace.KindFlows) {
		return nil, fmt.Errorf("schema: %d size-knot sets for %d chunks of %s", n, spec.Chunks, spec.Kind)
	}
	if n := len(spec.PacketSizeKnots); n > 0 && (n != spec.Chunks || spec.Kind != trace.KindPackets) {
		return nil, fmt.Errorf("schema: %d packet-size-knot sets for %d chunks of %s", n, spec.Chunks, spec.Kind)
	}
	if n := len(spec.LengthKnots); n > 0 && n != spec.Chunks {
		return nil, fmt.Errorf("schema: %d length-knot sets for %d chunks", n, spec.Chunks)
	}
	if n := len(spec.PortLengthKnots); n > 0 && n != spec.Chunks {
		return nil, fmt.Errorf("schema: %d port-length-knot sets for %d chunks", n, spec.Chunks)
	}
	if n := len(spec.PortLengthFlows); n != len(spec.PortLengthKnots) {
		return nil, fmt.Errorf("schema: port-length flows for %d chunks, knots for %d", n, len(spec.PortLengthKnots))
	}
	for c, ks := range spec.PortLengthKnots {
		if fl := spec.PortLengthFlows[c]; ks != nil && (len(ks) != NumPortClasses || len(fl) != NumPortClasses) || ks == nil && fl != nil {
			return nil, fmt.Errorf("schema: chunk %d has %d port-length classes and %d flow counts, want %d each", c, len(ks), len(fl), NumPortClasses)
		}
		for k, kn := range ks {
			if (kn == nil) != (spec.PortLengthFlows[c][k] == 0) || !slices.IsSorted(kn) {
				return nil, fmt.Errorf("schema: chunk %d port class %d: knots must be non-decreasing, given exactly for a class with flows", c, k)
			}
		}
	}
	if len(spec.StartKnots) > 0 {
		if len(spec.StartKnots) != spec.Chunks {
			return nil, fmt.Errorf("schema: %d start-knot sets for %d chunks", len(spec.StartKnots), spec.Chunks)
		}
		for c, k := range spec.StartKnots {
			if len(k) < 2 || !slices.IsSorted(k) || k[0] < 0 || k[len(k)-1] > 1 {
				return nil, fmt.Errorf("schema: chunk %d start knots must be ≥ 2 non-decreasing values in [0, 1]", c)
			}
			q := &Quantile{Field: "flow_start", Knots: k}
			q.seed(0x5747 + uint64(c))
			s.startQ = append(s.startQ, q)
		}
	}
	if n := len(spec.ChainSpanKnots); n > 0 {
		if n != spec.Chunks {
			return nil, fmt.Errorf("schema: chain span knots for %d chunks, want %d", n, spec.Chunks)
		}
		s.spanQ = make([]*Quantile, n)
		for c, k := range spec.ChainSpanKnots {
			if len(k) == 0 {
				continue
			}
			if len(k) < 2 || !slices.IsSorted(k) || k[0] < 0 || k[len(k)-1] > 1 {
				return nil, fmt.Errorf("schema: chunk %d chain span knots must be ≥ 2 non-decreasing values in [0, 1]", c)
			}
			s.spanQ[c] = &Quantile{Field: "span", Knots: k}
		}
	}
	if spec.TailPorts != nil {
		t, err := IndexTailPorts(spec.TailPorts)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		s.TailPorts = t
	}
	s.bindFields()
	s.rare = rarePorts(spec.Attr)
	return s, nil
}

func buildCodecs(fields []FieldSpec, emb Embedding) ([]Codec, []int, int, error) {
	var codecs []Codec
	var offs []int
	off := 0
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.Name] {
			return nil, nil, 0, fmt.Errorf("field %s listed twice", f.Name)
		}
		seen[f.Name] = true
		var c Codec
		switch f.Type {
		case TypeBits:
			if f.Width < 1 || f.Width > 32 {
				return nil, nil, 0, fmt.Errorf("field %s: bit width %d", f.Name, f.Width)
			}
			c = Bits{Field: f.Name, Width: f.Width}
		case TypeContinuous:
			if !(f.Hi >= f.Lo) || (f.Log && f.Lo < 0) || math.IsInf(f.Hi, 0) || math.IsInf(f.Lo, 0) {
				return nil, nil, 0, fmt.Errorf("field %s: invalid range [%g, %g] (log %v)", f.Name, f.Lo, f.Hi, f.Log)
			}
			c = Continuous{Field: f.Name, Lo: f.Lo, Hi: f.Hi, Log: f.Log, Round: f.Round}
		case TypeCategorical:
			if len(f.Choices) == 0 || !slices.IsSorted(f.Choices) {
				return nil, nil, 0, fmt.Errorf("field %s: choices must be non-empty and sorted", f.Name)
			}
			c = Categorical{Field: f.Name, Choices: f.Choices}
		case TypeConst:
			c = Const{Field: f.Name, Value: f.Value}
		case TypeQuantile:
			if len(f.Knots) < 2 || !slices.IsSorted(f.Knots) {
				return nil, nil, 0, fmt.Errorf("field %s: quantile knots must be at least two, non-decreasing", f.Name)
			}
			for _, k := range f.Knots {
				if math.IsNaN(k) || math.IsInf(k, 0) {
					return nil, nil, 0, fmt.Errorf("field %s: invalid quantile knot %v", f.Name, k)
				}
			}
			if err := checkProbs(f.Probs, len(f.Knots)); err != nil {
				return nil, nil, 0, fmt.Errorf("field %s: %w", f.Name, err)
			}
			q := &Quantile{Field: f.Name, Knots: f.Knots, Probs: f.Probs, Log: f.Log, Round: f.Round}
			q.seed(uint64(len(codecs)) + 1)
			c = q
		case TypePort, TypeProto:
			if emb == nil {
				return nil, nil, 0, fmt.Errorf("field %s needs an embedding model", f.Name)
			}
			maxV := 65535
			if f.Type == TypeProto {
				maxV = 255
			}
			if err := checkCandidates(f.Name, f.Candidates, maxV); err != nil {
				return nil, nil, 0, err
			}
			e := &Embedded{Field: f.Name, IsProto: f.Type == TypeProto, E: emb, Candidates: f.Candidates}
			if len(f.Prior) > 0 {
				if len(f.Prior) != len(f.Candidates) || !(f.Kappa > 0) || f.TopK < 1 {
					return nil, nil, 0, fmt.Errorf("field %s: posterior decoding needs a prior per candidate, kappa > 0 and top_k ≥ 1", f.Name)
				}
				for _, w := range f.Prior {
					if !(w >= 0) || math.IsInf(w, 0) {
						return nil, nil, 0, fmt.Errorf("field %s: invalid prior weight %v", f.Name, w)
					}
				}
				if len(f.RecordPrior) != 0 && len(f.RecordPrior) != len(f.Prior) {
					return nil, nil, 0, fmt.Errorf("field %s: record prior has %d weights for %d candidates", f.Name, len(f.RecordPrior), len(f.Prior))
				}
				if err := checkChunkPrior(f.ChunkRecordPrior, len(f.Candidates)); err != nil {
					return nil, nil, 0, fmt.Errorf("field %s: %w", f.Name, err)
				}
				e.Post = &Posterior{Prior: f.Prior, RecordPrior: f.RecordPrior, ChunkRecordPrior: f.ChunkRecordPrior, Kappa: f.Kappa, TopK: f.TopK}
				for key, pp := range f.ByProto {
					p, err := strconv.ParseUint(key, 10, 8)
					if err != nil || len(pp.Prior) != len(f.Candidates) || (pp.RecordPrior != nil && len(pp.RecordPrior) != len(f.Candidates)) || checkChunkPrior(pp.ChunkRecordPrior, len(f.Candidates)) != nil {
						return nil, nil, 0, fmt.Errorf("field %s: invalid per-protocol prior %q", f.Name, key)
					}
					if e.ByProto == nil {
						e.ByProto = map[uint8]*Posterior{}
					}
					e.ByProto[uint8(p)] = &Posterior{Prior: pp.Prior, RecordPrior: pp.RecordPrior, ChunkRecordPrior: pp.ChunkRecordPrior}
				}
			}
			c = e
		default:
			return nil, nil, 0, fmt.Errorf("field %s: unknown type %q", f.Name, f.Type)
		}
		codecs = append(codecs, c)
		offs = append(offs, off)
		off += c.Dim()
	}
	return codecs, offs, off, nil
}

// SeedDecoding restarts the random streams of posterior decoding, so that
// decoding the same tensors with the same seed gives the same records.
func (s *Schema) SeedDecoding(seed uint64) {
	for i, c := range s.attr {
		if e, ok := c.(*Embedded); ok {
			e.seed(seed + uint64(i)*0x9e3779b97f4a7c15)
		}
	}
}

// Embedded returns the port or protocol codec of attribute name, or nil.
func (s *Schema) Embedded(name string) *Embedded {
	if i := s.attrIndex(name); i >= 0 {
		e, _ := s.attr[i].(*Embedded)
		return e
	}
	return nil
}

// HasLength reports whether the schema has a length attribute.
func (s *Schema) HasLength() bool { return s.attrIndex("length") >= 0 }

// DecodeLength decodes the length attribute of one attribute vector.
func (s *Schema) DecodeLength(vec []float32) int {
	i := s.attrIndex("length")
	if i < 0 {
		return 0
	}
	out := make([]float64, 1)
	s.attr[i].Decode(vec, s.attrDim, s.attrOff[i], out)
	return min(max(1, int(out[0])), s.LengthCap())
}

// LengthCap is the longest length the length attribute decodes to: the
// longest chained flow with ChainLen, else MaxLen.
func (s *Spec) LengthCap() int { return max(s.MaxLen, s.ChainLen) }

// ChunkLengthPositions returns the encoded positions, sorted, of chunk c's
// real flow lengths (Spec.LengthKnots) under the quantile-encoded length
// attribute, a value spanning several positions placed at random among
// them: the distribution a chunk's generated lengths are calibrated to.
// It is nil without per-chunk knots.
func (s *Schema) ChunkLengthPositions(c int) []float64 {
	if c < 0 || c >= len(s.LengthKnots) {
		return nil
	}
	return s.LengthPositions(s.LengthKnots[c])
}

// LengthPositions returns the encoded positions, sorted, of the flow
// lengths values (as ChunkLengthPositions does for a chunk's knots), or
// nil when the length attribute is not quantile-encoded.
func (s *Schema) LengthPositions(values []float64) []float64 {
	i := s.attrIndex("length")
	if i < 0 || len(values) == 0 {
		return nil
	}
	q, ok := s.attr[i].(*Quantile)
	if !ok {
		return nil
	}
	return q.positions(values)
}

// Chains reports whether long flows are chained segments (Spec.ChainLen).
func (s *Schema) Chains() bool { return s.ChainLen > 0 }

// FlowLen is the length attribute of a chunk flow of records records
// (the ones encoded: at most MaxLen) whose whole flow in the chunk holds
// flowLen (flows.ChunkFlow.FlowLen, 0 when not chained).
func (s *Schema) FlowLen(records, flowLen int) int {
	if s.ChainLen > 0 && flowLen > 0 {
		return min(flowLen, s.ChainLen)
	}
	return min(records, s.MaxLen)
}

// QuantileAttr returns the offset of attribute name in an attribute vector
// when it is quantile-encoded, or -1.
func (s *Schema) QuantileAttr(name string) int {
	if i := s.attrIndex(name); i >= 0 {
		if _, ok := s.attr[i].(*Quantile); ok {
			return s.attrOff[i]
		}
	}
	return -1
}

// HasStartKnots reports whether flow starts are quantile-encoded per chunk.
func (s *Schema) HasStartKnots() bool { return len(s.startQ) > 0 }

// QuantileFeatureOffsets returns the offsets, in a feature vector, of the
// quantile-encoded features.
func (s *Schema) QuantileFeatureOffsets() []int {
	var offs []int
	for i, c := range s.feat {
		if _, ok := c.(*Quantile); ok {
			offs = append(offs, s.featOff[i])
		}
	}
	return offs
}

// Kind is the dataset kind the schema encodes.
func (s *Schema) Kind() trace.Kind { return s.kind }

// AttrDim and FeatDim are the widths of one flow's attribute vector and of
// one time step's feature vector.
func (s *Schema) AttrDim() int { return s.attrDim }
func (s *Schema) FeatDim() int { return s.featDim }

// AttrOutputs and FeatOutputs list the model output blocks, in order.
func (s *Schema) AttrOutputs() []Output { return outputsOf(s.attr) }
func (s *Schema) FeatOutputs() []Output { return outputsOf(s.feat) }

func outputsOf(cs []Codec) []Output {
	var out []Output
	for _, c := range cs {
		out = append(out, c.Outputs()...)
	}
	return out
}

func (s *Schema) attrIndex(name string) int {
	return slices.IndexFunc(s.attr, func(c Codec) bool { return c.Name() == name })
}

func (s *Schema) featIndex(name string) int {
	return slices.IndexFunc(s.feat, func(c Codec) bool { return c.Name() == name })
}

// AttrSlice returns the offset and width of attribute name in an attribute
// vector, or -1 when the schema has no such attribute.
func (s *Schema) AttrSlice(name string) (off, dim int) {
	i := s.attrIndex(name)
	if i < 0 {
		return -1, 0
	}
	return s.attrOff[i], s.attr[i].Dim()
}

// Save writes the spec as JSON, atomically.
func (s *Spec) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadSpec reads a spec written by Save.
func LoadSpec(path string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// PresentName is the attribute name of chunk i's presence tag.
func PresentName(i int) string { return "present_" + strconv.Itoa(i) }

func isPresentName(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "present_")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil
}

// checkChunkPrior checks per-chunk priors: m non-negative finite weights
// per chunk.
func checkChunkPrior(cp [][]float64, m int) error {
	for c, row := range cp {
		if len(row) != m {
			return fmt.Errorf("chunk %d's record prior has %d weights for %d candidates", c, len(row), m)
		}
		for _, w := range row {
			if !(w >= 0) || math.IsInf(w, 0) {
				return fmt.Errorf("chunk %d's record prior: invalid weight %v", c, w)
			}
		}
	}
	return nil
}

// DropChunkPriors removes the port fields' records per chunk
// (FieldSpec.ChunkRecordPrior): matched decoding then follows the trace's.
func (s *Spec) DropChunkPriors() {
	for i := range s.Attr {
		f := &s.Attr[i]
		f.ChunkRecordPrior = nil
		for k, pp := range f.ByProto {
			pp.ChunkRecordPrior = nil
			f.ByProto[k] = pp
		}
	}
}

// checkProbs checks quantile knots' probabilities: none, or one per knot,
// strictly increasing from 0 to 1.
func checkProbs(p []float64, knots int) error {
	if p == nil {
		return nil
	}
	if len(p) != knots {
		return fmt.Errorf("%d knot probabilities for %d knots", len(p), knots)
	}
	if p[0] != 0 || p[len(p)-1] != 1 {
		return fmt.Errorf("knot probabilities must run from 0 to 1, not %v to %v", p[0], p[len(p)-1])
	}
	for i := 1; i < len(p); i++ {
		if !(p[i] > p[i-1]) {
			return fmt.Errorf("knot probabilities must increase strictly (%v after %v)", p[i], p[i-1])
		}
	}
	return nil
}
