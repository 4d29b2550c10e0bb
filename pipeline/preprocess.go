package pipeline

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/postgen"
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
	// WholeFlows is, with chained long flows (long_flows: chain), the
	// chunk's flows counting each chained flow once, where Flows counts
	// its segments (the training examples); generation makes that many.
	WholeFlows int `json:"whole_flows,omitempty"`
	// SrcAddrs and DstAddrs are the distinct source and destination
	// addresses of the chunk's flows (not counted under DP).
	SrcAddrs int `json:"src_addresses,omitempty"`
	DstAddrs int `json:"dst_addresses,omitempty"`
	// SrcAddrsUpTo and DstAddrsUpTo are the distinct source and
	// destination addresses of the flows of this chunk and the ones before
	// it together, so that the difference from the chunk before is the
	// addresses the chunk brings that no earlier chunk held (not counted
	// under DP; zero in runs pre-processed before they were).
	SrcAddrsUpTo int `json:"src_addresses_up_to,omitempty"`
	DstAddrsUpTo int `json:"dst_addresses_up_to,omitempty"`
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
	NoisyFlows []int `json:"noisy_flows,omitempty"`
	// NoisyAddrsUpTo, under DP with generate.ip_distinct, is per chunk the
	// distinct source and destination addresses up to it (as
	// ChunkInfo.SrcAddrsUpTo and DstAddrsUpTo), released with Gaussian
	// noise among the DP statistics.
	NoisyAddrsUpTo [][2]int `json:"noisy_addresses_up_to,omitempty"`
	// AddrProfiles are, per chunk, the rank-frequency profiles of the
	// addresses (source, destination) of the chunks up to it together, for
	// generate.ip_profile: the records (flow traces) or flows (captures)
	// per address, heaviest first, as counts only; AddrPacketProfiles the
	// same of packets per address. Not taken under DP.
	AddrProfiles       [][2]*postgen.AddrProfile `json:"address_profiles,omitempty"`
	AddrPacketProfiles [][2]*postgen.AddrProfile `json:"address_packet_profiles,omitempty"`
	// PortPairs is the trace's port pairing per protocol, for
	// generate.port_pairs: the records (flow traces) or flows (captures)
	// per port-pair class. Not taken under DP.
	PortPairs *postgen.PortPairs `json:"port_pairs,omitempty"`
	// PortSizes, for generate.ports_given_sizes, is the records per
	// port-pair class and packet class; Labels, for
	// generate.labels_given_flows, the records per label in nested cells
	// of a record's shape. Flow traces; not taken under DP.
	PortSizes *postgen.PortSizes  `json:"port_sizes,omitempty"`
	Labels    *postgen.LabelCells `json:"labels,omitempty"`
	// ServiceLengths, for generate.ports_given_sizes in a capture, is the
	// flows per chunk, port-pair class and length class. Not taken under
	// DP.
	ServiceLengths *postgen.ServiceLengths `json:"service_lengths,omitempty"`
	// PortPacketSizes, for generate.packet_sizes_given_protocol in a
	// capture, is the packet lengths per chunk, protocol and destination
	// port class. Not taken under DP.
	PortPacketSizes *postgen.PortPacketSizes `json:"port_packet_sizes,omitempty"`
	// SplitSegments, for generate.rejoin_segments in a capture whose long
	// flows are split, is the packets of the segments that start in each
	// chunk, per (protocol, destination port) cell holding a flow of
	// several, and those of each such flow. Not under DP.
	SplitSegments *postgen.SplitSegments `json:"split_segments,omitempty"`
	// GoingLengths, for generate.continuation_lengths in a capture of
	// more than one chunk, is per chunk the quantile knots of the lengths
	// (the length attribute's values) of the flows that go on into it
	// from an earlier chunk, each at its first segment there; nil for a
	// chunk without any. Not under DP.
	GoingLengths [][]float64 `json:"going_length_knots,omitempty"`
	// OwnLengths, with GoingLengths, is per chunk the same knots of the
	// lengths of its other flows (and split segments), which the rows
	// that start in the chunk stand for.
	OwnLengths [][]float64        `json:"own_length_knots,omitempty"`
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
	preprocessVersion = "preprocess/v11"
	generateVersion   = "generate/v6"
	evaluateVersion   = "evaluate/v5"
)

