package pipeline

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/privacy"
	"github.com/netshare-go/netshare/trace"
)

// DP statistics of the private trace.
//
// Under DP with no public schema, every data-dependent part of the schema
// (quantile knots, the port and protocol vocabularies with their
// frequencies, the values of small categorical fields) is post-processing
// of Gaussian histograms over a data-independent domain, one per
// statistic, each flow's (5-tuple's) contribution to each bounded by 1 in
// L2 norm. The histograms are the run's "statistics" mechanisms: they are
// calibrated to spend dp.stats_share of ε among themselves, in proportion
// to fixed weights, and are composed with the noisy flow counts and DP-SGD
// in the run's accountant. Nothing else of the private trace reaches the
// schema or the embedding.

// Domain sizes of the DP statistics (data-independent).
const (
	dpContBins  = 256 // continuous fields: log or linear bins over the configured bounds
	dpCountBins = 64  // packet and byte counts: integer log bins
	dpStartBins = 64  // flow start within its chunk: equal bins over [0, 1)
	dpLenBins   = 64  // flow length: integer log bins over 1..max_flow_len
	dpPortSpace = 1 << 16
	// Ports are counted per protocol class: TCP, UDP, any other.
	dpPortClasses = 3
	// dpCatMax is the most values a categorical field keeps one-hot; with
	// more surviving values it is encoded by quantiles.
	dpCatMax = 64
)

func portClass(proto uint8) int {
	switch proto {
	case 6:
		return 0
	case 17:
		return 1
	}
	return 2
}

// DPRelease describes one DP statistic released during pre-processing:
// a Gaussian histogram with noise multiplier Noise over Bins bins (L2
// sensitivity 1 per flow), thresholded at Threshold when positive.
type DPRelease struct {
	Name      string  `json:"name"`
	Bins      int     `json:"bins"`
	Weight    float64 `json:"weight"` // its part of the statistics' Rényi budget
	Noise     float64 `json:"noise"`
	Threshold float64 `json:"threshold,omitempty"`
}

// Mechanism returns the release as a mechanism for the accountant.
func (d DPRelease) Mechanism() privacy.Mechanism {
	m := privacy.Gaussian(d.Noise, 1)
	m.Name = d.Name
	return m
}

// releaser adds the noise of a Gaussian histogram: the only place where a
// statistic of the private trace leaves pre-processing. Tests replace it to
// check that nothing else does.
// exact holds the exact counts, whose L2 sensitivity per flow must be at
// most h.Sensitivity.
type releaser interface {
	release(name string, exact []float64, h privacy.GaussianHistogram) ([]float64, error)
}

type gaussianReleaser struct{ rng *rand.Rand }

func (g gaussianReleaser) release(_ string, exact []float64, h privacy.GaussianHistogram) ([]float64, error) {
	return h.Release(exact, g.rng)
}

// dpFeature is one per-record feature released as a DP histogram.
type dpFeature[R any] struct {
	name string
	log  bool // quantiles in log1p space
	cat  int  // > 0: a categorical field over 0..cat−1
	bins privacy.Bins
	get  func(r *R, gap float64) float64
	// given, when set, makes the feature a conditional one: a histogram of
	// the value per class given(r) ∈ [0, len(classBins)), over that
	// class's bins (each class takes per() bins of the histogram). It is
	// no field of the schema; generate.sizes_given_packets uses it
	// (Spec.SizeKnots).
	given     func(r *R) int
	classBins []privacy.Bins
}

// per returns the bins each class of a conditional feature takes.
func (f dpFeature[R]) per() int {
	n := 0
	for _, b := range f.classBins {
		n = max(n, b.Len())
	}
	return n
}

// index returns the histogram bin of value v of record r.
func (f dpFeature[R]) index(r *R, v float64) int {
	switch {
	case f.cat > 0:
		return min(max(int(v), 0), f.cat-1)
	case f.given != nil:
		c := min(max(f.given(r), 0), len(f.classBins)-1)
		return c*f.per() + f.classBins[c].Index(v)
	}
	return f.bins.Index(v)
}

// dpDomain holds the data-independent bounds of the statistics.
type dpDomain struct {
	maxGap, maxDur      int64
	maxPackets, maxByts uint64
}

func dpDomainOf(cfg *config.Config) (dpDomain, error) {
	var d dpDomain
	var err error
	if d.maxGap, err = cfg.DP.MaxGapMicros(); err != nil {
		return d, err
	}
	if d.maxDur, err = cfg.DP.MaxDurationMicros(); err != nil {
		return d, err
	}
	d.maxPackets, d.maxByts = cfg.DP.MaxPackets, cfg.DP.MaxBytes
	return d, nil
}

func mustBins(b privacy.Bins, err error) privacy.Bins {
	if err != nil {
		panic(err) // the bounds are validated constants or configuration
	}
	return b
}

func catBins(n int) privacy.Bins {
	e := make([]float64, n+1)
	for i := range e {
		e[i] = float64(i)
	}
	return privacy.Bins{Edges: e, Integer: true}
}

func dpFlowFeatures(d dpDomain) []dpFeature[trace.Flow] {
	return []dpFeature[trace.Flow]{
		{name: "gap", log: true, bins: mustBins(privacy.LogBins(0, float64(d.maxGap), dpContBins)), get: func(_ *trace.Flow, g float64) float64 { return g }},
		{name: "td", log: true, bins: mustBins(privacy.LogBins(0, float64(d.maxDur), dpContBins)), get: func(r *trace.Flow, _ float64) float64 { return float64(r.Dur) }},
		{name: "pkt", log: true, bins: mustBins(privacy.IntLogBins(0, int64(d.maxPackets), dpCountBins)), get: func(r *trace.Flow, _ float64) float64 { return float64(r.Packets) }},
		{name: "byt", log: true, bins: mustBins(privacy.IntLogBins(0, int64(d.maxByts), dpCountBins)), get: func(r *trace.Flow, _ float64) float64 { return float64(r.Bytes) }},
		{name: "tcp_flags", cat: 256, get: func(r *trace.Flow, _ float64) float64 { return float64(r.TCPFlags) }},
		{name: "tos", cat: 256, get: func(r *trace.Flow, _ float64) float64 { return float64(r.TOS) }},
		{name: dpDurGivenPkt, log: true, given: pktClass, classBins: durClassBins(d),
			get: func(r *trace.Flow, _ float64) float64 { return float64(r.Dur) }},
		{name: dpBytGivenPkt, log: true, given: pktClass, classBins: bytClassBins(d),
			get: func(r *trace.Flow, _ float64) float64 { return float64(r.Bytes) }},
	}
}

