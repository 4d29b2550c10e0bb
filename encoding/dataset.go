package encoding

import (
	"fmt"
	"math"
	"sort"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// Data is one chunk's training set: per flow an attribute vector and a
// zero-padded sequence of feature vectors.
type Data struct {
	N, AttrDim, FeatDim, MaxLen int
	Attr                        []float32 // N × AttrDim
	Feat                        []float32 // N × MaxLen × FeatDim
	Len                         []int     // records per flow, 1..MaxLen
}

// EncodeStats counts what encoding had to change.
type EncodeStats struct {
	Flows, Records int
	// Changed counts values, by field, that were clamped into a fixed range
	// or mapped to the nearest known value.
	Changed map[string]int
	// Truncated counts records beyond MaxLen that were dropped.
	Truncated int
}

func (st *EncodeStats) changed(field string) {
	if st.Changed == nil {
		st.Changed = map[string]int{}
	}
	st.Changed[field]++
}

// chunkRel is a time's position in [start, end) as a fraction.
func chunkRel(t, start, end int64) float64 {
	if end <= start {
		return 0
	}
	return float64(t-start) / float64(end-start)
}

func (s *Schema) encodeAttr(dst []float32, key trace.Key, start float64, length int, startsHere bool, present []bool, st *EncodeStats) {
	for i, c := range s.attr {
		name := c.Name()
		var v float64
		switch name {
		case "srcip":
			v = float64(key.Src)
		case "dstip":
			v = float64(key.Dst)
		case "srcport":
			v = float64(key.SrcPort)
		case "dstport":
			v = float64(key.DstPort)
		case "proto":
			v = float64(key.Proto)
		case "flow_start":
			v = start
		case "length":
			v = float64(length)
		case "starts_here":
			v = b2f(startsHere)
		default:
			if j, ok := isPresentName(name); ok && j < len(present) {
				v = b2f(present[j])
			}
		}
		if c.Encode(v, dst[s.attrOff[i]:s.attrOff[i]+c.Dim()]) {
			st.changed(name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// encodeChunk encodes a chunk's flows; val gives record r's value of a
// feature, gap being the time since the flow's previous record.
func encodeChunk[R any, P flows.Record[R]](s *Schema, ch *flows.Chunk[R], val func(name string, r *R, gap float64) float64) (*Data, EncodeStats) {
	n := len(ch.Flows)
	d := &Data{N: n, AttrDim: s.attrDim, FeatDim: s.featDim, MaxLen: s.MaxLen,
		Attr: make([]float32, n*s.attrDim), Feat: make([]float32, n*s.MaxLen*s.featDim), Len: make([]int, n)}
	st := EncodeStats{Flows: n}
	for fi := range ch.Flows {
		f := &ch.Flows[fi]
		recs := f.Records
		if len(recs) > s.MaxLen {
			st.Truncated += len(recs) - s.MaxLen
			recs = recs[:s.MaxLen]
		}
		start := chunkRel(P(&recs[0]).Time(), ch.Start, ch.End)
		if ch.Index < len(s.startQ) {
			start, _ = s.startQ[ch.Index].position(start)
		}
		s.encodeAttr(d.Attr[fi*s.attrDim:(fi+1)*s.attrDim], f.Key, start, len(recs), f.StartsHere, f.Present, &st)
		d.Len[fi] = len(recs)
		st.Records += len(recs)
		for k := range recs {
			gap := 0.0
			if k > 0 {
				gap = float64(P(&recs[k]).Time() - P(&recs[k-1]).Time())
			}
			row := d.Feat[(fi*s.MaxLen+k)*s.featDim:]
			for i, c := range s.feat {
				v := val(c.Name(), &recs[k], gap)
				if c.Encode(v, row[s.featOff[i]:s.featOff[i]+c.Dim()]) {
					st.changed(c.Name())
				}
			}
		}
	}
	return d, st
}

// EncodeFlows encodes a chunk of a flow-record trace.
func (s *Schema) EncodeFlows(ch *flows.Chunk[trace.Flow]) (*Data, EncodeStats, error) {
	if s.kind != trace.KindFlows {
		return nil, EncodeStats{}, fmt.Errorf("schema encodes %s, not flows", s.kind)
	}
	d, st := encodeChunk(s, ch, func(name string, r *trace.Flow, gap float64) float64 {
		if name != "label" {
			return flowValue(name, r, gap)
		}
		if i, ok := s.labelIndex[r.Label]; ok {
			return float64(i)
		}
		return -1 // unknown label: nearest choice, counted as changed
	})
	return d, st, nil
}

// EncodePackets encodes a chunk of a packet trace.
func (s *Schema) EncodePackets(ch *flows.Chunk[trace.Packet]) (*Data, EncodeStats, error) {
	if s.kind != trace.KindPackets {
		return nil, EncodeStats{}, fmt.Errorf("schema encodes %s, not packets", s.kind)
	}
	d, st := encodeChunk(s, ch, packetValue)
	return d, st, nil
}

// FlowAttr is a decoded attribute vector.
type FlowAttr struct {
	Key trace.Key
	// Start is the flow's encoded start: its first record's position in
	// its chunk, in [0, 1] (a quantile position when the spec has start
	// knots; see ChunkRange).
	Start      float64
	StartsHere bool
	Present    []bool
	// Len is the flow's length from its length attribute (0 when the
	// schema has none).
	Len int
}

// DecodeAttributes decodes n attribute vectors.
func (s *Schema) DecodeAttributes(attr []float32, n int) ([]FlowAttr, error) {
	if len(attr) != n*s.attrDim {
		return nil, fmt.Errorf("attributes: got %d values, want %d×%d", len(attr), n, s.attrDim)
	}
	out := make([]FlowAttr, n)
	col := make([]float64, n)
	for i := range out {
		out[i].StartsHere = true
		if s.Chunks > 1 {
			out[i].Present = make([]bool, s.Chunks)
		}
	}
	for ci, c := range s.attr {
		c.Decode(attr, s.attrDim, s.attrOff[ci], col)
		name := c.Name()
		for i, v := range col {
			a := &out[i]
			switch name {
			case "srcip":
				a.Key.Src = uint32(v)
			case "dstip":
				a.Key.Dst = uint32(v)
			case "srcport":
				a.Key.SrcPort = uint16(v)
			case "dstport":
				a.Key.DstPort = uint16(v)
			case "proto":
				a.Key.Proto = uint8(v)
			case "flow_start":
				a.Start = v
			case "length":
				a.Len = min(max(1, int(v)), s.MaxLen)
			case "starts_here":
				a.StartsHere = v != 0
			default:
				if j, ok := isPresentName(name); ok && j < len(a.Present) {
					a.Present[j] = v != 0
				}
			}
		}
	}
	return out, nil
}

// featCols are decoded features: cols[f][i][k] is feature f of flow i's
// step k.
type featCols struct {
	cols [][][]float64
	idx  map[string]int
}

// get returns feature name of flow i's step k (0 for a feature the schema
// lacks).
func (c *featCols) get(name string, i, k int) float64 {
	if f, ok := c.idx[name]; ok {
		return c.cols[f][i][k]
	}
	return 0
}

// gaps returns flow i's decoded gaps.
func (c *featCols) gaps(i int) []float64 { return c.cols[c.idx["gap"]][i] }

// decodeFeatures decodes the active steps of n generated sequences.
func (s *Schema) decodeFeatures(feat []float32, lengths []int, n int) (*featCols, error) {
	if len(feat) != n*s.MaxLen*s.featDim || len(lengths) != n {
		return nil, fmt.Errorf("features: got %d values and %d lengths, want %d×%d×%d", len(feat), len(lengths), n, s.MaxLen, s.featDim)
	}
	total := 0
	for i, l := range lengths {
		if l < 0 || l > s.MaxLen {
			return nil, fmt.Errorf("features: flow %d has length %d outside [0, %d]", i, l, s.MaxLen)
		}
		total += l
	}
	// Gather the active rows contiguously, decode each codec once.
	rows := make([]float32, 0, total*s.featDim)
	for i, l := range lengths {
		rows = append(rows, feat[i*s.MaxLen*s.featDim:(i*s.MaxLen+l)*s.featDim]...)
	}
	cols := make([][][]float64, len(s.feat))
	flat := make([]float64, total)
	for ci, c := range s.feat {
		c.Decode(rows, s.featDim, s.featOff[ci], flat)
		per := make([][]float64, n)
		vals := append([]float64(nil), flat...)
		pos := 0
		for i, l := range lengths {
			per[i] = vals[pos : pos+l : pos+l]
			pos += l
		}
		cols[ci] = per
	}
	idx := make(map[string]int, len(s.feat))
	for ci, c := range s.feat {
		idx[c.Name()] = ci
	}
	return &featCols{cols: cols, idx: idx}, nil
}

// ChunkRange identifies the chunk generated flows belong to: its index and
// its time range [Start, End) in microseconds.
type ChunkRange struct {
	Index      int
	Start, End int64
}

// times reconstructs each step's timestamp: the flow starts at its
// position in the chunk and each later step adds its gap.
func (s *Schema) times(a FlowAttr, gaps []float64, ch ChunkRange) []int64 {
	ts := make([]int64, len(gaps))
	rel := a.Start
	if ch.Index >= 0 && ch.Index < len(s.startQ) {
		rel = s.startQ[ch.Index].value(rel)
	}
	t := ch.Start + int64(math.Round(math.Max(0, math.Min(1, rel))*float64(ch.End-ch.Start)))
	for k := range gaps {
		if k > 0 {
			t += int64(math.Max(0, gaps[k]))
		}
		ts[k] = t
	}
	return ts
}

// DecodeFlows turns generated flows of a chunk into flow records, in time
// order.
func (s *Schema) DecodeFlows(attrs []FlowAttr, feat []float32, lengths []int, ch ChunkRange) ([]trace.Flow, error) {
	if s.kind != trace.KindFlows {
		return nil, fmt.Errorf("schema decodes %s, not flows", s.kind)
	}
	c, err := s.decodeFeatures(feat, lengths, len(attrs))
	if err != nil {
		return nil, err
	}
	get := c.get
	var out []trace.Flow
	for i, a := range attrs {
		ts := s.times(a, c.gaps(i), ch)
		for k, t := range ts {
			f := trace.Flow{Start: t, Src: a.Key.Src, Dst: a.Key.Dst, SrcPort: a.Key.SrcPort, DstPort: a.Key.DstPort, Proto: a.Key.Proto,
				Dur: int64(get("td", i, k)), Packets: uint64(get("pkt", i, k)), Bytes: uint64(get("byt", i, k)),
				TCPFlags: uint8(get("tcp_flags", i, k)), TOS: uint8(get("tos", i, k))}
			if li := int(get("label", i, k)); li >= 0 && li < len(s.Labels) {
				f.Label = s.Labels[li]
			}
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Start < out[b].Start })
	return out, nil
}

// DecodePackets turns generated flows of a chunk into packets, in time
// order.
func (s *Schema) DecodePackets(attrs []FlowAttr, feat []float32, lengths []int, ch ChunkRange) ([]trace.Packet, error) {
	if s.kind != trace.KindPackets {
		return nil, fmt.Errorf("schema decodes %s, not packets", s.kind)
	}
	c, err := s.decodeFeatures(feat, lengths, len(attrs))
	if err != nil {
		return nil, err
	}
	get := c.get
	var out []trace.Packet
	for i, a := range attrs {
		ts := s.times(a, c.gaps(i), ch)
		for k, t := range ts {
			out = append(out, trace.Packet{TS: t, Src: a.Key.Src, Dst: a.Key.Dst, SrcPort: a.Key.SrcPort, DstPort: a.Key.DstPort, Proto: a.Key.Proto,
				Len: uint16(get("pkt_len", i, k)), TOS: uint8(get("tos", i, k)), ID: uint16(get("id", i, k)),
				Flags: uint8(get("ip_flags", i, k)), FragOff: uint16(get("frag_off", i, k)), TTL: uint8(get("ttl", i, k)),
				TCPFlags: uint8(get("tcp_flags", i, k))})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].TS < out[b].TS })
	return out, nil
}
