package eval

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/eval/audit"
	"github.com/netshare-go/netshare/eval/protocol"
	"github.com/netshare-go/netshare/eval/reference"
)

// A synthetic trace of one record used to pass the joint-TVD target, its
// references being drawn at its own size: under 10% of the real trace,
// nothing is judged, and the verdict says why.
func TestVerdictTooFewSyntheticRecords(t *testing.T) {
	fs := ugrSmall(t)
	for _, n := range []int{1, len(fs)/10 - 1} {
		syn := reference.MarginalFlows(fs, n, 3)
		res, err := Flows(fs, syn, Options{Seed: 1, NoDownstream: true})
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Verdict; v == nil || v.Status != VerdictNotJudged || !strings.Contains(v.Summary, "under 10%") {
			t.Errorf("%d of %d records: verdict %+v", n, len(fs), v)
		}
		for _, x := range res.Targets {
			if x.Pass != nil || !strings.Contains(x.Reason, "under 10%") {
				t.Errorf("%d records: target %s judged: %+v", n, x.Name, x)
			}
		}
	}
	one := reference.BootstrapFlows(fs, 1, 3)
	res, _ := Flows(fs, one, Options{Seed: 1, NoDownstream: true})
	if !strings.Contains(res.Verdict.Summary, "1 record,") {
		t.Errorf("summary %q: want the singular", res.Verdict.Summary)
	}
	// At 10% the targets are judged.
	res, _ = Flows(fs, reference.MarginalFlows(fs, (len(fs)+9)/10, 3), Options{Seed: 1, NoDownstream: true})
	if res.Verdict.Status == VerdictNotJudged {
		t.Errorf("10%% of the real trace: %+v", res.Verdict)
	}
}

// The real trace offered as the synthetic one passes the joint target (it
// is at the floor), but the verdict names it a copy, with or without
// held-out records.
func TestVerdictNamesACopy(t *testing.T) {
	fs := ugrSmall(t)
	res, err := Flows(fs, fs, Options{Seed: 1, NoDownstream: true})
	if err != nil {
		t.Fatal(err)
	}
	if x := target(t, res, TargetJointFromRef); x.Pass == nil || !*x.Pass {
		t.Fatalf("joint target of a copy: %+v", x)
	}
	if x := target(t, res, TargetCopyShare); x.Pass == nil || *x.Pass || *x.Value != 1 {
		t.Errorf("copy-share target of a copy without held-out records: %+v", x)
	}
	if v := res.Verdict; v.Status != VerdictCopy || !strings.Contains(v.Summary, "copy of the real trace") || !strings.Contains(v.Summary, "100%") {
		t.Errorf("verdict of a copy: %+v", v)
	}
	// Near-identical: a resample of the training part, audited against
	// the held-out part.
	train, holdout := split(fs, 2)
	res, _ = Flows(train, reference.BootstrapFlows(train, len(train), 4), Options{Seed: 1, HoldoutFlows: holdout, NoDownstream: true})
	if res.Verdict.Status != VerdictCopy {
		t.Errorf("verdict of a resample: %+v", res.Verdict)
	}
	for _, name := range []string{TargetExactCopy, TargetMembership} {
		if x := target(t, res, name); x.Pass == nil {
			t.Errorf("%s not judged with held-out records: %+v", name, x)
		}
	}
	// The marginal sampler copies nothing but misses the joint target.
	res, _ = Flows(train, reference.MarginalFlows(train, len(train), 4), Options{Seed: 1, HoldoutFlows: holdout, NoDownstream: true})
	if v := res.Verdict; v.Status != VerdictFail || !strings.Contains(v.Summary, "joint TVD") {
		t.Errorf("verdict of the marginal sampler: %+v", v)
	}
}

