package encoding

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// BuildOptions controls how a Spec is derived from a trace.
type BuildOptions struct {
	// MaxLen is the longest flow (records per chunk flow) the model holds.
	MaxLen int
	// CategoricalMax is the most distinct values a small integer field
	// (TOS, TTL, IP flags, fragment offset, TCP flags) may have to be
	// encoded one-hot; beyond it the field is continuous. Default 64.
	CategoricalMax int
	// Fixed replaces the data-derived range of the named continuous fields
	// (needed under differential privacy).
	Fixed map[string][2]float64
	// Labels fixes the label dictionary of flow traces instead of taking
	// the labels seen.
	Labels []string
	// PortCandidates and ProtoCandidates restrict decoding of ports and
	// protocols (all values known to the embedding when empty).
	PortCandidates, ProtoCandidates []int
	// PosteriorKappa, when positive, selects posterior decoding of ports
	// and protocols with this concentration over the PosteriorTopK nearest
	// values, the prior being each value's frequency among the flows of the
	// trace in that field (see Posterior).
	PosteriorKappa float64
	PosteriorTopK  int
	// QuantileKnots, when positive, encodes continuous features (gaps,
	// durations, counts, sizes) by their position among this many quantile
	// knots of the data (see Quantile) instead of log1p and min-max.
	QuantileKnots int
	// LengthAttr adds each flow's length (records in the chunk) as an
	// attribute, so that generation can take lengths from the attribute
	// generator (and its calibrated marginal) rather than from the
	// generation flags.
	LengthAttr bool
	// TailPortFlows, when 2 or more (and decoding is posterior over the
	// values seen), replaces each (protocol, port) pair that fewer flows
	// use by its class's token (see TailPorts; in a packet trace without
	// chained flows the flows are counted in the chunk they start in).
	TailPortFlows int
	// ChainLen, when positive, builds the schema of chained long flows
	// (flows.Options.Chain) of at most ChainLen records: the length
	// attribute ranges up to it and counts whole flows (the first segment
	// of each), and the follows attribute is added. It needs LengthAttr.
	ChainLen int
}

// keyCounts counts, per 5-tuple field, how many chunk flows take each
// value, and sketches the chunk flows' lengths.
type keyCounts struct {
	sport, dport, proto          map[int]float64 // chunk flows
	sportRec, dportRec, protoRec map[int]float64 // records
	// Per protocol: [proto][port] → flows, records.
	sportBy, dportBy, sportRecBy, dportRecBy map[uint8]map[int]float64
	// Per protocol, the flows counted in the chunk they start in only (a
	// split flow's segments there each), packet traces only:
	// [proto][port] → flows.
	sportStartBy, dportStartBy map[uint8]map[int]float64
	// Per chunk, records: [chunk][proto][port]. (Not the protocol's:
	// matched per chunk, it moved the rows of each protocol between
	// chunks apart from the ports the model generated for them.)
	sportRecChunk, dportRecChunk []map[uint8]map[int]float64
	lengths                      *quantileSketch
}

// canon returns the counts with every port replaced by what stands for it
// under t (the counts of ports that merge summed).
func (kc keyCounts) canon(t *TailPorts) keyCounts {
	if t == nil {
		return kc
	}
	out := kc
	out.sport, out.dport, out.sportRec, out.dportRec = map[int]float64{}, map[int]float64{}, map[int]float64{}, map[int]float64{}
	remap := func(by map[uint8]map[int]float64, all map[int]float64) map[uint8]map[int]float64 {
		m := map[uint8]map[int]float64{}
		for p, counts := range by {
			for v, n := range counts {
				c := int(t.Canon(p, uint16(v)))
				addTo(m, p, c, n)
				all[c] += n
			}
		}
		return m
	}
	out.sportBy = remap(kc.sportBy, out.sport)
	out.dportBy = remap(kc.dportBy, out.dport)
	out.sportRecBy = remap(kc.sportRecBy, out.sportRec)
	out.dportRecBy = remap(kc.dportRecBy, out.dportRec)
	chunks := func(in []map[uint8]map[int]float64) []map[uint8]map[int]float64 {
		o := make([]map[uint8]map[int]float64, len(in))
		for c, by := range in {
			o[c] = remap(by, map[int]float64{})
		}
		return o
	}
	out.sportRecChunk, out.dportRecChunk = chunks(kc.sportRecChunk), chunks(kc.dportRecChunk)
	return out
}