// The conditional features of generate.sizes_given_packets: a flow
// record's duration and bytes given its packet class
// (encoding.PacketClass), each class over dpSizeBins bins. A class's bytes
// are binned over 0 … its most packets × 65,535 (capped at dp.max_bytes),
// what an IPv4 packet can carry, so that the bins of small classes are not
// spent on sizes they cannot have.
const (
	dpDurGivenPkt = "td_given_pkt"
	dpBytGivenPkt = "byt_given_pkt"
	dpSizeBins    = 24
	// dpSizeWeight is each conditional histogram's weight among the
	// statistics (a one-way histogram's is 1).
	dpSizeWeight = 4
	// dpSizeClassMass is the least noisy weight, in thresholds, of a
	// class that keeps its knots (dpSizeKnots).
	dpSizeClassMass = 1.5
)

func pktClass(r *trace.Flow) int { return encoding.PacketClass(r.Packets) }

// pktClasses is the number of packet classes of the domain.
func pktClasses(d dpDomain) int { return encoding.PacketClass(d.maxPackets) + 1 }

func durClassBins(d dpDomain) []privacy.Bins {
	// Integer microseconds, with a duration of 0 (one-packet records) a
	// bin of its own.
	b := mustBins(privacy.IntLogBins(1, d.maxDur, dpSizeBins-1))
	b.Edges = append([]float64{0}, b.Edges...)
	out := make([]privacy.Bins, pktClasses(d))
	for c := range out {
		out[c] = b
	}
	return out
}

func bytClassBins(d dpDomain) []privacy.Bins {
	out := make([]privacy.Bins, pktClasses(d))
	for c := range out {
		// The most packets of class c is 2^c − 1 (0 for class 0, whose
		// records may still carry bytes: one packet's worth).
		most := max(uint64(1), uint64(1)<<c-1)
		hi := d.maxByts
		if most <= hi/65535 {
			hi = min(hi, most*65535)
		}
		out[c] = mustBins(privacy.IntLogBins(0, int64(hi), dpSizeBins))
	}
	return out
}

func dpPacketFeatures(d dpDomain) []dpFeature[trace.Packet] {
	ids := make([]float64, 257)
	for i := range ids {
		ids[i] = float64(i * 256)
	}
	return []dpFeature[trace.Packet]{
		{name: "gap", log: true, bins: mustBins(privacy.LogBins(0, float64(d.maxGap), dpContBins)), get: func(_ *trace.Packet, g float64) float64 { return g }},
		{name: "pkt_len", bins: mustBins(privacy.IntLogBins(0, 65535, 4*dpContBins)), get: func(r *trace.Packet, _ float64) float64 { return float64(r.Len) }},
		{name: "tos", cat: 256, get: func(r *trace.Packet, _ float64) float64 { return float64(r.TOS) }},
		{name: "id", bins: privacy.Bins{Edges: ids, Integer: true}, get: func(r *trace.Packet, _ float64) float64 { return float64(r.ID) }},
		{name: "ip_flags", cat: 8, get: func(r *trace.Packet, _ float64) float64 { return float64(r.Flags) }},
		{name: "frag_off", cat: 8192, get: func(r *trace.Packet, _ float64) float64 { return float64(r.FragOff) }},
		{name: "ttl", cat: 256, get: func(r *trace.Packet, _ float64) float64 { return float64(r.TTL) }},
		{name: "tcp_flags", cat: 256, get: func(r *trace.Packet, _ float64) float64 { return float64(r.TCPFlags) }},
	}
}

// dpProtoWeight is the protocol histogram's weight in the statistics'
// budget. A protocol missing from the vocabulary takes all its flows and
// ports with it, and the histogram is small: at weight 1 and ε = 1, UDP
// (4% of the CTU day-1 trace's flows) fell below the threshold in three
// runs of six.
const dpProtoWeight = 4

// dpFalsePositive is the probability that a thresholded histogram keeps
// any bin the trace does not hold (the spurious bins expected over its
// domain, dpHist.spurious). At 1/bins a bin, one spurious bin is
// expected in every histogram, and it carries about a threshold's worth
// of flows at a value the trace never had: on the CTU day-1 trace at
// ε = 4, about 1% of the records on a protocol it never carried (80 or
// 219, in two runs of three), with some 50,000 packets, or with some
// 3 GB. At 0.05 over the whole domain the threshold rises by about one
// noise deviation (from 2.15 to 3.16 for 64 bins, from 2.66 to 3.55 for
// the protocols, from 4.41 to 5.02 for the ports).
const dpFalsePositive = 0.05

// dpSizeSpurious is the spurious bins expected over each histogram of
// sizes given packets: one, the rate of 1/bins. Their values are bounded
// per class (the bytes by the class's packets), a class needs
// dpSizeClassMass thresholds of mass, and they are sparse at small ε: at
// ε = 1 dpFalsePositive and cleared lone bins took the (packets, bytes)
// and (duration, packets) TVDs up by 0.02-0.03.
const dpSizeSpurious = 1

// dropIsolated zeroes, within each block of n consecutive bins of w (one
// continuous field's histogram, its bins in order), every bin below twice
// the threshold tau with no non-zero bin within max(2, n/8) bins of it
// on either side. Such a bin is most likely noise that cleared the
// threshold (dpFalsePositive): a distribution of sizes or times is
// rarely a lone point far from the rest of its mass, and one noise
// draw above 2τ (6.3 deviations for 64 bins) is all but impossible.
// A real lone bin of fewer flows than 2τ is lost with it; the reach of
// n/8 bins (8 of the 64 packet bins, a factor of about 13 in packets)
// keeps a real tail whose bins cleared the threshold here and there.
// It returns how many bins it zeroed.
func dropIsolated(w []float64, n int, tau float64) int {
	if n <= 0 {
		return 0
	}
	r := max(2, n/8)
	dropped := 0
	for b0 := 0; b0+n <= len(w); b0 += n {
		blk := w[b0 : b0+n]
		var lone []int
		for i, v := range blk {
			if v <= 0 || v >= 2*tau {
				continue
			}
			alone := true
			for j := max(0, i-r); j <= min(n-1, i+r) && alone; j++ {
				alone = j == i || blk[j] <= 0
			}
			if alone {
				lone = append(lone, i)
			}
		}
		for _, i := range lone {
			blk[i] = 0
		}
		dropped += len(lone)
	}
	return dropped
}

