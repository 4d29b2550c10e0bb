package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/internal/splitmix"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/trace"
)

// Pre-processing streams the input in bounded memory:
//
//  1. The records are read with the input's streaming reader and handed to
//     an external sort by 5-tuple and time (flows.Sorter): sorted runs of a
//     fixed number of records in a compact binary form, in a temporary
//     folder inside the run's pre-processing folder.
//  2. The times at both ends of the trace are read back from the runs to
//     apply the time-outlier rule and find the time range.
//  3. With --audit, the input is read a second time to write the training
//     and held-out parts (a seeded hash of the record's position, or of the
//     5-tuple for packets, decides, so that nothing is remembered).
//  4. The runs are merged: each 5-tuple's records come together in time
//     order, are split into chunk flows (flows.StreamSplitter), counted into
//     the schema's statistics (encoding.SpecBuilder), the embedding's
//     sentence counts and the protocol checks, and appended to one spill
//     file per chunk (flows.ChunkSpill). Under DP none of these is
//     gathered; the DP statistics' histograms take each 5-tuple's chunk
//     flows instead (dpAccum), unless dp.public_schema takes the public
//     run's schema.
//  5. The embedding is trained from the sentence counts and the schema
//     derived (under DP: the flow counts and the DP statistics released,
//     and the schema and the embedding built from them, see dpstats.go);
//     then each chunk's spill file is read back one flow at a time, in the
//     chunk's order, and each flow encoded and appended to the chunk's
//     training-set file (encoding.ChunkWriter).
//
// The temporary folder is removed at the end, whether pre-processing
// succeeds or not. Memory is the sort buffer, one 5-tuple's records, the
// statistics (bounded by distinct values, not records) and, while a chunk is
// encoded, an index of its flows (24 bytes a flow: see flows.ChunkSpill.Each)
// and one flow.

// SortBuffer is the number of records pre-processing sorts in memory
// before it writes a sorted run to disk.
var SortBuffer = flows.DefaultSortBuffer

// spillDirPrefix names the temporary folders of pre-processing.
const spillDirPrefix = ".spill-"

// kindOps is what streaming pre-processing does differently for packets
// and flow records.
type kindOps[R any] struct {
	codec   flows.Codec[R]
	reader  func(*trace.Source) func(*R) error
	builder func(chunks int) specBuilder[R]
	// encoder starts the training-set file of one chunk, to which the
	// chunk's flows are encoded one at a time.
	encoder func(s *encoding.Schema, path string, ch encoding.ChunkRange) (chunkEncoder[R], error)
	// check runs the protocol checks on records: for packets, all of one
	// 5-tuple's in time order (byKey); for flows, any batch.
	check func([]R) protocol.Side
	byKey bool
	// holdKey is what the audit's split hashes: the record's position for
	// flow records, its 5-tuple for packets.
	holdKey func(r *R, seq int64) uint64
	// writer writes records of the input's kind and format to w.
	writer func(w io.Writer, f trace.Format) (func(*R) error, error)
	// dpFeatures are the per-record features of the DP statistics.
	dpFeatures func(dpDomain) []dpFeature[R]
}

// chunkEncoder is an encoding.ChunkWriter of records of type R.
type chunkEncoder[R any] interface {
	Add(f *flows.ChunkFlow[R]) error
	Close() (encoding.EncodeStats, error)
	Abort()
}

type specBuilder[R any] interface {
	Add(c int, start, end int64, f *flows.ChunkFlow[R])
	Spec(opt encoding.BuildOptions) (encoding.Spec, error)
}

var flowOps = kindOps[trace.Flow]{
	reader:  func(s *trace.Source) func(*trace.Flow) error { return s.Flows().Next },
	builder: func(n int) specBuilder[trace.Flow] { return encoding.NewFlowSpecBuilder(n) },
	encoder: func(s *encoding.Schema, path string, ch encoding.ChunkRange) (chunkEncoder[trace.Flow], error) {
		return s.NewFlowChunkWriter(path, ch)
	},
	dpFeatures: dpFlowFeatures,
	check:      protocol.Flows,
	holdKey:    func(_ *trace.Flow, seq int64) uint64 { return uint64(seq) },
	writer: func(w io.Writer, f trace.Format) (func(*trace.Flow) error, error) {
		fw, err := trace.NewFlowWriter(w, trace.DefaultLayout(f))
		if err != nil {
			return nil, err
		}
		return fw.Write, nil
	},
}

