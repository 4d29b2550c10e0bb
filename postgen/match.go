package postgen

import (
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// matchKeys decodes the protocol, then the ports, of every generated row
// at once with matched decoding (encoding.Embedded.DecodeMatched): each row gets a
// value near the vector the model generated, with the field's values
// drawn in their real proportions. The row's vector slice is replaced by
// the chosen value's embedding so that features are generated for the
// value the row now holds. It changes nothing for fields without posterior
// decoding. Only the rows keep accepts (those that will be generated) are
// matched; with a length attribute each counts as many times as its flow
// has records, so that values keep their real share of records.
//
// With rareLen, a row counts rareLen(field) records once it takes a tail
// class's token in field (source or destination port): its flow is then
// one of a one-off port, whose length the calibration within port
// classes sets to that class's real lengths (mostly one record), not the
// length it was generated with. Counted with its generated length, a row
// generated long filled a token's share of records alone, the calibration
// then cut it to one record, and the one-off ports lost their records:
// on the IoT-23 Malware-20 log 2.7% of the records came from one-off
// source ports against the real 11.4% (11.8% counted so).
func matchKeys(s *encoding.Schema, gen [][]Row, keep func(Row) bool, chunk int, rareLen func(field string) float64, rng *rand.Rand) {
	var rows []*Row
	var weights []float64
	for c := range gen {
		for i := range gen[c] {
			if keep(gen[c][i]) {
				rows = append(rows, &gen[c][i])
				weights = append(weights, float64(max(1, gen[c][i].Attr.Len)))
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	if !s.HasLength() {
		weights = nil
	}
	// The protocol first: ports are then drawn among those seen with the
	// flow's protocol, so (port, protocol) pairs are ones the data holds.
	for _, field := range []string{"proto", "srcport", "dstport"} {
		e := s.Embedded(field)
		if e == nil || e.Post == nil {
			continue
		}
		const all = -1 // the group decoded with the field's own prior
		groups := map[int][]int{}
		for i, r := range rows {
			g := int(r.Attr.Key.Proto)
			if field == "proto" || e.ForProto(r.Attr.Key.Proto) == nil {
				g = all
			}
			groups[g] = append(groups[g], i)
		}
		keys := make([]int, 0, len(groups))
		for g := range groups {
			keys = append(keys, g)
		}
		slices.Sort(keys) // a fixed order keeps the draws reproducible
		for _, g := range keys {
			codec := e
			if g != all {
				codec = e.ForProto(uint8(g))
			}
			var as []float64
			if weights != nil && rareLen != nil && s.TailPorts != nil && field != "proto" {
				as = tokenWeights(s.TailPorts, codec.Candidates, g, rareLen(field))
			}
			matchField(s, field, codec, rows, groups[g], weights, as, chunk, rng)
		}
	}
}

// matchField decodes field for the rows listed in idx with codec's matched
// decoding, and writes the values into the rows' keys and vectors.
func matchField(s *encoding.Schema, field string, codec *encoding.Embedded, rows []*Row, idx []int, weights, as []float64, chunk int, rng *rand.Rand) {
	d := s.AttrDim()
	off, dim := s.AttrSlice(field)
	src := make([]float32, len(idx)*d)
	var w []float64
	for j, i := range idx {
		copy(src[j*d:(j+1)*d], rows[i].Vec)
		if weights != nil {
			w = append(w, weights[i])
		}
	}
	vals := make([]float64, len(idx))
	o := encoding.MatchOptions{Weights: w, As: as, Chunk: chunk}
	if s.Kind() == trace.KindPackets {
		o.ChunkShare = encoding.CaptureChunkShare
	}
	codec.DecodeMatchedWith(src, d, off, vals, o, rng)
	for j, i := range idx {
		r := rows[i]
		v := vals[j]
		var vec []float32
		switch field {
		case "srcport":
			r.Attr.Key.SrcPort = uint16(v)
			vec, _ = codec.E.EncodePort(uint16(v))
		case "dstport":
			r.Attr.Key.DstPort = uint16(v)
			vec, _ = codec.E.EncodePort(uint16(v))
		default:
			r.Attr.Key.Proto = uint8(v)
			vec, _ = codec.E.EncodeProto(uint8(v))
		}
		r.Vec = append([]float32(nil), r.Vec...)
		copy(r.Vec[off:off+dim], vec)
	}
}

// tokenWeights returns, per candidate, n for the tail classes' tokens of
// protocol proto (of any protocol for proto −1) and 0 for the others; nil
// when no candidate is a token or n is not positive.
func tokenWeights(t *encoding.TailPorts, cands []int, proto int, n float64) []float64 {
	if !(n > 0) {
		return nil
	}
	var out []float64
	for j, v := range cands {
		if v < 0 || v > 0xffff || !t.IsToken(proto, uint16(v)) {
			continue
		}
		if out == nil {
			out = make([]float64, len(cands))
		}
		out[j] = n
	}
	return out
}