// preprocessKey hashes what pre-processing depends on.
func preprocessKey(inputSHA string, c *config.Config, audit bool) string {
	return hashKey(preprocessVersion, inputSHA, c.Chunks, c.MaxFlowLen, c.MaxFlowLenCap, longFlowsKey(c), c.Continuous, c.QuantileKnots, c.LengthAttribute, c.Word2Vec, c.DP, c.Seed, c.SkipBad, audit)
}

// ProtocolFile, in the pre-processing folder, holds the protocol checks'
// results on the real training trace (a [protocol.Side]): which checks the
// repair of the synthetic trace leaves alone. It is not written under DP,
// where nothing is read from the private trace outside an accounted
// mechanism.
const ProtocolFile = "protocol.json"

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

// publicBasis returns, under DP, the public run whose schema and embedding
// (which hold nothing of the private trace) the run uses, with its
// embedding saved with the run; otherwise nil.
func (r *Run) publicBasis(kind trace.Kind, info *SplitInfo) (*publicRun, error) {
	if !r.Cfg.DP.Enabled {
		return nil, nil
	}
	if r.Cfg.DP.Pretrained == "" {
		return nil, nil
	}
	pub, err := loadPublicRun(r.Cfg.DP.Pretrained)
	if err != nil {
		return nil, err
	}
	if pub.spec.Kind != kind {
		return nil, fmt.Errorf("dp.pretrained %s models %s, but the input holds %s", pub.dir, pub.spec.Kind, kind)
	}
	info.Embedding = "public run " + pub.dir
	return pub, pub.emb.Save(preFile(r.Dir, EmbeddingFile))
}

// longFlowsKey is what of long_flows and max_chain_len the pre-processing
// depends on: max_chain_len only when flows are chained (so that the key
// of a run that does not chain is what it was before chaining existed).
func longFlowsKey(c *config.Config) string {
	if c.LongFlows == "chain" {
		return fmt.Sprintf("chain:%d", c.MaxChainLen)
	}
	return c.LongFlows
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
	if r.Cfg.LongFlows == "chain" {
		opt.Chain, opt.MaxChainLen = true, r.Cfg.MaxChainLen
	}
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

func (r *Run) buildOptions(maxLen, longest int) encoding.BuildOptions {
	o := encoding.BuildOptions{MaxLen: max(1, maxLen), LengthAttr: r.Cfg.LengthAttribute}
	if r.Cfg.LongFlows == "chain" {
		o.ChainLen = max(o.MaxLen, longest)
	}
	if r.Cfg.Continuous == "quantile" {
		o.QuantileKnots = r.Cfg.QuantileKnots
	}
	if w := r.Cfg.Word2Vec; w.Decode == "posterior" {
		o.PosteriorKappa, o.PosteriorTopK = w.Kappa, w.TopK
		if w.Pretrained == "" { // a pre-trained embedding has no tokens
			o.TailPortFlows = w.TailPortFlows
		}
	}
	return o
}

// embedding trains the IP2Vec model on the training records' 5-tuples
// (one sentence per record, gathered as counts of distinct sentences), or
// loads the configured pre-trained one, and saves it with the run.
func (r *Run) embedding(sents ip2vec.SentenceCounts, info *SplitInfo) (*ip2vec.Model, error) {
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
	cfg := ip2vec.DefaultConfig()
	cfg.Dim = r.Cfg.Word2Vec.VecSize
	cfg.Window = r.Cfg.Word2Vec.Window
	cfg.Epochs = r.Cfg.Word2Vec.Epochs
	cfg.Seed = r.Cfg.Seed
	m, err := ip2vec.TrainCounts(sents.List(), cfg)
	if err != nil {
		return nil, err
	}
	info.Embedding = "trained on the input"
	r.log.Info("trained port/protocol embedding", "sentences", m.Sentences(), "distinct", len(sents), "ports", len(m.Ports()), "protocols", len(m.Protos()))
	return m, m.Save(path)
}