func addTo(m map[uint8]map[int]float64, p uint8, v int, w float64) {
	if m[p] == nil {
		m[p] = map[int]float64{}
	}
	m[p][v] += w
}

func newKeyCounts() keyCounts {
	return keyCounts{sport: map[int]float64{}, dport: map[int]float64{}, proto: map[int]float64{},
		sportRec: map[int]float64{}, dportRec: map[int]float64{}, protoRec: map[int]float64{},
		sportBy: map[uint8]map[int]float64{}, dportBy: map[uint8]map[int]float64{},
		sportRecBy: map[uint8]map[int]float64{}, dportRecBy: map[uint8]map[int]float64{},
		sportStartBy: map[uint8]map[int]float64{}, dportStartBy: map[uint8]map[int]float64{},
		lengths: newSketch()}
}

// add counts one flow of key k with n records in chunk c.
func (kc *keyCounts) add(c int, k trace.Key, records int) {
	n := float64(records)
	for len(kc.sportRecChunk) <= c {
		kc.sportRecChunk = append(kc.sportRecChunk, map[uint8]map[int]float64{})
		kc.dportRecChunk = append(kc.dportRecChunk, map[uint8]map[int]float64{})
	}
	addTo(kc.sportRecChunk[c], k.Proto, int(k.SrcPort), n)
	addTo(kc.dportRecChunk[c], k.Proto, int(k.DstPort), n)
	kc.sport[int(k.SrcPort)]++
	kc.dport[int(k.DstPort)]++
	kc.proto[int(k.Proto)]++
	kc.sportRec[int(k.SrcPort)] += n
	kc.dportRec[int(k.DstPort)] += n
	kc.protoRec[int(k.Proto)] += n
	addTo(kc.sportBy, k.Proto, int(k.SrcPort), 1)
	addTo(kc.dportBy, k.Proto, int(k.DstPort), 1)
	addTo(kc.sportRecBy, k.Proto, int(k.SrcPort), n)
	addTo(kc.dportRecBy, k.Proto, int(k.DstPort), n)
	kc.lengths.add(n)
}

// start counts one piece (a flow, or a segment of a split or chained one)
// of key k in the chunk where the flow starts.
func (kc *keyCounts) start(k trace.Key) {
	addTo(kc.sportStartBy, k.Proto, int(k.SrcPort), 1)
	addTo(kc.dportStartBy, k.Proto, int(k.DstPort), 1)
}

// chunkPrior returns per chunk the weights of cand in counts[chunk]
// (summed over protocols for proto < 0), nil without chunks.
func chunkPrior(cand []int, counts []map[uint8]map[int]float64, proto int) [][]float64 {
	if len(counts) == 0 {
		return nil
	}
	out := make([][]float64, len(counts))
	for c, by := range counts {
		out[c] = make([]float64, len(cand))
		for p, m := range by {
			if proto >= 0 && int(p) != proto {
				continue
			}
			for i, v := range cand {
				out[c][i] += m[v]
			}
		}
	}
	return out
}

// embeddedSpec is a port or protocol field, with posterior decoding over
// the values seen in the field when opt asks for it.
func embeddedSpec(name, typ string, cand []int, counts, recCounts map[int]float64, opt BuildOptions) FieldSpec {
	f := FieldSpec{Name: name, Type: typ, Candidates: cand}
	if opt.PosteriorKappa > 0 && len(cand) == 0 && len(counts) > 0 {
		for v := range counts {
			f.Candidates = append(f.Candidates, v)
		}
		slices.Sort(f.Candidates)
		f.Prior = make([]float64, len(f.Candidates))
		f.RecordPrior = make([]float64, len(f.Candidates))
		for i, v := range f.Candidates {
			f.Prior[i] = counts[v]
			f.RecordPrior[i] = recCounts[v]
		}
		f.Kappa = opt.PosteriorKappa
		f.TopK = max(1, opt.PosteriorTopK)
	}
	return f
}

