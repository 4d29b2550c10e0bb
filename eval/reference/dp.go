package reference

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/netshare-go/netshare/privacy"
	"github.com/netshare-go/netshare/trace"
)

// DPDomain is the data-independent domain of the differentially private
// marginal sampler: every bin of every field is fixed by it before the
// private trace is read. Values outside it are clamped to its edges.
type DPDomain struct {
	// Start and End (microseconds since the epoch) bound the flow starts
	// (packet timestamps). They must be public (a configured time range),
	// or the guarantee does not cover them.
	Start, End int64
	// MaxDur (microseconds), MaxPackets and MaxBytes bound the durations,
	// packet counts and byte counts of flow records.
	MaxDur     int64
	MaxPackets uint64
	MaxBytes   uint64
	// PrefixLen (1 to 20) buckets IPv4 addresses by their first PrefixLen
	// bits (2^PrefixLen bins, each with its own noise); a drawn address is
	// uniform within its prefix.
	PrefixLen int
	// Labels is the public vocabulary of record labels. Labels outside it
	// are not counted; with no vocabulary the label is not released and
	// synthetic records have none.
	Labels []string
}

// Default bounds of a [DPDomain], used where a bound is zero.
const (
	DefaultDPMaxDur     = int64(24 * 3600 * 1_000_000) // one day, in µs
	DefaultDPMaxPackets = uint64(1_000_000_000)
	DefaultDPMaxBytes   = uint64(1_000_000_000_000)
	DefaultDPPrefixLen  = 16
	DefaultDPBins       = 256
	// dpPortGroup is the width of the port ranges of the coarse port
	// histogram: 64 ranges of 1,024 ports (the first holds the well-known
	// ports).
	dpPortGroup = 1024
)

// DPOptions configures the differentially private marginal sampler.
type DPOptions struct {
	// Epsilon and Delta are the guarantee of the whole release (every
	// field's histogram composed), for add-or-remove-one-flow adjacency.
	Epsilon, Delta float64
	Domain         DPDomain
	// Bins is the number of log-spaced bins of durations, packet and byte
	// counts, and of equal-width bins of times (0: DefaultDPBins).
	Bins int
	// Bound is each flow's L2 contribution bound to each histogram (0: 1);
	// see privacy.Counts.
	Bound float64
	// Fields lists the fields released (nil: DefaultDPFields for flow
	// records, DefaultDPPacketFields for packets). A field not
	// released is left zero (empty for the label) in synthetic records, and
	// costs no budget.
	Fields []string
}

// DPFieldNames lists every field the sampler can release from flow
// records.
func DPFieldNames() []string {
	return []string{"start", "dur", "srcip", "dstip", "srcport", "dstport", "proto", "pkt", "byt", "tcp_flags", "tos", "fwd", "label"}
}

// DefaultDPFields lists the fields of flow records released by default:
// those the fidelity metrics compare, so that no budget goes to a field
// nobody measures.
func DefaultDPFields() []string {
	return []string{"start", "dur", "srcip", "dstip", "srcport", "dstport", "proto", "pkt", "byt"}
}

// DPPacketFieldNames lists every field the sampler can release from
// packets.
func DPPacketFieldNames() []string {
	return []string{"ts", "srcip", "dstip", "srcport", "dstport", "proto", "pkt_len", "tos", "ip_id", "ip_flags", "frag_off", "ttl", "tcp_flags"}
}

// DefaultDPPacketFields lists the packet fields released by default (those
// the fidelity metrics compare).
func DefaultDPPacketFields() []string {
	return []string{"ts", "srcip", "dstip", "srcport", "dstport", "proto", "pkt_len"}
}

