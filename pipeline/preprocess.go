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
	"github.com/netshare-go/netshare/eval/protocol"
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
	Kind      trace.Kind       `json:"kind"`
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
	// DPStats, under DP, lists the DP statistics the schema was built from
	// (see dpstats.go), and DPDelta the δ they were calibrated at.
	DPStats []DPRelease `json:"dp_stats,omitempty"`
	DPDelta float64     `json:"dp_delta,omitempty"`
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
func splitAudit(t *trace.Trace, seed uint64) (train, hold *trace.Trace) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	train = &trace.Trace{Name: t.Name, Format: t.Format, Kind: t.Kind, Stats: t.Stats}
	hold = &trace.Trace{Name: t.Name + " (held out)", Format: t.Format, Kind: t.Kind}
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

// preprocess reads the input, keeps the audit's share aside, trains (or
// loads) the embedding, splits the trace into chunks and encodes them, and
// writes the schema, one training set per chunk and split.json.
func (r *Run) preprocess(ctx context.Context) error {
	in, err := r.readInput()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, PreDir), 0o755); err != nil {
		return err
	}
	info := &SplitInfo{Kind: in.Kind, Format: string(in.Format), Skipped: in.Stats.Skipped}
	if r.Audit {
		if in, err = r.holdOut(in, info); err != nil {
			return err
		}
	}
	info.Records = in.Len()
	pub, emb, err := r.schemaBasis(in, info)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	spec, datas, err := r.encodeChunks(in, info, pub, emb)
	if err != nil {
		return err
	}
	if r.Cfg.DP.Enabled {
		if info.NoisyFlows == nil { // a public schema: no statistics released
			cr, _ := r.dpReleasers()
			if err := noisyCounts(r.Cfg, info, cr); err != nil {
				return err
			}
		}
	} else if err := writeJSON(preFile(r.Dir, ProtocolFile), protocolSide(in)); err != nil {
		return err
	}
	return r.savePreprocessed(spec, datas, info)
}

// ProtocolFile, in the pre-processing folder, holds the protocol checks'
// results on the real training trace (a [protocol.Side]): which checks the
// repair of the synthetic trace leaves alone. It is not written under DP,
// where nothing is read from the private trace outside an accounted
// mechanism.
const ProtocolFile = "protocol.json"

// protocolSide checks the protocol validity of a trace of either kind.
func protocolSide(t *trace.Trace) protocol.Side {
	if t.Kind == trace.KindPackets {
		return protocol.Packets(t.Packets)
	}
	return protocol.Flows(t.Flows)
}

