package pipeline

import (
	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/trace"
)

// dpBaseline returns the options of the differentially private marginal
// sampler that a DP run's evaluation reports among its baselines: the
// run's ε and δ, over the configured time range (dp.start, dp.end) or, when
// none is set, the trace's own range of start times (the same public-range
// assumption the chunk edges make). It returns nil for runs without DP and
// for packet traces.
func (r *Run) dpBaseline(kind trace.Kind, real []trace.Flow) (*reference.DPOptions, error) {
	p := r.privacy
	if p == nil || kind != trace.KindFlows || len(real) == 0 {
		return nil, nil
	}
	start, end, err := r.Cfg.DP.TimeRange()
	if err != nil {
		return nil, err
	}
	if end <= start {
		start, end = real[0].Start, real[0].Start
		for i := range real {
			start, end = min(start, real[i].Start), max(end, real[i].Start)
		}
		end++
	}
	return &reference.DPOptions{Epsilon: p.Epsilon, Delta: p.Delta, Domain: reference.DPDomain{Start: start, End: end}}, nil
}