func TestJudgeCases(t *testing.T) {
	base := func() *Result {
		b := &Fidelity{Joint: map[string]float64{MeanJointKey: 0.05}}
		m := &Fidelity{Joint: map[string]float64{MeanJointKey: 0.45}}
		return &Result{
			Fidelity:  Fidelity{Kind: "flows", RealRecords: 1000, SyntheticRecords: 900, Joint: map[string]float64{MeanJointKey: 0.1}},
			Baselines: &Baselines{Bootstrap: b, Marginal: m},
		}
	}
	res := base()
	ts, v := Judge(res)
	if v.Status != VerdictPass || len(ts) != 1 || !strings.Contains(v.Summary, "1 judged target met") {
		t.Errorf("good trace without audit: %+v %+v", v, ts)
	}
	// The real trace repeating itself: the copy share cannot be judged.
	res = base()
	hr := 0.7
	res.PrivacyAudit = &audit.Report{Unit: "flow records", ExactCopy: audit.ExactCopy{Rate: 0.8, HoldoutRate: &hr}}
	ts, v = Judge(res)
	for _, x := range ts {
		if x.Name == TargetCopyShare && (x.Pass != nil || !strings.Contains(x.Reason, "repeats itself")) {
			t.Errorf("copy share with a repetitive real trace: %+v", x)
		}
	}
	if v.Status != VerdictPass || !strings.Contains(v.Summary, "not judged: copy_share, membership_auc") {
		t.Errorf("repetitive trace: %+v", v)
	}
	// No reference generators and no audit: nothing to judge.
	res = base()
	res.Baselines = nil
	if _, v = Judge(res); v.Status != VerdictNotJudged {
		t.Errorf("nothing to judge: %+v", v)
	}
	// The verdict is the first key of metrics.json.
	res = base()
	res.Targets, res.Verdict = Judge(res)
	js, _ := res.JSON()
	if !strings.HasPrefix(strings.TrimSpace(string(js[1:])), `"verdict"`) {
		t.Errorf("metrics.json does not start with the verdict:\n%.200s", js)
	}
	var back Result
	if err := json.Unmarshal(js, &back); err != nil || back.Verdict == nil || back.Verdict.Status != VerdictPass {
		t.Errorf("round trip: %v %+v", err, back.Verdict)
	}
}

// The protocol validity target follows the report's pass mark, with the
// gap between the synthetic and real all-checks shares as its value, and is
// left out when the protocol checks did not run.
func TestJudgeProtocol(t *testing.T) {
	base := func(real, syn float64) *Result {
		res := &Result{Fidelity: Fidelity{Kind: "flows", RealRecords: 1000, SyntheticRecords: 900, Joint: map[string]float64{MeanJointKey: 0.1}}}
		if real >= 0 {
			mk := func(share float64) protocol.Side {
				return protocol.Side{Flows: 1000, AllFlows: int64(1000 * share), FailedFlows: make([]int64, len(protocol.FlowChecks()))}
			}
			res.Protocol = protocol.Compare("flows", mk(real), mk(syn))
		}
		return res
	}
	find := func(ts []Target) *Target {
		for i := range ts {
			if ts[i].Name == TargetProtocol {
				return &ts[i]
			}
		}
		return nil
	}
	for _, c := range []struct {
		real, syn float64
		pass      bool
	}{{0.91, 0.967, true}, {0.91, 0.905, true}, {0.91, 0.538, false}, {0.91, 0.899, false}} {
		ts, v := Judge(base(c.real, c.syn))
		p := find(ts)
		if p == nil || p.Pass == nil || *p.Pass != c.pass || p.Limit == nil || *p.Limit != -0.01 {
			t.Fatalf("real %g, synthetic %g: target %+v, want pass %v", c.real, c.syn, p, c.pass)
		}
		if d := *p.Value - (c.syn - c.real); d > 1e-9 || d < -1e-9 {
			t.Errorf("real %g, synthetic %g: value %g", c.real, c.syn, *p.Value)
		}
		if want := map[bool]string{true: VerdictPass, false: VerdictFail}[c.pass]; v.Status != want {
			t.Errorf("real %g, synthetic %g: verdict %+v, want %s", c.real, c.syn, v, want)
		}
	}
	if ts, _ := Judge(base(-1, 0)); find(ts) != nil {
		t.Errorf("protocol target without protocol checks: %+v", ts)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 records", 1: "1 record", 2: "2 records", 1234567: "1,234,567 records", -1500: "-1,500 records"} {
		if got := Plural(n, "record"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}
