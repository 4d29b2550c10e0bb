package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

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
	// Periods is how many times the input's time span was generated
	// (generate.duration; 1 without it), and CutAtEnd the records of the
	// last period dropped for lying past the duration.
	Periods  int `json:"periods"`
	CutAtEnd int `json:"records_past_duration,omitempty"`
	// With chained long flows (long_flows: chain): the flows generated in
	// more than one segment, and the segments generated in all.
	ChainedFlows int `json:"chained_flows,omitempty"`
	Segments     int `json:"segments,omitempty"`
	// ShortFlows counts the flows a chunk's model fell short of: with
	// chained flows, a model that generates almost only later segments
	// (generateRows gives up after 16 rounds).
	ShortFlows int `json:"flows_short,omitempty"`
	// SizedRecords counts the flow records whose duration or bytes
	// generate.sizes_given_packets changed (a record twice when both its
	// passes, before and after ports given sizes, changed it).
	SizedRecords int `json:"records_sized_given_packets,omitempty"`
	// PacketsByLength counts the flow records whose packets
	// generate.sizes_given_packets changed given their flow's length.
	PacketsByLength int `json:"records_packets_given_length,omitempty"`
	// PacketSizes counts the packets whose length
	// generate.packet_sizes_given_protocol changed.
	PacketSizes int `json:"packets_sized_given_protocol,omitempty"`
	// PortSizeSwaps counts the flows that took another port pair under
	// generate.ports_given_sizes; Relabelled the records whose label
	// generate.labels_given_flows changed.
	PortSizeSwaps int `json:"port_size_swaps,omitempty"`
	Relabelled    int `json:"relabelled_records,omitempty"`
}

// flowCount is how many flows chunk c's model generates: as many as the
// real chunk has (under DP, its noisy count), times the scale factor.
func (r *Run) flowCount(split *SplitInfo, c int) int {
	n := split.Chunks[c].flows()
	if split.NoisyFlows != nil {
		n = split.NoisyFlows[c]
	}
	return int(math.Round(float64(n) * r.Cfg.Generate.Scale))
}

// flows is the chunk's number of flows, each chained flow counted once.
func (ci ChunkInfo) flows() int {
	if ci.WholeFlows > 0 {
		return ci.WholeFlows
	}
	return ci.Flows
}

// startTargets returns, per chunk, the flows generated for it and the
// share of the real chunk's flows that start in it, for
// postgen.Stream.SetStartTargets; nil with one chunk, without chained
// long flows, and under DP (the real shares are not released, and its
// flows are not chained).
func (r *Run) startTargets(s *encoding.Schema, split *SplitInfo) ([]int, []float64) {
	if len(split.Chunks) < 2 || !s.Chains() || r.Cfg.DP.Enabled {
		return nil, nil
	}
	flows := make([]int, len(split.Chunks))
	share := make([]float64, len(split.Chunks))
	for c, ci := range split.Chunks {
		flows[c] = r.flowCount(split, c)
		if n := ci.flows(); n > 0 {
			share[c] = min(1, float64(ci.StartsHere)/float64(n))
		}
	}
	return flows, share
}

// maxBlockFlows bounds the flows generated and post-processed at once;
// blockFlows lowers it for models with long feature sequences.
var maxBlockFlows = 1 << 16

// blockFeatureBytes is the size of the generated features of one block
// that blockFlows aims at.
const blockFeatureBytes = 64 << 20

// blockFlows is the number of flows generation handles at once for schema
// s: maxBlockFlows, or fewer when one block's features (flows × MaxLen ×
// features) would pass blockFeatureBytes, and at least 1024. It depends on
// the schema alone, not on the scale factor or the thread count.
func blockFlows(s *encoding.Schema) int {
	per := 4 * max(1, s.MaxLen*s.FeatDim())
	return max(min(1024, maxBlockFlows), min(maxBlockFlows, blockFeatureBytes/per))
}

// genTmp is the folder of generation's temporary files (the continuations
// carried across chunks, the spilled runs of a chunk's records), inside
// the run directory and removed once generation ends.
const genTmp = "generate.tmp"