var packetOps = kindOps[trace.Packet]{
	codec:   flows.PacketCodec{},
	reader:  func(s *trace.Source) func(*trace.Packet) error { return s.Packets().Next },
	builder: func(n int) specBuilder[trace.Packet] { return encoding.NewPacketSpecBuilder(n) },
	encoder: func(s *encoding.Schema, path string, ch encoding.ChunkRange) (chunkEncoder[trace.Packet], error) {
		return s.NewPacketChunkWriter(path, ch)
	},
	dpFeatures: dpPacketFeatures,
	check:      protocol.Packets,
	byKey:      true,
	holdKey: func(p *trace.Packet, _ int64) uint64 {
		k := p.Key()
		return uint64(k.Src)<<32 | uint64(k.Dst) ^ splitmix.Finalise(uint64(k.SrcPort)<<24|uint64(k.DstPort)<<8|uint64(k.Proto))
	},
	writer: func(w io.Writer, _ trace.Format) (func(*trace.Packet) error, error) {
		pw, err := trace.NewPcapWriter(w, trace.PcapOptions{})
		if err != nil {
			return nil, err
		}
		return pw.Write, nil
	},
}

// heldOut reports whether the audit keeps a record aside: a random 20%,
// decided by a hash of the seed and the record's hold key.
func heldOut(seed, key uint64) bool {
	return float64(splitmix.Finalise(key^splitmix.Finalise(seed^0x5eed))>>11)/(1<<53) < 0.2
}

// preprocess reads the input, keeps the audit's share aside, splits the
// trace into chunks, trains (or loads) the embedding, builds the schema (or
// takes the public run's) and encodes the chunks one at a time, and writes
// the schema, one training set per chunk and split.json.
func (r *Run) preprocess(ctx context.Context) error {
	pre := filepath.Join(r.Dir, PreDir)
	if err := os.MkdirAll(pre, 0o755); err != nil {
		return err
	}
	removeStaleSpills(pre)
	tmp, err := os.MkdirTemp(pre, spillDirPrefix+"*")
	if err != nil {
		return flows.SpillError(err)
	}
	defer os.RemoveAll(tmp)
	src, err := trace.Open(r.InputPath, trace.Options{SkipBad: r.Cfg.SkipBad})
	if err != nil {
		return err
	}
	defer src.Close()
	if src.Kind() == trace.KindPackets {
		return streamPreprocess(ctx, r, src, tmp, packetOps)
	}
	ops := flowOps
	ops.codec = flows.NewFlowCodec()
	return streamPreprocess(ctx, r, src, tmp, ops)
}

// removeStaleSpills removes the temporary folders a killed pre-processing
// left behind (the run lock guarantees no other process is using them).
func removeStaleSpills(pre string) {
	ents, _ := os.ReadDir(pre)
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) > len(spillDirPrefix) && e.Name()[:len(spillDirPrefix)] == spillDirPrefix {
			os.RemoveAll(filepath.Join(pre, e.Name()))
		}
	}
}

// timed is a record's time and sequence number.
type timed struct{ t, seq int64 }

func compareTimed(a, b timed) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// ends keeps the m smallest and m largest times offered.
type ends struct {
	m         int
	low, high []timed
}

func (e *ends) add(x timed) {
	e.low = append(e.low, x)
	e.high = append(e.high, x)
	if len(e.low) >= 4*e.m+64 {
		e.trim()
	}
}

// trim sorts both ends and keeps m of each.
func (e *ends) trim() {
	slices.SortFunc(e.low, compareTimed)
	e.low = e.low[:min(len(e.low), e.m)]
	slices.SortFunc(e.high, compareTimed)
	e.high = e.high[max(0, len(e.high)-e.m):]
}

// outliers is the time-outlier rule's verdict on the whole input.
type outliers struct {
	lo, hi int64 // times <= lo or >= hi are outliers (when any)
	any    bool
	count  int
	first  timed // the outlier first in the input
	keptLo int64 // the range of the records kept
	keptHi int64
}

func (o *outliers) is(t int64) bool { return o.any && (t <= o.lo || t >= o.hi) }

