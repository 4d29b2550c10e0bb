package eval

import (
	"errors"
	"runtime"
	"sync"

	"github.com/netshare-go/netshare/eval/audit"
	"github.com/netshare-go/netshare/eval/downstream"
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

// Flows evaluates a synthetic flow trace against the real one. With
// opt.HoldoutFlows, real is taken to be the training set of the generator.
func Flows(real, syn []trace.Flow, opt Options) (*Result, error) {
	if err := checkSizes(len(real), len(syn)); err != nil {
		return nil, err
	}
	var rp, sp, bp, mp *profile
	var boot, marg []trace.Flow
	var idx *audit.CopyIndex
	jobs := []func(){
		func() { rp = flowProfile(real) },
		func() { sp = flowProfile(syn) },
	}
	if !opt.NoBaselines {
		jobs = append(jobs,
			func() { boot = reference.BootstrapFlows(real, len(syn), opt.Seed); bp = flowProfile(boot) },
			func() { marg = reference.MarginalFlows(real, len(syn), opt.Seed); mp = flowProfile(marg) },
		)
	}
	if !opt.NoAudit {
		jobs = append(jobs, func() { idx = audit.NewFlowCopyIndex(real) })
	}
	var ds *downstream.Report
	if !opt.NoDownstream {
		do := opt.Downstream
		do.Seed = opt.Seed
		jobs = append(jobs, func() { ds = downstream.Flows(real, syn, do) })
	}
	parallel(jobs...)
	res := &Result{Privacy: opt.Privacy, Downstream: ds}
	var ar *audit.Report
	stage := []func(){func() { res.Baselines = compareAll(&res.Fidelity, rp, sp, bp, mp) }}
	if idx != nil {
		ao := opt.Audit
		ao.Seed = opt.Seed
		stage = append(stage, func() { ar = audit.RunWithIndex(idx, real, opt.HoldoutFlows, syn, ao) })
	}
	parallel(stage...)
	if ar != nil && boot != nil {
		_, b := idx.FlowCopies(boot)
		_, m := idx.FlowCopies(marg)
		ar.ExactCopy.BootstrapRate, ar.ExactCopy.MarginalRate = &b, &m
	}
	res.PrivacyAudit = ar
	res.Targets = targets(res)
	if !opt.NoDistributions {
		res.Distributions = distributions(rp, sp, real, syn)
	}
	return res, nil
}

// Packets evaluates a synthetic packet trace against the real one. With
// opt.HoldoutPackets, real is taken to be the training set.
func Packets(real, syn []trace.Packet, opt Options) (*Result, error) {
	if err := checkSizes(len(real), len(syn)); err != nil {
		return nil, err
	}
	var rp, sp, bp, mp *profile
	var boot, marg []trace.Packet
	var idx *audit.CopyIndex
	jobs := []func(){
		func() { rp = packetProfile(real) },
		func() { sp = packetProfile(syn) },
	}
	if !opt.NoBaselines {
		jobs = append(jobs,
			func() { boot = reference.BootstrapPackets(real, len(syn), opt.Seed); bp = packetProfile(boot) },
			func() { marg = reference.MarginalPackets(real, len(syn), opt.Seed); mp = packetProfile(marg) },
		)
	}
	if !opt.NoAudit {
		jobs = append(jobs, func() { idx = audit.NewPacketCopyIndex(real) })
	}
	var ds *downstream.Report
	if !opt.NoDownstream {
		do := opt.Downstream
		do.Seed = opt.Seed
		jobs = append(jobs, func() { ds = downstream.Packets(real, syn, do) })
	}
	parallel(jobs...)
	res := &Result{Privacy: opt.Privacy, Downstream: ds}
	var ar *audit.Report
	stage := []func(){func() { res.Baselines = compareAll(&res.Fidelity, rp, sp, bp, mp) }}
	if idx != nil {
		ao := opt.Audit
		ao.Seed = opt.Seed
		stage = append(stage, func() { ar = audit.RunPacketsWithIndex(idx, real, opt.HoldoutPackets, syn, ao) })
	}
	parallel(stage...)
	if ar != nil && boot != nil {
		_, b := idx.PacketCopies(boot)
		_, m := idx.PacketCopies(marg)
		ar.ExactCopy.BootstrapRate, ar.ExactCopy.MarginalRate = &b, &m
	}
	res.PrivacyAudit = ar
	res.Targets = targets(res)
	if !opt.NoDistributions {
		res.Distributions = distributions(rp, sp, nil, nil)
	}
	return res, nil
}

// compareAll fills f with syn's metrics and returns the baselines' (nil
// when they were not computed), computing the three in parallel.
func compareAll(f *Fidelity, rp, sp, bp, mp *profile) *Baselines {
	if bp == nil {
		*f = *compare(rp, sp)
		return nil
	}
	b := &Baselines{}
	parallel(
		func() { *f = *compare(rp, sp) },
		func() { b.Bootstrap = compare(rp, bp) },
		func() { b.Marginal = compare(rp, mp) },
	)
	return b
}
