package eval

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/netshare-go/netshare/eval/audit"
	"github.com/netshare-go/netshare/eval/downstream"
	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/trace"
)

// Options controls an evaluation. The zero value computes everything with
// seed 0.
type Options struct {
	// Seed drives every random choice (reference generators, subsamples,
	// model initialisation in the downstream tasks).
	Seed int64
	// NoBaselines skips the reference generators.
	NoBaselines bool
	// NoDistributions skips the plotting summaries.
	NoDistributions bool
	// NoDownstream skips the downstream tasks.
	NoDownstream bool
	// Downstream tunes the downstream tasks (caps, sketch widths); its
	// Seed is replaced by Seed.
	Downstream downstream.Options
	// Privacy, when set, is copied into the result.
	Privacy *PrivacyInfo
	// DPMarginal, when set (a run with differential privacy), adds the
	// differentially private marginal sampler (reference.DPMarginalFlows or
	// DPMarginalPackets) at these options to the baselines, so that a DP
	// result shows whether it beats the simplest DP generator at the same ε
	// and δ. NoBaselines skips it too.
	DPMarginal *reference.DPOptions
	// HoldoutFlows or HoldoutPackets are real records kept out of training;
	// when given, the real trace passed to Flows or Packets is taken to be
	// the training set, and the memorisation audit compares against both.
	HoldoutFlows   []trace.Flow
	HoldoutPackets []trace.Packet
	// NoAudit skips the memorisation audit (which otherwise always reports
	// exact copies, and everything else when held-out records are given).
	NoAudit bool
	// Audit tunes the audit's caps; its Seed is replaced by Seed.
	Audit audit.Options
	// SubsampleLimit is the most records of each side (real, synthetic,
	// held-out) that the downstream tasks and the memorisation audit see; a
	// larger side is replaced there by a random subsample seeded from Seed,
	// recorded in Result.Subsample. Zero means DefaultSubsampleLimit, a
	// negative value never subsamples. The fidelity metrics and reference
	// generators always use every record.
	SubsampleLimit int
}

// ErrEmpty is returned when either trace has no records.
var ErrEmpty = errors.New("trace has no records")

// parallel runs the functions with at most GOMAXPROCS at a time.
func parallel(fns ...func()) {
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f()
		}()
	}
	wg.Wait()
}

func checkSizes(nr, ns int) error {
	switch {
	case nr == 0:
		return &SideError{Side: "real", Err: ErrEmpty}
	case ns == 0:
		return &SideError{Side: "synthetic", Err: ErrEmpty}
	}
	return nil
}

// SideError names the side of the comparison an error is about.
type SideError struct {
	Side string // "real", "synthetic" or "holdout"
	Err  error
}

func (e *SideError) Error() string { return e.Side + " " + e.Err.Error() }
func (e *SideError) Unwrap() error { return e.Err }

// kindOps holds what differs between evaluating flows and packets.
type kindOps[R any] struct {
	profile    func([]R) *profile
	bootstrap  func(real []R, n int, seed int64) []R
	marginal   func(real []R, n int, seed int64) []R
	splitHalf  func(real []R, seed int64) (a, b []R)
	dpMarginal func(real []R, n int, seed int64, o reference.DPOptions) ([]R, error)
	index      func(train []R) *audit.CopyIndex
	copies     func(idx *audit.CopyIndex, rs []R) (int, float64)
	audit      func(idx *audit.CopyIndex, train, holdout, syn []R, o audit.Options) *audit.Report
	downstream func(real, syn []R, o downstream.Options) *downstream.Report
	// telemetryRef sets the heavy-hitter errors of a bootstrap resample.
	telemetryRef func(tm *downstream.Telemetry, ref []R, o downstream.Options)
	dist         func(rp, sp *profile, real, syn []R) *Distributions
	protocol     func(real, syn []R) *protocol.Report
	addresses    func(real, syn []R) *Addresses
	sample       func(rs []R, k int, seed uint64, side string) []R
	unit         string // what sample draws
}

var flowOps = kindOps[trace.Flow]{
	profile:      flowProfile,
	bootstrap:    reference.BootstrapFlows,
	marginal:     reference.MarginalFlows,
	splitHalf:    reference.SplitHalfFlows,
	dpMarginal:   dpMarginalFlows,
	index:        audit.NewFlowCopyIndex,
	copies:       (*audit.CopyIndex).FlowCopies,
	audit:        audit.RunWithIndex,
	downstream:   downstream.Flows,
	telemetryRef: downstream.FlowTelemetryReference,
	dist:         distributions,
	protocol:     protocol.CompareFlows,
	addresses:    FlowAddresses,
	sample:       sampleFlows,
	unit:         "flow records",
}

