package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/trace"
)

// ChunkInfo describes one time chunk of the real trace.
type ChunkInfo struct {
	Index      int   `json:"index"`
	Start      int64 `json:"start_us"`
	End        int64 `json:"end_us"`
	Flows      int   `json:"flows"`
	StartsHere int   `json:"flows_starting_here"`
	Records    int   `json:"records"`
}

// SplitInfo is what pre-processing learned about the trace's chunks.
type SplitInfo struct {
	Kind      string           `json:"kind"`
	Format    string           `json:"format"`
	Records   int              `json:"records"`
	MaxLen    int              `json:"max_flow_len"`
	Chunks    []ChunkInfo      `json:"chunks"`
	Stats     flows.SplitStats `json:"split_stats"`
	Encode    map[string]int   `json:"encode_changed,omitempty"`
	Skipped   map[string]int64 `json:"input_skipped,omitempty"`
	Holdout   int              `json:"holdout_records,omitempty"`
	Embedding string           `json:"embedding"`
	// NoisyFlows, under DP, is each chunk's flow count released with
	// Gaussian noise: the number of flows generated for it.
	NoisyFlows []int              `json:"noisy_flows,omitempty"`
	EmbedStats map[string]float64 `json:"embedding_stats,omitempty"`
}

// LoadSplit reads a run's split.json.
func LoadSplit(dir string) (*SplitInfo, error) {
	var s SplitInfo
	b, err := os.ReadFile(preFile(dir, SplitFile))
	if err != nil {
		return nil, err
	}
	return &s, json.Unmarshal(b, &s)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// Stage versions: bumped when a stage's output format or meaning changes,
// so that runs made by an older netshare redo the stage.
const (
	preprocessVersion = "preprocess/v4"
	generateVersion   = "generate/v4"
	evaluateVersion   = "evaluate/v2"
)

// preprocessKey hashes what pre-processing depends on.
func preprocessKey(inputSHA string, c *config.Config, audit bool) string {
	return hashKey(preprocessVersion, inputSHA, c.Chunks, c.MaxFlowLen, c.MaxFlowLenCap, c.LongFlows, c.Continuous, c.QuantileKnots, c.LengthAttribute, c.Word2Vec, c.DP, c.Seed, c.SkipBad, audit)
}

// splitAudit keeps a random 20% of the trace aside (seeded): the audit
// measures how close the synthetic trace is to the training records
// compared with records the model never saw. Flow traces are split by
// record (NetFlow records of one 5-tuple can then fall on both sides, which
// is what makes "a held-out record equals a training record" a meaningful
// baseline for the exact-copy rate); packet traces by 5-tuple, since a
// packet trace's records only make sense as whole flows.
func splitAudit(t *Trace, seed uint64) (train, hold *Trace) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	train = &Trace{Name: t.Name, Format: t.Format, Kind: t.Kind, Stats: t.Stats}
	hold = &Trace{Name: t.Name + " (held out)", Format: t.Format, Kind: t.Kind}
	for i := range t.Flows {
		if r.Float64() < 0.2 {
			hold.Flows = append(hold.Flows, t.Flows[i])
		} else {
			train.Flows = append(train.Flows, t.Flows[i])
		}
	}
	held := map[trace.Key]bool{}
	for i := range t.Packets {
		k := t.Packets[i].Key()
		h, ok := held[k]
		if !ok {
			h = r.Float64() < 0.2
			held[k] = h
		}
		if h {
			hold.Packets = append(hold.Packets, t.Packets[i])
		} else {
			train.Packets = append(train.Packets, t.Packets[i])
		}
	}
	return train, hold
}

