package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"runtime"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/nn/blas"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/trace"
)

// GenStats counts what generation produced and dropped.
type GenStats struct {
	Flows   int `json:"flows"`
	Records int `json:"records"`
	postgen.Stats
	postgen.RepairStats
	OutOfRange    int   `json:"records_outside_chunk"`
	PerChunkFlows []int `json:"per_chunk_flows"`
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
// model, the attribute passes (postgen: calibration, matched decoding, IP
// snapping, 5-tuple separation, the merge that copies flows spanning
// chunks into the later chunks their tags name), features from each
// chunk's model given its merged attributes, the feature passes, records
// decoded and cut to their chunk's time range, with generate.repair_protocol
// their protocol violations repaired, and the whole written in the input's
// kind and layout.
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
	// BLAS products can differ in their last bits with the number of
	// blocks they are split into: generation runs at a thread count set by
	// the configuration, not at whatever training earlier in this process
	// left (the last chunk job's), so that a generation in a fresh process
	// writes the same trace.
	prev := blas.Threads()
	threads := generateThreads(r.Cfg)
	blas.SetThreads(threads)
	defer blas.SetThreads(prev)
	r.log.Info("generating", "chunks", len(split.Chunks), "blas_threads", threads)
	st := &GenStats{PerChunkFlows: make([]int, len(split.Chunks))}
	models, err := r.loadModels(split)
	if err != nil {
		return nil, err
	}
	gen, err := r.generateAttributes(ctx, s, split, models)
	if err != nil {
		return nil, err
	}
	opt := postgen.Options{Seed: r.Cfg.Seed, Calibrate: r.Cfg.Generate.Calibrate, MatchPorts: r.Cfg.Generate.MatchPorts, IPSnapTop: r.Cfg.Generate.IPSnapTop, IPSnapWeight: r.Cfg.Generate.IPSnapWeight}
	rows := postgen.Attributes(s, gen, opt, &st.Stats)
	outs, err := generateFeatures(ctx, s, models, rows, st)
	if err != nil {
		return nil, err
	}
	postgen.Features(s, outs, opt)
	out, err := decodeChunks(s, split, outs, st)
	if err != nil {
		return nil, err
	}
	if r.Cfg.Generate.RepairProtocol {
		skip, err := r.repairSkip(s.Kind())
		if err != nil {
			return nil, err
		}
		st.RepairStats = postgen.RepairProtocol(out, skip, r.Cfg.Seed^0x726570)
	}
	path := r.SyntheticPath(s.Kind())
	if err := writeTrace(path, out, trace.Format(split.Format)); err != nil {
		return nil, err
	}
	r.log.Info("generated", "path", path, "flows", st.Flows, "records", st.Records, "continued_flows", st.Continuations,
		"fixed_inconsistent_tags", st.FixedTags, "snapped_ips", st.SnappedIPs, "separated_keys", st.SeparatedKeys, "records_outside_chunk", st.OutOfRange,
		"protocol_repairs", st.RepairStats.Total(), "protocol_separated_keys", st.RepairStats.Separated,
		"protocol_unrepaired_keys", st.RepairStats.Unrepaired, "protocol_merged_keys", st.RepairStats.Merged)
	if len(st.Repairs) > 0 {
		r.log.Info("protocol repairs", "per_check", st.Repairs)
	}
	return st, nil
}

// repairSkip lists the protocol checks the repair leaves alone: those the
// real training trace fails for more than 1% of its flows, from the
// results pre-processing recorded. Under DP those results are not
// recorded (they would be a statistic of the private trace released
// outside the privacy accounting) and every check is repaired; so it is,
// with a warning, for a run pre-processed before they were recorded.
func (r *Run) repairSkip(k trace.Kind) ([]string, error) {
	if r.Cfg.DP.Enabled {
		r.log.Info("protocol repair under DP: every check repaired (the real trace's pass shares are not used)")
		return nil, nil
	}
	side, err := loadProtocolSide(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("protocol repair: the real trace's pass shares were not recorded (pre-processed by an older version): every check repaired")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kind := "flows"
	if k == trace.KindPackets {
		kind = "packets"
	}
	skip := side.Below(kind, 1-protocol.TargetGap)
	r.log.Info("protocol repair", "skipped_checks", skip)
	return skip, nil
}

// generateThreads is the BLAS thread count of generation: train.threads,
// or every core.
func generateThreads(c *config.Config) int {
	if c.Train.Threads > 0 {
		return c.Train.Threads
	}
	return runtime.NumCPU()
}

// loadModels loads every chunk's trained model (nil for an empty chunk),
// seeded for generation: its best-scoring checkpoint when checkpoint
// selection kept one, else its last.
func (r *Run) loadModels(split *SplitInfo) ([]*dg.Model, error) {
	models := make([]*dg.Model, len(split.Chunks))
	for c, ci := range split.Chunks {
		if ci.Flows == 0 {
			continue
		}
		dir := ModelDir(r.Dir, c)
		if best := filepath.Join(dir, BestDir); dg.HasCheckpoint(best) {
			dir = best
		}
		m, err := dg.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w (has it been trained?)", c, err)
		}
		if dir != ModelDir(r.Dir, c) {
			r.log.Info("generating from the best-scoring checkpoint", "chunk", c, "iteration", m.Iteration())
		}
		m.SetGenerationSeed(chunkSeed(r.Cfg.Seed, c) ^ 0x67656e)
		models[c] = m
	}
	return models, nil
}