// generate produces the synthetic trace chunk by chunk and, inside a
// chunk, block by block (blockFlows flows at a time), so that memory does
// not grow with the number of flows generated. First, with calibration and
// more than one chunk, pilot samples from every chunk's model give the
// targets that keep the chunks' differences in the length and the
// features although each block is calibrated on its own
// (calibrationTargets). Then each block's attributes
// from the chunk's model, the attribute passes (postgen.Stream: length
// calibration, matched decoding, IP snapping, 5-tuple separation, the
// merge's part, which carries flows spanning chunks to the later chunks
// their tags name), its features given the attributes, the feature passes,
// its records decoded, cut to the chunk's time range and, with
// generate.repair_protocol, their protocol violations repaired; after the
// chunk's own blocks, the continuations carried into it, in blocks too.
// A chunk's records are sorted by time (in memory, or by a merge of
// sorted runs spilled to a temporary file) and written as soon as the
// chunk is done: chunks are time-disjoint, so the trace comes out sorted.
// The trace is written in the input's kind and layout, through a
// temporary file renamed at the end.
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
	block := blockFlows(s)
	r.log.Info("generating", "chunks", len(split.Chunks), "blas_threads", threads, "block_flows", block)
	st := &GenStats{PerChunkFlows: make([]int, len(split.Chunks))}
	models, err := r.loadModels(split)
	if err != nil {
		return nil, err
	}
	var fail map[string]float64
	if r.Cfg.Generate.RepairProtocol {
		if fail, err = r.repairTargets(s.Kind()); err != nil {
			return nil, err
		}
	}
	tmp := filepath.Join(r.Dir, genTmp)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	opt := postgen.Options{Seed: r.Cfg.Seed, Calibrate: r.Cfg.Generate.Calibrate, MatchPorts: r.Cfg.Generate.MatchPorts, IPSnapTop: r.Cfg.Generate.IPSnapTop, IPSnapWeight: r.Cfg.Generate.IPSnapWeight}
	opt.IPCarry = r.Cfg.Generate.IPCarry
	// A real trace with flows from a host to itself keeps them, down to
	// its share (the repair's target); otherwise none are generated.
	_, opt.SelfLoops = fail[protocol.CheckAddrDistinct]
	if r.Cfg.Generate.IPDistinct { // validated to come with ip_snap_top
		opt.IPDistinct = r.ipDistinct(split)
	}
	if r.Cfg.Generate.IPProfile {
		opt.IPProfile, opt.IPPacketProfile = r.ipProfile(split)
	}
	if r.Cfg.Generate.PortPairs {
		opt.PortPairs = r.portPairs(s, split)
	}
	// Port pairs given the flows' lengths, in chained captures only: in
	// the others, whose flows are cut at max_flow_len, it made the ICMP
	// TTL capture worse on every seed tried (docs/BENCHMARKS.md, "Long
	// flows").
	if r.Cfg.Generate.PortsGivenSizes && s.Kind() == trace.KindPackets && s.Chains() {
		opt.ServiceLengths = r.serviceLengths(s, split)
	}
	opt.Segments = r.splitSegments(s, split)
	// Chained long flows go on across chunks by design: each continuation
	// takes the nearest lender, and a chunk lends to as many as its real
	// flows that continue. (On the sweep's traces, not chained, the two
	// made the joint TVD worse: docs/BENCHMARKS.md, "Long flows".)
	opt.NearestLenders = s.Chains()
	g := postgen.NewStream(s, len(split.Chunks), opt, tmp, &st.Stats)
	defer g.Close()
	if flows, share := r.startTargets(s, split); flows != nil {
		g.SetStartTargets(flows, share)
	}
	if opt.Calibrate && len(split.Chunks) > 1 {
		if err := r.calibrationTargets(ctx, s, split, models, g, opt, block); err != nil {
			return nil, err
		}
		// The pilots drew from the models' and the decoders' random
		// streams: start them again for the trace.
		s.SeedDecoding(r.Cfg.Seed)
		for c, m := range models {
			if m != nil {
				m.SetGenerationSeed(genSeed(r.Cfg.Seed, c))
			}
		}
	} else if opt.Calibrate {
		g.SetPortLengthTargets(r.portLengthTargets(s, len(split.Chunks)))
	}
	if going, own := r.goingLengthTargets(s, split); going != nil {
		g.SetGoingLengthTargets(going)
		g.SetLengthTargets(own)
	}
	gc := &genChunks{r: r, s: s, split: split, models: models, g: g, fail: fail, st: st, block: block, tmp: tmp, end: math.MaxInt64,
		span: split.Chunks[len(split.Chunks)-1].End - split.Chunks[0].Start}
	gc.sizes = r.sizeKnots(s)
	gc.portSizes, gc.labels = r.flowShapes(s, split)
	gc.pktSizes = r.packetSizeKnots(s)
	if gc.pktSizes != nil && !split.PortPacketSizes.Missing() {
		split.PortPacketSizes.Bind(s)
		gc.pktSvc = split.PortPacketSizes
	}
	st.Periods = 1
	if d, err := r.Cfg.Generate.DurationMicros(); err != nil {
		return nil, err
	} else if d > 0 {
		if gc.span <= 0 {
			return nil, fmt.Errorf("generate.duration: the input spans no time (every record at one instant): there is no span to repeat")
		}
		gc.end = split.Chunks[0].Start + d
		st.Periods = int(max(1, (d+gc.span-1)/gc.span))
		r.log.Info("generating a longer trace", "duration", r.Cfg.Generate.Duration, "input_span", time.Duration(gc.span)*time.Microsecond, "periods", st.Periods)
	}
	path := r.SyntheticPath(s.Kind())
	if s.Kind() == trace.KindPackets {
		err = trace.WritePcapFileFunc(path, trace.PcapOptions{}, func(w *trace.PcapWriter) error {
			return streamChunks(ctx, gc, packetGenOps, w.Write)
		})
	} else {
		err = trace.WriteFlowsFileFunc(path, trace.DefaultLayout(trace.Format(split.Format)), func(w *trace.FlowWriter) error {
			return streamChunks(ctx, gc, flowGenOps, w.Write)
		})
	}
	if err != nil {
		return nil, err
	}
	r.log.Info("generated", "path", path, "flows", st.Flows, "records", st.Records, "continued_flows", st.Continuations,
		"dropped_continuations", st.DroppedCopies, "rows_made_lenders", st.MadeLenders, "fixed_inconsistent_tags", st.FixedTags, "snapped_ips", st.SnappedIPs, "profiled_ips", st.ProfiledIPs, "separated_hosts", st.SeparatedHosts, "tail_ports_drawn", st.TailPorts, "port_pair_swaps", st.PortPairSwaps, "separated_keys", st.SeparatedKeys, "records_outside_chunk", st.OutOfRange,
		"periods", st.Periods, "records_past_duration", st.CutAtEnd, "chained_flows", st.ChainedFlows, "segments", st.Segments, "records_sized_given_packets", st.SizedRecords, "records_packets_given_length", st.PacketsByLength, "packets_sized_given_protocol", st.PacketSizes, "port_size_swaps", st.PortSizeSwaps, "relabelled_records", st.Relabelled,
		"protocol_repairs", st.RepairStats.Total(), "protocol_separated_keys", st.RepairStats.Separated,
		"protocol_unrepaired_keys", st.RepairStats.Unrepaired, "protocol_merged_keys", st.RepairStats.Merged)
	if len(st.Repairs) > 0 {
		r.log.Info("protocol repairs", "per_check", st.Repairs)
	}
	if st.ShortFlows > 0 {
		r.log.Warn("chained flows: the models generated too few first segments; the trace has fewer flows than asked", "missing_flows", st.ShortFlows)
	}
	return st, nil
}