// DPField is one released field: its bins and its noisy histogram after
// post-processing.
type DPField struct {
	Name string
	Bins privacy.Bins
	// Noisy are the noisy counts after clipping negatives and
	// thresholding.
	Noisy []float64
	// Noise is the noise multiplier σ, Std the noise's standard deviation
	// per bin (σ times the contribution bound), Threshold the level at or
	// below which a noisy count was zeroed (0: none).
	Noise, Std, Threshold float64
	// Epsilon is the ε the histogram would spend on its own at the
	// release's δ (both histograms' when the field has a coarse one).
	Epsilon float64
	// Group, when positive, is the number of consecutive bins of each bin
	// of a second, coarse histogram of the same field (ports: ranges of
	// 1,024), released with noise multiplier CoarseNoise and post-processed
	// in the same way into Coarse. It keeps the mass of values too rare to
	// clear the fine threshold one by one (ephemeral ports).
	Group       int
	Coarse      []float64
	CoarseNoise float64
	// Weights is what the sampler draws bins from: Noisy, plus, when there
	// is a coarse histogram, each coarse bin's mass not accounted for by its
	// fine bins, spread evenly over its fine bins left at zero.
	Weights []float64
}

// Marginals is the differentially private release the DP marginal
// sampler draws from: one noisy histogram per field. It is all the sampler
// knows of the private trace.
type Marginals struct {
	// Kind says whether the fields are those of flow records or packets.
	Kind   trace.Kind
	Domain DPDomain
	Fields []DPField
	// Guarantee is the (ε, δ) of all histograms composed.
	Guarantee privacy.Guarantee
	// Bound is each flow's L2 contribution bound.
	Bound float64
}

// Mechanisms returns the release's histograms as mechanisms, to compose
// with anything else a run releases.
func (m *Marginals) Mechanisms() []privacy.Mechanism {
	var out []privacy.Mechanism
	for _, f := range m.Fields {
		out = append(out, privacy.GaussianHistogram{Name: f.Name, Sensitivity: m.Bound, Noise: f.Noise}.Mechanism())
		if f.Group > 0 {
			out = append(out, privacy.GaussianHistogram{Name: f.Name + " (coarse)", Sensitivity: m.Bound, Noise: f.CoarseNoise}.Mechanism())
		}
	}
	return out
}

// dpFieldSpec describes how one field of a record is binned and restored.
type dpFieldSpec[R any] struct {
	bins   privacy.Bins
	sparse bool // threshold the noisy counts
	sorted bool // the time field: drawn values are sorted
	group  int  // > 0: also a coarse histogram of bins of group fine bins
	index  func(*R) (int, bool)
	set    func(*R, float64)
}

func unitBins(n int) privacy.Bins {
	e := make([]float64, n+1)
	for i := range e {
		e[i] = float64(i)
	}
	return privacy.Bins{Edges: e, Integer: true}
}

func (d DPDomain) withDefaults() DPDomain {
	if d.MaxDur == 0 {
		d.MaxDur = DefaultDPMaxDur
	}
	if d.MaxPackets == 0 {
		d.MaxPackets = DefaultDPMaxPackets
	}
	if d.MaxBytes == 0 {
		d.MaxBytes = DefaultDPMaxBytes
	}
	if d.PrefixLen == 0 {
		d.PrefixLen = DefaultDPPrefixLen
	}
	return d
}

func (d DPDomain) validate() error {
	switch {
	case !(d.End > d.Start):
		return fmt.Errorf("reference: DP domain: start time range [%d, %d) is empty; set a public time range", d.Start, d.End)
	case d.MaxDur < 0:
		return fmt.Errorf("reference: DP domain: maximum duration %d: want ≥ 0", d.MaxDur)
	case d.PrefixLen < 1 || d.PrefixLen > 20:
		return fmt.Errorf("reference: DP domain: prefix length %d: want 1 to 20", d.PrefixLen)
	case d.MaxPackets > 1<<53 || d.MaxBytes > 1<<53:
		return fmt.Errorf("reference: DP domain: packet and byte bounds must be at most 2^53")
	}
	seen := map[string]bool{}
	for _, l := range d.Labels {
		if seen[l] {
			return fmt.Errorf("reference: DP domain: label %q listed twice", l)
		}
		seen[l] = true
	}
	return nil
}

