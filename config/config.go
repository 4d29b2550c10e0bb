package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the effective configuration of a run.
type Config struct {
	// Chunks is the number of equal-time chunks the trace is cut into; one
	// model is trained per chunk.
	Chunks int `yaml:"n_chunks"`
	// MaxFlowLen caps the records per flow and chunk; 0 takes the longest
	// flow seen (capped by MaxFlowLenCap).
	MaxFlowLen int `yaml:"max_flow_len"`
	// MaxFlowLenCap bounds the observed maximum when MaxFlowLen is 0.
	MaxFlowLenCap int `yaml:"max_flow_len_cap"`
	// LongFlows says what happens to a flow longer than the maximum within
	// a chunk: "split" into segments of the same 5-tuple (no record lost,
	// but each segment generated as a flow of its own), "chain" (segments
	// the model learns as one flow's, generated chained into one flow, up
	// to MaxChainLen records) or "truncate" (NetShare's choice: later
	// records are dropped, counted).
	LongFlows string `yaml:"long_flows"`
	// MaxChainLen bounds, with LongFlows "chain", the records of one flow
	// within a chunk (over all its segments); later records are dropped and
	// counted.
	MaxChainLen int `yaml:"max_chain_len"`
	// Continuous selects how gaps, durations, counts and sizes are
	// normalised: "minmax" (NetShare: log1p for counts, then min-max) or
	// "quantile" (position among QuantileKnots quantiles of the data, which
	// keeps point masses such as one-packet flows exact).
	Continuous    string `yaml:"continuous"`
	QuantileKnots int    `yaml:"quantile_knots"`
	// LengthAttribute models each flow's length as an attribute and
	// generates flows of that length, instead of reading lengths from the
	// generation flags (NetShare's way).
	LengthAttribute bool `yaml:"length_attribute"`
	// Seed makes a run reproducible.
	Seed uint64 `yaml:"seed"`
	// SkipBad skips malformed rows of a text input (a bad CSV row, a wrong
	// number of columns, an IPv6 address) and records whose time lies far
	// outside the rest of the trace (trace.TimeOutliers), counting them by
	// reason in the log and in preprocess/split.json, instead of failing at
	// the first one.
	SkipBad bool `yaml:"skip_bad"`

	Word2Vec Word2Vec `yaml:"word2vec"`
	Model    Model    `yaml:"model"`
	Train    Train    `yaml:"train"`
	Generate Generate `yaml:"generate"`
	DP       DP       `yaml:"dp"`

	// Packets and Flows override keys for packet captures and for flow
	// records (NetShare too had separate defaults for the two): a run
	// applies the one matching its input (see ForKind).
	Packets map[string]any `yaml:"packets,omitempty"`
	Flows   map[string]any `yaml:"flows,omitempty"`
}

// Word2Vec configures the IP2Vec embedding of ports and protocol.
type Word2Vec struct {
	VecSize int `yaml:"vec_size"`
	Window  int `yaml:"window"`
	Epochs  int `yaml:"epochs"`
	// Pretrained is the path of a model trained on public data; empty trains
	// one on the input (not allowed under DP).
	Pretrained string `yaml:"pretrained"`
	// Decode maps generated vectors back to values: "nearest" (NetShare's
	// nearest neighbour) or "posterior" (a draw among the TopK nearest
	// values weighted by their frequency and exp(Kappa·cosine)).
	Decode string  `yaml:"decode"`
	Kappa  float64 `yaml:"kappa"`
	TopK   int     `yaml:"top_k"`
	// TailPortFlows, when 2 or more, replaces every (protocol, port) pair
	// used by fewer flows by a token of its protocol and port range, in
	// the embedding and in the training data; a flow generated with a
	// token draws an exact port of the class's real tail ports
	// (docs/model.md, "Tail ports"). 0 turns it off. Needs decode:
	// posterior and an embedding trained on the input.
	TailPortFlows int `yaml:"tail_port_flows"`
}

