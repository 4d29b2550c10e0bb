package encoding

import (
	"github.com/netshare-go/netshare/trace"
)

// recordField is one per-record feature of a trace kind: how a record gives
// its value, how a decoded value is written back into a record, and which
// codec the spec builder derives from the values seen.
type recordField[R any] struct {
	name string
	// get is r's value, gap being the time since the flow's previous
	// record.
	get func(r *R, gap float64) float64
	// set writes a decoded value into r; nil for the gap, from which
	// decoding rebuilds the timestamps instead.
	set func(r *R, v float64)
	// spec derives the field's codec from the column of its values.
	spec func(c *column, opt BuildOptions) FieldSpec
}

func gapOf[R any](_ *R, gap float64) float64 { return gap }

// The codecs the spec builder derives: log-scaled continuous (times,
// counts), linear continuous (sizes, identifiers), or chosen from the
// values seen (small integer fields).
func logSpec(c *column, opt BuildOptions) FieldSpec  { return c.continuous(true, true, opt) }
func linSpec(c *column, opt BuildOptions) FieldSpec  { return c.continuous(false, true, opt) }
func autoSpec(c *column, opt BuildOptions) FieldSpec { return c.auto(opt) }

// flowFields are the numeric per-record features of flow traces, in schema
// order (the label, a dictionary index, follows them; see labelField).
var flowFields = []recordField[trace.Flow]{
	{"gap", gapOf[trace.Flow], nil, logSpec},
	{"td", func(r *trace.Flow, _ float64) float64 { return float64(r.Dur) }, func(r *trace.Flow, v float64) { r.Dur = int64(v) }, logSpec},
	{"pkt", func(r *trace.Flow, _ float64) float64 { return float64(r.Packets) }, func(r *trace.Flow, v float64) { r.Packets = uint64(v) }, logSpec},
	{"byt", func(r *trace.Flow, _ float64) float64 { return float64(r.Bytes) }, func(r *trace.Flow, v float64) { r.Bytes = uint64(v) }, logSpec},
	{"tcp_flags", func(r *trace.Flow, _ float64) float64 { return float64(r.TCPFlags) }, func(r *trace.Flow, v float64) { r.TCPFlags = uint8(v) }, autoSpec},
	{"tos", func(r *trace.Flow, _ float64) float64 { return float64(r.TOS) }, func(r *trace.Flow, v float64) { r.TOS = uint8(v) }, autoSpec},
}

// packetFields are the per-record features of packet traces, in schema
// order.
var packetFields = []recordField[trace.Packet]{
	{"gap", gapOf[trace.Packet], nil, logSpec},
	{"pkt_len", func(r *trace.Packet, _ float64) float64 { return float64(r.Len) }, func(r *trace.Packet, v float64) { r.Len = uint16(v) }, linSpec},
	{"tos", func(r *trace.Packet, _ float64) float64 { return float64(r.TOS) }, func(r *trace.Packet, v float64) { r.TOS = uint8(v) }, autoSpec},
	{"id", func(r *trace.Packet, _ float64) float64 { return float64(r.ID) }, func(r *trace.Packet, v float64) { r.ID = uint16(v) }, linSpec},
	{"ip_flags", func(r *trace.Packet, _ float64) float64 { return float64(r.Flags) }, func(r *trace.Packet, v float64) { r.Flags = uint8(v) }, autoSpec},
	{"frag_off", func(r *trace.Packet, _ float64) float64 { return float64(r.FragOff) }, func(r *trace.Packet, v float64) { r.FragOff = uint16(v) }, autoSpec},
	{"ttl", func(r *trace.Packet, _ float64) float64 { return float64(r.TTL) }, func(r *trace.Packet, v float64) { r.TTL = uint8(v) }, autoSpec},
	{"tcp_flags", func(r *trace.Packet, _ float64) float64 { return float64(r.TCPFlags) }, func(r *trace.Packet, v float64) { r.TCPFlags = uint8(v) }, autoSpec},
}

func newFlow(k trace.Key, t int64) trace.Flow {
	return trace.Flow{Start: t, Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto}
}

func newPacket(k trace.Key, t int64) trace.Packet {
	return trace.Packet{TS: t, Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto}
}

// labelField is a flow trace's label as an index into the schema's label
// dictionary: an unknown label encodes as −1 (the nearest choice, counted
// as changed), and an index outside the dictionary decodes to no label.
func (s *Schema) labelField() recordField[trace.Flow] {
	return recordField[trace.Flow]{
		name: "label",
		get: func(r *trace.Flow, _ float64) float64 {
			if i, ok := s.labelIndex[r.Label]; ok {
				return float64(i)
			}
			return -1
		},
		set: func(r *trace.Flow, v float64) {
			if li := int(v); li >= 0 && li < len(s.Labels) {
				r.Label = s.Labels[li]
			}
		},
	}
}

// fieldSetter writes feature column col (−1: a feature the schema lacks,
// written as 0) into a decoded record.
type fieldSetter[R any] struct {
	col int
	set func(r *R, v float64)
}