// sizeKnots returns the per-chunk knots of generate.sizes_given_packets,
// or nil when the key is off, for packet traces, and (with a note in the
// log) under DP with the public run's schema, whose private distributions
// are not released, or for a run pre-processed before they were kept.
// Under DP with DP statistics the knots are post-processing of two
// accounted histograms (pipeline/dpstats.go); a public run's are dropped
// when it is loaded. A packet class that a chunk lacks
// and another holds takes the nearest such chunk's knots: a model may
// generate a few flows of a class its real chunk did not have.
func (r *Run) sizeKnots(s *encoding.Schema) []map[int]encoding.SizeClass {
	switch {
	case !r.Cfg.Generate.SizesGivenPackets || s.Kind() != trace.KindFlows:
		return nil
	case r.Cfg.DP.Enabled && len(s.SizeKnots) == 0:
		r.log.Info("generate.sizes_given_packets is off under DP without DP statistics (dp.public_schema): the real distributions are not released")
		return nil
	case len(s.SizeKnots) == 0:
		r.log.Warn("generate.sizes_given_packets: the run was pre-processed before the sizes per packet class were kept; pre-process again to use it")
		return nil
	}
	return fillNearest(s.SizeKnots)
}

// packetSizeKnots returns the real packet lengths per chunk and protocol
// of generate.packet_sizes_given_protocol, or none, with a note in the
// log, where they are not kept: under DP (not released), or for a run
// pre-processed before they were.
func (r *Run) packetSizeKnots(s *encoding.Schema) []encoding.PacketSizes {
	switch {
	case !r.Cfg.Generate.PacketSizesGivenProtocol || s.Kind() != trace.KindPackets,
		!r.realCounts("generate.packet_sizes_given_protocol", "packet lengths per protocol", len(s.PacketSizeKnots) == 0):
		return nil
	}
	return nearestPacketSizes(s.PacketSizeKnots)
}

// nearestPacketSizes returns each chunk's packet lengths with, for a
// protocol the chunk lacks and another holds, the nearest such chunk's
// (the earlier one at equal distance): a model may give a chunk packets of
// a protocol its real chunk did not have.
func nearestPacketSizes(knots []encoding.PacketSizes) []encoding.PacketSizes {
	by := make([]map[uint8][]float64, len(knots))
	for c, k := range knots {
		by[c] = k.ByProto
	}
	by = fillNearest(by)
	out := make([]encoding.PacketSizes, len(knots))
	for c, k := range knots {
		out[c] = encoding.PacketSizes{All: k.All, ByProto: by[c]}
	}
	return out
}

// fillNearest returns copies of the per-chunk maps in which each key a
// chunk lacks and another chunk holds takes the nearest such chunk's value
// (the earlier one at equal distance); every copy is non-nil.
func fillNearest[K comparable, V any](own []map[K]V) []map[K]V {
	out := make([]map[K]V, len(own))
	for c := range own {
		out[c] = maps.Clone(own[c])
		if out[c] == nil {
			out[c] = map[K]V{}
		}
		for d := 1; d < len(own); d++ {
			for _, o := range []int{c - d, c + d} {
				if o < 0 || o >= len(own) {
					continue
				}
				for k, v := range own[o] {
					if _, ok := out[c][k]; !ok {
						out[c][k] = v
					}
				}
			}
		}
	}
	return out
}

// ipDistinct returns the distinct-address targets of generate.ip_distinct:
// per chunk, the real sources and destinations that no earlier chunk held
// and the flows that start in it (under DP, their noisy counts:
// dpDistinct), or nil (with a note in the log) for a run pre-processed
// before they were counted.
func (r *Run) ipDistinct(split *SplitInfo) []postgen.Distinct {
	if r.Cfg.DP.Enabled {
		return r.dpDistinct(split)
	}
	out := make([]postgen.Distinct, len(split.Chunks))
	var before [2]int
	for c, ci := range split.Chunks {
		if ci.Flows > 0 && (ci.SrcAddrsUpTo == 0 || ci.DstAddrsUpTo == 0) {
			r.log.Warn("generate.ip_distinct: the run was pre-processed before distinct addresses were counted across chunks; pre-process again to use it")
			return nil
		}
		starts := ci.StartsHere
		if len(split.Chunks) == 1 {
			starts = ci.flows()
		}
		out[c] = postgen.Distinct{NewSrc: ci.SrcAddrsUpTo - before[0], NewDst: ci.DstAddrsUpTo - before[1], Flows: starts}
		before = [2]int{ci.SrcAddrsUpTo, ci.DstAddrsUpTo}
	}
	return out
}