var packetOps = kindOps[trace.Packet]{
	profile:      packetProfile,
	bootstrap:    reference.BootstrapPackets,
	marginal:     reference.MarginalPackets,
	splitHalf:    reference.SplitHalfPackets,
	dpMarginal:   dpMarginalPackets,
	index:        audit.NewPacketCopyIndex,
	copies:       (*audit.CopyIndex).PacketCopies,
	audit:        audit.RunPacketsWithIndex,
	downstream:   downstream.Packets,
	telemetryRef: downstream.PacketTelemetryReference,
	dist:         func(rp, sp *profile, _, _ []trace.Packet) *Distributions { return distributions(rp, sp, nil, nil) },
	protocol:     protocol.ComparePackets,
	addresses:    PacketAddresses,
	sample:       samplePackets,
	unit:         "flows",
}

func dpMarginalFlows(real []trace.Flow, n int, seed int64, o reference.DPOptions) ([]trace.Flow, error) {
	fs, _, err := reference.DPMarginalFlows(real, n, seed, o)
	return fs, err
}

func dpMarginalPackets(real []trace.Packet, n int, seed int64, o reference.DPOptions) ([]trace.Packet, error) {
	ps, _, err := reference.DPMarginalPackets(real, n, seed, o)
	return ps, err
}

// Flows evaluates a synthetic flow trace against the real one. With
// opt.HoldoutFlows, real is taken to be the training set of the generator.
func Flows(real, syn []trace.Flow, opt Options) (*Result, error) {
	return evaluate(flowOps, real, syn, opt.HoldoutFlows, opt)
}

// Packets evaluates a synthetic packet trace against the real one. With
// opt.HoldoutPackets, real is taken to be the training set.
func Packets(real, syn []trace.Packet, opt Options) (*Result, error) {
	return evaluate(packetOps, real, syn, opt.HoldoutPackets, opt)
}

func evaluate[R any](ops kindOps[R], real, syn, holdout []R, opt Options) (*Result, error) {
	if err := checkSizes(len(real), len(syn)); err != nil {
		return nil, err
	}
	smp := newSampler(ops, real, syn, holdout, opt)
	// Stage 1: everything that depends on one trace only, and the
	// downstream tasks.
	var rp, sp, bp, mp, dp *profile
	var halves [2]*profile // the split-half reference's, when both are not empty
	var dpErr error
	var boot, marg []R
	var idx *audit.CopyIndex
	var proto *protocol.Report
	var addrs *Addresses
	jobs := []func(){
		func() { rp = ops.profile(real) },
		func() { sp = ops.profile(syn) },
		func() { proto = ops.protocol(real, syn) },
		func() { addrs = ops.addresses(real, syn) },
	}
	if !opt.NoBaselines {
		jobs = append(jobs,
			func() { boot = ops.bootstrap(real, len(syn), opt.Seed); bp = ops.profile(boot) },
			func() { marg = ops.marginal(real, len(syn), opt.Seed); mp = ops.profile(marg) },
			func() {
				if a, b := ops.splitHalf(real, opt.Seed); len(a) > 0 && len(b) > 0 {
					halves = [2]*profile{ops.profile(a), ops.profile(b)}
				}
			},
		)
		if opt.DPMarginal != nil && ops.dpMarginal != nil {
			jobs = append(jobs, func() {
				var d []R
				if d, dpErr = ops.dpMarginal(real, len(syn), opt.Seed, *opt.DPMarginal); dpErr == nil {
					dp = ops.profile(d)
				}
			})
		}
	}
	if !opt.NoAudit {
		jobs = append(jobs, func() { idx = ops.index(real) })
	}
	var dr *downstream.Report
	do := opt.Downstream
	do.Seed = opt.Seed
	if !opt.NoDownstream {
		jobs = append(jobs, func() { dr = ops.downstream(smp.draw("real", real), smp.draw("synthetic", syn), do) })
	}
	parallel(jobs...)
	if dpErr != nil {
		return nil, fmt.Errorf("DP marginal baseline: %w", dpErr)
	}

	// Stage 2: comparisons and the audit.
	res := &Result{Privacy: opt.Privacy, Downstream: dr, Protocol: proto, Addresses: addrs}
	var ar *audit.Report
	stage := []func(){func() { res.Baselines = compareAll(&res.Fidelity, rp, sp, bp, mp, dp, halves) }}
	if idx != nil {
		ao := opt.Audit
		ao.Seed = opt.Seed
		stage = append(stage, func() { ar = ops.audit(idx, real, smp.draw("holdout", holdout), smp.draw("synthetic", syn), ao) })
	}
	if dr != nil && boot != nil {
		// The heavy-hitter errors of a perfect copy beside the synthetic
		// trace's, on as many records as the real side saw.
		stage = append(stage, func() {
			b := boot
			if smp.rec != nil && len(b) > smp.rec.Limit {
				b = ops.sample(b, smp.rec.Limit, smp.rec.Seed, "bootstrap")
			}
			ops.telemetryRef(dr.Telemetry, b, do)
		})
	}
	parallel(stage...)
	if ar != nil && boot != nil {
		_, b := ops.copies(idx, boot)
		_, m := ops.copies(idx, marg)
		ar.ExactCopy.BootstrapRate, ar.ExactCopy.MarginalRate = &b, &m
	}
	res.PrivacyAudit = ar
	res.Subsample = smp.record()
	res.Targets, res.Verdict = Judge(res)
	if !opt.NoDistributions {
		res.Distributions = ops.dist(rp, sp, real, syn)
	}
	return res, nil
}