// recordCodec binds a kind's record fields to a schema's feature codecs,
// once per schema, so that the per-record loops index slices only.
type recordCodec[R any] struct {
	// newRecord starts a decoded record: its 5-tuple and time.
	newRecord func(k trace.Key, t int64) R
	// get holds per schema feature (aligned with Schema.feat) its value in
	// a record; a feature the kind does not know reads as 0.
	get []func(r *R, gap float64) float64
	// set holds, per field of the kind, the feature column it decodes from.
	set []fieldSetter[R]
}

func zeroValue[R any](*R, float64) float64 { return 0 }

func bindRecord[R any](feat []Codec, fields []recordField[R], newRecord func(trace.Key, int64) R) *recordCodec[R] {
	rc := &recordCodec[R]{newRecord: newRecord, get: make([]func(*R, float64) float64, len(feat))}
	col := make(map[string]int, len(feat))
	for i, c := range feat {
		col[c.Name()] = i
		rc.get[i] = zeroValue[R]
	}
	for _, f := range fields {
		i, ok := col[f.name]
		if ok {
			rc.get[i] = f.get
		} else {
			i = -1
		}
		if f.set != nil {
			rc.set = append(rc.set, fieldSetter[R]{i, f.set})
		}
	}
	return rc
}

// decode writes step k of flow i of the decoded features c into r.
func (rc *recordCodec[R]) decode(r *R, c *featCols, i, k int) {
	for _, f := range rc.set {
		v := 0.0
		if f.col >= 0 {
			v = c.cols[f.col][i][k]
		}
		f.set(r, v)
	}
}

// attrField is one attribute's value in a flow's attributes and how a
// decoded value is written back.
type attrField struct {
	get func(a *FlowAttr) float64
	set func(a *FlowAttr, v float64)
}

// keyAttrs are the attributes every schema has, and the length.
var keyAttrs = map[string]attrField{
	"srcip":       {func(a *FlowAttr) float64 { return float64(a.Key.Src) }, func(a *FlowAttr, v float64) { a.Key.Src = uint32(v) }},
	"dstip":       {func(a *FlowAttr) float64 { return float64(a.Key.Dst) }, func(a *FlowAttr, v float64) { a.Key.Dst = uint32(v) }},
	"srcport":     {func(a *FlowAttr) float64 { return float64(a.Key.SrcPort) }, func(a *FlowAttr, v float64) { a.Key.SrcPort = uint16(v) }},
	"dstport":     {func(a *FlowAttr) float64 { return float64(a.Key.DstPort) }, func(a *FlowAttr, v float64) { a.Key.DstPort = uint16(v) }},
	"proto":       {func(a *FlowAttr) float64 { return float64(a.Key.Proto) }, func(a *FlowAttr, v float64) { a.Key.Proto = uint8(v) }},
	"flow_start":  {func(a *FlowAttr) float64 { return a.Start }, func(a *FlowAttr, v float64) { a.Start = v }},
	"starts_here": {func(a *FlowAttr) float64 { return b2f(a.StartsHere) }, func(a *FlowAttr, v float64) { a.StartsHere = v != 0 }},
	"follows":     {func(a *FlowAttr) float64 { return b2f(a.Follows) }, func(a *FlowAttr, v float64) { a.Follows = v != 0 }},
}

// bindAttrs returns the accessors of the schema's attributes, aligned with
// s.attr. An attribute the schema does not know reads as 0 and decodes to
// nothing.
func (s *Schema) bindAttrs() []attrField {
	out := make([]attrField, len(s.attr))
	for i, c := range s.attr {
		name := c.Name()
		if f, ok := keyAttrs[name]; ok {
			out[i] = f
			continue
		}
		if name == "length" {
			maxLen := s.LengthCap()
			out[i] = attrField{
				func(a *FlowAttr) float64 { return float64(a.Len) },
				func(a *FlowAttr, v float64) { a.Len = min(max(1, int(v)), maxLen) },
			}
			continue
		}
		if j, ok := isPresentName(name); ok {
			out[i] = attrField{
				func(a *FlowAttr) float64 {
					if j < len(a.Present) {
						return b2f(a.Present[j])
					}
					return 0
				},
				func(a *FlowAttr, v float64) {
					if j < len(a.Present) {
						a.Present[j] = v != 0
					}
				},
			}
			continue
		}
		out[i] = attrField{func(*FlowAttr) float64 { return 0 }, func(*FlowAttr, float64) {}}
	}
	return out
}

// bindFields builds the schema's attribute and record accessors.
func (s *Schema) bindFields() {
	s.attrAcc = s.bindAttrs()
	switch s.kind {
	case trace.KindFlows:
		s.flowRec = bindRecord(s.feat, append(flowFields[:len(flowFields):len(flowFields)], s.labelField()), newFlow)
	case trace.KindPackets:
		s.packetRec = bindRecord(s.feat, packetFields, newPacket)
	}
}