// ipProfile returns the per-chunk address profiles of
// generate.ip_profile (of records or flows, and of packets), or none (with
// a note in the log) for a run pre-processed before they were kept. Under
// DP they are the released profiles of 5-tuples per address (with
// generate.ip_distinct; none with dp.public_schema), and packets per
// address are not followed.
func (r *Run) ipProfile(split *SplitInfo) (rec, pk [][2]*postgen.AddrProfile) {
	switch {
	case r.Cfg.DP.Enabled && len(split.AddrProfiles) != len(split.Chunks):
		r.log.Info("generate.ip_profile is off under DP without a released address profile (it needs generate.ip_distinct, and none is released with dp.public_schema)")
		return nil, nil
	case r.Cfg.DP.Enabled:
		return split.AddrProfiles, nil
	case len(split.AddrProfiles) != len(split.Chunks):
		r.log.Warn("generate.ip_profile: the run was pre-processed before address profiles were kept per chunk; pre-process again to use it")
		return nil, nil
	}
	return split.AddrProfiles, split.AddrPacketProfiles
}

// portPairs returns the real port pairing of generate.port_pairs, or none
// (with a note in the log) under DP, where it is not released, or for a
// run pre-processed before it was kept; bound to the schema's tail classes.
func (r *Run) portPairs(s *encoding.Schema, split *SplitInfo) *postgen.PortPairs {
	if !r.realCounts("generate.port_pairs", "port pairs by port", split.PortPairs.Missing()) {
		return nil
	}
	split.PortPairs.Bind(s)
	return split.PortPairs
}

// serviceLengths returns a capture's real port pairs per length class
// for generate.ports_given_sizes, or none (with a note in the log) under
// DP, where they are not released, or for a run pre-processed before they
// were kept; bound to the schema's tail classes.
func (r *Run) serviceLengths(s *encoding.Schema, split *SplitInfo) *postgen.ServiceLengths {
	if !r.realCounts("generate.ports_given_sizes", "port pairs per flow length", split.ServiceLengths.Missing()) {
		return nil
	}
	split.ServiceLengths.Bind(s)
	return split.ServiceLengths
}

// splitSegments returns a capture's real split segments for
// generate.rejoin_segments, or none: when the key is off, for flow
// traces and chained or truncated long flows, and (with a note in the
// log) under DP, where they are not released, or for a run pre-processed
// before they were counted.
func (r *Run) splitSegments(s *encoding.Schema, split *SplitInfo) *postgen.SplitSegments {
	switch {
	case !r.Cfg.Generate.RejoinSegments || s.Kind() != trace.KindPackets || r.Cfg.LongFlows != "split",
		!r.realCounts("generate.rejoin_segments", "segments per flow", split.SplitSegments.Missing()):
		return nil
	}
	split.SplitSegments.Bind(s)
	return split.SplitSegments
}

// goingLengthTargets returns, per chunk, the encoded positions of the
// real lengths of the flows going on into it, for
// generate.continuation_lengths, and those of its other flows, which its
// own rows are then calibrated to (the continuations take the going
// flows' share of the chunk's records); or nil: when the key or the
// calibration is off, for flow traces, one chunk or a length attribute
// not quantile-encoded, and (with a note in the log) under DP, where they
// are not released, or for a run pre-processed before they were kept.
func (r *Run) goingLengthTargets(s *encoding.Schema, split *SplitInfo) (going, own [][]float64) {
	switch {
	case !r.Cfg.Generate.ContinuationLengths || !r.Cfg.Generate.Calibrate || s.Kind() != trace.KindPackets ||
		len(split.Chunks) < 2 || s.QuantileAttr("length") < 0,
		!r.realCounts("generate.continuation_lengths", "lengths of the flows going on", false):
		return nil, nil
	case split.GoingLengths == nil:
		r.log.Debug("generate.continuation_lengths: no lengths of flows going on into a later chunk were kept (none goes on, or the run was pre-processed before they were)")
		return nil, nil
	}
	going, own = make([][]float64, len(split.Chunks)), make([][]float64, len(split.Chunks))
	for c := range going {
		if c < len(split.GoingLengths) {
			going[c] = s.LengthPositions(split.GoingLengths[c])
		}
		if c < len(split.OwnLengths) {
			own[c] = s.LengthPositions(split.OwnLengths[c])
		}
	}
	return going, own
}

// realCounts reports whether the generation pass of configuration key key
// can have what pre-processing counted of the real trace for it (what, as
// the log names it): not under DP, where the counts are not released (a
// note in the log), nor from a run pre-processed before they were kept,
// missing (a warning: pre-process again).
func (r *Run) realCounts(key, what string, missing bool) bool {
	switch {
	case r.Cfg.DP.Enabled:
		r.log.Info(key + " is off under DP: the real " + what + " are not released")
		return false
	case missing:
		r.log.Warn(key + ": the run was pre-processed before the " + what + " were kept; pre-process again to use it")
		return false
	}
	return true
}

// dpDistinct returns the distinct-address targets of a DP run from its
// noisy counts (NoisyAddrsUpTo), with each chunk's noisy flow count as
// the flows that bring them (the flows starting in a chunk are not
// released: with several chunks a chunk's flows that began before it
// count too, so its new addresses are spread a little thin), or nil with
// a note in the log when none were released (dp.public_schema).
func (r *Run) dpDistinct(split *SplitInfo) []postgen.Distinct {
	if len(split.NoisyAddrsUpTo) != len(split.Chunks) || len(split.NoisyFlows) != len(split.Chunks) {
		r.log.Info("generate.ip_distinct is off under DP without DP statistics (dp.public_schema): the real address counts are not released")
		return nil
	}
	out := make([]postgen.Distinct, len(split.Chunks))
	var before [2]int
	for c, up := range split.NoisyAddrsUpTo {
		out[c] = postgen.Distinct{NewSrc: up[0] - before[0], NewDst: up[1] - before[1], Flows: split.NoisyFlows[c]}
		before = up
	}
	return out
}