// byProto adds per-protocol priors to a port field with posterior
// decoding, and the records per chunk (over all protocols, and per
// protocol).
func byProto(f FieldSpec, flows, recs map[uint8]map[int]float64, chunkRecs []map[uint8]map[int]float64) FieldSpec {
	if len(f.Prior) == 0 {
		return f
	}
	if len(chunkRecs) > 1 {
		f.ChunkRecordPrior = chunkPrior(f.Candidates, chunkRecs, -1)
	}
	if len(flows) < 2 {
		return f
	}
	f.ByProto = map[string]ProtoPrior{}
	for p, counts := range flows {
		pp := ProtoPrior{Prior: make([]float64, len(f.Candidates)), RecordPrior: make([]float64, len(f.Candidates))}
		for i, v := range f.Candidates {
			pp.Prior[i] = counts[v]
			pp.RecordPrior[i] = recs[p][v]
		}
		if len(chunkRecs) > 1 {
			pp.ChunkRecordPrior = chunkPrior(f.Candidates, chunkRecs, int(p))
		}
		f.ByProto[strconv.Itoa(int(p))] = pp
	}
	return f
}

// attrSpecs returns the attribute fields shared by both kinds.
func attrSpecs(chunks int, opt BuildOptions, kc keyCounts) []FieldSpec {
	a := []FieldSpec{
		{Name: "srcip", Type: TypeBits, Width: 32},
		{Name: "dstip", Type: TypeBits, Width: 32},
		byProto(embeddedSpec("srcport", TypePort, opt.PortCandidates, kc.sport, kc.sportRec, opt), kc.sportBy, kc.sportRecBy, kc.sportRecChunk),
		byProto(embeddedSpec("dstport", TypePort, opt.PortCandidates, kc.dport, kc.dportRec, opt), kc.dportBy, kc.dportRecBy, kc.dportRecChunk),
		embeddedSpec("proto", TypeProto, opt.ProtoCandidates, kc.proto, kc.protoRec, opt),
		{Name: "flow_start", Type: TypeContinuous, Lo: 0, Hi: 1},
	}
	if opt.LengthAttr {
		l := FieldSpec{Name: "length", Type: TypeContinuous, Lo: 1, Hi: float64(max(1, opt.MaxLen, opt.ChainLen)), Log: true, Round: true}
		if opt.QuantileKnots > 0 && kc.lengths.n > 0 {
			k, p := kc.lengths.gapKnots(opt.QuantileKnots)
			l = FieldSpec{Name: "length", Type: TypeQuantile, Knots: k, Probs: p, Log: true, Round: true}
		}
		a = append(a, l)
		if opt.ChainLen > 0 {
			a = append(a, FieldSpec{Name: "follows", Type: TypeCategorical, Choices: []float64{0, 1}})
		}
	}
	if chunks > 1 {
		a = append(a, FieldSpec{Name: "starts_here", Type: TypeCategorical, Choices: []float64{0, 1}})
		for i := range chunks {
			a = append(a, FieldSpec{Name: PresentName(i), Type: TypeCategorical, Choices: []float64{0, 1}})
		}
	}
	return a
}

// spanShare is a chained flow's span as a share of the time from its
// first record (at first) to its chunk's end (end, exclusive), in [0, 1].
func spanShare(span, first, end int64) float64 {
	if end-1 <= first {
		return 0
	}
	return min(1, max(0, float64(span)/float64(end-1-first)))
}

// chainSpanKnots is the fewest knots of Spec.ChainSpanKnots (more with
// quantile encoding's).
const chainSpanKnots = 64

// column gathers what the spec needs of one feature's values over a
// trace: their range, up to 4097 distinct values, and a quantile sketch.
type column struct {
	name   string
	vals   map[float64]struct{}
	sk     *quantileSketch
	lo, hi float64
	n      int
}

func newColumn(name string) *column {
	return &column{name: name, vals: map[float64]struct{}{}, sk: newSketch(), lo: math.Inf(1), hi: math.Inf(-1)}
}

func (c *column) add(v float64) {
	c.n++
	c.sk.add(v)
	c.lo, c.hi = math.Min(c.lo, v), math.Max(c.hi, v)
	if len(c.vals) <= 4096 {
		c.vals[v] = struct{}{}
	}
}