// dpHist is one statistic being collected: its counts and how its noisy
// counts are post-processed.
type dpHist struct {
	rel    DPRelease
	counts *privacy.Counts
	// exact, in place of counts, holds values whose L2 sensitivity per
	// flow is sens: they are released divided by sens (sensitivity 1) and
	// multiplied back.
	exact []float64
	sens  float64
	// spurious, when positive, thresholds the histogram so that it keeps
	// this many bins the trace does not hold in expectation: an empty bin
	// survives with probability spurious/bins. 0: not thresholded.
	spurious float64
	// block, for the histogram of a continuous field (its bins in
	// order), is its number of bins: its lone bins are cleared
	// (dropIsolated).
	block int
	noisy []float64
}

// dpStats is what the DP statistics of a trace released: the noisy,
// post-processed histograms by name, and the releases for the accountant.
type dpStats struct {
	hists    map[string]*dpHist
	releases []DPRelease
}

func (s *dpStats) weights(name string) []float64 {
	if h := s.hists[name]; h != nil {
		return h.noisy
	}
	return nil
}

// dpSpecInput is what the DP spec of a trace depends on besides its
// records: the configuration, the run's δ, the public run's spec (nil
// without one, or with dp.public_schema, where no statistic is taken), and
// where the noise comes from.
type dpSpecInput struct {
	cfg   *config.Config
	delta float64
	base  *encoding.Spec
	known func(port uint16) bool // the ports the embedding will know (nil: any)
	rel   releaser
}

// dpAccum gathers the DP histograms of a trace one privacy unit at a time:
// it is fed the streaming split's chunk flows, which hand over all chunk
// flows of one 5-tuple together, and bounds each 5-tuple's contribution
// once in every histogram. Its state is the histograms' exact counts (their
// domains are data-independent) and the bin indices of the 5-tuple being
// gathered; no record is kept.
type dpAccum[R any, P flows.Record[R]] struct {
	feats              []dpFeature[R]
	hists              map[string]*dpHist
	order              []*dpHist
	startBins, lenBins privacy.Bins
	// profile, when set, counts the 5-tuples per source and destination
	// address for the DP address profiles (profileAddrsOf).
	profile *[2]addrWeights
	// The unit being gathered.
	have         bool
	key          trace.Key
	idx          [][]int
	starts, lens []int
}