// commonSpecs returns the fields flows and packets share: addresses,
// ports and protocol, read and written through their accessors.
func commonSpecs[R any](d DPDomain, src, dst func(*R) *uint32, sport, dport func(*R) *uint16, proto func(*R) *uint8) map[string]dpFieldSpec[R] {
	shift := 32 - d.PrefixLen
	pfx := make([]float64, 1<<d.PrefixLen+1)
	for i := range pfx {
		pfx[i] = float64(uint64(i) << shift)
	}
	ip := privacy.Bins{Edges: pfx, Integer: true}
	ports := unitBins(65536)
	addr := func(get func(*R) *uint32) dpFieldSpec[R] {
		return dpFieldSpec[R]{bins: ip, sparse: true,
			index: func(r *R) (int, bool) { return int(*get(r) >> shift), true },
			set:   func(r *R, v float64) { *get(r) = uint32(v) }}
	}
	port := func(get func(*R) *uint16) dpFieldSpec[R] {
		return dpFieldSpec[R]{bins: ports, sparse: true, group: dpPortGroup,
			index: func(r *R) (int, bool) { return int(*get(r)), true },
			set:   func(r *R, v float64) { *get(r) = uint16(v) }}
	}
	return map[string]dpFieldSpec[R]{
		"srcip": addr(src), "dstip": addr(dst),
		"srcport": port(sport), "dstport": port(dport),
		"proto": byteSpec(proto),
	}
}

func byteSpec[R any](get func(*R) *uint8) dpFieldSpec[R] {
	return dpFieldSpec[R]{bins: unitBins(256), sparse: true,
		index: func(r *R) (int, bool) { return int(*get(r)), true },
		set:   func(r *R, v float64) { *get(r) = uint8(v) }}
}

func uint16Spec[R any](get func(*R) *uint16) dpFieldSpec[R] {
	return dpFieldSpec[R]{bins: unitBins(65536), sparse: true,
		index: func(r *R) (int, bool) { return int(*get(r)), true },
		set:   func(r *R, v float64) { *get(r) = uint16(v) }}
}

func timeSpec[R any](d DPDomain, nbins int, get func(*R) *int64) (dpFieldSpec[R], error) {
	b, err := privacy.LinearBins(float64(d.Start), float64(d.End), nbins)
	if err != nil {
		return dpFieldSpec[R]{}, err
	}
	return dpFieldSpec[R]{bins: b, sorted: true,
		index: func(r *R) (int, bool) { return b.Index(float64(*get(r))), true },
		set:   func(r *R, v float64) { *get(r) = min(int64(math.Floor(v)), d.End-1) }}, nil
}

