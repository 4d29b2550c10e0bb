package pipeline

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// GenStats counts what generation produced and dropped.
type GenStats struct {
	Flows         int   `json:"flows"`
	Records       int   `json:"records"`
	Continuations int   `json:"continued_flows"`
	FixedTags     int   `json:"fixed_inconsistent_tags"`
	DroppedCopies int   `json:"dropped_continuations"`
	SnappedIPs    int   `json:"snapped_ips"`
	SeparatedKeys int   `json:"separated_keys"`
	DroppedEmpty  int   `json:"dropped_in_empty_chunks"`
	OutOfRange    int   `json:"records_outside_chunk"`
	PerChunkFlows []int `json:"per_chunk_flows"`
}

// genRow is one generated attribute vector and its decoding.
type genRow struct {
	vec  []float32
	attr encoding.FlowAttr
}

// flowCount is how many flows chunk c's model generates: as many as the
// real chunk has (under DP, its noisy count), times the scale factor.
func (r *Run) flowCount(split *SplitInfo, c int) int {
	n := split.Chunks[c].Flows
	if split.NoisyFlows != nil {
		n = split.NoisyFlows[c]
	}
	return int(math.Round(float64(n) * r.Cfg.Generate.Scale))
}

// generate produces the synthetic trace: attributes from every chunk's
// model, flows that span chunks copied into the later chunks their tags
// name, features from each chunk's model given the merged attributes,
// records cut to their chunk's time range, and the whole written in the
// input's kind and layout.
func (r *Run) generate(ctx context.Context) (*GenStats, error) {
	s, err := LoadSchema(r.Dir)
	if err != nil {
		return nil, err
	}
	split, err := LoadSplit(r.Dir)
	if err != nil {
		return nil, err
	}
	s.SeedDecoding(r.Cfg.Seed)
	n := len(split.Chunks)
	st := &GenStats{PerChunkFlows: make([]int, n)}
	models := make([]*dg.Model, n)
	for c, ci := range split.Chunks {
		if ci.Flows == 0 {
			continue
		}
		m, err := dg.Load(ModelDir(r.Dir, c))
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w (has it been trained?)", c, err)
		}
		m.SetGenerationSeed(chunkSeed(r.Cfg.Seed, c) ^ 0x67656e)
		models[c] = m
	}
	gen := make([][]genRow, n)
	for c, m := range models {
		if m == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cnt := r.flowCount(split, c)
		A := m.GenerateAttributes(cnt)
		attrs, err := s.DecodeAttributes(A, cnt)
		if err != nil {
			return nil, err
		}
		d := s.AttrDim()
		gen[c] = make([]genRow, 0, cnt) // non-nil: the chunk has a model
		for k, a := range attrs {
			gen[c] = append(gen[c], genRow{vec: A[k*d : (k+1)*d : (k+1)*d], attr: a})
		}
	}
	// Rows that survive the merge: those that start in their chunk.
	kept := func(row genRow) bool { return n == 1 || row.attr.StartsHere }
	if r.Cfg.Generate.Calibrate {
		calibrateAttr(s, gen, "length", kept, rand.New(rand.NewPCG(r.Cfg.Seed, 0x1e9)))
	}
	if r.Cfg.Generate.MatchPorts {
		matchKeys(s, gen, kept, rand.New(rand.NewPCG(r.Cfg.Seed, 0x6d61)))
	}
	if k := r.Cfg.Generate.IPSnapTop; k > 0 {
		st.SnappedIPs = snapIPs(s, gen, k)
	}
	if s.Kind() == trace.KindPackets {
		st.SeparatedKeys = separateKeys(s, gen, kept, rand.New(rand.NewPCG(r.Cfg.Seed, 0x5e9)))
	}
	merged := mergeChunks(s, gen, rand.New(rand.NewPCG(r.Cfg.Seed, 0xc0de)), st)
	if r.Cfg.Generate.Calibrate {
		// Again over every row now generated, continuations included.
		calibrateAttr(s, merged, "length", func(genRow) bool { return true }, rand.New(rand.NewPCG(r.Cfg.Seed, 0x1ea)))
	}
	outs := make([]*chunkOut, n)
	for c, m := range models {
		rows := merged[c]
		if m == nil || len(rows) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := &chunkOut{attrs: make([]encoding.FlowAttr, len(rows))}
		A := make([]float32, 0, len(rows)*s.AttrDim())
		for i, row := range rows {
			A = append(A, row.vec...)
			o.attrs[i] = row.attr
		}
		var err error
		if s.HasLength() {
			// Lengths from the length attribute (calibrated below with the
			// other quantile fields when configured).
			o.lens = make([]int, len(rows))
			for i, row := range rows {
				o.lens[i] = s.DecodeLength(row.vec)
			}
			o.feat, err = m.GenerateFeaturesLen(A, o.lens)
		} else {
			o.feat, o.lens, err = m.GenerateFeatures(A, len(rows))
		}
		if err != nil {
			return nil, err
		}
		outs[c] = o
		st.PerChunkFlows[c] = len(rows)
		st.Flows += len(rows)
	}
	if r.Cfg.Generate.Calibrate {
		calibrate(s, outs, rand.New(rand.NewPCG(r.Cfg.Seed, 0xca11)))
	}
	var outFlows []trace.Flow
	var outPackets []trace.Packet
	for c, o := range outs {
		if o == nil {
			continue
		}
		ci := split.Chunks[c]
		rng := encoding.ChunkRange{Index: c, Start: ci.Start, End: ci.End}
		if s.Kind() == trace.KindPackets {
			ps, err := s.DecodePackets(o.attrs, o.feat, o.lens, rng)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if p.TS < ci.Start || p.TS >= ci.End {
					st.OutOfRange++
					continue
				}
				outPackets = append(outPackets, p)
			}
		} else {
			fs, err := s.DecodeFlows(o.attrs, o.feat, o.lens, rng)
			if err != nil {
				return nil, err
			}
			for _, f := range fs {
				if f.Start < ci.Start || f.Start >= ci.End {
					st.OutOfRange++
					continue
				}
				outFlows = append(outFlows, f)
			}
		}
	}
	out := &Trace{Kind: s.Kind(), Flows: outFlows, Packets: outPackets}
	flows.SortByTime(out.Flows)
	flows.SortByTime(out.Packets)
	st.Records = out.Len()
	if st.Records == 0 {
		return nil, fmt.Errorf("generation produced no records (flows %d, %d records outside their chunk)", st.Flows, st.OutOfRange)
	}
	path := r.SyntheticPath(s.Kind())
	if err := writeTrace(path, out, trace.Format(split.Format)); err != nil {
		return nil, err
	}
	r.log.Info("generated", "path", path, "flows", st.Flows, "records", st.Records, "continued_flows", st.Continuations,
		"fixed_inconsistent_tags", st.FixedTags, "snapped_ips", st.SnappedIPs, "separated_keys", st.SeparatedKeys, "records_outside_chunk", st.OutOfRange)
	return st, nil
}

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
func mergeChunks(s *encoding.Schema, gen [][]genRow, rng *rand.Rand, st *GenStats) [][]genRow {
	n := len(gen)
	startOff, _ := s.AttrSlice("flow_start")
	lenOff, lenDim := s.AttrSlice("length")
	own := make([][]genRow, n)
	cont := make([][]genRow, n)
	lenders := make([][]genRow, n) // rows not starting in their chunk
	for c, rows := range gen {
		for _, row := range rows {
			a := row.attr
			switch {
			case n == 1:
				own[c] = append(own[c], row)
			case !a.StartsHere:
				lenders[c] = append(lenders[c], row)
			default:
				if !a.Present[c] {
					// A flow that starts in a chunk is present in it.
					row.vec = slices.Clone(row.vec)
					setTag(s, row.vec, encoding.PresentName(c), true)
					row.attr.Present = slices.Clone(a.Present)
					row.attr.Present[c] = true
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
	out := make([][]genRow, n)
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
			v := slices.Clone(row.vec)
			setTag(s, v, "starts_here", false)
			a := row.attr
			if ls := lenders[c]; len(ls) > 0 {
				l := ls[rng.IntN(len(ls))]
				v[startOff] = l.vec[startOff]
				if lenOff >= 0 {
					copy(v[lenOff:lenOff+lenDim], l.vec[lenOff:lenOff+lenDim])
					a.Len = l.attr.Len
				}
			}
			a.StartsHere = false
			a.Start = float64(v[startOff])
			out[c] = append(out[c], genRow{vec: v, attr: a})
			st.Continuations++
		}
	}
	return out
}

// SyntheticPath is where the synthetic trace of the given kind is written.
func (r *Run) SyntheticPath(k trace.Kind) string {
	return filepath.Join(r.Dir, SyntheticBase+traceExt(k == trace.KindPackets))
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