// newDPAccum sets up the histograms of a trace split into chunks with
// flows of at most maxLen records. With a public run's spec as base
// (in.base), categorical values and the protocol list come from it and
// their histograms are not taken.
func newDPAccum[R any, P flows.Record[R]](in dpSpecInput, feats []dpFeature[R], chunks, maxLen int) (*dpAccum[R, P], error) {
	a := &dpAccum[R, P]{feats: feats, hists: map[string]*dpHist{}, idx: make([][]int, len(feats)),
		startBins: mustBins(privacy.LinearBins(0, 1, dpStartBins)),
		lenBins:   mustBins(privacy.IntLogBins(1, int64(max(1, maxLen)), dpLenBins))}
	add := func(name string, bins int, weight, spurious float64) error {
		c, err := privacy.NewCounts(bins, 1)
		if err != nil {
			return err
		}
		h := &dpHist{rel: DPRelease{Name: name, Bins: bins, Weight: weight}, counts: c, spurious: spurious}
		a.hists[name] = h
		a.order = append(a.order, h)
		return nil
	}
	ordered := func(name string, block int) { a.hists[name].block = block }
	cats := in.base == nil
	quantile := in.cfg.Continuous == "quantile"
	if quantile {
		if err := add("flow_start", chunks*dpStartBins, 1, 0); err != nil {
			return nil, err
		}
	}
	if in.cfg.LengthAttribute && quantile {
		if err := add("length", a.lenBins.Len(), 1, dpFalsePositive); err != nil {
			return nil, err
		}
		ordered("length", a.lenBins.Len())
	}
	for _, f := range feats {
		switch {
		case f.given != nil:
			if in.cfg.Generate.SizesGivenPackets && quantile {
				if err := add(f.name, len(f.classBins)*f.per(), dpSizeWeight, dpSizeSpurious); err != nil {
					return nil, err
				}
			}
		case f.cat > 0 && cats:
			if err := add(f.name, f.cat, 0.5, dpFalsePositive); err != nil {
				return nil, err
			}
		case f.cat == 0:
			if err := add(f.name, f.bins.Len(), 1, dpFalsePositive); err != nil {
				return nil, err
			}
			ordered(f.name, f.bins.Len())
		}
	}
	if err := add("proto", 256, dpProtoWeight, dpFalsePositive); err != nil {
		return nil, err
	}
	for _, n := range []string{"srcport", "dstport"} {
		if err := add(n, dpPortClasses*dpPortSpace, 8, dpFalsePositive); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// add takes the next chunk flow of the split, in chunk c = [start, end).
// The chunk flows of one 5-tuple must come together.
func (a *dpAccum[R, P]) add(c int, start, end int64, f *flows.ChunkFlow[R]) error {
	if a.have && f.Key != a.key {
		if err := a.endUnit(); err != nil {
			return err
		}
	}
	a.have, a.key = true, f.Key
	if len(f.Records) == 0 {
		return nil
	}
	t0 := P(&f.Records[0]).Time()
	rel := 0.0
	if end > start {
		rel = float64(t0-start) / float64(end-start)
	}
	a.starts = append(a.starts, c*dpStartBins+a.startBins.Index(rel))
	a.lens = append(a.lens, a.lenBins.Index(float64(len(f.Records))))
	for r := range f.Records {
		g := 0.0
		if r > 0 {
			g = float64(P(&f.Records[r]).Time() - P(&f.Records[r-1]).Time())
		}
		for j, fd := range a.feats {
			a.idx[j] = append(a.idx[j], fd.index(&f.Records[r], fd.get(&f.Records[r], g)))
		}
	}
	return nil
}

// endUnit adds the gathered 5-tuple to every histogram, bounded once.
func (a *dpAccum[R, P]) endUnit() error {
	if !a.have {
		return nil
	}
	if h := a.hists["flow_start"]; h != nil {
		if err := h.counts.AddUnit(a.starts...); err != nil {
			return err
		}
	}
	if h := a.hists["length"]; h != nil {
		if err := h.counts.AddUnit(a.lens...); err != nil {
			return err
		}
	}
	for j, fd := range a.feats {
		if h := a.hists[fd.name]; h != nil {
			if err := h.counts.AddUnit(a.idx[j]...); err != nil {
				return err
			}
		}
	}
	cl := portClass(a.key.Proto) * dpPortSpace
	if err := a.hists["proto"].counts.AddUnit(int(a.key.Proto)); err != nil {
		return err
	}
	if err := a.hists["srcport"].counts.AddUnit(cl + int(a.key.SrcPort)); err != nil {
		return err
	}
	if err := a.hists["dstport"].counts.AddUnit(cl + int(a.key.DstPort)); err != nil {
		return err
	}
	if a.profile != nil {
		a.profile[0].add(a.key.Src, 1)
		a.profile[1].add(a.key.Dst, 1)
	}
	a.starts, a.lens = a.starts[:0], a.lens[:0]
	for j := range a.idx {
		a.idx[j] = a.idx[j][:0]
	}
	a.have = false
	return nil
}

// addExact adds a release of values computed outside the accumulator
// whose L2 sensitivity per flow is at most sens (not thresholded).
func (a *dpAccum[R, P]) addExact(name string, exact []float64, sens, weight float64) {
	h := &dpHist{rel: DPRelease{Name: name, Bins: len(exact), Weight: weight}, exact: exact, sens: sens}
	a.hists[name] = h
	a.order = append(a.order, h)
}

// release ends the last 5-tuple, calibrates the histograms' noise to spend
// dp.stats_share of ε at the run's δ among them, and releases them through
// in.rel; the exact counts go no further.
func (a *dpAccum[R, P]) release(in dpSpecInput) (*dpStats, error) {
	if err := a.endUnit(); err != nil {
		return nil, err
	}
	st := &dpStats{hists: a.hists}
	weights := make([]float64, len(a.order))
	names := make([]string, len(a.order))
	for i, h := range a.order {
		weights[i], names[i] = h.rel.Weight, h.rel.Name
	}
	split := privacy.Split{Epsilon: in.cfg.DP.Epsilon, Delta: in.delta, StatsShare: in.cfg.DP.StatsShare}
	sigmas, _, err := split.Statistics(weights, names)
	if err != nil {
		return nil, fmt.Errorf("dp statistics: %w", err)
	}
	for i, h := range a.order {
		h.rel.Noise = sigmas[i]
		gh := privacy.GaussianHistogram{Name: h.rel.Name, Sensitivity: 1, Noise: sigmas[i]}
		vals := h.exact
		if h.counts != nil {
			vals = h.counts.Values()
		} else {
			vals = slices.Clone(vals)
			for j := range vals {
				vals[j] /= h.sens
			}
		}
		noisy, err := in.rel.release(h.rel.Name, vals, gh)
		if err != nil {
			return nil, err
		}
		if h.counts == nil {
			for j := range noisy {
				noisy[j] *= h.sens
			}
		}
		privacy.ClipNegative(noisy)
		if h.spurious > 0 {
			if h.rel.Threshold, err = privacy.ThresholdFor(gh.Std(), h.spurious/float64(h.rel.Bins)); err != nil {
				return nil, err
			}
			privacy.Threshold(noisy, h.rel.Threshold)
			if h.block > 0 {
				dropIsolated(noisy, h.block, h.rel.Threshold)
			}
		}
		h.noisy = noisy
		h.counts, h.exact = nil, nil
		st.releases = append(st.releases, h.rel)
	}
	a.hists, a.order = nil, nil
	return st, nil
}

// knotsFrom returns k+1 quantile knots (in log1p space when log) of the
// distribution that spreads each bin's weight uniformly over the bin (over
// its integers, as a point mass for a one-integer bin, when the bins are
// integer). With no weight at all it is uniform over the bins' range.
func knotsFrom(b privacy.Bins, w []float64, k int, log bool) []float64 {
	tf := func(x float64) float64 {
		if log {
			return math.Log1p(math.Max(0, x))
		}
		return x
	}
	n := b.Len()
	lo := make([]float64, n)
	hi := make([]float64, n)
	for i := range n {
		a, z := b.Edges[i], b.Edges[i+1]
		if b.Integer {
			z--
		}
		lo[i], hi[i] = tf(a), tf(z)
	}
	var total float64
	for _, v := range w {
		total += v
	}
	knots := make([]float64, k+1)
	if total <= 0 {
		for j := range knots {
			knots[j] = lo[0] + (hi[n-1]-lo[0])*float64(j)/float64(k)
		}
		return knots
	}
	i, cum := 0, 0.0
	for j := range knots {
		t := total * float64(j) / float64(k)
		for i < n-1 && (w[i] == 0 || cum+w[i] < t) {
			cum += w[i]
			i++
		}
		f := 0.0
		if w[i] > 0 {
			f = math.Min(math.Max((t-cum)/w[i], 0), 1)
		}
		knots[j] = lo[i] + f*(hi[i]-lo[i])
		if j > 0 && knots[j] < knots[j-1] {
			knots[j] = knots[j-1]
		}
	}
	return knots
}

// untf maps a knot back to a value.
func untf(x float64, log bool) float64 {
	if log {
		return math.Expm1(x)
	}
	return x
}

// survivors lists the values of positive weight, or the value 0 when none
// is left (a data-independent default).
func survivors(w []float64) []int {
	var out []int
	for v, x := range w {
		if x > 0 {
			out = append(out, v)
		}
	}
	if len(out) == 0 && len(w) > 0 {
		out = []int{0}
	}
	return out
}

// continuousSpec is the codec of a continuous field from its DP histogram.
func continuousSpec(name string, b privacy.Bins, w []float64, log, round bool, knots int) encoding.FieldSpec {
	if knots > 0 {
		return encoding.FieldSpec{Name: name, Type: encoding.TypeQuantile, Knots: knotsFrom(b, w, knots, log), Log: log, Round: round}
	}
	q := knotsFrom(b, w, 1, log)
	return encoding.FieldSpec{Name: name, Type: encoding.TypeContinuous, Lo: untf(q[0], log), Hi: untf(q[1], log), Log: log, Round: round}
}

// categoricalSpec is the codec of a small integer field from its DP
// histogram: the surviving values one-hot, one value as a constant, many
// by quantiles.
func categoricalSpec(name string, w []float64, knots int) encoding.FieldSpec {
	vals := survivors(w)
	switch {
	case len(vals) == 1:
		return encoding.FieldSpec{Name: name, Type: encoding.TypeConst, Value: float64(vals[0])}
	case len(vals) <= dpCatMax:
		ch := make([]float64, len(vals))
		for i, v := range vals {
			ch[i] = float64(v)
		}
		return encoding.FieldSpec{Name: name, Type: encoding.TypeCategorical, Choices: ch}
	}
	return continuousSpec(name, catBins(len(w)), w, false, true, knots)
}

// vocab is a port or protocol field's DP vocabulary: the values that
// survived thresholding, their noisy frequencies overall and per protocol
// class.
type vocab struct {
	values  []int
	prior   []float64
	byClass [][]float64 // ports only: per class, aligned with values
}

func portVocab(w []float64, known func(uint16) bool) vocab {
	var v vocab
	total := make([]float64, dpPortSpace)
	for c := range dpPortClasses {
		for p := range dpPortSpace {
			total[p] += w[c*dpPortSpace+p]
		}
	}
	for p, x := range total {
		if x > 0 && (known == nil || known(uint16(p))) {
			v.values = append(v.values, p)
		}
	}
	if len(v.values) == 0 {
		best := -1
		for p, x := range total {
			if (known == nil || known(uint16(p))) && (best < 0 || x > total[best]) {
				best = p
			}
		}
		if best >= 0 {
			v.values = []int{best}
		}
	}
	v.prior = make([]float64, len(v.values))
	v.byClass = make([][]float64, dpPortClasses)
	for c := range v.byClass {
		v.byClass[c] = make([]float64, len(v.values))
	}
	for i, p := range v.values {
		v.prior[i] = total[p]
		for c := range dpPortClasses {
			v.byClass[c][i] = w[c*dpPortSpace+p]
		}
	}
	return v
}

func protoVocab(w []float64, known func(uint8) bool) vocab {
	var v vocab
	for p, x := range w {
		if x > 0 && (known == nil || known(uint8(p))) {
			v.values = append(v.values, p)
			v.prior = append(v.prior, x)
		}
	}
	if len(v.values) == 0 {
		best := -1
		for p, x := range w {
			if (known == nil || known(uint8(p))) && (best < 0 || x > w[best]) {
				best = p
			}
		}
		if best >= 0 {
			v.values, v.prior = []int{best}, []float64{w[best]}
		}
	}
	return v
}

// embeddedFromVocab fills a port or protocol field's candidates and priors
// from a DP vocabulary (with posterior decoding) or leaves decoding to the
// embedding's vocabulary (nearest decoding).
func embeddedFromVocab(f encoding.FieldSpec, v vocab, protos vocab, cfg *config.Config) encoding.FieldSpec {
	f.Candidates, f.Prior, f.RecordPrior, f.ByProto, f.Kappa, f.TopK = nil, nil, nil, nil, 0, 0
	if cfg.Word2Vec.Decode != "posterior" || len(v.values) == 0 {
		return f
	}
	f.Candidates = slices.Clone(v.values)
	f.Prior = slices.Clone(v.prior)
	// Under DP each flow counts once whatever its records: the record
	// prior is the flow prior.
	f.RecordPrior = slices.Clone(v.prior)
	f.Kappa, f.TopK = cfg.Word2Vec.Kappa, max(1, cfg.Word2Vec.TopK)
	if v.byClass != nil && len(protos.values) >= 2 {
		f.ByProto = map[string]encoding.ProtoPrior{}
		for _, p := range protos.values {
			pr := slices.Clone(v.byClass[portClass(uint8(p))])
			f.ByProto[strconv.Itoa(p)] = encoding.ProtoPrior{Prior: pr, RecordPrior: slices.Clone(pr)}
		}
	}
	return f
}

// dpSpec builds the schema from the DP statistics: from scratch over the
// data-independent domain, or, with a public run's spec as base, its
// structure (chunks, maximum length, categories, field types) with the
// DP knots and vocabularies in place of the public ones.
func dpSpec[R any](kind trace.Kind, st *dpStats, feats []dpFeature[R], in dpSpecInput, chunks, maxLen int, knownProto func(uint8) bool) (encoding.Spec, vocab, vocab, vocab) {
	cfg := in.cfg
	knots := 0
	if cfg.Continuous == "quantile" {
		knots = cfg.QuantileKnots
	}
	protos := protoVocab(st.weights("proto"), knownProto)
	sports := portVocab(st.weights("srcport"), in.known)
	dports := portVocab(st.weights("dstport"), in.known)
	lenBins := mustBins(privacy.IntLogBins(1, int64(max(1, maxLen)), dpLenBins))
	lengthSpec := func() encoding.FieldSpec {
		if w := st.weights("length"); w != nil {
			return encoding.FieldSpec{Name: "length", Type: encoding.TypeQuantile, Knots: knotsFrom(lenBins, w, knots, true), Log: true, Round: true}
		}
		return encoding.FieldSpec{Name: "length", Type: encoding.TypeContinuous, Lo: 1, Hi: float64(max(1, maxLen)), Log: true, Round: true}
	}
	var startKnots [][]float64
	if w := st.weights("flow_start"); w != nil {
		sb := mustBins(privacy.LinearBins(0, 1, dpStartBins))
		startKnots = make([][]float64, chunks)
		for c := range chunks {
			startKnots[c] = knotsFrom(sb, w[c*dpStartBins:(c+1)*dpStartBins], knots, false)
		}
	}
	featSpec := func(fd dpFeature[R]) (encoding.FieldSpec, bool) {
		w := st.weights(fd.name)
		if w == nil || fd.given != nil {
			return encoding.FieldSpec{}, false
		}
		if fd.cat > 0 {
			return categoricalSpec(fd.name, w, knots), true
		}
		return continuousSpec(fd.name, fd.bins, w, fd.log, true, knots), true
	}
	field := func(name string) encoding.FieldSpec {
		switch name {
		case "srcport":
			return embeddedFromVocab(encoding.FieldSpec{Name: name, Type: encoding.TypePort}, sports, protos, cfg)
		case "dstport":
			return embeddedFromVocab(encoding.FieldSpec{Name: name, Type: encoding.TypePort}, dports, protos, cfg)
		case "proto":
			return embeddedFromVocab(encoding.FieldSpec{Name: name, Type: encoding.TypeProto}, protos, vocab{}, cfg)
		}
		return encoding.FieldSpec{}
	}

	if b := in.base; b != nil {
		spec := *b
		spec.Attr = slices.Clone(b.Attr)
		spec.Feat = slices.Clone(b.Feat)
		for i, f := range spec.Attr {
			switch f.Name {
			case "srcport", "dstport", "proto":
				g := field(f.Name)
				g.Type = f.Type
				spec.Attr[i] = g
			case "length":
				if f.Type == encoding.TypeQuantile && st.weights("length") != nil {
					spec.Attr[i] = lengthSpec()
				}
			}
		}
		for i, f := range spec.Feat {
			for _, fd := range feats {
				if fd.name == f.Name && fd.cat == 0 && (f.Type == encoding.TypeQuantile || f.Type == encoding.TypeContinuous) {
					if g, ok := featSpec(fd); ok {
						spec.Feat[i] = g
					}
				}
			}
		}
		if len(b.StartKnots) > 0 && len(startKnots) == len(b.StartKnots) {
			spec.StartKnots = startKnots
		}
		// The public run's tail classes are gone with its vocabulary: the
		// tokens are no DP candidates.
		spec.TailPorts = nil
		spec.SizeKnots = dpSizeKnots(st, feats, chunks, knots)
		return spec, sports, dports, protos
	}

	spec := encoding.Spec{Kind: kind, Chunks: chunks, MaxLen: maxLen}
	spec.Attr = []encoding.FieldSpec{
		{Name: "srcip", Type: encoding.TypeBits, Width: 32},
		{Name: "dstip", Type: encoding.TypeBits, Width: 32},
		field("srcport"), field("dstport"), field("proto"),
		{Name: "flow_start", Type: encoding.TypeContinuous, Lo: 0, Hi: 1},
	}
	if cfg.LengthAttribute {
		spec.Attr = append(spec.Attr, lengthSpec())
	}
	if chunks > 1 {
		spec.Attr = append(spec.Attr, encoding.FieldSpec{Name: "starts_here", Type: encoding.TypeCategorical, Choices: []float64{0, 1}})
		for i := range chunks {
			spec.Attr = append(spec.Attr, encoding.FieldSpec{Name: encoding.PresentName(i), Type: encoding.TypeCategorical, Choices: []float64{0, 1}})
		}
	}
	spec.StartKnots = startKnots
	spec.SizeKnots = dpSizeKnots(st, feats, chunks, knots)
	for _, fd := range feats {
		if g, ok := featSpec(fd); ok {
			spec.Feat = append(spec.Feat, g)
		}
	}
	if kind == trace.KindFlows {
		// Labels are not released: synthetic flows carry none.
		spec.Labels = []string{""}
		spec.Feat = append(spec.Feat, encoding.FieldSpec{Name: "label", Type: encoding.TypeConst, Value: 0})
	}
	return spec, sports, dports, protos
}

// dpSizeKnots returns the knots of generate.sizes_given_packets from the
// conditional histograms of the durations and bytes given the packet class
// (the same for every chunk: the histograms pool the chunks), or nil
// without them. A class keeps a field's knots only when its noisy weight
// after thresholding is at least dpSizeClassMass thresholds: one bin
// that noise alone lifted above the threshold must not become a class
// that every generated record of it is calibrated to.
func dpSizeKnots[R any](st *dpStats, feats []dpFeature[R], chunks, knots int) []map[int]encoding.SizeClass {
	if knots <= 0 {
		return nil
	}
	classes := map[int]encoding.SizeClass{}
	for _, fd := range feats {
		h := st.hists[fd.name]
		if fd.given == nil || h == nil {
			continue
		}
		per := fd.per()
		for c, b := range fd.classBins {
			w := h.noisy[c*per : c*per+b.Len()]
			var mass float64
			for _, x := range w {
				mass += x
			}
			if mass <= 0 || mass < dpSizeClassMass*h.rel.Threshold {
				continue
			}
			k := knotsFrom(b, w, knots, fd.log)
			sc := classes[c]
			switch fd.name {
			case dpDurGivenPkt:
				sc.Dur = k
			case dpBytGivenPkt:
				sc.Bytes = k
			}
			classes[c] = sc
		}
	}
	if len(classes) == 0 {
		return nil
	}
	out := make([]map[int]encoding.SizeClass, chunks)
	for c := range out {
		out[c] = classes
	}
	return out
}

// dpEmbedding trains the port/protocol embedding on sentences drawn from
// the DP vocabularies alone (post-processing: it costs no budget): n
// sentences whose protocol follows the protocol frequencies and whose
// ports follow the port frequencies of the protocol's class, plus one
// sentence per vocabulary value so that every candidate has a vector.
func dpEmbedding(cfg *config.Config, sports, dports, protos vocab, n int) (*ip2vec.Model, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xe3bed))
	protoS, err := privacy.NewSampler(protos.prior)
	if err != nil {
		return nil, fmt.Errorf("dp embedding: %w", err)
	}
	portSampler := func(v vocab) ([]*privacy.Sampler, *privacy.Sampler, error) {
		all, err := privacy.NewSampler(v.prior)
		if err != nil {
			return nil, nil, err
		}
		by := make([]*privacy.Sampler, dpPortClasses)
		for c := range by {
			s, err := privacy.NewSampler(v.byClass[c])
			if err != nil {
				return nil, nil, err
			}
			if !s.Uniform() {
				by[c] = s
			}
		}
		return by, all, nil
	}
	sBy, sAll, err := portSampler(sports)
	if err != nil {
		return nil, fmt.Errorf("dp embedding: %w", err)
	}
	dBy, dAll, err := portSampler(dports)
	if err != nil {
		return nil, fmt.Errorf("dp embedding: %w", err)
	}
	draw := func(by []*privacy.Sampler, all *privacy.Sampler, v vocab, c int) uint16 {
		if s := by[c]; s != nil {
			return uint16(v.values[s.Draw(rng)])
		}
		return uint16(v.values[all.Draw(rng)])
	}
	sents := make([]ip2vec.Sentence, 0, n+len(sports.values)+len(dports.values)+len(protos.values))
	for range n {
		p := uint8(protos.values[protoS.Draw(rng)])
		c := portClass(p)
		sents = append(sents, ip2vec.Sentence{SrcPort: draw(sBy, sAll, sports, c), DstPort: draw(dBy, dAll, dports, c), Proto: p})
	}
	for _, sp := range sports.values {
		p := uint8(protos.values[protoS.Draw(rng)])
		sents = append(sents, ip2vec.Sentence{SrcPort: uint16(sp), DstPort: draw(dBy, dAll, dports, portClass(p)), Proto: p})
	}
	for _, dp := range dports.values {
		p := uint8(protos.values[protoS.Draw(rng)])
		sents = append(sents, ip2vec.Sentence{SrcPort: draw(sBy, sAll, sports, portClass(p)), DstPort: uint16(dp), Proto: p})
	}
	for _, p := range protos.values {
		sents = append(sents, ip2vec.Sentence{SrcPort: draw(sBy, sAll, sports, portClass(uint8(p))), DstPort: draw(dBy, dAll, dports, portClass(uint8(p))), Proto: uint8(p)})
	}
	rng.Shuffle(len(sents), func(i, j int) { sents[i], sents[j] = sents[j], sents[i] })
	w := ip2vec.DefaultConfig()
	w.Dim, w.Window, w.Epochs, w.Seed = cfg.Word2Vec.VecSize, cfg.Word2Vec.Window, cfg.Word2Vec.Epochs, cfg.Seed
	return ip2vec.Train(sents, w)
}