func flowSpecs(d DPDomain, nbins int) (map[string]dpFieldSpec[trace.Flow], error) {
	type F = trace.Flow
	s := commonSpecs(d, func(f *F) *uint32 { return &f.Src }, func(f *F) *uint32 { return &f.Dst },
		func(f *F) *uint16 { return &f.SrcPort }, func(f *F) *uint16 { return &f.DstPort }, func(f *F) *uint8 { return &f.Proto })
	var err error
	if s["start"], err = timeSpec(d, nbins, func(f *F) *int64 { return &f.Start }); err != nil {
		return nil, err
	}
	dur, err := privacy.IntLogBins(0, d.MaxDur, nbins)
	if err != nil {
		return nil, err
	}
	pkt, err := privacy.IntLogBins(1, int64(max(d.MaxPackets, 1)), nbins)
	if err != nil {
		return nil, err
	}
	byt, err := privacy.IntLogBins(0, int64(d.MaxBytes), nbins)
	if err != nil {
		return nil, err
	}
	s["dur"] = dpFieldSpec[F]{bins: dur, sparse: true,
		index: func(f *F) (int, bool) { return dur.Index(float64(f.Dur)), true },
		set:   func(f *F, v float64) { f.Dur = int64(v) }}
	s["pkt"] = dpFieldSpec[F]{bins: pkt, sparse: true,
		index: func(f *F) (int, bool) { return pkt.Index(float64(f.Packets)), true },
		set:   func(f *F, v float64) { f.Packets = uint64(v) }}
	s["byt"] = dpFieldSpec[F]{bins: byt, sparse: true,
		index: func(f *F) (int, bool) { return byt.Index(float64(f.Bytes)), true },
		set:   func(f *F, v float64) { f.Bytes = uint64(v) }}
	s["tcp_flags"] = byteSpec(func(f *F) *uint8 { return &f.TCPFlags })
	s["tos"] = byteSpec(func(f *F) *uint8 { return &f.TOS })
	s["fwd"] = byteSpec(func(f *F) *uint8 { return &f.Fwd })
	if len(d.Labels) > 0 {
		labels := map[string]int{}
		for i, l := range d.Labels {
			labels[l] = i
		}
		s["label"] = dpFieldSpec[F]{bins: unitBins(len(d.Labels)), sparse: true,
			index: func(f *F) (int, bool) { i, ok := labels[f.Label]; return i, ok },
			set:   func(f *F, v float64) { f.Label = d.Labels[int(v)] }}
	}
	return s, nil
}

func packetSpecs(d DPDomain, nbins int) (map[string]dpFieldSpec[trace.Packet], error) {
	type P = trace.Packet
	s := commonSpecs(d, func(p *P) *uint32 { return &p.Src }, func(p *P) *uint32 { return &p.Dst },
		func(p *P) *uint16 { return &p.SrcPort }, func(p *P) *uint16 { return &p.DstPort }, func(p *P) *uint8 { return &p.Proto })
	var err error
	if s["ts"], err = timeSpec(d, nbins, func(p *P) *int64 { return &p.TS }); err != nil {
		return nil, err
	}
	s["pkt_len"] = uint16Spec(func(p *P) *uint16 { return &p.Len })
	s["ip_id"] = uint16Spec(func(p *P) *uint16 { return &p.ID })
	// The fragment offset has 13 bits.
	s["frag_off"] = dpFieldSpec[P]{bins: unitBins(1 << 13), sparse: true,
		index: func(p *P) (int, bool) { return int(p.FragOff) & (1<<13 - 1), true },
		set:   func(p *P, v float64) { p.FragOff = uint16(v) }}
	s["tos"] = byteSpec(func(p *P) *uint8 { return &p.TOS })
	s["ip_flags"] = byteSpec(func(p *P) *uint8 { return &p.Flags })
	s["ttl"] = byteSpec(func(p *P) *uint8 { return &p.TTL })
	s["tcp_flags"] = byteSpec(func(p *P) *uint8 { return &p.TCPFlags })
	return s, nil
}

// settings are the checked options of a release.
type settings struct {
	d     DPDomain
	nbins int
	bound float64
}

func checkOptions(opt DPOptions) (settings, error) {
	if !(opt.Epsilon > 0) || math.IsInf(opt.Epsilon, 0) {
		return settings{}, fmt.Errorf("reference: DP marginals: ε = %v: want a finite ε > 0", opt.Epsilon)
	}
	if !(opt.Delta > 0 && opt.Delta < 1) {
		return settings{}, fmt.Errorf("reference: DP marginals: δ = %v: want 0 < δ < 1", opt.Delta)
	}
	st := settings{d: opt.Domain.withDefaults(), nbins: opt.Bins, bound: opt.Bound}
	if err := st.d.validate(); err != nil {
		return settings{}, err
	}
	if st.nbins == 0 {
		st.nbins = DefaultDPBins
	}
	if st.nbins < 1 {
		return settings{}, fmt.Errorf("reference: DP marginals: %d bins: want at least 1", st.nbins)
	}
	if st.bound == 0 {
		st.bound = 1
	}
	if !(st.bound > 0) || math.IsInf(st.bound, 0) {
		return settings{}, fmt.Errorf("reference: DP marginals: contribution bound %v: want a finite bound > 0", st.bound)
	}
	return st, nil
}