// Model holds the DoppelGANger hyper-parameters.
type Model struct {
	BatchSize     int     `yaml:"batch_size"`
	SampleLen     int     `yaml:"sample_len"`
	AttrNoiseDim  int     `yaml:"attr_noise_dim"`
	FeatNoiseDim  int     `yaml:"feat_noise_dim"`
	AttrGenLayers int     `yaml:"attr_gen_layers"`
	AttrGenUnits  int     `yaml:"attr_gen_units"`
	LSTMUnits     int     `yaml:"lstm_units"`
	DiscLayers    int     `yaml:"disc_layers"`
	DiscUnits     int     `yaml:"disc_units"`
	AuxDisc       bool    `yaml:"aux_disc"`
	AuxDiscLayers int     `yaml:"aux_disc_layers"`
	AuxDiscUnits  int     `yaml:"aux_disc_units"`
	DRounds       int     `yaml:"d_rounds"`
	GRounds       int     `yaml:"g_rounds"`
	GPCoef        float64 `yaml:"gp_coef"`
	AuxGPCoef     float64 `yaml:"aux_gp_coef"`
	GAuxCoef      float64 `yaml:"g_aux_coef"`
	GLR           float64 `yaml:"g_lr"`
	DLR           float64 `yaml:"d_lr"`
	AuxDLR        float64 `yaml:"aux_d_lr"`
	Beta1         float64 `yaml:"beta1"`
	Beta2         float64 `yaml:"beta2"`
	AdamEps       float64 `yaml:"adam_eps"`
	InitialState  string  `yaml:"initial_state"`
	LeakyReLU     bool    `yaml:"leaky_relu"`
}

// Train holds the training schedule.
//
// The number of iterations a chunk trains is stated one of two ways: as
// Iterations (a fixed count for chunk 0, divided by FineTuneReduce for
// fine-tuned chunks), or as Epochs and FineTuneEpochs (passes over each
// chunk's flows, so that a chunk's iterations follow its size), optionally
// clamped to [MinIterations, MaxIterations] and capped by a wall-time
// Budget. A document that states one way replaces the other way inherited
// from the preset or file it extends (see docs/model.md).
type Train struct {
	// Iterations, when positive, trains chunk 0 (and every chunk when
	// FineTune is off) for exactly this many iterations; Epochs, FineTuneEpochs
	// and Budget must then be unset.
	Iterations int `yaml:"iterations"`
	// Epochs sizes chunk 0 (and every chunk when FineTune is off): it trains
	// ceil(Epochs × flows / batch_size) iterations.
	Epochs float64 `yaml:"epochs,omitempty"`
	// FineTuneEpochs sizes each fine-tuned chunk the same way; 0 takes
	// Epochs / FineTuneReduce.
	FineTuneEpochs float64 `yaml:"fine_tune_epochs,omitempty"`
	// MinIterations and MaxIterations, when positive, clamp the iterations
	// derived from epochs (a budget does not cut below MinIterations).
	MinIterations int `yaml:"min_iterations,omitempty"`
	MaxIterations int `yaml:"max_iterations,omitempty"`
	// Budget, a Go duration such as "25m" (empty: none), caps the estimated
	// wall time of training: the iterations derived from epochs are scaled
	// down, all chunks alike, until the estimate, from the measured time of
	// chunk 0's first iterations, fits.
	Budget string `yaml:"budget,omitempty"`
	// FineTune starts chunks 1..N-1 from chunk 0's model and trains them
	// for Iterations/FineTuneReduce iterations (or FineTuneEpochs), as
	// NetShare does.
	FineTune       bool    `yaml:"fine_tune"`
	FineTuneReduce float64 `yaml:"fine_tune_reduce"`
	// CheckpointEvery saves a resumable checkpoint every so many iterations.
	CheckpointEvery int `yaml:"checkpoint_every"`
	// SelectBest scores every checkpoint by fast fidelity on a validation
	// slice of the chunk's flows held out of training, and generates from
	// the best-scoring one instead of the last. Off under DP.
	SelectBest bool `yaml:"select_best"`
	// Workers is the number of chunks trained at once; 0 sizes the pool to
	// the cores.
	Workers int `yaml:"workers"`
	// Threads is the number of BLAS threads per worker; 0 divides the cores
	// among the workers.
	Threads int `yaml:"threads"`
}

// trainAll is Train with every key written: a configuration sized by
// epochs is saved with its zero bounds and empty budget too, so that
// reading it back over a preset that sets them gives the same values.
type trainAll struct {
	Iterations      int     `yaml:"iterations"`
	Epochs          float64 `yaml:"epochs"`
	FineTuneEpochs  float64 `yaml:"fine_tune_epochs"`
	MinIterations   int     `yaml:"min_iterations"`
	MaxIterations   int     `yaml:"max_iterations"`
	Budget          string  `yaml:"budget"`
	FineTune        bool    `yaml:"fine_tune"`
	FineTuneReduce  float64 `yaml:"fine_tune_reduce"`
	CheckpointEvery int     `yaml:"checkpoint_every"`
	SelectBest      bool    `yaml:"select_best"`
	Workers         int     `yaml:"workers"`
	Threads         int     `yaml:"threads"`
}

