package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func ugrSmall(t *testing.T) []trace.Flow {
	t.Helper()
	fs, _, _, err := trace.ReadAllFlows(testutil.Testdata("netshare", "ugr16-small.csv"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func split(fs []trace.Flow, seed uint64) (train, holdout []trace.Flow) {
	r := rand.New(rand.NewPCG(seed, 7))
	for _, i := range r.Perm(len(fs)) {
		if len(train) < len(fs)*8/10 {
			train = append(train, fs[i])
		} else {
			holdout = append(holdout, fs[i])
		}
	}
	return
}

func target(t *testing.T, res *Result, name string) Target {
	t.Helper()
	for _, x := range res.Targets {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no target %s in %+v", name, res.Targets)
	return Target{}
}

// A resample of the training records is a perfect memoriser: the audit
// must flag it on every count.
func TestAuditFlagsBootstrap(t *testing.T) {
	train, holdout := split(ugrSmall(t), 1)
	syn := reference.BootstrapFlows(train, len(train), 5)
	res, err := Flows(train, syn, Options{Seed: 1, HoldoutFlows: holdout, NoDownstream: true})
	if err != nil {
		t.Fatal(err)
	}
	a := res.PrivacyAudit
	if a == nil || a.ExactCopy.Rate < 0.999 {
		t.Fatalf("bootstrap exact-copy rate: %+v", a)
	}
	if *a.ExactCopy.BootstrapRate < 0.999 || *a.ExactCopy.MarginalRate > 0.05 {
		t.Errorf("reference rates: bootstrap %v marginal %v", *a.ExactCopy.BootstrapRate, *a.ExactCopy.MarginalRate)
	}
	if x := target(t, res, TargetExactCopy); x.Pass == nil || *x.Pass {
		t.Errorf("exact-copy target not flagged: %+v", x)
	}
	if x := target(t, res, TargetMembership); x.Pass == nil || *x.Pass || *x.Value < 0.7 {
		t.Errorf("membership target not flagged: %+v (AUC %v)", x, *x.Value)
	}
	if a.DCR.SyntheticMedian != 0 || a.DCR.HoldoutMedian <= 0 {
		t.Errorf("DCR %+v", a.DCR)
	}
}

// The marginal sampler matches marginals but not joints; the bootstrap
// matches both up to sampling noise.
func TestMarginalSamplerJointAboveBootstrap(t *testing.T) {
	for _, c := range []struct {
		name string
		fs   []trace.Flow
	}{{"ugr16-small", ugrSmall(t)}, {"generated", randomFlows(rand.New(rand.NewPCG(3, 3)), 3000)}} {
		res, err := Flows(c.fs, c.fs, Options{Seed: 2, NoDownstream: true})
		if err != nil {
			t.Fatal(err)
		}
		bt, mt := res.Baselines.Bootstrap.MeanJointTVD(), res.Baselines.Marginal.MeanJointTVD()
		t.Logf("%s: joint TVD bootstrap %.4f, marginal %.4f", c.name, bt, mt)
		if mt < 2*bt || mt-bt < 0.1 {
			t.Errorf("%s: marginal sampler joint TVD %.4f not clearly above bootstrap %.4f", c.name, mt, bt)
		}
		// A trace against itself is at the floor: the joint target passes.
		if x := target(t, res, TargetJointFromRef); x.Pass == nil || !*x.Pass {
			t.Errorf("%s: joint target for the real trace itself: %+v", c.name, x)
		}
		// The marginal sampler as "synthetic" trace fails it.
		marg := reference.MarginalFlows(c.fs, len(c.fs), 9)
		res, _ = Flows(c.fs, marg, Options{Seed: 2, NoDownstream: true})
		if x := target(t, res, TargetJointFromRef); x.Pass == nil || *x.Pass {
			t.Errorf("%s: joint target for the marginal sampler: %+v", c.name, x)
		}
	}
}

func TestAuditWithoutHoldout(t *testing.T) {
	fs := ugrSmall(t)
	res, err := Flows(fs, fs[:500], Options{Seed: 1, NoDownstream: true})
	if err != nil {
		t.Fatal(err)
	}
	a := res.PrivacyAudit
	if a.ExactCopy.Rate != 1 || a.DCR != nil || a.Membership != nil || len(a.NotComputed) == 0 {
		t.Errorf("audit without holdout: %+v", a)
	}
	if x := target(t, res, TargetExactCopy); x.Pass != nil || x.Reason == "" {
		t.Errorf("exact-copy target without holdout should be undecided: %+v", x)
	}
	res, _ = Flows(fs, fs, Options{NoAudit: true, NoDownstream: true})
	if res.PrivacyAudit != nil {
		t.Error("NoAudit still audited")
	}
}