// flowShapes returns the real counts of generate.ports_given_sizes and
// generate.labels_given_flows, nil for each that is off, does not apply
// (packet traces; labels with fewer than two of them) or was not recorded
// (under DP, where they are not taken, or pre-processed before they were);
// bound to the schema's tail classes.
func (r *Run) flowShapes(s *encoding.Schema, split *SplitInfo) (*postgen.PortSizes, *postgen.LabelCells) {
	g := r.Cfg.Generate
	if s.Kind() != trace.KindFlows || (!g.PortsGivenSizes && !g.LabelsGivenFlows) {
		return nil, nil
	}
	if r.Cfg.DP.Enabled {
		r.log.Info("generate.ports_given_sizes and generate.labels_given_flows are off under DP: the real counts are not released")
		return nil, nil
	}
	var ps *postgen.PortSizes
	var lc *postgen.LabelCells
	if g.PortsGivenSizes {
		if ps = split.PortSizes; ps.Missing() {
			r.log.Warn("generate.ports_given_sizes: the run was pre-processed before the port and packet classes were counted; pre-process again to use it")
			ps = nil
		}
	}
	if g.LabelsGivenFlows {
		switch lc = split.Labels; {
		case lc.Missing():
			r.log.Warn("generate.labels_given_flows: the run was pre-processed before the labels were counted, or counted by another layout of cells; pre-process again to use it")
			lc = nil
		case !lc.Usable():
			lc = nil
		}
	}
	if ps != nil {
		ps.Bind(s)
	}
	if lc != nil {
		lc.Bind(s)
	}
	return ps, lc
}

// genChunks is what generation carries from block to block.
type genChunks struct {
	r      *Run
	s      *encoding.Schema
	split  *SplitInfo
	models []*dg.Model
	g      *postgen.Stream
	fail   map[string]float64 // the repair's targets (repairTargets)
	// sizes, with generate.sizes_given_packets, holds per chunk the real
	// durations and bytes per packet class (encoding.Spec.SizeKnots).
	sizes []map[int]encoding.SizeClass
	// pktSizes, with generate.packet_sizes_given_protocol, holds per chunk
	// the real packet lengths per protocol (encoding.Spec.PacketSizeKnots).
	pktSizes []encoding.PacketSizes
	// pktSvc holds, with it, the real packet lengths per chunk, protocol
	// and destination port class (nil for a run pre-processed before
	// they were kept: the protocols' lengths alone are taken then).
	pktSvc *postgen.PortPacketSizes
	// portSizes and labels are generate.ports_given_sizes' and
	// generate.labels_given_flows' real counts (nil when off).
	portSizes *postgen.PortSizes
	labels    *postgen.LabelCells
	st        *GenStats
	block     int
	tmp       string
	// The input's time span; the period being generated: its records'
	// time shift and its seed; the end of the trace (generate.duration;
	// MaxInt64 without).
	span, off, end int64
	seed           uint64
}

// periodSeed is period p's seed: the run's seed for the first period, so
// that a trace of the input's span is the same with or without a
// duration.
func periodSeed(seed uint64, p int) uint64 {
	if p == 0 {
		return seed
	}
	return seed ^ (uint64(p) * 0x9e3779b97f4a7c15)
}

// startPeriod seeds period p (p ≥ 1) of a longer trace: the models, the
// decoders and the passes draw anew, and the records are shifted p spans
// later.
func (gc *genChunks) startPeriod(p int) error {
	gc.seed = periodSeed(gc.r.Cfg.Seed, p)
	gc.off = int64(p) * gc.span
	gc.s.SeedDecoding(gc.seed)
	for c, m := range gc.models {
		if m != nil {
			m.SetGenerationSeed(genSeed(gc.seed, c))
		}
	}
	return gc.g.Restart(gc.seed)
}

// sortHeld is how many records of a chunk generation keeps in memory;
// past that the chunk is sorted by merging sorted runs of that many
// records spilled to temporary files (flows.Sorter).
var sortHeld = 1 << 19

// genOps is what generation does differently for packets and flow
// records: decode, wrap and sort them.
type genOps[R any] struct {
	time   func(*R) int64
	codec  func() flows.Codec[R]
	cmp    func(a, b *R) int
	decode func(s *encoding.Schema, attrs []encoding.FlowAttr, feat []float32, lens []int, ch encoding.ChunkRange) ([]R, error)
	wrap   func([]R) *trace.Trace
	unwrap func(*trace.Trace) []R
	shift  func(*R, int64)
}

var flowGenOps = genOps[trace.Flow]{
	time:   (*trace.Flow).Time,
	codec:  func() flows.Codec[trace.Flow] { return flows.NewFlowCodec() },
	cmp:    flows.CompareTime[trace.Flow],
	decode: (*encoding.Schema).DecodeFlows,
	wrap:   func(fs []trace.Flow) *trace.Trace { return &trace.Trace{Kind: trace.KindFlows, Flows: fs} },
	unwrap: func(t *trace.Trace) []trace.Flow { return t.Flows },
	shift:  func(f *trace.Flow, d int64) { f.Start += d },
}

var packetGenOps = genOps[trace.Packet]{
	time:   (*trace.Packet).Time,
	codec:  func() flows.Codec[trace.Packet] { return flows.PacketCodec{} },
	cmp:    flows.CompareTime[trace.Packet],
	decode: (*encoding.Schema).DecodePackets,
	wrap:   func(ps []trace.Packet) *trace.Trace { return &trace.Trace{Kind: trace.KindPackets, Packets: ps} },
	unwrap: func(t *trace.Trace) []trace.Packet { return t.Packets },
	shift:  func(p *trace.Packet, d int64) { p.TS += d },
}

