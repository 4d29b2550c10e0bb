package eval

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/trace"
)

func TestDPMarginalBaseline(t *testing.T) {
	real := ugrSmall(t)
	syn := reference.MarginalFlows(real, len(real), 9)
	lo, hi := real[0].Start, real[0].Start
	for _, f := range real {
		lo, hi = min(lo, f.Start), max(hi, f.Start)
	}
	dpo := &reference.DPOptions{Epsilon: 1, Delta: 1e-5, Domain: reference.DPDomain{Start: lo, End: hi + 1}}
	opt := Options{Seed: 2, NoDownstream: true, NoAudit: true, NoDistributions: true, DPMarginal: dpo}
	res, err := Flows(real, syn, opt)
	if err != nil {
		t.Fatal(err)
	}
	b := res.Baselines
	if b == nil || b.DPMarginal == nil || b.Marginal == nil {
		t.Fatalf("baselines %+v: want the DP marginal sampler among them", b)
	}
	// At ε = 1 on a thousand flows the DP sampler's ports are far noisier
	// than the non-DP sampler's.
	if !(b.DPMarginal.JSD["dstport"] > b.Marginal.JSD["dstport"]+0.05) {
		t.Errorf("dstport JSD: DP marginal %v, marginal %v", b.DPMarginal.JSD["dstport"], b.Marginal.JSD["dstport"])
	}
	js, _ := json.Marshal(res)
	var shape struct {
		Baselines map[string]json.RawMessage `json:"baselines"`
	}
	if err := json.Unmarshal(js, &shape); err != nil || shape.Baselines["dp_marginal"] == nil {
		t.Errorf("metrics JSON has no baselines.dp_marginal (%v)", err)
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil || !strings.Contains(text.String(), "DP marginal sampler") {
		t.Errorf("text report lacks the DP marginal column (%v)", err)
	}
	again, _ := Flows(real, syn, opt)
	if again.Baselines.DPMarginal.MeanJSD != b.DPMarginal.MeanJSD {
		t.Error("DP baseline not determined by the seed")
	}

	// Not asked for: absent, and absent from the JSON.
	opt.DPMarginal = nil
	plain, _ := Flows(real, syn, opt)
	js, _ = json.Marshal(plain)
	if plain.Baselines.DPMarginal != nil || strings.Contains(string(js), "dp_marginal") {
		t.Error("DP baseline reported without being asked for")
	}
	// Bad options are an error, not a silent omission.
	opt.DPMarginal = &reference.DPOptions{Epsilon: 1, Delta: 1e-5}
	if _, err := Flows(real, syn, opt); err == nil || !strings.Contains(err.Error(), "DP marginal") {
		t.Errorf("DP baseline without a time range: err %v", err)
	}
}

func TestDPMarginalBaselinePackets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	real := make([]trace.Packet, 600)
	for i := range real {
		real[i] = trace.Packet{TS: int64(i) * 1000, Src: uint32(r.IntN(30)), Dst: 7, SrcPort: 1000, DstPort: 443, Proto: 6, Len: 1500}
	}
	dpo := &reference.DPOptions{Epsilon: 2, Delta: 1e-5, Domain: reference.DPDomain{Start: 0, End: 600_000}}
	res, err := Packets(real, reference.MarginalPackets(real, 600, 1), Options{NoDownstream: true, NoAudit: true, NoDistributions: true, DPMarginal: dpo})
	if err != nil {
		t.Fatal(err)
	}
	if res.Baselines == nil || res.Baselines.DPMarginal == nil || res.Baselines.DPMarginal.Kind != "packets" {
		t.Fatalf("baselines %+v: want the DP marginal sampler of packets", res.Baselines)
	}
}

// The split-half reference is drawn beside the others: two halves of the
// real trace sharing no flow, which on ports one flow alone uses score
// far above the bootstrap resample (a copy); it is in the JSON and the
// text, and absent when the real trace is one 5-tuple.
func TestSplitHalfBaseline(t *testing.T) {
	real := ugrSmall(t)
	syn := reference.MarginalFlows(real, len(real), 9)
	opt := Options{Seed: 2, NoDownstream: true, NoAudit: true, NoDistributions: true}
	res, err := Flows(real, syn, opt)
	if err != nil {
		t.Fatal(err)
	}
	b := res.Baselines
	if b == nil || b.SplitHalf == nil {
		t.Fatalf("baselines %+v: want the split halves among them", b)
	}
	if !(b.SplitHalf.JSD["srcport"] > b.Bootstrap.JSD["srcport"]) {
		t.Errorf("srcport JSD: split half %v, bootstrap %v", b.SplitHalf.JSD["srcport"], b.Bootstrap.JSD["srcport"])
	}
	js, _ := json.Marshal(res)
	if !strings.Contains(string(js), `"split_half"`) {
		t.Error("metrics JSON has no baselines.split_half")
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil || !strings.Contains(text.String(), "split half") {
		t.Errorf("text report lacks the split-half column (%v)", err)
	}
	one := slices.Clone(real)
	for i := range one {
		one[i].Src, one[i].Dst, one[i].SrcPort, one[i].DstPort, one[i].Proto = 1, 2, 3, 4, trace.ProtoTCP
	}
	res, err = Flows(one, one, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Baselines.SplitHalf != nil {
		t.Error("split halves drawn from a trace of one 5-tuple")
	}
}