// MarshalYAML writes a fixed count of iterations without the keys of the
// epoch schedule (which reading it back drops anyway), and a schedule in
// epochs with all its keys.
func (t Train) MarshalYAML() (any, error) {
	if t.Iterations > 0 {
		type plain Train
		return plain(t), nil
	}
	return trainAll(t), nil
}

// FromEpochs reports whether the iterations are derived from epochs
// rather than stated.
func (t Train) FromEpochs() bool { return t.Iterations <= 0 }

// DurationMicros returns generate.duration in microseconds (0 when
// empty).
func (g Generate) DurationMicros() (int64, error) {
	if g.Duration == "" {
		return 0, nil
	}
	return durMicros("generate.duration", g.Duration)
}

// BudgetDuration returns Budget parsed (0 when empty).
func (t Train) BudgetDuration() (time.Duration, error) {
	if t.Budget == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(t.Budget)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 20m or 1h30m, got %q", t.Budget)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive, got %s", t.Budget)
	}
	return d, nil
}

// ChunkEpochs returns the epochs of chunk 0 and of a fine-tuned chunk.
func (t Train) ChunkEpochs() (first, fineTuned float64) {
	first, fineTuned = t.Epochs, t.Epochs
	if t.FineTune {
		fineTuned = t.FineTuneEpochs
		if fineTuned <= 0 && t.FineTuneReduce > 0 {
			fineTuned = t.Epochs / t.FineTuneReduce
		}
	}
	return first, fineTuned
}

