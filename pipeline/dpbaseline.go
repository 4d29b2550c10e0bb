package pipeline

import (
	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/trace"
)

// dpBaseline returns the options of the differentially private marginal
// sampler that a DP run's evaluation reports among its baselines: the
// run's ε and δ, over the configured time range (dp.start, dp.end) or, when
// none is set, the trace's own range of times (the same public-range
// assumption the chunk edges make). p is the run's guarantee (its plan's);
// it returns nil for runs without DP (p nil).
func (r *Run) dpBaseline(real *trace.Trace, p *eval.PrivacyInfo) (*reference.DPOptions, error) {
	if p == nil {
		return nil, nil
	}
	start, end, err := r.Cfg.DP.TimeRange()
	if err != nil {
		return nil, err
	}
	if end <= start {
		var ts []int64
		if real.Kind == trace.KindPackets {
			for i := range real.Packets {
				ts = append(ts, real.Packets[i].TS)
			}
		} else {
			for i := range real.Flows {
				ts = append(ts, real.Flows[i].Start)
			}
		}
		if len(ts) == 0 {
			return nil, nil
		}
		start, end = ts[0], ts[0]
		for _, t := range ts {
			start, end = min(start, t), max(end, t)
		}
		end++
	}
	return &reference.DPOptions{Epsilon: p.Epsilon, Delta: p.Delta, Domain: reference.DPDomain{Start: start, End: end}}, nil
}