// findOutliers applies the time-outlier rule to the n records of the sorter
// from the times at both ends, and finds the time range of the records
// kept (of those train says are for training, when train is set).
func findOutliers[R any, P flows.Record[R]](s *flows.Sorter[R], train func(r *R, seq int64) bool) (*outliers, int64, int64, error) {
	n := int(s.Len())
	m := trace.OutlierEnd(n) + 1
	all, kept := &ends{m: m}, &ends{m: m}
	if err := s.Scan(func(r *R, seq int64) {
		x := timed{P(r).Time(), seq}
		all.add(x)
		if train == nil || train(r, seq) {
			kept.add(x)
		}
	}); err != nil {
		return nil, 0, 0, err
	}
	all.trim()
	kept.trim()
	at := func(i int) int64 {
		if i < len(all.low) {
			return all.low[i].t
		}
		return all.high[i-(n-len(all.high))].t
	}
	o := &outliers{}
	if 2*m < n {
		o.lo, o.hi, o.any = trace.TimeOutlierBounds(n, at)
	}
	o.keptLo, o.keptHi = int64(1)<<62, -int64(1)<<62
	first := true
	for _, part := range [][]timed{all.low, all.high} {
		for _, x := range part {
			if o.is(x.t) && (first || x.seq < o.first.seq) {
				o.first, first = x, false
			}
		}
	}
	for _, x := range all.low {
		if o.is(x.t) && x.t <= o.lo {
			o.count++
		}
	}
	for _, x := range all.high {
		if o.is(x.t) && x.t >= o.hi {
			o.count++
		}
	}
	if 2*m >= n { // the two ends overlap: every record is in both
		o.count = 0
		for _, x := range all.low {
			if o.is(x.t) {
				o.count++
			}
		}
	}
	// The training records' range, outliers left out.
	lo, hi := int64(1)<<62, -int64(1)<<62
	for _, part := range [][]timed{kept.low, kept.high} {
		for _, x := range part {
			if !o.is(x.t) {
				lo, hi = min(lo, x.t), max(hi, x.t)
			}
		}
	}
	for _, x := range all.low {
		if !o.is(x.t) {
			o.keptLo = min(o.keptLo, x.t)
		}
	}
	for _, x := range all.high {
		if !o.is(x.t) {
			o.keptHi = max(o.keptHi, x.t)
		}
	}
	return o, lo, hi, nil
}