// Generate controls the size of the synthetic trace.
type Generate struct {
	// Scale multiplies the number of flows generated per chunk (1 = as
	// many as the real chunk has).
	Scale float64 `yaml:"scale"`
	// Duration (a Go duration, "24h") makes the synthetic trace that long:
	// the chunks' models generate the input's time span again and again,
	// each period from its own random streams, shifted to follow the one
	// before, and the last period is cut at the duration (docs/model.md,
	// "Longer traces"). Empty: the input's span.
	Duration string `yaml:"duration"`
	// Calibrate maps the generated values of every quantile-encoded field
	// (flow starts, gaps, durations, counts, sizes) to uniform ranks before
	// decoding, so that each field's marginal is the real one while the
	// model decides which flows get which values. Needs continuous:
	// quantile; not allowed under DP.
	Calibrate bool `yaml:"calibrate"`
	// IPSnapTop, when positive, decodes each generated address jointly:
	// it may move to one of the IPSnapTop addresses generated most often
	// when the bits where they differ are ones the model was unsure of
	// (0: bit-by-bit decoding, as NetShare).
	IPSnapTop int `yaml:"ip_snap_top"`
	// IPSnapWeight weighs the popularity term of the joint address
	// decoding against the bits' log-probabilities: above 1, addresses the
	// model generated only once move more readily to popular ones, so the
	// trace has fewer distinct addresses (0 or 1: the plain score).
	IPSnapWeight float64 `yaml:"ip_snap_weight"`
	// IPDistinct sets the snapping weight of each address field, block by
	// block, to the smallest from 0 (no snapping) up at which the block
	// brings no more new addresses than the real trace does for as many
	// flows, counted across chunks, so that the trace's distinct addresses
	// follow the real ones (needs ip_snap_top). Under DP the counts are
	// released with noise among the DP statistics (docs/privacy.md), or,
	// with dp.public_schema, the key is ignored.
	IPDistinct bool `yaml:"ip_distinct"`
	// IPCarry adds to each block's snapping candidates the addresses the
	// flows generated before used most, at their past rates, so that
	// popular addresses persist across blocks, chunks and periods as real
	// heavy hitters do (needs ip_snap_top; uses generated flows only).
	IPCarry bool `yaml:"ip_carry"`
	// IPProfile moves generated flows between the addresses the trace
	// holds, block by block, so that the records (flow traces) or flows
	// (captures) per address, ranked, follow the real trace's
	// rank-frequency profile: how traffic concentrates on the heaviest
	// hosts, which the distinct counts alone leave to the model. The
	// profile is counts per rank, taken at pre-processing. Under DP (with
	// ip_distinct, and without dp.public_schema) it is the trace's
	// 5-tuples per address, released as a DP statistic; else the key is
	// ignored under DP.
	IPProfile bool `yaml:"ip_profile"`
	// PortPairs exchanges ports between generated flows of one protocol
	// so that the share of flows in each port-pair class (well-known,
	// registered or dynamic on each side, or the same port on both) follows
	// the real trace's: the ports' marginals stay, and flows from a service
	// port to the same service port, which decoding the two ports one at a
	// time makes, go. The shares are counts taken at pre-processing; not
	// under DP, where they are not released (the key is then ignored).
	PortPairs bool `yaml:"port_pairs"`
	// PortsGivenSizes exchanges whole services (protocol and port pair;
	// an ICMP flow's ports are its type and code) between a block's
	// decoded TCP, UDP and ICMP flows of one length so that the flows'
	// (protocol, port-pair class, packet class and whether the records
	// last at all) joint follows the real trace's (heavy ports keyed by
	// themselves): the protocol and ports are attributes and the packets
	// features, and nothing else keeps a flow's size with its service. Every service keeps its flows, records and packets; a flow
	// whose protocol changes takes the TCP flags of the flow the service
	// came from. In a capture with long_flows: chain it exchanges port
	// pairs between flows of one protocol so that the (port-pair class,
	// flow length class) joint follows each chunk's, and the long flows
	// hold the services of the real long flows. The counts are taken at
	// pre-processing, not under DP (the key is then ignored).
	PortsGivenSizes bool `yaml:"ports_given_sizes"`
	// LabelsGivenFlows draws each decoded flow record's label from the
	// real trace's labels in nested cells of its protocol, destination
	// and source port keys, packet class and bytes per packet, each level
	// smoothed towards the coarser one, so that labels follow the ports
	// as well as the sizes. Flow traces with at least two labels; the
	// counts are taken at pre-processing, not under DP (the key is then
	// ignored).
	LabelsGivenFlows bool `yaml:"labels_given_flows"`
	// MatchPorts decodes the ports and protocol of all generated flows at
	// once, so that each takes a value near what the model generated while
	// the values keep their real proportions (needs word2vec.decode:
	// posterior).
	MatchPorts bool `yaml:"match_ports"`
	// RepairProtocol repairs the decoded trace's violations of the protocol
	// checks (ports, ICMP types, addresses, lengths, flags, TTLs, ordering)
	// before it is written, leaving alone the checks that the real
	// training trace itself fails for more than 1% of its flows. Under DP
	// the real trace's pass shares are not looked at: every check is
	// repaired. On in the default preset (fidelity holds while the share
	// of protocol-valid flows rises to the real one's: docs/BENCHMARKS.md),
	// off in the paper preset.
	RepairProtocol bool `yaml:"repair_protocol"`
	// SizesGivenPackets calibrates each generated flow record's duration
	// and bytes to the real records of its chunk with as many packets (in
	// classes of 1, 2-3, 4-7, … packets), keeping the model's ranking
	// within a class, each protocol's records (and those of flows of one
	// record, or several) ranked by their own values first, so that
	// durations and sizes follow the packets and the protocol as in the
	// real trace (flow traces with continuous: quantile). Before that,
	// the records' packets are ordered by their flow's length the same
	// way, keeping the chunk's real packet counts. Under DP the classes' distributions come from two
	// accounted histograms of the private trace (docs/privacy.md), or,
	// with dp.public_schema, the pass is off. On in the default preset.
	SizesGivenPackets bool `yaml:"sizes_given_packets"`
	// PacketSizesGivenProtocol gives a capture's generated packets their
	// protocol's real lengths: pre-processing keeps each chunk's quantile
	// knots of the packets' IP total lengths, of all packets and per
	// protocol (of at least 16 packets); generation ranks each block's
	// packets of such a protocol by the model's lengths, gives each its
	// protocol's real length at that rank as a provisional value, and
	// hands the chunk's real lengths out in the order of those values, so
	// the lengths' marginal stays the chunk's. Within a protocol the
	// packets are first ordered by their service's real lengths (per
	// destination port class, kept in split.json). Packet traces with
	// continuous: quantile; not under DP, where the knots are not released
	// (the key is then ignored). On in the default preset.
	PacketSizesGivenProtocol bool `yaml:"packet_sizes_given_protocol"`
	// LengthsGivenPorts calibrates the lengths (records or packets per
	// flow) of each chunk's generated flows within their port class: to a
	// rare destination port, from a rare source port, or neither (a port
	// is rare in a field when fewer than 3 flows of its protocol use it
	// there, or when it is a tail class's token), each class to the real
	// chunk's flows of the class as far as the model's class shares allow,
	// keeping the model's ranking within it, so that flows to one-off
	// ports are as short as the real ones (needs continuous: quantile with
	// the length attribute, and word2vec.decode: posterior for the ports'
	// flow counts; ignored under DP, where the real distributions are not
	// released). On in the default preset.
	LengthsGivenPorts bool `yaml:"lengths_given_ports"`
	// RejoinSegments keeps a capture's long flows one 5-tuple each under
	// long_flows: split: pre-processing counts, per chunk and (protocol,
	// destination port), the packets of the segments that start in the
	// chunk and of each flow of several among them; generation gives rows
	// of such a cell the 5-tuple of a full row of it, so that the cell's
	// flows of several segments come out as flows of their real share of
	// its packets. Flows going on from an earlier chunk are not rejoined.
	// Not under DP, where the counts are not released (the key is then
	// ignored). On in the default preset.
	RejoinSegments bool `yaml:"rejoin_segments"`
	// ContinuationLengths calibrates the lengths of a capture's flows
	// carried into a chunk from an earlier one to the real lengths of the
	// flows that go on into that chunk (their first segment there, kept
	// per chunk at pre-processing as quantile knots), not to those of all
	// the chunk's flows: a flow cut by the chunk's start holds there what
	// is left of it. Packet traces with more than one chunk and the
	// length attribute quantile-encoded; not under DP, where the knots are
	// not released (the key is then ignored). On in the default preset.
	ContinuationLengths bool `yaml:"continuation_lengths"`
}