// streamChunks generates every chunk in turn, block by block, and hands
// its records, sorted by time, to write; with generate.duration, the
// chunks again for every period, each shifted a span after the one before.
func streamChunks[R any](ctx context.Context, gc *genChunks, ops genOps[R], write func(*R) error) error {
	gc.seed = gc.r.Cfg.Seed
	for p := range gc.st.Periods {
		if p > 0 {
			if err := gc.startPeriod(p); err != nil {
				return err
			}
		}
		off := gc.off
		shifted := func(r *R) error {
			ops.shift(r, off)
			return write(r)
		}
		if off == 0 {
			shifted = write
		}
		if err := streamPeriod(ctx, gc, ops, shifted); err != nil {
			return err
		}
	}
	if gc.st.Records == 0 {
		return fmt.Errorf("generation produced no records (flows %d, %d records outside their chunk)", gc.st.Flows, gc.st.OutOfRange)
	}
	return nil
}

// streamPeriod generates the chunks of one period.
func streamPeriod[R any](ctx context.Context, gc *genChunks, ops genOps[R], write func(*R) error) error {
	for c, m := range gc.models {
		if gc.split.Chunks[c].Start+gc.off >= gc.end {
			break // past the duration: the continuations carried here are dropped with the stream's next restart or close
		}
		if m == nil {
			if err := gc.g.Skip(c); err != nil {
				return err
			}
			continue
		}
		// Each block comes sorted by time; a sort by time that keeps
		// equal times in the order added leaves them in block order.
		sorter := flows.NewSorter(gc.tmp, ops.codec(), ops.cmp, sortHeld)
		defer sorter.Cleanup()
		b := 0
		for cnt, done := gc.r.flowCount(gc.split, c), 0; done < cnt; done += gc.block {
			if err := ctx.Err(); err != nil {
				return err
			}
			want := min(gc.block, cnt-done)
			rows, err := generateRows(gc.s, m, want)
			if err != nil {
				return err
			}
			gc.st.ShortFlows += want - len(rows)
			own, err := gc.g.Own(c, b, rows)
			if err != nil {
				return err
			}
			if err := blockRecords(ctx, gc, ops, c, b, own, sorter); err != nil {
				return err
			}
			b++
		}
		err := gc.g.Continuations(c, b, gc.block, func(b int, rows []postgen.Row) error {
			return blockRecords(ctx, gc, ops, c, b, rows, sorter)
		})
		if err != nil {
			return err
		}
		if err := drainSorted(sorter, write); err != nil {
			return fmt.Errorf("sorting chunk %d's records: %w", c, err)
		}
	}
	return nil
}

// drainSorted hands a chunk's records, in order, to write, and removes the
// sorter's files.
func drainSorted[R any](s *flows.Sorter[R], write func(*R) error) error {
	m, err := s.Merge()
	if err != nil {
		return err
	}
	var r R
	for {
		if _, err = m.Next(&r); err != nil {
			break
		}
		if err = write(&r); err != nil {
			break
		}
	}
	if e := m.Close(); err == io.EOF {
		err = e
	}
	return err
}

// generateFeatures generates the features of rows (with a length
// attribute, of their lengths; with chained long flows, rows cut into
// segments by postgen.Chain, of their segments' lengths) with model m.
func generateFeatures(s *encoding.Schema, m *dg.Model, rows []postgen.Row) (*postgen.Generated, error) {
	o := &postgen.Generated{Attrs: make([]encoding.FlowAttr, len(rows))}
	A := make([]float32, 0, len(rows)*s.AttrDim())
	for i, row := range rows {
		A = append(A, row.Vec...)
		o.Attrs[i] = row.Attr
	}
	var err error
	if s.HasLength() {
		o.Lens = make([]int, len(rows))
		for i, row := range rows {
			if s.Chains() {
				o.Lens[i] = row.Attr.Len // a segment's (postgen.Chain)
			} else {
				o.Lens[i] = s.DecodeLength(row.Vec)
			}
		}
		o.Feat, err = m.GenerateFeaturesLen(A, o.Lens)
	} else {
		o.Feat, o.Lens, err = m.GenerateFeatures(A, len(rows))
	}
	return o, err
}

// generateRows generates k attribute rows with model m and decodes them:
// k flows. With chained long flows the model also generates later
// segments, which generation makes itself from each flow's first
// (postgen.Chain): they are dropped, and more rows are generated until k
// flows are drawn (or, should a model generate almost only later
// segments, 16 rounds have passed, short of k).
func generateRows(s *encoding.Schema, m *dg.Model, k int) ([]postgen.Row, error) {
	rows, err := attributeRows(s, m, k)
	if err != nil || !s.Chains() {
		return rows, err
	}
	drawn := len(rows)
	heads, _ := postgen.Heads(s, rows)
	for round := 0; len(heads) < k && round < 16; round++ {
		// Draw for what is missing, at the share of flows seen so far.
		share := float64(len(heads)+1) / float64(drawn+1)
		more, err := attributeRows(s, m, min(1<<16, int(math.Ceil(float64(k-len(heads))/share))))
		if err != nil {
			return nil, err
		}
		drawn += len(more)
		h, _ := postgen.Heads(s, more)
		heads = append(heads, h...)
	}
	return heads[:min(k, len(heads))], nil
}

// attributeRows generates k attribute rows with model m and decodes them.
func attributeRows(s *encoding.Schema, m *dg.Model, k int) ([]postgen.Row, error) {
	A := m.GenerateAttributes(k)
	attrs, err := s.DecodeAttributes(A, k)
	if err != nil {
		return nil, err
	}
	d := s.AttrDim()
	rows := make([]postgen.Row, k)
	for i, a := range attrs {
		rows[i] = postgen.Row{Vec: A[i*d : (i+1)*d : (i+1)*d], Attr: a}
	}
	return rows, nil
}