// loadProtocolSide reads the real training trace's protocol check results
// written by pre-processing.
func loadProtocolSide(dir string) (*protocol.Side, error) {
	var s protocol.Side
	b, err := os.ReadFile(preFile(dir, ProtocolFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", preFile(dir, ProtocolFile), err)
	}
	return &s, nil
}

// readInput reads the whole input trace and logs what was skipped.
func (r *Run) readInput() (*trace.Trace, error) {
	in, err := ReadInput(r.InputPath, trace.Options{SkipBad: r.Cfg.SkipBad})
	if err != nil {
		return nil, err
	}
	r.log.Info("read input", "path", r.InputPath, "format", in.Format, "kind", in.Kind, "records", in.Len(), "skipped", in.Stats.TotalSkipped())
	if n := in.Stats.TotalSkipped(); n > 0 {
		r.log.Warn("input records skipped", "count", n, "reasons", in.Stats.Skipped)
	}
	return in, nil
}

// holdOut keeps the audit's 20% of the trace aside: it writes both parts
// into the pre-processing folder and returns the part to train on.
func (r *Run) holdOut(in *trace.Trace, info *SplitInfo) (*trace.Trace, error) {
	train, hold := splitAudit(in, r.Cfg.Seed)
	if train.Len() == 0 || hold.Len() == 0 {
		return nil, fmt.Errorf("audit: the trace has too few flows to keep 20%% aside")
	}
	info.Holdout = hold.Len()
	ext := traceExt(train.Kind == trace.KindPackets)
	if err := writeTrace(preFile(r.Dir, HoldoutBase+ext), hold, train.Format); err != nil {
		return nil, err
	}
	if err := writeTrace(preFile(r.Dir, TrainBase+ext), train, train.Format); err != nil {
		return nil, err
	}
	r.log.Info("audit split", "train_records", train.Len(), "holdout_records", hold.Len())
	return train, nil
}

// schemaBasis returns what the schema and the embedding come from: under
// DP, the public run when there is one (whose schema and embedding hold
// nothing of the private trace), else nothing (the schema and the
// embedding then come from DP statistics, in dpBuild); otherwise no public
// run, and the embedding trained on the trace or the configured
// pre-trained one. The embedding is saved with the run either way.
func (r *Run) schemaBasis(in *trace.Trace, info *SplitInfo) (*publicRun, *ip2vec.Model, error) {
	if !r.Cfg.DP.Enabled {
		emb, err := r.embedding(in, info)
		return nil, emb, err
	}
	if r.Cfg.DP.Pretrained == "" {
		return nil, nil, nil
	}
	pub, err := loadPublicRun(r.Cfg.DP.Pretrained)
	if err != nil {
		return nil, nil, err
	}
	if pub.spec.Kind != in.Kind {
		return nil, nil, fmt.Errorf("dp.pretrained %s models %s, but the input holds %s", pub.dir, pub.spec.Kind, in.Kind)
	}
	info.Embedding = "public run " + pub.dir
	if err := pub.emb.Save(preFile(r.Dir, EmbeddingFile)); err != nil {
		return nil, nil, err
	}
	return pub, pub.emb, nil
}

// splitOptions are the options of the split into chunks: the configured
// ones, or under DP the configured time range and, with a public run, its
// chunks and flow length.
func (r *Run) splitOptions(pub *publicRun) (flows.Options, error) {
	maxLen := r.Cfg.MaxFlowLen
	if maxLen == 0 {
		maxLen = r.Cfg.MaxFlowLenCap
	}
	opt := flows.Options{Chunks: r.Cfg.Chunks, MaxFlowLen: maxLen, SplitLong: r.Cfg.LongFlows == "split"}
	if r.Cfg.DP.Enabled {
		if pub != nil {
			opt.Chunks, opt.MaxFlowLen = pub.spec.Chunks, pub.spec.MaxLen
		}
		var err error
		if opt.Start, opt.End, err = r.Cfg.DP.TimeRange(); err != nil {
			return opt, err
		}
	}
	return opt, nil
}

// encodeChunks splits the trace into chunks, builds the schema (or takes
// the public run's) and encodes every chunk, and logs what the split and
// the encoding changed.
func (r *Run) encodeChunks(in *trace.Trace, info *SplitInfo, pub *publicRun, emb *ip2vec.Model) (encoding.Spec, []*encoding.Data, error) {
	opt, err := r.splitOptions(pub)
	if err != nil {
		return encoding.Spec{}, nil, err
	}
	var spec encoding.Spec
	var datas []*encoding.Data
	var changed map[string]int
	// Under DP the schema comes from DP statistics (dpBuild), unless
	// dp.public_schema takes the public run's.
	dpStats := r.Cfg.DP.Enabled && !r.Cfg.DP.PublicSchema
	specPub := pub
	if dpStats {
		specPub = nil
	}
	dom, err := dpDomainOf(r.Cfg)
	if dpStats && err != nil {
		return spec, nil, err
	}
	if in.Kind == trace.KindPackets {
		spec, datas, changed, err = splitEncode(in.Packets, opt, info, specPub,
			func(sp *flows.Split[trace.Packet]) (encoding.Spec, encoding.Embedding, error) {
				if dpStats {
					return dpBuild[trace.Packet](r, sp, info, pub, dpPacketFeatures(dom), trace.KindPackets, opt.MaxFlowLen)
				}
				s, err := encoding.BuildPacketSpec(sp, r.buildOptions(sp.Stats.MaxFlowLen))
				return s, emb, err
			}, (*encoding.Schema).EncodePackets, emb)
	} else {
		spec, datas, changed, err = splitEncode(in.Flows, opt, info, specPub,
			func(sp *flows.Split[trace.Flow]) (encoding.Spec, encoding.Embedding, error) {
				if dpStats {
					return dpBuild[trace.Flow](r, sp, info, pub, dpFlowFeatures(dom), trace.KindFlows, opt.MaxFlowLen)
				}
				s, err := encoding.BuildFlowSpec(sp, r.buildOptions(sp.Stats.MaxFlowLen))
				return s, emb, err
			}, (*encoding.Schema).EncodeFlows, emb)
	}
	if err != nil {
		return spec, nil, err
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
	return spec, datas, nil
}

// savePreprocessed writes the training sets of the chunks with flows, the
// schema, and split.json.
func (r *Run) savePreprocessed(spec encoding.Spec, datas []*encoding.Data, info *SplitInfo) error {
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
	build func(*flows.Split[R]) (encoding.Spec, encoding.Embedding, error),
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
	} else if spec, emb, err = build(sp); err != nil {
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
func (r *Run) embedding(in *trace.Trace, info *SplitInfo) (*ip2vec.Model, error) {
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