// streamPreprocess is pre-processing for records of type R (see the
// comment at the top of this file).
func streamPreprocess[R any, P flows.Record[R]](ctx context.Context, r *Run, src *trace.Source, tmp string, ops kindOps[R]) error {
	info := &SplitInfo{Kind: src.Kind(), Format: string(src.Format)}
	pub, err := r.publicBasis(src.Kind(), info)
	if err != nil {
		return err
	}

	// 1. Read and sort into runs.
	sorter := flows.NewSorter[R](tmp, ops.codec, flows.CompareKeyTime[R, P], SortBuffer)
	defer sorter.Cleanup()
	next := ops.reader(src)
	var rec R
	for {
		err := next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if _, err := sorter.Add(&rec); err != nil {
			return err
		}
		if sorter.Len()%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	stats := src.Stats()
	if sorter.Len() == 0 {
		return fmt.Errorf("%s: no usable records (%s)", src.Name, stats.SkippedText())
	}

	// 2. The time outliers and the time range.
	seed := r.Cfg.Seed
	var train func(r *R, seq int64) bool
	if r.Audit {
		train = func(rec *R, seq int64) bool { return !heldOut(seed, ops.holdKey(rec, seq)) }
	}
	out, lo, hi, err := findOutliers[R, P](sorter, train)
	if err != nil {
		return err
	}
	if out.count > 0 {
		if !r.Cfg.SkipBad {
			more := ""
			if out.count > 1 {
				more = fmt.Sprintf(" (and %d more such records)", out.count-1)
			}
			return fmt.Errorf("%s: record %d: time %s lies far outside the rest of the trace (%s to %s)%s; "+
				"it would stretch the time chunks over the gap: correct it, or pass --skip-bad (config key skip_bad) to drop such records",
				src.Name, out.first.seq+1, fmtTime(out.first.t), fmtTime(out.keptLo), fmtTime(out.keptHi), more)
		}
		if stats.Skipped == nil {
			stats.Skipped = map[string]int64{}
		}
		stats.Skipped[trace.ReasonTimeOutlier] += int64(out.count)
		stats.Read -= int64(out.count)
	}
	info.Skipped = stats.Skipped
	r.log.Info("read input", "path", r.InputPath, "format", src.Format, "kind", src.Kind(), "records", stats.Read, "skipped", stats.TotalSkipped(), "sorted_runs", sorter.Runs())
	if n := stats.TotalSkipped(); n > 0 {
		r.log.Warn("input records skipped", "count", n, "reasons", stats.Skipped)
	}

	// 3. The audit's hold-out.
	if r.Audit {
		if err := writeHoldout[R, P](r, src.Format, ops, out, train); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// 4. Merge: split into chunks, gather the statistics, spill the chunks.
	opt, err := r.splitOptions(pub)
	if err != nil {
		return err
	}
	merged, err := sorter.Merge()
	if err != nil {
		return err
	}
	defer merged.Close()
	spill := flows.NewChunkSpill[R, P](tmp, ops.codec, opt.Chunks)
	defer spill.Cleanup()
	// Without DP the schema's statistics are gathered exactly; under DP
	// the DP statistics are (unless dp.public_schema takes the public
	// run's schema), one 5-tuple at a time, and nothing else of the trace
	// is kept.
	dp := r.Cfg.DP.Enabled
	var builder specBuilder[R]
	if !dp {
		builder = ops.builder(opt.Chunks)
	}
	var acc *dpAccum[R, P]
	if dp && !r.Cfg.DP.PublicSchema {
		dom, err := dpDomainOf(r.Cfg)
		if err != nil {
			return err
		}
		if acc, err = newDPAccum[R, P](dpSpecInputOf(r.Cfg, pub), ops.dpFeatures(dom), opt.Chunks, opt.MaxFlowLen); err != nil {
			return err
		}
		if r.Cfg.Generate.IPProfile && r.Cfg.Generate.IPDistinct {
			acc.profile = new([2]addrWeights)
		}
	}
	startsHere, whole := make([]int, opt.Chunks), make([]int, opt.Chunks)
	// Per chunk: sources, destinations; under DP only for the noisy
	// counts of generate.ip_distinct (distinctAddrsOf).
	var addrs [][2]distinctCounter
	if !dp || (acc != nil && r.Cfg.Generate.IPDistinct) {
		addrs = make([][2]distinctCounter, opt.Chunks)
	}
	// Per chunk, the weight per address of generate.ip_profile (not under
	// DP): records in a flow trace, chunk flows starting in their chunk in a
	// capture (a generated capture's flow is a 5-tuple of its own); and the
	// packets per address.
	var profile, packetProfile [][2]addrWeights // per chunk
	var pairs *postgen.PortPairs                // generate.port_pairs, weighed as the profile
	var portSizes *postgen.PortSizes            // generate.ports_given_sizes
	var svcLens *postgen.ServiceLengths         // generate.ports_given_sizes, chained captures
	var pktSizes *postgen.PortPacketSizes       // generate.packet_sizes_given_protocol, captures
	var segments *postgen.SplitSegments         // generate.rejoin_segments, captures with split long flows
	var going *goingLengths                     // generate.continuation_lengths, captures
	var labels *postgen.LabelCells              // generate.labels_given_flows
	packets := src.Kind() == trace.KindPackets
	if !dp {
		profile, packetProfile = make([][2]addrWeights, opt.Chunks), make([][2]addrWeights, opt.Chunks)
		pairs = postgen.NewPortPairs()
		info.PortPairs = pairs
		if !packets {
			portSizes, labels = postgen.NewPortSizes(), postgen.NewLabelCells()
			info.PortSizes, info.Labels = portSizes, labels
		} else {
			pktSizes = postgen.NewPortPacketSizes(opt.Chunks)
			info.PortPacketSizes = pktSizes
			if opt.Chain {
				svcLens = postgen.NewServiceLengths(opt.Chunks)
				info.ServiceLengths = svcLens
			}
			if opt.SplitLong && opt.MaxFlowLen > 0 {
				segments = postgen.NewSplitSegments(opt.Chunks)
				info.SplitSegments = segments
			}
			if opt.Chunks > 1 {
				going = newGoingLengths(opt.Chunks)
			}
		}
	}
	var edges []int64
	splitter, err := flows.NewStreamSplitter[R, P](lo, hi, opt, func(c int, f *flows.ChunkFlow[R], first int64) error {
		if profile != nil {
			w := len(f.Records) + f.Truncated
			if packets {
				w = 0
				if f.StartsHere {
					w = 1
				}
			}
			profile[c][0].add(f.Key.Src, w)
			profile[c][1].add(f.Key.Dst, w)
			n := len(f.Records) + f.Truncated
			if !packets {
				n = 0
				for i := range f.Records {
					if r, ok := any(&f.Records[i]).(*trace.Flow); ok {
						n += int(min(r.Packets, math.MaxInt32))
					}
				}
			}
			packetProfile[c][0].add(f.Key.Src, n)
			packetProfile[c][1].add(f.Key.Dst, n)
		}
		if segments != nil {
			segments.Add(c, f.Key, f.StartsHere, len(f.Records))
		}
		if going != nil {
			n := len(f.Records)
			if f.FlowLen > 0 {
				n = f.FlowLen
			}
			going.add(c, f.Key, f.StartsHere, f.Follows, n)
		}
		if !f.Follows { // a chained flow's later segments count at its first
			whole[c]++
			if f.StartsHere {
				startsHere[c]++
			}
			if addrs != nil {
				addrs[c][0].add(f.Key.Src)
				addrs[c][1].add(f.Key.Dst)
			}
		}
		if builder != nil {
			builder.Add(c, edges[c], edges[c+1], f)
		}
		if acc != nil {
			if err := acc.add(c, edges[c], edges[c+1], f); err != nil {
				return err
			}
		}
		return spill.Write(c, f, first)
	})
	if err != nil {
		return err
	}
	edges = splitter.Edges()
	sents := ip2vec.SentenceCounts{}
	trainEmbedding := !dp && r.Cfg.Word2Vec.Pretrained == ""
	checks := newSideSum(ops.check)
	var group []R
	var groupKey trace.Key
	records, held := 0, 0
	for {
		seq, err := merged.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if out.is(P(&rec).Time()) {
			continue
		}
		if train != nil && !train(&rec, seq) {
			held++
			continue
		}
		records++
		k := P(&rec).Key()
		if trainEmbedding {
			sents.Add(ip2vec.SentenceOf(k))
		}
		if !dp {
			if len(group) > 0 && ((ops.byKey && k != groupKey) || (!ops.byKey && len(group) >= 4096)) {
				checks.add(group)
				group = group[:0]
			}
			group, groupKey = append(group, rec), k
		}
		if err := splitter.Add(&rec, seq); err != nil {
			return err
		}
		if records%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if len(group) > 0 {
		checks.add(group)
	}
	group = nil
	if r.Audit {
		if records == 0 || held == 0 {
			return fmt.Errorf("audit: the trace has too few flows to keep 20%% aside")
		}
		info.Holdout = held
		r.log.Info("audit split", "train_records", records, "holdout_records", held)
	}
	info.Records = records
	st, nFlows, nRecs, err := splitter.Close()
	if err != nil {
		return err
	}
	if segments != nil {
		segments.Finish()
	}
	if going != nil {
		info.GoingLengths, info.OwnLengths = going.knots(r.buildOptions(st.MaxFlowLen, st.LongestChain).QuantileKnots)
	}
	if err := spill.Finish(); err != nil {
		return err
	}
	if err := merged.Close(); err != nil {
		return err
	}
	info.Stats = st
	info.Chunks = make([]ChunkInfo, opt.Chunks)
	for c := range info.Chunks {
		info.Chunks[c] = ChunkInfo{Index: c, Start: edges[c], End: edges[c+1], Flows: nFlows[c], StartsHere: startsHere[c], Records: nRecs[c]}
		if opt.Chain {
			info.Chunks[c].WholeFlows = whole[c]
		}
		if addrs != nil {
			info.Chunks[c].SrcAddrs, info.Chunks[c].DstAddrs = addrs[c][0].count(), addrs[c][1].count()
		}
	}
	if addrs != nil {
		var upTo [2][]uint32
		for c := range info.Chunks {
			for f := range upTo {
				upTo[f] = unionSorted(upTo[f], addrs[c][f].v)
				addrs[c][f] = distinctCounter{} // done with
			}
			info.Chunks[c].SrcAddrsUpTo, info.Chunks[c].DstAddrsUpTo = len(upTo[0]), len(upTo[1])
		}
	}
	addrs = nil
	if profile != nil {
		// The profiles of the chunks up to each, as the distinct counts.
		info.AddrProfiles = make([][2]*postgen.AddrProfile, opt.Chunks)
		info.AddrPacketProfiles = make([][2]*postgen.AddrProfile, opt.Chunks)
		var upTo, pkUpTo [2]addrWeights
		for c := range profile {
			for f := range 2 {
				upTo[f].merge(&profile[c][f])
				pkUpTo[f].merge(&packetProfile[c][f])
				info.AddrProfiles[c][f] = postgen.NewAddrProfile(upTo[f].weights())
				info.AddrPacketProfiles[c][f] = postgen.NewAddrProfile(pkUpTo[f].weights())
				profile[c][f], packetProfile[c][f] = addrWeights{}, addrWeights{} // done with
			}
		}
		profile, packetProfile = nil, nil
	}

	// 5. The embedding, the schema, and the chunks one at a time.
	emb := encoding.Embedding(nil)
	var spec encoding.Spec
	switch {
	case acc != nil:
		if spec, emb, err = dpBuild(r, acc, info, pub, src.Kind(), opt.MaxFlowLen); err != nil {
			return err
		}
		acc = nil
	case pub != nil:
		spec, emb = pub.spec, pub.emb
	default:
		// The schema first: its tail classes decide the embedding's words.
		if spec, err = builder.Spec(r.buildOptions(st.MaxFlowLen, st.LongestChain)); err != nil {
			return err
		}
		m, err := r.embedding(spec.TailPorts.CanonSentences(sents), info)
		if err != nil {
			return err
		}
		emb = m
		if t := spec.TailPorts; t != nil {
			src, dst := 0, 0
			for _, c := range t.Classes {
				src, dst = src+len(c.Src.Values), dst+len(c.Dst.Values)
			}
			r.log.Info("tail ports", "classes", len(t.Classes), "min_flows", t.MinFlows, "source_ports", src, "destination_ports", dst)
		}
	}
	sents = nil
	schema, err := encoding.NewSchema(spec, emb)
	if err != nil {
		return err
	}
	// The port pairs, port sizes and labels key ports by the schema's tail
	// classes, the pairs and sizes also by its heavy ports
	// (postgen.PortKeys): they are counted as the chunks are encoded,
	// weighed as the address profile.
	var count func(c int, f *flows.ChunkFlow[R])
	if pairs != nil {
		pairs.TailKeys, pairs.HeavyFlows = true, postgen.HeavyPortFlows
		pairs.Bind(schema)
		if portSizes != nil {
			// The labels keep the heavy ports keyed by their range
			// (postgen.LabelCells says why).
			portSizes.TailKeys, labels.TailKeys = true, true
			portSizes.HeavyFlows = postgen.HeavyPortFlows
			portSizes.Bind(schema)
			labels.Bind(schema)
		}
		if svcLens != nil {
			svcLens.TailKeys, svcLens.HeavyFlows = true, postgen.HeavyPortFlows
			svcLens.Bind(schema)
		}
		if pktSizes != nil {
			pktSizes.TailKeys, pktSizes.HeavyFlows = true, postgen.HeavyPortFlows
			pktSizes.Bind(schema)
		}
		if segments != nil {
			segments.TailKeys, segments.HeavyFlows = true, postgen.HeavyPortFlows
			segments.Bind(schema)
		}
		count = func(c int, f *flows.ChunkFlow[R]) {
			w := len(f.Records) + f.Truncated
			if packets {
				w = 0
				if f.StartsHere {
					w = 1
				}
			}
			pairs.Add(f.Key, float64(w))
			if svcLens != nil && f.StartsHere && !f.Follows {
				svcLens.Add(c, f.Key, schema.FlowLen(len(f.Records), f.FlowLen))
			}
			if segments != nil {
				segments.Count(c, f.Key, f.StartsHere, len(f.Records))
			}
			if pktSizes != nil {
				for i := range f.Records {
					if p, ok := any(&f.Records[i]).(*trace.Packet); ok {
						pktSizes.Add(p)
					}
				}
			}
			if portSizes != nil {
				for i := range f.Records {
					if r, ok := any(&f.Records[i]).(*trace.Flow); ok {
						portSizes.Add(r)
						labels.Add(r)
					}
				}
			}
		}
	}
	changed := map[string]int{}
	// Lengths per port class need the tail classes and the ports' priors,
	// known only once the schema is: they are gathered as the chunks are
	// encoded, and saved with the schema.
	portLens := !dp && schema.QuantileAttr("length") >= 0
	knots := r.buildOptions(st.MaxFlowLen, st.LongestChain).QuantileKnots
	var portKnots [][][]float64
	var portFlows [][]int
	for c := range opt.Chunks {
		if err := ctx.Err(); err != nil {
			return err
		}
		var pl *encoding.PortLengths
		if portLens {
			pl = encoding.NewPortLengths(schema)
		}
		est, err := encodeSpilled(spill, ops, schema, chunkDataPath(r.Dir, c), encoding.ChunkRange{Index: c, Start: edges[c], End: edges[c+1]}, pl, count)
		if err != nil {
			return err
		}
		if pktSizes != nil {
			pktSizes.Knots(c, knots)
		}
		if pl != nil {
			k, n := pl.Knots(knots)
			portKnots, portFlows = append(portKnots, k), append(portFlows, n)
		}
		addCounts(changed, est.Changed)
		if est.Truncated > 0 {
			changed["truncated_records"] += est.Truncated
		}
	}
	if slices.ContainsFunc(portKnots, func(k [][]float64) bool { return k != nil }) {
		spec.PortLengthKnots, spec.PortLengthFlows = portKnots, portFlows
	}
	info.MaxLen = spec.MaxLen
	info.Encode = changed
	r.logSplit(info, opt)

	if dp {
		if info.NoisyFlows == nil { // a public schema: no statistics released
			cr, _ := r.dpReleasers()
			if err := noisyCounts(r.Cfg, info, cr); err != nil {
				return err
			}
		}
	} else if err := writeJSON(preFile(r.Dir, ProtocolFile), checks.side); err != nil {
		return err
	}
	if err := spec.Save(preFile(r.Dir, SchemaFile)); err != nil {
		return err
	}
	r.log.Info("pre-processed", "chunks", len(info.Chunks), "flows", info.Stats.Flows, "max_flow_len", info.MaxLen,
		"multichunk_flows", info.Stats.MultiChunkFlows, "empty_chunks", info.Stats.EmptyChunks)
	return writeJSON(preFile(r.Dir, SplitFile), info)
}

// encodeSpilled encodes chunk ch.Index of the spill flow by flow, in the
// chunk's order, into the training-set file at path (none when the chunk
// has no flows): memory is one flow and the spill's index of the chunk, not
// the chunk's flows or its training set. count, when set, sees each flow
// first.
func encodeSpilled[R any, P flows.Record[R]](spill *flows.ChunkSpill[R, P], ops kindOps[R], schema *encoding.Schema, path string, ch encoding.ChunkRange, pl *encoding.PortLengths, count func(c int, f *flows.ChunkFlow[R])) (encoding.EncodeStats, error) {
	w, err := ops.encoder(schema, path, ch)
	if err != nil {
		return encoding.EncodeStats{}, err
	}
	add := w.Add
	if count != nil {
		add = func(f *flows.ChunkFlow[R]) error {
			count(ch.Index, f)
			return w.Add(f)
		}
	}
	if pl != nil {
		next := add
		// Each flow's length as Spec.LengthKnots counts it: a chained
		// flow once, with its whole length, at its first segment.
		add = func(f *flows.ChunkFlow[R]) error {
			switch {
			case f.FlowLen > 0 && !f.Follows:
				pl.Add(f.Key, f.FlowLen)
			case f.FlowLen == 0 && len(f.Records) > 0:
				pl.Add(f.Key, len(f.Records))
			}
			return next(f)
		}
	}
	if err := spill.Each(ch.Index, add); err != nil {
		w.Abort()
		return encoding.EncodeStats{}, err
	}
	return w.Close()
}

// logSplit logs what the split and the encoding changed.
func (r *Run) logSplit(info *SplitInfo, opt flows.Options) {
	if st := info.Stats; st.SplitFlows > 0 && opt.Chain {
		r.log.Info("flows longer than the maximum flow length were cut into chained segments", "max_flow_len", opt.MaxFlowLen,
			"chained_flows", st.ChainedFlows, "extra_segments", st.SplitFlows, "longest_flow", st.LongestChain)
	} else if st.SplitFlows > 0 {
		// Every segment is learnt as a flow, and (but for generate.rejoin_segments
		// in a capture) generated as one: say how to keep them whole.
		r.log.Info("flows longer than the maximum flow length were split into segments, learnt and generated as flows of their own (long_flows: chain keeps a long flow one flow)",
			"max_flow_len", opt.MaxFlowLen, "extra_segments", st.SplitFlows)
	}
	if st := info.Stats; st.TruncatedRecords > 0 {
		r.log.Warn("flows longer than the maximum flow length were truncated", "max_flow_len", opt.MaxFlowLen, "flows", st.TruncatedFlows, "records_dropped", st.TruncatedRecords)
	}
	if n := info.Stats.OutOfRange; n > 0 {
		r.log.Warn("records outside dp.start..dp.end were dropped", "records", n)
	}
	if len(info.Encode) > 0 {
		r.log.Warn("values clamped or mapped to the nearest known value while encoding", "by_field", info.Encode)
	}
}

func addCounts(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

// sideSum adds up the protocol checks over batches of records.
type sideSum[R any] struct {
	check func([]R) protocol.Side
	side  protocol.Side
}

func newSideSum[R any](check func([]R) protocol.Side) *sideSum[R] {
	return &sideSum[R]{check: check, side: check(nil)}
}

func (s *sideSum[R]) add(recs []R) {
	b := s.check(recs)
	a := &s.side
	a.Flows += b.Flows
	a.Packets += b.Packets
	a.AllFlows += b.AllFlows
	a.AllPackets += b.AllPackets
	for i := range b.FailedFlows {
		a.FailedFlows[i] += b.FailedFlows[i]
	}
	for i := range b.FailedPackets {
		a.FailedPackets[i] += b.FailedPackets[i]
	}
}

// writeHoldout reads the input a second time and writes the audit's two
// parts, in the input's order and without the time outliers: the held-out
// records and the training ones.
func writeHoldout[R any, P flows.Record[R]](r *Run, format trace.Format, ops kindOps[R], out *outliers, train func(*R, int64) bool) error {
	src, err := trace.Open(r.InputPath, trace.Options{SkipBad: r.Cfg.SkipBad})
	if err != nil {
		return err
	}
	defer src.Close()
	next := ops.reader(src)
	ext := traceExt(src.Kind() == trace.KindPackets)
	return atomicfile.Write(preFile(r.Dir, HoldoutBase+ext), 0o644, func(hw io.Writer) error {
		hold, err := ops.writer(hw, format)
		if err != nil {
			return err
		}
		return atomicfile.Write(preFile(r.Dir, TrainBase+ext), 0o644, func(tw io.Writer) error {
			keep, err := ops.writer(tw, format)
			if err != nil {
				return err
			}
			var rec R
			for seq := int64(0); ; seq++ {
				err := next(&rec)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if out.is(P(&rec).Time()) {
					continue
				}
				w := hold
				if train(&rec, seq) {
					w = keep
				}
				if err := w(&rec); err != nil {
					return err
				}
			}
		})
	})
}

// distinctCounter counts distinct addresses exactly in 4 to 16 bytes
// per distinct address: values are appended, and sorted and compacted
// whenever the buffer has doubled since the last compaction.
type distinctCounter struct {
	v       []uint32
	compact int
}

func (d *distinctCounter) add(x uint32) {
	d.v = append(d.v, x)
	if len(d.v) >= 2*d.compact+4096 {
		d.squash()
	}
}

func (d *distinctCounter) squash() {
	slices.Sort(d.v)
	d.v = slices.Compact(d.v)
	d.compact = len(d.v)
}

// count returns the number of distinct values, which d.v then holds,
// sorted.
func (d *distinctCounter) count() int {
	d.squash()
	return len(d.v)
}

// addrWeights sums a weight per address in about 8 bytes per distinct
// address: (address, weight) pairs packed in one word, sorted and merged
// whenever the unmerged ones outnumber the merged.
type addrWeights struct {
	v       []uint64
	compact int
}

func (a *addrWeights) add(ip uint32, w int) {
	if w <= 0 {
		return
	}
	a.v = append(a.v, uint64(ip)<<32|uint64(min(w, math.MaxUint32)))
	if len(a.v) >= 2*a.compact+4096 {
		a.squash()
	}
}

func (a *addrWeights) squash() {
	slices.Sort(a.v)
	out := a.v[:0]
	for _, x := range a.v {
		if n := len(out); n > 0 && out[n-1]>>32 == x>>32 {
			out[n-1] = out[n-1]&^math.MaxUint32 | min(out[n-1]&math.MaxUint32+x&math.MaxUint32, math.MaxUint32)
			continue
		}
		out = append(out, x)
	}
	a.v = out
	a.compact = len(out)
}

// merge adds b's weights to a's.
func (a *addrWeights) merge(b *addrWeights) {
	a.v = append(a.v, b.v...)
	a.squash()
}

// weights returns the summed weight of each address, in address order.
func (a *addrWeights) weights() []float64 {
	a.squash()
	out := make([]float64, len(a.v))
	for i, x := range a.v {
		out[i] = float64(x & math.MaxUint32)
	}
	return out
}

// unionSorted returns the sorted union of two sorted sets.
func unionSorted(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// goingLengths sketches, per chunk, the lengths of the flows that go on
// into it from an earlier chunk (SplitInfo.GoingLengths): each at its
// first segment in the chunk, as the length attribute holds it (a
// chained flow's whole length there, a split or truncated flow's
// records); and those of the chunk's other flows and segments
// (SplitInfo.OwnLengths). A flow's segments of one chunk come together,
// as the splitter hands them out.
type goingLengths struct {
	sk, own []*encoding.Sketch
	last    trace.Key
	c       int
}

func newGoingLengths(chunks int) *goingLengths {
	g := &goingLengths{sk: make([]*encoding.Sketch, chunks), own: make([]*encoding.Sketch, chunks), c: -1}
	for c := range g.sk {
		g.sk[c], g.own[c] = encoding.NewSketch(), encoding.NewSketch()
	}
	return g
}

// add counts a chunk flow of chunk c: its 5-tuple, whether it starts in
// the chunk, whether it follows a chained flow's segment, and its length
// attribute's value.
func (g *goingLengths) add(c int, k trace.Key, startsHere, follows bool, n int) {
	first := c != g.c || k != g.last
	g.c, g.last = c, k
	switch {
	case follows: // a chained flow counts once, at its first segment
	case first && !startsHere:
		g.sk[c].Add(float64(n))
	default:
		g.own[c].Add(float64(n))
	}
}

// knots returns each chunk's quantile knots (k of them) of the flows
// going on into it and of the others, nil for a chunk without any, or nil
// for none going on at all.
func (g *goingLengths) knots(k int) (going, own [][]float64) {
	going, own = make([][]float64, len(g.sk)), make([][]float64, len(g.sk))
	any := false
	for c, sk := range g.sk {
		if sk.N() > 0 {
			going[c], any = sk.Knots(k, false), true
		}
		if g.own[c].N() > 0 {
			own[c] = g.own[c].Knots(k, false)
		}
	}
	if !any {
		return nil, nil
	}
	return going, own
}