// release computes the noisy, post-processed histograms of the named
// fields of real, each flow (records sharing a 5-tuple) one privacy unit.
func release[R any](kind trace.Kind, real []R, key func(*R) trace.Key, all map[string]dpFieldSpec[R], known, names []string, seed int64, opt DPOptions, st settings) (*Marginals, error) {
	seen := map[string]bool{}
	for _, n := range names {
		if _, ok := all[n]; !ok {
			if n == "label" && kind == trace.KindFlows {
				return nil, errors.New("reference: DP marginals: the label is released only over a public label vocabulary (DPDomain.Labels)")
			}
			return nil, fmt.Errorf("reference: DP marginals: unknown field %q (known: %v)", n, known)
		}
		if seen[n] {
			return nil, fmt.Errorf("reference: DP marginals: field %q listed twice", n)
		}
		seen[n] = true
	}
	if len(names) == 0 {
		return nil, errors.New("reference: DP marginals: no field to release")
	}
	// One histogram per field, two for a field with a coarse one; all get
	// the same share of the Rényi budget.
	nh := 0
	for _, n := range names {
		nh++
		if all[n].group > 0 {
			nh++
		}
	}
	weights := make([]float64, nh)
	for i := range weights {
		weights[i] = 1
	}
	sigmas, err := privacy.GaussianNoiseForEpsilon(opt.Epsilon, opt.Delta, weights)
	if err != nil {
		return nil, fmt.Errorf("reference: DP marginals: %w", err)
	}
	nextSigma := func() float64 { s := sigmas[0]; sigmas = sigmas[1:]; return s }

	// Group the records by flow, in order of first appearance (so that the
	// counts' floating-point sums do not depend on map order).
	unitOf := map[trace.Key]int{}
	var units [][]int
	for i := range real {
		k := key(&real[i])
		u, ok := unitOf[k]
		if !ok {
			u = len(units)
			unitOf[k] = u
			units = append(units, nil)
		}
		units[u] = append(units[u], i)
	}

	r := newRand(seed, 10)
	m := &Marginals{Kind: kind, Domain: st.d, Bound: st.bound}
	acc := privacy.NewAccountant()
	var idx []int
	// noisyHist releases one histogram of the field, each record in bin
	// bin(record's fine bin), and post-processes it.
	noisyHist := func(name string, sp dpFieldSpec[R], nbins int, bin func(int) int) (h privacy.GaussianHistogram, out []float64, tau float64, err error) {
		c, err := privacy.NewCounts(nbins, st.bound)
		if err != nil {
			return h, nil, 0, err
		}
		for _, recs := range units {
			idx = idx[:0]
			for _, i := range recs {
				if b, ok := sp.index(&real[i]); ok {
					idx = append(idx, bin(b))
				}
			}
			if err := c.AddUnit(idx...); err != nil {
				return h, nil, 0, fmt.Errorf("reference: DP marginals: field %s: %w", name, err)
			}
		}
		h = privacy.GaussianHistogram{Name: name, Sensitivity: st.bound, Noise: nextSigma()}
		if out, err = h.ReleaseCounts(c, r); err != nil {
			return h, nil, 0, err
		}
		privacy.ClipNegative(out)
		if sp.sparse {
			if tau, err = privacy.ThresholdFor(h.Std(), 1/float64(nbins+1)); err != nil {
				return h, nil, 0, err
			}
			privacy.Threshold(out, tau)
		}
		if err := acc.Add(h.Mechanism()); err != nil {
			return h, nil, 0, err
		}
		return h, out, tau, nil
	}
	for _, name := range names {
		sp := all[name]
		h, noisy, tau, err := noisyHist(name, sp, sp.bins.Len(), func(b int) int { return b })
		if err != nil {
			return nil, err
		}
		f := DPField{Name: name, Bins: sp.bins, Noisy: noisy, Noise: h.Noise, Std: h.Std(), Threshold: tau, Weights: noisy}
		alone := privacy.NewAccountant()
		if err := alone.Add(h.Mechanism()); err != nil {
			return nil, err
		}
		if g := sp.group; g > 0 {
			hc, coarse, _, err := noisyHist(name+" (coarse)", sp, (sp.bins.Len()+g-1)/g, func(b int) int { return b / g })
			if err != nil {
				return nil, err
			}
			f.Group, f.Coarse, f.CoarseNoise = g, coarse, hc.Noise
			f.Weights = spreadCoarse(noisy, coarse, g)
			if err := alone.Add(hc.Mechanism()); err != nil {
				return nil, err
			}
		}
		ge, err := alone.Epsilon(opt.Delta)
		if err != nil {
			return nil, err
		}
		f.Epsilon = ge.Epsilon
		m.Fields = append(m.Fields, f)
	}
	if m.Guarantee, err = acc.Epsilon(opt.Delta); err != nil {
		return nil, err
	}
	return m, nil
}