// continuous returns a continuous spec over the observed (or fixed) range.
func (c *column) continuous(log, round bool, opt BuildOptions) FieldSpec {
	lo, hi := c.lo, c.hi
	if r, ok := opt.Fixed[c.name]; ok {
		lo, hi = r[0], r[1]
	} else if opt.QuantileKnots > 0 && c.n > 0 {
		if !log {
			return FieldSpec{Name: c.name, Type: TypeQuantile, Knots: c.sk.knots(opt.QuantileKnots, false), Round: round}
		}
		k, p := c.sk.gapKnots(opt.QuantileKnots)
		return FieldSpec{Name: c.name, Type: TypeQuantile, Knots: k, Probs: p, Log: true, Round: round}
	}
	if c.n == 0 {
		lo, hi = 0, 0
	}
	return FieldSpec{Name: c.name, Type: TypeContinuous, Lo: lo, Hi: hi, Log: log, Round: round}
}

// auto returns a const spec for a single value, a categorical spec for few
// distinct values, and a continuous one otherwise.
func (c *column) auto(opt BuildOptions) FieldSpec {
	if _, fixed := opt.Fixed[c.name]; fixed {
		return c.continuous(false, true, opt)
	}
	switch {
	case len(c.vals) <= 1:
		v := 0.0
		for x := range c.vals {
			v = x
		}
		return FieldSpec{Name: c.name, Type: TypeConst, Value: v}
	case len(c.vals) <= opt.CategoricalMax:
		ch := make([]float64, 0, len(c.vals))
		for v := range c.vals {
			ch = append(ch, v)
		}
		slices.Sort(ch)
		return FieldSpec{Name: c.name, Type: TypeCategorical, Choices: ch}
	default:
		return c.continuous(false, true, opt)
	}
}

func (o BuildOptions) withDefaults() BuildOptions {
	if o.CategoricalMax <= 0 {
		o.CategoricalMax = 64
	}
	return o
}

// featSpecs derives each field's codec from its column.
func featSpecs[R any](fields []recordField[R], cols []*column, opt BuildOptions) []FieldSpec {
	out := make([]FieldSpec, len(fields))
	for i, f := range fields {
		out[i] = f.spec(cols[i], opt)
	}
	return out
}

// SpecBuilder gathers, one chunk flow at a time, what a Spec is derived
// from: each field's range, distinct values (up to a cap) and quantile
// sketch, the 5-tuple fields' counts, the flow lengths, each chunk's flow
// start positions and the labels. Its memory does not grow with the number
// of records (only with the distinct ports and labels).
type SpecBuilder[R any, P flows.Record[R]] struct {
	kind   trace.Kind
	chunks int
	fields []recordField[R]
	cols   []*column
	label  func(*R) string
	labels map[string]struct{}
	kc     keyCounts
	starts []*quantileSketch
	// lens sketches each chunk's flow lengths (a chained flow once), for
	// Spec.LengthKnots.
	lens []*quantileSketch
	// spans sketches each chunk's chained flows' spans (Spec.ChainSpanKnots).
	spans []*quantileSketch
	// sizes, for flow traces, sketches each chunk's durations and bytes
	// per packet class (Spec.SizeKnots); lenPackets its records' packets
	// in 5-tuples of one record, of several, and all (PacketsOne, …).
	sizes      []sizeSketches
	lenPackets [][3]*quantileSketch
	// pktSizes, for packet traces, sketches each chunk's packet lengths
	// per protocol (Spec.PacketSizeKnots).
	pktSizes []map[uint8]*quantileSketch
}

func newSpecBuilder[R any, P flows.Record[R]](kind trace.Kind, chunks int, fields []recordField[R]) *SpecBuilder[R, P] {
	b := &SpecBuilder[R, P]{kind: kind, chunks: chunks, fields: fields, labels: map[string]struct{}{}, kc: newKeyCounts()}
	for _, f := range fields {
		b.cols = append(b.cols, newColumn(f.name))
	}
	for range chunks {
		b.starts = append(b.starts, newSketch())
		b.lens = append(b.lens, newSketch())
		b.spans = append(b.spans, newSketch())
	}
	return b
}

// NewFlowSpecBuilder returns a builder for a flow trace of the given
// number of chunks.
func NewFlowSpecBuilder(chunks int) *SpecBuilder[trace.Flow, *trace.Flow] {
	b := newSpecBuilder[trace.Flow, *trace.Flow](trace.KindFlows, chunks, flowFields)
	b.label = func(r *trace.Flow) string { return r.Label }
	for range chunks {
		b.sizes = append(b.sizes, sizeSketches{})
		b.lenPackets = append(b.lenPackets, [3]*quantileSketch{newSketch(), newSketch(), newSketch()})
	}
	return b
}

