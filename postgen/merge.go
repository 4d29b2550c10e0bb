package postgen

import (
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
)

// mergeChunks stitches flows across chunks, as NetShare's attribute merge
// does. gen[c] holds the attribute rows chunk c's model generated (nil for
// a chunk without a model). A row that starts in its chunk is kept there
// (its own presence tag forced on) and copied, as a continuation, into
// every later chunk its tags name; a row that does not start in its chunk
// is dropped, since continuations come from the chunk where the flow
// starts, but its start position and length are kept: a continuation
// copied into chunk j starts, and lasts, as chunk j's model has its own
// continuations do. Rows copied into a chunk without a model are dropped
// and counted, as are copies beyond the number of continuations the
// later chunk's own model generated.
func mergeChunks(s *encoding.Schema, gen [][]Row, rng *rand.Rand, st *Stats) [][]Row {
	n := len(gen)
	startOff, _ := s.AttrSlice("flow_start")
	lenOff, lenDim := s.AttrSlice("length")
	own := make([][]Row, n)
	cont := make([][]Row, n)
	lenders := make([][]Row, n) // rows not starting in their chunk
	for c, rows := range gen {
		for _, row := range rows {
			a := row.Attr
			switch {
			case n == 1:
				own[c] = append(own[c], row)
			case !a.StartsHere:
				lenders[c] = append(lenders[c], row)
			default:
				if !a.Present[c] {
					// A flow that starts in a chunk is present in it.
					row.Vec = slices.Clone(row.Vec)
					setTag(s, row.Vec, encoding.PresentName(c), true)
					row.Attr.Present = slices.Clone(a.Present)
					row.Attr.Present[c] = true
					st.FixedTags++
				}
				own[c] = append(own[c], row)
				for j := c + 1; j < n; j++ {
					if a.Present[j] {
						cont[j] = append(cont[j], row)
					}
				}
			}
		}
	}
	out := make([][]Row, n)
	for c := range gen {
		if gen[c] == nil {
			st.DroppedEmpty += len(cont[c])
			continue
		}
		out[c] = own[c]
		// Chunk c's own model says how many of its flows continue earlier
		// ones (the rows it generated that do not start in it): at most
		// that many copies come in, chosen at random. A model whose tags
		// are poor (little training, DP noise) would otherwise copy flows
		// into every later chunk and inflate the trace.
		copies := cont[c]
		if len(copies) > len(lenders[c]) {
			rng.Shuffle(len(copies), func(a, b int) { copies[a], copies[b] = copies[b], copies[a] })
			st.DroppedCopies += len(copies) - len(lenders[c])
			copies = copies[:len(lenders[c])]
		}
		for _, row := range copies {
			v := slices.Clone(row.Vec)
			setTag(s, v, "starts_here", false)
			a := row.Attr
			if ls := lenders[c]; len(ls) > 0 {
				l := ls[rng.IntN(len(ls))]
				v[startOff] = l.Vec[startOff]
				if lenOff >= 0 {
					copy(v[lenOff:lenOff+lenDim], l.Vec[lenOff:lenOff+lenDim])
					a.Len = l.Attr.Len
				}
			}
			a.StartsHere = false
			a.Start = float64(v[startOff])
			out[c] = append(out[c], Row{Vec: v, Attr: a})
			st.Continuations++
		}
	}
	return out
}

// setTag sets a 2-way tag attribute (starts_here, present_i) in an encoded
// attribute vector to a hard 0 or 1.
func setTag(s *encoding.Schema, vec []float32, name string, on bool) {
	off, dim := s.AttrSlice(name)
	if off < 0 || dim != 2 {
		return
	}
	if on {
		vec[off], vec[off+1] = 0, 1
	} else {
		vec[off], vec[off+1] = 1, 0
	}
}