// spreadCoarse returns the fine weights plus, for each coarse bin, the
// part of its mass its fine bins do not account for, spread evenly over
// those of its fine bins at zero (post-processing of both histograms).
func spreadCoarse(fine, coarse []float64, group int) []float64 {
	out := slices.Clone(fine)
	for c, mass := range coarse {
		lo, hi := c*group, min((c+1)*group, len(fine))
		var claimed float64
		zero := 0
		for _, w := range fine[lo:hi] {
			claimed += w
			if w == 0 {
				zero++
			}
		}
		rest := mass - claimed
		if rest <= 0 || zero == 0 {
			continue
		}
		for i := lo; i < hi; i++ {
			if fine[i] == 0 {
				out[i] = rest / float64(zero)
			}
		}
	}
	return out
}

// NoisyFlowMarginals releases, with (opt.Epsilon, opt.Delta)-differential
// privacy for add-or-remove-one-flow adjacency (a flow being a 5-tuple and
// all its records), one noisy histogram per field of real over the
// data-independent domain opt.Domain. Each flow's contribution to each
// histogram is bounded in L2 norm by opt.Bound; every histogram gets the
// same share of the Rényi budget. Negative noisy counts are clipped to 0,
// and the histograms of every field but the start time (sparse domains:
// addresses, ports, protocol, sizes, durations) keep only the bins whose
// noisy count exceeds the level an empty bin exceeds with probability
// 1/bins. Each port field has a second, coarse histogram over 64 ranges of
// 1,024 ports, whose mass not accounted for by the single ports that
// cleared the threshold is spread over the range's other ports. The noise
// is drawn from seed.
func NoisyFlowMarginals(real []trace.Flow, seed int64, opt DPOptions) (*Marginals, error) {
	st, err := checkOptions(opt)
	if err != nil {
		return nil, err
	}
	all, err := flowSpecs(st.d, st.nbins)
	if err != nil {
		return nil, err
	}
	names := opt.Fields
	if names == nil {
		names = DefaultDPFields()
	}
	return release(trace.KindFlows, real, (*trace.Flow).Key, all, DPFieldNames(), names, seed, opt, st)
}

// NoisyPacketMarginals is [NoisyFlowMarginals] for packets: the fields are
// those of [DPPacketFieldNames] (by default [DefaultDPPacketFields]), the
// time field is "ts", and the privacy unit is still one flow (all packets
// of a 5-tuple), whose contribution to each histogram is bounded by
// opt.Bound: with the default bound of 1 the histograms weigh flows, not
// packets.
func NoisyPacketMarginals(real []trace.Packet, seed int64, opt DPOptions) (*Marginals, error) {
	st, err := checkOptions(opt)
	if err != nil {
		return nil, err
	}
	all, err := packetSpecs(st.d, st.nbins)
	if err != nil {
		return nil, err
	}
	names := opt.Fields
	if names == nil {
		names = DefaultDPPacketFields()
	}
	return release(trace.KindPackets, real, (*trace.Packet).Key, all, DPPacketFieldNames(), names, seed, opt, st)
}