// NewPacketSpecBuilder returns a builder for a packet trace of the given
// number of chunks.
func NewPacketSpecBuilder(chunks int) *SpecBuilder[trace.Packet, *trace.Packet] {
	b := newSpecBuilder[trace.Packet, *trace.Packet](trace.KindPackets, chunks, packetFields)
	for range chunks {
		b.pktSizes = append(b.pktSizes, map[uint8]*quantileSketch{})
	}
	return b
}

// Add adds a flow of chunk c, which spans [start, end).
func (b *SpecBuilder[R, P]) Add(c int, start, end int64, f *flows.ChunkFlow[R]) {
	if len(f.Records) == 0 {
		return
	}
	// Where a flow starts, each of its pieces counts (keyCounts.start;
	// only a packet trace's tail reads it).
	if f.StartsHere && b.kind == trace.KindPackets {
		b.kc.start(f.Key)
	}
	// A chained flow (flows.Options.Chain) counts once, with its whole
	// length, at its first segment; the segments after it add their
	// records' values, the first gap being the time since the segment
	// before.
	switch {
	case f.FlowLen > 0 && !f.Follows:
		b.kc.add(c, f.Key, f.FlowLen)
		if f.FlowLen > len(f.Records) { // more than one segment
			b.spans[c].add(spanShare(f.Span, P(&f.Records[0]).Time(), end))
		}
		b.starts[c].add(chunkRel(P(&f.Records[0]).Time(), start, end))
		b.lens[c].add(float64(f.FlowLen))
	case f.FlowLen == 0:
		b.kc.add(c, f.Key, len(f.Records))
		b.starts[c].add(chunkRel(P(&f.Records[0]).Time(), start, end))
		b.lens[c].add(float64(len(f.Records)))
	}
	for i := range f.Records {
		r := &f.Records[i]
		g := 0.0
		if i == 0 && f.Follows {
			g = float64(f.Lead)
		} else if i > 0 {
			g = float64(P(r).Time() - P(&f.Records[i-1]).Time())
		}
		for j, fd := range b.fields {
			b.cols[j].add(fd.get(r, g))
		}
		if b.label != nil {
			b.labels[b.label(r)] = struct{}{}
		}
		if b.pktSizes != nil {
			pk := any(r).(*trace.Packet)
			sk := b.pktSizes[c][pk.Proto]
			if sk == nil {
				sk = newSketch()
				b.pktSizes[c][pk.Proto] = sk
			}
			sk.add(float64(pk.Len))
		}
		if b.sizes != nil {
			fr := any(r).(*trace.Flow)
			multi := len(f.Records) > 1
			b.sizes[c].add(fr, multi)
			b.lenPackets[c][b2i(multi)].add(float64(fr.Packets))
			b.lenPackets[c][2].add(float64(fr.Packets))
		}
	}
}

// AddSplit adds every flow of a split.
func (b *SpecBuilder[R, P]) AddSplit(sp *flows.Split[R]) {
	for c := range sp.Chunks {
		ch := &sp.Chunks[c]
		for i := range ch.Flows {
			b.Add(c, ch.Start, ch.End, &ch.Flows[i])
		}
	}
}