// dpSpecOf releases the DP statistics gathered by acc and builds the
// schema of a trace split into chunks and, unless emb is given (a public
// run's), the embedding.
func dpSpecOf[R any, P flows.Record[R]](acc *dpAccum[R, P], kind trace.Kind, in dpSpecInput, chunks, maxLen int, emb *ip2vec.Model, sentences int) (encoding.Spec, *ip2vec.Model, *dpStats, error) {
	var knownProto func(uint8) bool
	if emb != nil {
		// Posterior decoding draws among candidates by their vectors,
		// and a port the public embedding does not know takes the vector
		// of the nearest port it does, the vector its flows were encoded
		// with for training: such a port of the DP vocabulary stays a
		// candidate. Nearest decoding can return known values only.
		if in.cfg.Word2Vec.Decode != "posterior" {
			in.known = func(p uint16) bool { _, ok := emb.Vector(ip2vec.Port(p)); return ok }
		}
		knownProto = func(p uint8) bool { _, ok := emb.Vector(ip2vec.Proto(p)); return ok }
	}
	feats := acc.feats
	st, err := acc.release(in)
	if err != nil {
		return encoding.Spec{}, nil, nil, err
	}
	spec, sports, dports, protos := dpSpec(kind, st, feats, in, chunks, maxLen, knownProto)
	if emb == nil {
		if emb, err = dpEmbedding(in.cfg, sports, dports, protos, sentences); err != nil {
			return spec, nil, nil, err
		}
	}
	return spec, emb, st, nil
}