// drawMarginals returns n records whose every released field is drawn from its
// noisy histogram.
func drawMarginals[R any](m *Marginals, all map[string]dpFieldSpec[R], n int, seed int64) ([]R, error) {
	r := newRand(seed, 11)
	out := make([]R, n)
	for _, f := range m.Fields {
		sp, ok := all[f.Name]
		if !ok {
			return nil, fmt.Errorf("reference: DP marginals: unknown field %q", f.Name)
		}
		if err := f.Bins.Validate(); err != nil {
			return nil, fmt.Errorf("reference: DP marginals: field %s: %w", f.Name, err)
		}
		if len(f.Weights) != f.Bins.Len() {
			return nil, fmt.Errorf("reference: DP marginals: field %s: %d weights for %d bins", f.Name, len(f.Weights), f.Bins.Len())
		}
		s, err := privacy.NewSampler(f.Weights)
		if err != nil {
			return nil, fmt.Errorf("reference: DP marginals: field %s: %w", f.Name, err)
		}
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = f.Bins.Sample(s.Draw(r), r)
		}
		if sp.sorted {
			slices.Sort(vs)
		}
		for i := range out {
			sp.set(&out[i], vs[i])
		}
	}
	return out, nil
}

// Flows returns n flow records whose every released field is drawn
// independently from its noisy histogram: a bin in proportion to its
// weight, then a value uniformly within the bin (an address uniformly
// within its prefix). A field whose histogram kept no mass is drawn
// uniformly over its domain; a field not released is left zero. Start
// times are sorted, so the output is in time order. It reads nothing but m
// and is determined by m, n and seed.
func (m *Marginals) Flows(n int, seed int64) ([]trace.Flow, error) {
	if m.Kind != trace.KindFlows {
		return nil, fmt.Errorf("reference: DP marginals of %v drawn as flow records", m.Kind)
	}
	if n <= 0 {
		return nil, nil
	}
	all, err := flowSpecs(m.Domain, 1)
	if err != nil {
		return nil, err
	}
	return drawMarginals(m, all, n, seed)
}

// Packets is [Marginals.Flows] for packets.
func (m *Marginals) Packets(n int, seed int64) ([]trace.Packet, error) {
	if m.Kind != trace.KindPackets {
		return nil, fmt.Errorf("reference: DP marginals of %v drawn as packets", m.Kind)
	}
	if n <= 0 {
		return nil, nil
	}
	all, err := packetSpecs(m.Domain, 1)
	if err != nil {
		return nil, err
	}
	return drawMarginals(m, all, n, seed)
}

// DPMarginalFlows is the differentially private independent-marginal
// sampler: it releases [NoisyFlowMarginals] of real with the noise drawn
// from seed, then draws n records from them with [Marginals.Flows]. It is
// the simplest DP baseline a DP generator should beat.
func DPMarginalFlows(real []trace.Flow, n int, seed int64, opt DPOptions) ([]trace.Flow, *Marginals, error) {
	m, err := NoisyFlowMarginals(real, seed, opt)
	if err != nil {
		return nil, nil, err
	}
	out, err := m.Flows(n, seed)
	if err != nil {
		return nil, nil, err
	}
	return out, m, nil
}

// DPMarginalPackets is [DPMarginalFlows] for packets.
func DPMarginalPackets(real []trace.Packet, n int, seed int64, opt DPOptions) ([]trace.Packet, *Marginals, error) {
	m, err := NoisyPacketMarginals(real, seed, opt)
	if err != nil {
		return nil, nil, err
	}
	out, err := m.Packets(n, seed)
	if err != nil {
		return nil, nil, err
	}
	return out, m, nil
}