// Spec derives the spec from what was added.
func (b *SpecBuilder[R, P]) Spec(opt BuildOptions) (Spec, error) {
	opt = opt.withDefaults()
	if opt.MaxLen < 1 {
		return Spec{}, fmt.Errorf("max flow length must be positive, got %d", opt.MaxLen)
	}
	if opt.ChainLen > 0 && !opt.LengthAttr {
		return Spec{}, fmt.Errorf("chained long flows need the length attribute")
	}
	spec := Spec{Kind: b.kind, Chunks: b.chunks, MaxLen: opt.MaxLen, ChainLen: opt.ChainLen}
	kc := b.kc
	if opt.TailPortFlows >= 2 && opt.PosteriorKappa > 0 && len(opt.PortCandidates) == 0 {
		src := tailCounts{flows: kc.sportBy, records: kc.sportRecBy}
		dst := tailCounts{flows: kc.dportBy, records: kc.dportRecBy}
		// A capture's ports are in the tail by their flows counted where
		// they start (tailCounts.starts), but not with chained flows: on
		// the long-flow capture chained, nearly every port joined the
		// tail that way and the joint TVD rose on both seeds tried
		// (docs/model.md, "Tail ports").
		if b.kind == trace.KindPackets && opt.ChainLen == 0 {
			src.starts, dst.starts = kc.sportStartBy, kc.dportStartBy
		}
		spec.TailPorts = buildTailPorts(opt.TailPortFlows, src, dst)
		kc = kc.canon(spec.TailPorts)
	}
	spec.Attr = attrSpecs(b.chunks, opt, kc)
	if opt.QuantileKnots > 0 {
		spec.StartKnots = make([][]float64, b.chunks)
		for c, sk := range b.starts {
			if sk.n == 0 {
				sk.add(0)
				sk.add(1)
			}
			spec.StartKnots[c] = sk.knots(opt.QuantileKnots, false)
		}
	}
	if opt.ChainLen > 0 {
		spec.ChainSpanKnots = make([][]float64, b.chunks)
		for c, sk := range b.spans {
			if sk.n > 0 {
				spec.ChainSpanKnots[c] = sk.knots(max(opt.QuantileKnots, chainSpanKnots), false)
			}
		}
	}
	if opt.LengthAttr && opt.QuantileKnots > 0 && (opt.ChainLen > 0 || b.chunks > 1) {
		spec.LengthKnots = make([][]float64, b.chunks)
		for c, sk := range b.lens {
			if sk.n == 0 {
				sk.add(1)
			}
			spec.LengthKnots[c] = sk.knots(opt.QuantileKnots, false) // values: positions are taken through the codec
		}
	}
	if b.sizes != nil && opt.QuantileKnots > 0 {
		spec.SizeKnots = make([]map[int]SizeClass, b.chunks)
		for c, s := range b.sizes {
			spec.SizeKnots[c] = s.knots(opt.QuantileKnots)
			for i, sk := range b.lenPackets[c] {
				if sk.n >= SizeProtoMin {
					spec.SizeKnots[c][PacketsOne+i] = SizeClass{Packets: sk.knots(opt.QuantileKnots, true)}
				}
			}
		}
	}
	if b.pktSizes != nil && opt.QuantileKnots > 0 {
		spec.PacketSizeKnots = make([]PacketSizes, b.chunks)
		for c, by := range b.pktSizes {
			all := newSketch()
			ps := PacketSizes{ByProto: map[uint8][]float64{}}
			for _, p := range slices.Sorted(maps.Keys(by)) { // merged in a fixed order
				sk := by[p]
				all.merge(sk)
				if sk.n >= SizeProtoMin {
					ps.ByProto[p] = sk.knots(opt.QuantileKnots, true)
				}
			}
			if all.n > 0 {
				ps.All = all.knots(opt.QuantileKnots, true)
			}
			spec.PacketSizeKnots[c] = ps
		}
	}
	spec.Feat = featSpecs(b.fields, b.cols, opt)
	if b.kind == trace.KindFlows {
		b.flowLabels(&spec, opt)
	}
	return spec, nil
}

func (b *SpecBuilder[R, P]) flowLabels(spec *Spec, opt BuildOptions) {
	spec.Labels = opt.Labels
	if spec.Labels == nil {
		for l := range b.labels {
			spec.Labels = append(spec.Labels, l)
		}
		slices.Sort(spec.Labels)
	}
	switch len(spec.Labels) {
	case 0:
		spec.Labels = []string{""}
		fallthrough
	case 1:
		spec.Feat = append(spec.Feat, FieldSpec{Name: "label", Type: TypeConst, Value: 0})
	default:
		ch := make([]float64, len(spec.Labels))
		for i := range ch {
			ch[i] = float64(i)
		}
		spec.Feat = append(spec.Feat, FieldSpec{Name: "label", Type: TypeCategorical, Choices: ch})
	}
}

// BuildFlowSpec derives the encoding of a flow-record trace from its split.
func BuildFlowSpec(sp *flows.Split[trace.Flow], opt BuildOptions) (Spec, error) {
	b := NewFlowSpecBuilder(len(sp.Chunks))
	b.AddSplit(sp)
	return b.Spec(opt)
}

// BuildPacketSpec derives the encoding of a packet trace from its split.
func BuildPacketSpec(sp *flows.Split[trace.Packet], opt BuildOptions) (Spec, error) {
	b := NewPacketSpecBuilder(len(sp.Chunks))
	b.AddSplit(sp)
	return b.Spec(opt)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