// preprocess reads the input, splits it into chunks, trains (or loads) the
// embedding, and writes the schema and one training set per chunk.
func (r *Run) preprocess(ctx context.Context) error {
	in, err := ReadInput(r.InputPath, trace.Options{SkipBad: r.Cfg.SkipBad})
	if err != nil {
		return err
	}
	r.log.Info("read input", "path", r.InputPath, "format", in.Format, "kind", in.Kind, "records", in.Len(), "skipped", in.Stats.TotalSkipped())
	if n := in.Stats.TotalSkipped(); n > 0 {
		r.log.Warn("input records skipped", "count", n, "reasons", in.Stats.Skipped)
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, PreDir), 0o755); err != nil {
		return err
	}
	info := &SplitInfo{Kind: in.Kind.String(), Format: string(in.Format), Skipped: in.Stats.Skipped}
	if r.Audit {
		var hold *Trace
		in, hold = splitAudit(in, r.Cfg.Seed)
		if in.Len() == 0 || hold.Len() == 0 {
			return fmt.Errorf("audit: the trace has too few flows to keep 20%% aside")
		}
		info.Holdout = hold.Len()
		ext := traceExt(in.Kind == trace.KindPackets)
		if err := writeTrace(preFile(r.Dir, HoldoutBase+ext), hold, in.Format); err != nil {
			return err
		}
		if err := writeTrace(preFile(r.Dir, TrainBase+ext), in, in.Format); err != nil {
			return err
		}
		r.log.Info("audit split", "train_records", in.Len(), "holdout_records", hold.Len())
	}
	info.Records = in.Len()

	// The schema and embedding: learned from the trace, or, under DP, taken
	// from the public run so that nothing in them comes from the private
	// trace.
	var pub *publicRun
	var emb *ip2vec.Model
	if r.Cfg.DP.Enabled {
		if pub, err = loadPublicRun(r.Cfg.DP.Pretrained); err != nil {
			return err
		}
		if pub.spec.Kind != in.Kind.String() {
			return fmt.Errorf("dp.pretrained %s models %s, but the input holds %s", pub.dir, pub.spec.Kind, in.Kind)
		}
		emb = pub.emb
		info.Embedding = "public run " + pub.dir
		if err := emb.Save(preFile(r.Dir, EmbeddingFile)); err != nil {
			return err
		}
	} else if emb, err = r.embedding(in, info); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	maxLen := r.Cfg.MaxFlowLen
	if maxLen == 0 {
		maxLen = r.Cfg.MaxFlowLenCap
	}
	opt := flows.Options{Chunks: r.Cfg.Chunks, MaxFlowLen: maxLen, SplitLong: r.Cfg.LongFlows == "split"}
	if pub != nil {
		opt.Chunks, opt.MaxFlowLen = pub.spec.Chunks, pub.spec.MaxLen
		if opt.Start, opt.End, err = r.Cfg.DP.TimeRange(); err != nil {
			return err
		}
	}
	var spec encoding.Spec
	var datas []*encoding.Data
	var changed map[string]int
	if in.Kind == trace.KindPackets {
		spec, datas, changed, err = splitEncode(in.Packets, opt, info, pub,
			func(sp *flows.Split[trace.Packet]) (encoding.Spec, error) {
				return encoding.BuildPacketSpec(sp, r.buildOptions(sp.Stats.MaxFlowLen))
			}, (*encoding.Schema).EncodePackets, emb)
	} else {
		spec, datas, changed, err = splitEncode(in.Flows, opt, info, pub,
			func(sp *flows.Split[trace.Flow]) (encoding.Spec, error) {
				return encoding.BuildFlowSpec(sp, r.buildOptions(sp.Stats.MaxFlowLen))
			}, (*encoding.Schema).EncodeFlows, emb)
	}
	if err != nil {
		return err
	}
	info.MaxLen = spec.MaxLen
	info.Encode = changed
	if st := info.Stats; st.SplitFlows > 0 {
		r.log.Info("flows longer than the maximum flow length were split into segments", "max_flow_len", opt.MaxFlowLen, "extra_segments", st.SplitFlows)
	}
	if st := info.Stats; st.TruncatedRecords > 0 {
		r.log.Warn("flows longer than the maximum flow length were truncated", "max_flow_len", opt.MaxFlowLen, "flows", st.TruncatedFlows, "records_dropped", st.TruncatedRecords)
	}
	if n := info.Stats.OutOfRange; n > 0 {
		r.log.Warn("records outside dp.start..dp.end were dropped", "records", n)
	}
	if len(changed) > 0 {
		r.log.Warn("values clamped or mapped to the nearest known value while encoding", "by_field", changed)
	}
	if pub != nil {
		r.noisyCounts(info)
	}
	for c, d := range datas {
		if d.N == 0 {
			continue
		}
		if err := d.Save(chunkDataPath(r.Dir, c)); err != nil {
			return err
		}
	}
	if err := spec.Save(preFile(r.Dir, SchemaFile)); err != nil {
		return err
	}
	r.log.Info("pre-processed", "chunks", len(info.Chunks), "flows", info.Stats.Flows, "max_flow_len", info.MaxLen,
		"multichunk_flows", info.Stats.MultiChunkFlows, "empty_chunks", info.Stats.EmptyChunks)
	return writeJSON(preFile(r.Dir, SplitFile), info)
}

