package encoding

import (
	"fmt"
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
}

// keyCounts counts, per 5-tuple field, how many chunk flows take each
// value, and lists the chunk flows' lengths.
type keyCounts struct {
	sport, dport, proto          map[int]float64 // chunk flows
	sportRec, dportRec, protoRec map[int]float64 // records
	// Per protocol: [proto][port] → flows, records.
	sportBy, dportBy, sportRecBy, dportRecBy map[uint8]map[int]float64
	lengths                                  []float64
}

func addTo(m map[uint8]map[int]float64, p uint8, v int, w float64) {
	if m[p] == nil {
		m[p] = map[int]float64{}
	}
	m[p][v] += w
}

func countKeys[R any](sp *flows.Split[R]) keyCounts {
	kc := keyCounts{sport: map[int]float64{}, dport: map[int]float64{}, proto: map[int]float64{},
		sportRec: map[int]float64{}, dportRec: map[int]float64{}, protoRec: map[int]float64{},
		sportBy: map[uint8]map[int]float64{}, dportBy: map[uint8]map[int]float64{},
		sportRecBy: map[uint8]map[int]float64{}, dportRecBy: map[uint8]map[int]float64{}}
	for _, ch := range sp.Chunks {
		for _, f := range ch.Flows {
			n := float64(len(f.Records))
			kc.sport[int(f.Key.SrcPort)]++
			kc.dport[int(f.Key.DstPort)]++
			kc.proto[int(f.Key.Proto)]++
			kc.sportRec[int(f.Key.SrcPort)] += n
			kc.dportRec[int(f.Key.DstPort)] += n
			kc.protoRec[int(f.Key.Proto)] += n
			addTo(kc.sportBy, f.Key.Proto, int(f.Key.SrcPort), 1)
			addTo(kc.dportBy, f.Key.Proto, int(f.Key.DstPort), 1)
			addTo(kc.sportRecBy, f.Key.Proto, int(f.Key.SrcPort), n)
			addTo(kc.dportRecBy, f.Key.Proto, int(f.Key.DstPort), n)
			kc.lengths = append(kc.lengths, n)
		}
	}
	return kc
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

// byProto adds per-protocol priors to a port field with posterior decoding.
func byProto(f FieldSpec, flows, recs map[uint8]map[int]float64) FieldSpec {
	if len(f.Prior) == 0 || len(flows) < 2 {
		return f
	}
	f.ByProto = map[string]ProtoPrior{}
	for p, counts := range flows {
		pp := ProtoPrior{Prior: make([]float64, len(f.Candidates)), RecordPrior: make([]float64, len(f.Candidates))}
		for i, v := range f.Candidates {
			pp.Prior[i] = counts[v]
			pp.RecordPrior[i] = recs[p][v]
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
		byProto(embeddedSpec("srcport", TypePort, opt.PortCandidates, kc.sport, kc.sportRec, opt), kc.sportBy, kc.sportRecBy),
		byProto(embeddedSpec("dstport", TypePort, opt.PortCandidates, kc.dport, kc.dportRec, opt), kc.dportBy, kc.dportRecBy),
		embeddedSpec("proto", TypeProto, opt.ProtoCandidates, kc.proto, kc.protoRec, opt),
		{Name: "flow_start", Type: TypeContinuous, Lo: 0, Hi: 1},
	}
	if opt.LengthAttr {
		l := FieldSpec{Name: "length", Type: TypeContinuous, Lo: 1, Hi: float64(max(1, opt.MaxLen)), Log: true, Round: true}
		if opt.QuantileKnots > 0 && len(kc.lengths) > 0 {
			l = FieldSpec{Name: "length", Type: TypeQuantile, Knots: QuantileKnots(kc.lengths, opt.QuantileKnots, true), Log: true, Round: true}
		}
		a = append(a, l)
	}
	if chunks > 1 {
		a = append(a, FieldSpec{Name: "starts_here", Type: TypeCategorical, Choices: []float64{0, 1}})
		for i := range chunks {
			a = append(a, FieldSpec{Name: PresentName(i), Type: TypeCategorical, Choices: []float64{0, 1}})
		}
	}
	return a
}

// column gathers one feature's values over a trace.
type column struct {
	name   string
	vals   map[float64]struct{}
	all    []float64
	lo, hi float64
	n      int
}

func newColumn(name string) *column {
	return &column{name: name, vals: map[float64]struct{}{}, lo: math.Inf(1), hi: math.Inf(-1)}
}

func (c *column) add(v float64) {
	c.n++
	c.all = append(c.all, v)
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
		return FieldSpec{Name: c.name, Type: TypeQuantile, Knots: QuantileKnots(c.all, opt.QuantileKnots, log), Log: log, Round: round}
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

// gatherColumns collects each field's values over the records of a split,
// calling each (when set) on every record too.
func gatherColumns[R any, P flows.Record[R]](sp *flows.Split[R], fields []recordField[R], each func(r *R)) []*column {
	cols := make([]*column, len(fields))
	for i, f := range fields {
		cols[i] = newColumn(f.name)
	}
	for _, ch := range sp.Chunks {
		for _, f := range ch.Flows {
			for i := range f.Records {
				r := &f.Records[i]
				g := 0.0
				if i > 0 {
					g = float64(P(r).Time() - P(&f.Records[i-1]).Time())
				}
				for j, fd := range fields {
					cols[j].add(fd.get(r, g))
				}
				if each != nil {
					each(r)
				}
			}
		}
	}
	return cols
}

// featSpecs derives each field's codec from its column.
func featSpecs[R any](fields []recordField[R], cols []*column, opt BuildOptions) []FieldSpec {
	out := make([]FieldSpec, len(fields))
	for i, f := range fields {
		out[i] = f.spec(cols[i], opt)
	}
	return out
}

// BuildFlowSpec derives the encoding of a flow-record trace from its split.
func BuildFlowSpec(sp *flows.Split[trace.Flow], opt BuildOptions) (Spec, error) {
	opt = opt.withDefaults()
	if opt.MaxLen < 1 {
		return Spec{}, fmt.Errorf("max flow length must be positive, got %d", opt.MaxLen)
	}
	labels := map[string]struct{}{}
	cols := gatherColumns(sp, flowFields, func(r *trace.Flow) { labels[r.Label] = struct{}{} })
	spec := Spec{Kind: trace.KindFlows, Chunks: len(sp.Chunks), MaxLen: opt.MaxLen}
	spec.Attr = attrSpecs(len(sp.Chunks), opt, countKeys(sp))
	spec.StartKnots = startKnots(sp, opt)
	spec.Feat = featSpecs(flowFields, cols, opt)
	spec.Labels = opt.Labels
	if spec.Labels == nil {
		for l := range labels {
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
	return spec, nil
}

// BuildPacketSpec derives the encoding of a packet trace from its split.
func BuildPacketSpec(sp *flows.Split[trace.Packet], opt BuildOptions) (Spec, error) {
	opt = opt.withDefaults()
	if opt.MaxLen < 1 {
		return Spec{}, fmt.Errorf("max flow length must be positive, got %d", opt.MaxLen)
	}
	cols := gatherColumns(sp, packetFields, nil)
	spec := Spec{Kind: trace.KindPackets, Chunks: len(sp.Chunks), MaxLen: opt.MaxLen}
	spec.Attr = attrSpecs(len(sp.Chunks), opt, countKeys(sp))
	spec.StartKnots = startKnots(sp, opt)
	spec.Feat = featSpecs(packetFields, cols, opt)
	return spec, nil
}

// startKnots returns per chunk the quantile knots of its flows' start
// positions, when quantile encoding is on.
func startKnots[R any, P flows.Record[R]](sp *flows.Split[R], opt BuildOptions) [][]float64 {
	if opt.QuantileKnots <= 0 {
		return nil
	}
	out := make([][]float64, len(sp.Chunks))
	for c, ch := range sp.Chunks {
		var rel []float64
		for _, f := range ch.Flows {
			rel = append(rel, chunkRel(P(&f.Records[0]).Time(), ch.Start, ch.End))
		}
		if len(rel) == 0 {
			rel = []float64{0, 1}
		}
		out[c] = QuantileKnots(rel, opt.QuantileKnots, false)
	}
	return out
}
