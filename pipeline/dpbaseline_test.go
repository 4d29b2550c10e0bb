package pipeline

import (
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/trace"
)

func TestDPBaselineOptions(t *testing.T) {
	real := &trace.Trace{Kind: trace.KindFlows, Flows: []trace.Flow{{Start: 50}, {Start: 10}, {Start: 90}}}
	r := &Run{Cfg: &config.Config{}}
	if o, err := r.dpBaseline(real, nil); o != nil || err != nil {
		t.Errorf("run without DP: %+v, %v", o, err)
	}
	p := &eval.PrivacyInfo{Epsilon: 3.9, Delta: 1e-6}
	pk := &trace.Trace{Kind: trace.KindPackets, Packets: []trace.Packet{{TS: 7}, {TS: 3}}}
	if o, _ := r.dpBaseline(pk, p); o == nil || o.Domain.Start != 3 || o.Domain.End != 8 {
		t.Errorf("packet trace: %+v, want the range of its timestamps", o)
	}
	o, err := r.dpBaseline(real, p)
	if err != nil || o == nil {
		t.Fatalf("%+v, %v", o, err)
	}
	if o.Epsilon != 3.9 || o.Delta != 1e-6 || o.Domain.Start != 10 || o.Domain.End != 91 {
		t.Errorf("options %+v: want the run's ε, δ and the trace's time range", o)
	}
	r.Cfg.DP.Start, r.Cfg.DP.End = "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"
	o, _ = r.dpBaseline(real, p)
	if o.Domain.Start != 1577836800000000 || o.Domain.End != 1577923200000000 {
		t.Errorf("domain %+v: want the configured range", o.Domain)
	}
}