// splitEncode sorts and splits the records into chunks, builds the schema
// (or takes the public run's) and encodes every chunk.
func splitEncode[R any, P flows.Record[R]](recs []R, opt flows.Options, info *SplitInfo, pub *publicRun,
	build func(*flows.Split[R]) (encoding.Spec, error),
	encode func(*encoding.Schema, *flows.Chunk[R]) (*encoding.Data, encoding.EncodeStats, error),
	emb encoding.Embedding) (encoding.Spec, []*encoding.Data, map[string]int, error) {
	flows.SortByTime[R, P](recs)
	sp, err := flows.SplitByTime[R, P](recs, opt)
	if err != nil {
		return encoding.Spec{}, nil, nil, err
	}
	info.fill(sp.Stats, chunkInfos(sp))
	var spec encoding.Spec
	if pub != nil {
		spec = pub.spec
	} else if spec, err = build(sp); err != nil {
		return spec, nil, nil, err
	}
	s, err := encoding.NewSchema(spec, emb)
	if err != nil {
		return spec, nil, nil, err
	}
	changed := map[string]int{}
	var datas []*encoding.Data
	for c := range sp.Chunks {
		d, st, err := encode(s, &sp.Chunks[c])
		if err != nil {
			return spec, nil, nil, err
		}
		addCounts(changed, st.Changed)
		if st.Truncated > 0 {
			changed["truncated_records"] += st.Truncated
		}
		datas = append(datas, d)
	}
	return spec, datas, changed, nil
}

func (s *SplitInfo) fill(st flows.SplitStats, ch []ChunkInfo) {
	s.Stats = st
	s.Chunks = ch
}

func addCounts(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

func chunkInfos[R any](sp *flows.Split[R]) []ChunkInfo {
	out := make([]ChunkInfo, len(sp.Chunks))
	for i, ch := range sp.Chunks {
		ci := ChunkInfo{Index: i, Start: ch.Start, End: ch.End, Flows: len(ch.Flows), Records: ch.Records}
		for _, f := range ch.Flows {
			if f.StartsHere {
				ci.StartsHere++
			}
		}
		out[i] = ci
	}
	return out
}

func (r *Run) buildOptions(maxLen int) encoding.BuildOptions {
	o := encoding.BuildOptions{MaxLen: max(1, maxLen), LengthAttr: r.Cfg.LengthAttribute}
	if r.Cfg.Continuous == "quantile" {
		o.QuantileKnots = r.Cfg.QuantileKnots
	}
	if w := r.Cfg.Word2Vec; w.Decode == "posterior" {
		o.PosteriorKappa, o.PosteriorTopK = w.Kappa, w.TopK
	}
	return o
}

// embedding trains the IP2Vec model on the input's 5-tuples (one sentence
// per record), or loads the configured pre-trained one, and saves it with
// the run.
func (r *Run) embedding(in *Trace, info *SplitInfo) (*ip2vec.Model, error) {
	path := preFile(r.Dir, EmbeddingFile)
	if p := r.Cfg.Word2Vec.Pretrained; p != "" {
		m, err := ip2vec.Load(p)
		if err != nil {
			return nil, fmt.Errorf("word2vec.pretrained: %w", err)
		}
		info.Embedding = "pretrained:" + p
		r.log.Info("loaded pre-trained embedding", "path", p, "ports", len(m.Ports()), "protocols", len(m.Protos()))
		return m, m.Save(path)
	}
	sents := make([]ip2vec.Sentence, 0, in.Len())
	for i := range in.Flows {
		sents = append(sents, ip2vec.SentenceOf(in.Flows[i].Key()))
	}
	for i := range in.Packets {
		sents = append(sents, ip2vec.SentenceOf(in.Packets[i].Key()))
	}
	cfg := ip2vec.DefaultConfig()
	cfg.Dim = r.Cfg.Word2Vec.VecSize
	cfg.Window = r.Cfg.Word2Vec.Window
	cfg.Epochs = r.Cfg.Word2Vec.Epochs
	cfg.Seed = r.Cfg.Seed
	m, err := ip2vec.Train(sents, cfg)
	if err != nil {
		return nil, err
	}
	info.Embedding = "trained on the input"
	r.log.Info("trained port/protocol embedding", "sentences", len(sents), "ports", len(m.Ports()), "protocols", len(m.Protos()))
	slog.Debug("embedding saved", "path", path)
	return m, m.Save(path)
}