// generateAttributes generates and decodes each chunk's attributes: as
// many rows as flowCount says, for every chunk with a model (non-nil, if
// empty) and none (nil) for the others.
func (r *Run) generateAttributes(ctx context.Context, s *encoding.Schema, split *SplitInfo, models []*dg.Model) ([][]postgen.Row, error) {
	gen := make([][]postgen.Row, len(models))
	d := s.AttrDim()
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
		gen[c] = make([]postgen.Row, 0, cnt)
		for k, a := range attrs {
			gen[c] = append(gen[c], postgen.Row{Vec: A[k*d : (k+1)*d : (k+1)*d], Attr: a})
		}
	}
	return gen, nil
}

// generateFeatures generates each chunk's features given its rows'
// attributes (and, with a length attribute, their lengths).
func generateFeatures(ctx context.Context, s *encoding.Schema, models []*dg.Model, rows [][]postgen.Row, st *GenStats) ([]*postgen.Generated, error) {
	outs := make([]*postgen.Generated, len(models))
	for c, m := range models {
		rs := rows[c]
		if m == nil || len(rs) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := &postgen.Generated{Attrs: make([]encoding.FlowAttr, len(rs))}
		A := make([]float32, 0, len(rs)*s.AttrDim())
		for i, row := range rs {
			A = append(A, row.Vec...)
			o.Attrs[i] = row.Attr
		}
		var err error
		if s.HasLength() {
			o.Lens = make([]int, len(rs))
			for i, row := range rs {
				o.Lens[i] = s.DecodeLength(row.Vec)
			}
			o.Feat, err = m.GenerateFeaturesLen(A, o.Lens)
		} else {
			o.Feat, o.Lens, err = m.GenerateFeatures(A, len(rs))
		}
		if err != nil {
			return nil, err
		}
		outs[c] = o
		st.PerChunkFlows[c] = len(rs)
		st.Flows += len(rs)
	}
	return outs, nil
}

// decodeChunks decodes every chunk's generated flows into records, drops
// those outside the chunk's time range, and sorts the rest by time.
func decodeChunks(s *encoding.Schema, split *SplitInfo, outs []*postgen.Generated, st *GenStats) (*trace.Trace, error) {
	out := &trace.Trace{Kind: s.Kind()}
	for c, o := range outs {
		if o == nil {
			continue
		}
		ci := split.Chunks[c]
		rng := encoding.ChunkRange{Index: c, Start: ci.Start, End: ci.End}
		if s.Kind() == trace.KindPackets {
			ps, err := s.DecodePackets(o.Attrs, o.Feat, o.Lens, rng)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if p.TS < ci.Start || p.TS >= ci.End {
					st.OutOfRange++
					continue
				}
				out.Packets = append(out.Packets, p)
			}
		} else {
			fs, err := s.DecodeFlows(o.Attrs, o.Feat, o.Lens, rng)
			if err != nil {
				return nil, err
			}
			for _, f := range fs {
				if f.Start < ci.Start || f.Start >= ci.End {
					st.OutOfRange++
					continue
				}
				out.Flows = append(out.Flows, f)
			}
		}
	}
	flows.SortByTime(out.Flows)
	flows.SortByTime(out.Packets)
	st.Records = out.Len()
	if st.Records == 0 {
		return nil, fmt.Errorf("generation produced no records (flows %d, %d records outside their chunk)", st.Flows, st.OutOfRange)
	}
	return out, nil
}

// SyntheticPath is where the synthetic trace of the given kind is written.
func (r *Run) SyntheticPath(k trace.Kind) string {
	return filepath.Join(r.Dir, SyntheticBase+traceExt(k == trace.KindPackets))
}

// Synthetic is where the synthetic trace of the run's input kind (known
// once pre-processed) is written.
func (r *Run) Synthetic() string { return r.SyntheticPath(r.Man.Input.Kind) }