// dpSpecInputOf is what a DP run's statistics start from: its
// configuration and, with a public run, the public spec as base.
func dpSpecInputOf(cfg *config.Config, pub *publicRun) dpSpecInput {
	in := dpSpecInput{cfg: cfg}
	if pub != nil {
		b := pub.spec
		in.base = &b
	}
	return in
}

// dpBuild is the schema builder of a DP run that takes its schema from DP
// statistics, once the streaming split has fed acc every chunk flow: it
// releases the chunks' noisy flow counts, then the statistics (at the
// run's δ, which follows from the noisy counts), and returns the spec and
// the embedding: the public run's when there is one, else one trained on
// the DP vocabulary (saved with the run). It records the releases in info.
func dpBuild[R any, P flows.Record[R]](r *Run, acc *dpAccum[R, P], info *SplitInfo, pub *publicRun, kind trace.Kind, maxLen int) (encoding.Spec, encoding.Embedding, error) {
	countRel, statRel := r.dpReleasers()
	if err := noisyCounts(r.Cfg, info, countRel); err != nil {
		return encoding.Spec{}, nil, err
	}
	in := dpSpecInputOf(r.Cfg, pub)
	in.delta, in.rel = dpDelta(r.Cfg, info.publicFlows()), statRel
	var emb *ip2vec.Model
	if pub != nil {
		emb = pub.emb
	}
	sentences := min(max(info.publicFlows(), 1000), 100_000)
	addrs := r.Cfg.Generate.IPDistinct
	if addrs {
		distinctAddrsOf(acc, info)
	}
	profile := acc.profile != nil && addrs
	if profile {
		if err := profileAddrsOf(acc, info.publicFlows()); err != nil {
			return encoding.Spec{}, nil, err
		}
	}
	spec, emb, st, err := dpSpecOf(acc, kind, in, len(info.Chunks), maxLen, emb, sentences)
	if err != nil {
		return spec, nil, err
	}
	rels := st.releases
	info.DPStats, info.DPDelta = rels, in.delta
	if addrs {
		info.NoisyAddrsUpTo = noisyAddrs(st.weights(dpAddrsName), info.NoisyFlows)
	}
	if profile {
		info.AddrProfiles = noisyProfiles(st.weights(dpProfileName), info.NoisyAddrsUpTo, info.publicFlows())
	}
	if pub == nil {
		info.Embedding = "trained on sentences drawn from the DP port/protocol vocabulary"
		if err := emb.Save(preFile(r.Dir, EmbeddingFile)); err != nil {
			return spec, nil, err
		}
		r.log.Info("DP statistics released", "mechanisms", len(rels), "stats_share", r.Cfg.DP.StatsShare, "delta", in.delta,
			"ports", len(emb.Ports()), "protocols", len(emb.Protos()))
	}
	return spec, emb, nil
}