// pilotLengths is the size of the pilot sample of length attributes of
// calibrationTargets, over every chunk together: attributes are cheap to
// generate; features are not, and their pilot is about one block.
const pilotLengths = 1 << 16

// calibrationTargets draws pilot samples from every chunk's model, in
// proportion to the flows each generates (at least one each), and sets
// from them the targets the calibrations of the length and the quantile
// features map each chunk's ranks through (postgen.Stream.SetTargets), so
// that chunks keep their differences although every block is calibrated
// on its own: the length attributes of pilotLengths flows, and the
// features of about one block of them, generated through the attribute
// passes. The models draw the pilots from their own seeds; the caller
// starts their generation streams again afterwards.
func (r *Run) calibrationTargets(ctx context.Context, s *encoding.Schema, split *SplitInfo, models []*dg.Model, g *postgen.Stream, opt postgen.Options, block int) error {
	n := len(models)
	counts := make([]int, n)
	total := 0
	for c, m := range models {
		if m != nil {
			counts[c] = r.flowCount(split, c)
			total += counts[c]
		}
	}
	if total == 0 {
		return nil
	}
	share := func(c, of int) int {
		return min(counts[c], max(1, int(math.Round(float64(of)*float64(counts[c])/float64(total)))))
	}
	pilots := make([][]postgen.Row, n)
	var lens [][]float32
	if s.QuantileAttr("length") >= 0 {
		lens = make([][]float32, n)
	}
	for c, m := range models {
		if m == nil || counts[c] == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m.SetGenerationSeed(genSeed(r.Cfg.Seed, c) ^ 0x70696c6f74)
		rows, err := generateRows(s, m, share(c, max(pilotLengths, block)))
		if err != nil {
			return err
		}
		if lens != nil {
			lens[c] = postgen.PilotLengths(s, rows)
		}
		pilots[c] = rows[:min(len(rows), share(c, block))] // chained flows: generateRows may fall short
	}
	// With per-chunk length knots (not under DP) each chunk's lengths are
	// calibrated to the chunk's real ones rather than to its pilot's share
	// of the trace's: a model that ranks its chunk's flows longer than the
	// others' would otherwise give the chunk too many records, and drive
	// more of them past its end.
	var realLens [][]float64
	if len(s.LengthKnots) > 0 {
		for c := range n {
			realLens = append(realLens, s.ChunkLengthPositions(c))
		}
	}
	portLens, portFlows := r.portLengthTargets(s, n)
	offs := s.QuantileFeatureOffsets()
	feats := make([][][]float32, len(offs))
	for j := range feats {
		feats[j] = make([][]float32, n)
	}
	if len(offs) > 0 {
		// The features are generated for the pilot rows as the passes
		// leave them, lengths calibrated against their targets.
		pilot := postgen.NewStream(s, n, opt, "", &postgen.Stats{})
		defer pilot.Close()
		pilot.SetTargets(lens, nil)
		pilot.SetLengthTargets(realLens)
		pilot.SetPortLengthTargets(portLens, portFlows)
		for c, rows := range pilots {
			if len(rows) == 0 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			own, err := pilot.Own(c, 0, rows)
			if err != nil {
				return err
			}
			if len(own) == 0 {
				continue
			}
			batches, _ := postgen.Chain(s, own, block)
			for _, batch := range batches {
				o, err := generateFeatures(s, models[c], batch)
				if err != nil {
					return err
				}
				for j, v := range postgen.PilotFeatures(s, o) {
					feats[j][c] = append(feats[j][c], v...)
				}
			}
		}
	}
	g.SetTargets(lens, feats)
	g.SetLengthTargets(realLens)
	g.SetPortLengthTargets(portLens, portFlows)
	return nil
}

// portLengthTargets returns, per chunk and port class, the real length
// positions of generate.lengths_given_ports, or nil when the key is off,
// when no chunk has two port classes of enough flows, and (with
// a note in the log) under DP, whose real distributions are not released,
// or for a run pre-processed before they were kept.
func (r *Run) portLengthTargets(s *encoding.Schema, chunks int) ([][][]float64, [][]int) {
	switch {
	case !r.Cfg.Generate.LengthsGivenPorts || s.QuantileAttr("length") < 0:
		return nil, nil
	case r.Cfg.DP.Enabled:
		r.log.Info("generate.lengths_given_ports is off under DP (the real distributions are not released)")
		return nil, nil
	case len(s.PortLengthKnots) == 0:
		r.log.Info("generate.lengths_given_ports: no chunk has two port classes of enough flows (or the run was pre-processed before they were kept)")
		return nil, nil
	}
	pos := make([][][]float64, chunks)
	flows := make([][]int, chunks)
	for c := range pos {
		pos[c], flows[c] = s.ChunkPortLengthPositions(c), s.ChunkPortLengthFlows(c)
	}
	return pos, flows
}

// blockRecords generates the features of block b of chunk c's rows (with
// a length attribute, of their lengths; chained flows cut into their
// segments, in batches of at most a block's rows), runs the feature passes, decodes
// the records, drops those outside the chunk's time range, repairs their
// protocol violations when configured, and hands them, sorted by time, to
// the chunk's sorter.
func blockRecords[R any](ctx context.Context, gc *genChunks, ops genOps[R], c, b int, rows []postgen.Row, sorter *flows.Sorter[R]) error {
	if len(rows) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, st := gc.s, gc.st
	st.PerChunkFlows[c] += len(rows)
	st.Flows += len(rows)
	batches, chained := postgen.Chain(s, rows, gc.block)
	st.ChainedFlows += chained
	for j, batch := range batches {
		// A block's later batches (chained flows' segments past the
		// block's size) draw from streams of their own.
		if err := batchRecords(ctx, gc, ops, c, b+j<<20, batch, sorter); err != nil {
			return err
		}
	}
	return nil
}