// DP configures differentially private training of the discriminators.
//
// Under DP every data-dependent choice of pre-processing comes from DP
// statistics of the private trace (quantile knots, port and protocol
// vocabularies, categories), each a Gaussian mechanism accounted in the
// same budget, over a data-independent domain; the port/protocol embedding
// is trained on sentences drawn from the DP vocabulary. Pretrained, when
// set, names a run on public data whose chunk-0 weights (unless Init is
// "random") and embedding start every private chunk, and, with
// PublicSchema, whose schema replaces the DP statistics. Only the
// discriminators see the private flows, through DP-SGD; the number of flows
// generated per chunk is released with Gaussian noise. See docs/privacy.md.
type DP struct {
	Enabled bool `yaml:"enabled"`
	// Epsilon is the target privacy budget; the noise multiplier is derived
	// from it unless Noise is given.
	Epsilon float64 `yaml:"epsilon"`
	// Delta defaults to 1e-5, or less when the trace has more than 10^4
	// flows (δ < 1/flows).
	Delta float64 `yaml:"delta"`
	// Clip is the per-example gradient norm bound C.
	Clip float64 `yaml:"clip"`
	// Noise is the noise multiplier σ (0: derived from Epsilon).
	Noise float64 `yaml:"noise"`
	// Pretrained is the directory of a run on a public trace (trained
	// without DP).
	Pretrained string `yaml:"pretrained"`
	// Init is "public" (every chunk starts from the public chunk-0 model,
	// NetShare's scheme) or "random" (naive DP: from scratch).
	Init string `yaml:"init"`
	// CountNoise is σ of the Gaussian noise on each chunk's flow count.
	CountNoise float64 `yaml:"count_noise"`
	// Start and End (RFC 3339), when set, fix the trace's time range so
	// that the chunk edges do not depend on the private trace.
	Start string `yaml:"start"`
	End   string `yaml:"end"`

	// StatsShare is the part of ε that the DP statistics of the private
	// trace (quantile knots, port and protocol vocabularies, categories)
	// are calibrated to spend among themselves; training gets what keeps
	// the composition of everything within ε. The statistics' shares among
	// themselves are fixed weights (docs/privacy.md).
	StatsShare float64 `yaml:"stats_share"`
	// PublicSchema, with Pretrained, takes the schema (value ranges,
	// quantile knots, vocabularies) from the public run instead of DP
	// statistics of the private trace, and spends no budget on them.
	PublicSchema bool `yaml:"public_schema"`
	// MaxDuration (a Go duration), MaxPackets and MaxBytes bound the
	// durations, packet and byte counts of flow records: the
	// data-independent domain of their DP histograms (values above are
	// clamped). MaxGap bounds the time between a flow's records.
	MaxDuration string `yaml:"max_duration"`
	MaxGap      string `yaml:"max_gap"`
	MaxPackets  uint64 `yaml:"max_packets"`
	MaxBytes    uint64 `yaml:"max_bytes"`
	// BatchSize, DRounds, Iterations and Chunks, when positive, replace
	// model.batch_size, model.d_rounds, train.iterations (and the epoch
	// schedule) and n_chunks under DP: DP-SGD wants larger batches, fewer
	// steps and fewer chunks (each chunk's steps add to ε) than training
	// without DP. 0 keeps the value of the other key.
	BatchSize  int `yaml:"batch_size"`
	DRounds    int `yaml:"d_rounds"`
	Iterations int `yaml:"iterations"`
	Chunks     int `yaml:"n_chunks"`
}