// dpAddrsName names the release of the distinct address counts.
const dpAddrsName = "distinct addresses"

// dpAddrsWeight is its weight among the statistics.
const dpAddrsWeight = 2

// distinctAddrsOf adds to acc the release of the trace's distinct source
// and destination addresses up to each chunk (ChunkInfo.SrcAddrsUpTo,
// DstAddrsUpTo, which the split counts under DP with generate.ip_distinct),
// and clears the exact counts from info. One flow moves each of the
// 2·chunks counts by at most 1 (its addresses may be held by no other
// flow, or first seen in a later chunk without it), so their L2
// sensitivity is √(2·chunks).
func distinctAddrsOf[R any, P flows.Record[R]](acc *dpAccum[R, P], info *SplitInfo) {
	n := len(info.Chunks)
	exact := make([]float64, 2*n)
	for c := range info.Chunks {
		ci := &info.Chunks[c]
		exact[c], exact[n+c] = float64(ci.SrcAddrsUpTo), float64(ci.DstAddrsUpTo)
		ci.SrcAddrs, ci.DstAddrs, ci.SrcAddrsUpTo, ci.DstAddrsUpTo = 0, 0, 0, 0
	}
	acc.addExact(dpAddrsName, exact, math.Sqrt(float64(2*n)), dpAddrsWeight)
}