// batchRecords is blockRecords for one batch of rows, chained flows cut
// into their segments: their features, the feature passes, the records
// decoded, cut to the chunk and repaired, handed to the sorter. Streams
// are drawn for block b.
func batchRecords[R any](ctx context.Context, gc *genChunks, ops genOps[R], c, b int, rows []postgen.Row, sorter *flows.Sorter[R]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, st := gc.s, gc.st
	if s.Chains() {
		st.Segments += len(rows)
	}
	o, err := generateFeatures(s, gc.models[c], rows)
	if err != nil {
		return err
	}
	gc.g.Features(c, b, o)
	ci := gc.split.Chunks[c]
	recs, err := ops.decode(s, o.Attrs, o.Feat, o.Lens, encoding.ChunkRange{Index: c, Start: ci.Start, End: ci.End})
	if err != nil {
		return err
	}
	kept := recs[:0]
	for i := range recs {
		t := ops.time(&recs[i])
		if t < ci.Start || t >= ci.End {
			st.OutOfRange++
			continue
		}
		if t+gc.off >= gc.end {
			st.CutAtEnd++
			continue
		}
		kept = append(kept, recs[i])
	}
	t := ops.wrap(kept)
	// The packets given the flows' lengths, then the durations and bytes
	// given the packets, before the services move (which go by the
	// records' durations too); the durations and bytes again after them,
	// by the protocol each flow then has.
	sized := gc.sizes != nil && t.Kind == trace.KindFlows
	calibrate := func(key uint64) {
		st.SizedRecords += postgen.CalibrateSizes(gc.sizes[c], t.Flows, postgen.BlockRNG(gc.seed, key, c, b))
	}
	if sized {
		st.PacketsByLength += postgen.CalibratePackets(gc.sizes[c], t.Flows, postgen.BlockRNG(gc.seed, 0x706b7473, c, b))
		calibrate(0x73697a65)
	}
	if gc.pktSizes != nil && t.Kind == trace.KindPackets {
		st.PacketSizes += postgen.CalibratePacketSizes(gc.pktSizes[c], gc.pktSvc, c, t.Packets, postgen.BlockRNG(gc.seed, 0x706c656e, c, b))
	}
	if gc.portSizes != nil && t.Kind == trace.KindFlows {
		// Continuations, and flows carried on to later chunks, keep their
		// keys: their other chunks' records are decoded elsewhere.
		fixed := map[trace.Key]bool{}
		for _, row := range rows {
			if !row.Attr.StartsHere || slices.Contains(row.Attr.Present[min(c+1, len(row.Attr.Present)):], true) {
				fixed[row.Attr.Key] = true
			}
		}
		st.PortSizeSwaps += postgen.FollowPortSizes(gc.portSizes, t.Flows, func(k trace.Key) bool { return fixed[k] }, postgen.BlockRNG(gc.seed, 0x7073, c, b))
	}
	if sized && gc.portSizes != nil {
		calibrate(0x73697a66)
	}
	if gc.labels != nil && t.Kind == trace.KindFlows {
		st.Relabelled += postgen.DrawLabels(gc.labels, t.Flows, gc.seed)
	}
	st.ProfiledIPs += gc.g.FlowPackets(t)
	if gc.r.Cfg.Generate.RepairProtocol {
		st.RepairStats.Add(gc.g.Repair(c, b, t, gc.fail, gc.seed^0x726570))
	}
	gc.g.Hold(t)
	recs = ops.unwrap(t)
	st.Records += len(recs)
	for i := range recs {
		if _, err := sorter.Add(&recs[i]); err != nil {
			return fmt.Errorf("sorting chunk %d's records: %w", c, err)
		}
	}
	return nil
}

// repairTargets returns the protocol checks the real training trace fails
// for more than 1% of its flows, with the share of flows failing each,
// from the results pre-processing recorded: the repair brings the
// synthetic trace's failures of these checks down to the real share, not
// to none (a real trace that often fails a check is imitated failing it).
// Under DP those results are not recorded (they would be a statistic of
// the private trace released outside the privacy accounting) and every
// check is repaired; so it is, with a warning, for a run pre-processed
// before they were recorded.
func (r *Run) repairTargets(k trace.Kind) (map[string]float64, error) {
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
	fail := side.Failing(kind, 1-protocol.TargetGap)
	r.log.Info("protocol repair: checks the real trace often fails are repaired down to its failure share", "real_failure_shares", fail)
	return fail, nil
}

// generateThreads is the BLAS thread count of generation: train.threads,
// or every core.
func generateThreads(c *config.Config) int {
	if c.Train.Threads > 0 {
		return c.Train.Threads
	}
	return runtime.NumCPU()
}

// genSeed seeds chunk c's model for generation.
func genSeed(seed uint64, c int) uint64 { return chunkSeed(seed, c) ^ 0x67656e }

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
		m.SetGenerationSeed(genSeed(r.Cfg.Seed, c))
		models[c] = m
	}
	return models, nil
}

// SyntheticPath is where the synthetic trace of the given kind is written.
func (r *Run) SyntheticPath(k trace.Kind) string {
	return filepath.Join(r.Dir, SyntheticBase+traceExt(k == trace.KindPackets))
}

// Synthetic is where the synthetic trace of the run's input kind (known
// once pre-processed) is written.
func (r *Run) Synthetic() string { return r.SyntheticPath(r.Man.Input.Kind) }
