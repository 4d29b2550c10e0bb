package pipeline

import (
	"math/rand/v2"

	"github.com/netshare-go/netshare/encoding"
)

// matchKeys decodes the ports and protocol of every generated row at once
// with matched decoding (encoding.Embedded.DecodeMatched): each row gets a
// value near the vector the model generated, with the field's values
// drawn in their real proportions. The row's vector slice is replaced by
// the chosen value's embedding so that features are generated for the
// value the row now holds. It changes nothing for fields without posterior
// decoding. Only the rows keep accepts (those that will be generated) are
// matched; with a length attribute each counts as many times as its flow
// has records, so that values keep their real share of records.
func matchKeys(s *encoding.Schema, gen [][]genRow, keep func(genRow) bool, rng *rand.Rand) {
	var rows []*genRow
	var weights []float64
	for c := range gen {
		for i := range gen[c] {
			if keep(gen[c][i]) {
				rows = append(rows, &gen[c][i])
				weights = append(weights, float64(max(1, gen[c][i].attr.Len)))
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	if !s.HasLength() {
		weights = nil
	}
	d := s.AttrDim()
	for _, field := range []string{"srcport", "dstport", "proto"} {
		e := s.Embedded(field)
		if e == nil || e.Post == nil {
			continue
		}
		off, dim := s.AttrSlice(field)
		src := make([]float32, len(rows)*d)
		for i, r := range rows {
			copy(src[i*d:(i+1)*d], r.vec)
		}
		vals := make([]float64, len(rows))
		e.DecodeMatched(src, d, off, vals, weights, rng)
		for i, r := range rows {
			v := vals[i]
			var vec []float32
			switch field {
			case "srcport":
				r.attr.Key.SrcPort = uint16(v)
				vec, _ = e.E.EncodePort(uint16(v))
			case "dstport":
				r.attr.Key.DstPort = uint16(v)
				vec, _ = e.E.EncodePort(uint16(v))
			default:
				r.attr.Key.Proto = uint8(v)
				vec, _ = e.E.EncodeProto(uint8(v))
			}
			r.vec = append([]float32(nil), r.vec...)
			copy(r.vec[off:off+dim], vec)
		}
	}
}