// The address profiles under DP. Without DP, generate.ip_profile follows
// the real rank-frequency profile of each address field, records per
// address, per chunk (docs/model.md). Under DP the profile released is the
// trace's 5-tuples (privacy units) per address, each field's counts sorted
// in decreasing order: one unit adds 1 to one source's and one
// destination's count, and sorting is non-expansive, so the two sorted
// vectors have L2 sensitivity √2 however many chunks there are. They are
// released over dpProfileRanks(flows) ranks, past the distinct addresses
// with zeros, and post-processed with the noisy distinct counts and flow
// counts (privacy.SortedCounts): ranks averaged where the noise makes them
// rise, as many ranks as the noisy distinct addresses of the trace, each
// at least one 5-tuple, summing to the noisy flows. Every chunk follows the
// trace's profile (without DP each follows the chunks up to it, which
// would cost a release per chunk). Counting 5-tuples rather than records
// bounds each unit's part without a clipping bound: on ctu-normal-40-day1
// at ε = 1 the exact profile of 5-tuples gave source and destination
// address JSDs of 0.008 and 0.005, the exact profile of records 0.006 and
// 0.002.

// dpProfileName names the release of the address profiles.
const dpProfileName = "address profiles"

// dpProfileWeight is its weight among the statistics.
const dpProfileWeight = 4

// dpProfileMaxRanks bounds the ranks released per address field (8 MiB of
// counts each); a trace with more distinct addresses has the ranks past it
// at one 5-tuple.
const dpProfileMaxRanks = 1 << 20

// dpProfileRanks is how many ranks are released for a trace of the given
// (noisy) number of flows, an upper bound of its distinct addresses.
func dpProfileRanks(flows int) int { return min(max(flows, 1), dpProfileMaxRanks) }

// profileAddrsOf adds to acc the release of the sorted 5-tuple counts per
// source and destination address that acc counted, over
// dpProfileRanks(flows) ranks each.
func profileAddrsOf[R any, P flows.Record[R]](acc *dpAccum[R, P], flows int) error {
	if err := acc.endUnit(); err != nil { // the last 5-tuple
		return err
	}
	n := dpProfileRanks(flows)
	exact := make([]float64, 2*n)
	for f := range 2 {
		w := acc.profile[f].weights()
		slices.SortFunc(w, func(a, b float64) int { return cmp.Compare(b, a) })
		copy(exact[f*n:(f+1)*n], w)
	}
	acc.profile = nil
	acc.addExact(dpProfileName, exact, math.Sqrt2, dpProfileWeight)
	return nil
}

// noisyProfiles post-processes the released sorted counts w into each
// chunk's address profiles: the trace's, one per field, of as many
// addresses as the noisy distinct counts of the last chunk (addrs), summing
// to the noisy flows. Nil without a release or distinct counts.
func noisyProfiles(w []float64, addrs [][2]int, flows int) [][2]*postgen.AddrProfile {
	if len(addrs) == 0 || len(w) == 0 || len(w)%2 != 0 {
		return nil
	}
	n := len(w) / 2
	var trace [2]*postgen.AddrProfile
	for f := range 2 {
		counts := privacy.SortedCounts(w[f*n:(f+1)*n], addrs[len(addrs)-1][f], float64(flows), 1)
		trace[f] = postgen.NewAddrProfile(counts)
	}
	out := make([][2]*postgen.AddrProfile, len(addrs))
	for c := range out {
		out[c] = trace
	}
	return out
}

// noisyAddrs post-processes the released distinct counts: per chunk, the
// sources and destinations up to it, rounded, never falling from one
// chunk to the next, at least 1 and at most the noisy flows up to it.
func noisyAddrs(w []float64, flows []int) [][2]int {
	n := len(flows)
	if len(w) != 2*n {
		return nil
	}
	out := make([][2]int, n)
	upTo := 0
	for c := range n {
		upTo += flows[c]
		for f := range 2 {
			v := int(math.Round(w[f*n+c]))
			if c > 0 {
				v = max(v, out[c-1][f])
			}
			out[c][f] = min(max(v, 1), max(upTo, 1))
		}
	}
	return out
}

// dpReleasers returns where the noise of the flow counts and of the
// statistics comes from: seeded Gaussian noise, or the run's test hook.
func (r *Run) dpReleasers() (counts, stats releaser) {
	if r.dpRelease != nil {
		return r.dpRelease, r.dpRelease
	}
	return gaussianReleaser{rand.New(rand.NewPCG(r.Cfg.Seed, 0xc0c0))}, gaussianReleaser{rand.New(rand.NewPCG(r.Cfg.Seed, 0xd9575a75))}
}

// publicFlows is the number of flows a DP run may use in the open: the sum
// of the noisy flow counts when they are released, else the true count.
func (s *SplitInfo) publicFlows() int {
	if s.NoisyFlows == nil {
		return s.Stats.Flows
	}
	n := 0
	for _, v := range s.NoisyFlows {
		n += v
	}
	return n
}
