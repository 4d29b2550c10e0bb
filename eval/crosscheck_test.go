package eval

import (
	"math"
	"testing"

	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func readFlows(t *testing.T, rel string) []trace.Flow {
	t.Helper()
	fs, st, _, err := trace.ReadAllFlows(testutil.SharedData(t, rel), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalSkipped() != 0 {
		t.Fatalf("%s: %d records skipped", rel, st.TotalSkipped())
	}
	return fs
}

// TestCrossCheckCTU reproduces the project's reference figures on two days
// of real CTU traffic: day 2 against day 1 exactly (to the three decimals
// given), and the two reference generators within sampling noise.
func TestCrossCheckCTU(t *testing.T) {
	day1 := readFlows(t, "ctu-normal-zeek/ctu-normal-40-day1.flows.ugr16.csv")
	day2 := readFlows(t, "ctu-normal-zeek/ctu-normal-42-day2.flows.ugr16.csv")
	check := func(name string, f *Fidelity, jsd, emd, joint, tolJSD, tolEMD, tolJoint float64) {
		t.Helper()
		t.Logf("%s: mean JSD %.4f, mean normalised EMD %.4f, mean joint TVD %.4f", name, f.MeanJSD, f.MeanEMDNormalized, f.MeanJointTVD())
		if math.Abs(f.MeanJSD-jsd) > tolJSD || math.Abs(f.MeanEMDNormalized-emd) > tolEMD || math.Abs(f.MeanJointTVD()-joint) > tolJoint {
			t.Errorf("%s: got %.4f / %.4f / %.4f, reference %.3f / %.4f / %.3f", name, f.MeanJSD, f.MeanEMDNormalized, f.MeanJointTVD(), jsd, emd, joint)
		}
	}
	res, err := Flows(day1, day2, Options{NoDownstream: true, NoDistributions: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	check("day 2 vs day 1", &res.Fidelity, 0.177, 0.100, 0.407, 0.0005, 0.0005, 0.0005)
	// The references, at several seeds: sampling noise only.
	for seed := int64(1); seed <= 3; seed++ {
		boot, _ := Flows(day1, reference.BootstrapFlows(day1, len(day1), seed), Options{NoBaselines: true, NoDownstream: true, NoDistributions: true})
		check("bootstrap", &boot.Fidelity, 0.035, 0.0016, 0.077, 0.003, 0.003, 0.006)
		marg, _ := Flows(day1, reference.MarginalFlows(day1, len(day1), seed), Options{NoBaselines: true, NoDownstream: true, NoDistributions: true})
		check("marginal", &marg.Fidelity, 0.036, 0.0018, 0.393, 0.003, 0.003, 0.012)
	}
}