// MaxDurationMicros returns dp.max_duration in microseconds.
func (d DP) MaxDurationMicros() (int64, error) { return durMicros("dp.max_duration", d.MaxDuration) }

// MaxGapMicros returns dp.max_gap in microseconds.
func (d DP) MaxGapMicros() (int64, error) { return durMicros("dp.max_gap", d.MaxGap) }

func durMicros(key, s string) (int64, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: want a duration such as 24h, got %q", key, s)
	}
	if v <= 0 {
		return 0, fmt.Errorf("%s: must be positive, got %s", key, s)
	}
	return v.Microseconds(), nil
}

// applyDP puts the DP training settings (dp.batch_size, dp.d_rounds,
// dp.iterations, dp.n_chunks) in place of the keys they replace, when DP
// is on.
func (c *Config) applyDP() {
	d := c.DP
	if !d.Enabled {
		return
	}
	if d.BatchSize > 0 {
		c.Model.BatchSize = d.BatchSize
	}
	if d.DRounds > 0 {
		c.Model.DRounds = d.DRounds
	}
	if d.Chunks > 0 {
		c.Chunks = d.Chunks
	}
	if d.Iterations > 0 {
		c.Train.Iterations = d.Iterations
		c.Train.Epochs, c.Train.FineTuneEpochs, c.Train.MinIterations, c.Train.MaxIterations, c.Train.Budget = 0, 0, 0, 0, ""
	}
}

func closest(s string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// YAML renders the configuration as YAML.
func (c *Config) YAML() ([]byte, error) { return yaml.Marshal(c) }

// TimeRange returns dp.start and dp.end in microseconds since the epoch,
// or zeros when they are not set.
func (d DP) TimeRange() (start, end int64, err error) {
	if d.Start == "" && d.End == "" {
		return 0, 0, nil
	}
	s, err := time.Parse(time.RFC3339Nano, d.Start)
	if err != nil {
		return 0, 0, fmt.Errorf("dp.start: %w", err)
	}
	e, err := time.Parse(time.RFC3339Nano, d.End)
	if err != nil {
		return 0, 0, fmt.Errorf("dp.end: %w", err)
	}
	if !e.After(s) {
		return 0, 0, fmt.Errorf("dp.end %s is not after dp.start %s", d.End, d.Start)
	}
	return s.UnixMicro(), e.UnixMicro(), nil
}

// ForKind returns the configuration for an input of the given kind
// ("packets" or "flows"): the matching override section merged over the
// rest, validated, with both sections cleared.
func (c *Config) ForKind(kind string) (*Config, error) {
	out, err := c.forKind(kind)
	if err != nil {
		return nil, fmt.Errorf("configuration for %s: %w", kind, err)
	}
	out.applyDP()
	return out, nil
}

func (c *Config) forKind(kind string) (*Config, error) {
	var over map[string]any
	switch kind {
	case "packets":
		over = c.Packets
	case "flows":
		over = c.Flows
	default:
		return nil, fmt.Errorf("unknown trace kind %q", kind)
	}
	base := *c
	base.Packets, base.Flows = nil, nil
	if len(over) == 0 {
		return &base, nil
	}
	l := newLoader()
	var baseNode, overNode yaml.Node
	if err := baseNode.Encode(&base); err != nil {
		return nil, err
	}
	if err := overNode.Encode(over); err != nil {
		return nil, err
	}
	out, err := l.decode(l.merge(&baseNode, &overNode))
	if err != nil {
		return nil, err
	}
	return out, nil
}