// sampler draws the records the downstream tasks and the audit see: each
// side over the limit is replaced by a seeded random subsample. The audit
// keeps every training (real) record, since its exact-copy index is cheap
// and its nearest-neighbour search samples the training set itself. The
// draws run inside the jobs that need them, so they overlap other work.
type sampler[R any] struct {
	ops   kindOps[R]
	rec   *Subsample // nil when no part uses a subsample
	sides [3]*SubsampleSide
	syn   []R // the synthetic draw, once made
}

func newSampler[R any](ops kindOps[R], real, syn, holdout []R, opt Options) *sampler[R] {
	s := &sampler[R]{ops: ops}
	limit := opt.SubsampleLimit
	if limit == 0 {
		limit = DefaultSubsampleLimit
	}
	if limit < 0 {
		return s
	}
	over := func(rs []R) bool { return len(rs) > limit }
	rec := &Subsample{Limit: limit, Seed: subsampleSeed(opt.Seed), Unit: ops.unit}
	if !opt.NoDownstream && (over(real) || over(syn)) {
		rec.Parts = append(rec.Parts, SubsampleDownstream)
	}
	if !opt.NoAudit && (over(syn) || over(holdout)) {
		rec.Parts = append(rec.Parts, SubsampleAudit)
	}
	if len(rec.Parts) > 0 {
		s.rec = rec
	}
	return s
}

var sideSlot = map[string]int{"real": 0, "synthetic": 1, "holdout": 2}

// draw returns the records of one side that the parts see.
func (s *sampler[R]) draw(side string, rs []R) []R {
	if s.rec == nil || len(rs) <= s.rec.Limit {
		return rs
	}
	if side == "synthetic" && s.syn != nil {
		return s.syn
	}
	k := s.ops.sample(rs, s.rec.Limit, s.rec.Seed, side)
	s.sides[sideSlot[side]] = &SubsampleSide{Side: side, Records: len(rs), Kept: len(k)}
	if side == "synthetic" {
		s.syn = k
	}
	return k
}

// record returns the subsample record, or nil when none was drawn.
func (s *sampler[R]) record() *Subsample {
	if s.rec == nil {
		return nil
	}
	for _, sd := range s.sides {
		if sd != nil {
			s.rec.Sides = append(s.rec.Sides, *sd)
		}
	}
	return s.rec
}

// compareAll fills f with syn's metrics and returns the baselines' (nil
// when they were not computed; the DP marginal sampler's only when dp is
// not nil, the split halves' only when both are), computing them in
// parallel.
func compareAll(f *Fidelity, rp, sp, bp, mp, dp *profile, halves [2]*profile) *Baselines {
	if bp == nil {
		*f = *compare(rp, sp)
		return nil
	}
	b := &Baselines{}
	parallel(
		func() { *f = *compare(rp, sp) },
		func() { b.Bootstrap = compare(rp, bp) },
		func() { b.Marginal = compare(rp, mp) },
		func() {
			if dp != nil {
				b.DPMarginal = compare(rp, dp)
			}
		},
		func() {
			if halves[0] != nil {
				b.SplitHalf = compare(halves[0], halves[1])
			}
		},
	)
	return b
}
