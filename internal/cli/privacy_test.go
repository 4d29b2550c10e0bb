package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRoot(&out, &errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

func TestPrivacyCommandMNIST(t *testing.T) {
	// The TensorFlow Privacy MNIST tutorial setting: ε = 3.01 (classic).
	out, _, err := runCLI(t, "privacy", "--records", "60000", "--batch", "256", "--noise", "1.1",
		"--epochs", "60", "--count-noise", "0", "--conversion", "classic", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r privacyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if math.Abs(r.Epsilon-3.01) > 0.005 || r.IterationsPerChunk != 14063 || r.TotalSteps != 14063 || r.CountReleases != 0 {
		t.Errorf("report %+v", r)
	}
	if r.Conversion != "classic" || r.EpsilonClassic != r.Epsilon {
		t.Errorf("conversion %q: ε %v, classic %v", r.Conversion, r.Epsilon, r.EpsilonClassic)
	}
	// Text output, default (Balle et al.) conversion, is tighter.
	out, _, err = runCLI(t, "privacy", "--records", "60000", "--batch", "256", "--noise", "1.1",
		"--epochs", "60", "--count-noise", "0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "balle2020 conversion") || !strings.Contains(out, "ε = 2.59") {
		t.Errorf("text output:\n%s", out)
	}
}

func TestPrivacyCommandChunksAndInverse(t *testing.T) {
	out, _, err := runCLI(t, "privacy", "--records", "20000", "--batch", "100", "--noise", "1.5",
		"--steps", "400", "--d-rounds", "5", "--chunks", "4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r privacyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.StepsPerChunk != 2000 || r.TotalSteps != 8000 || r.CountReleases != 4 || r.SamplingRate != 0.005 {
		t.Errorf("report %+v", r)
	}
	// The inverse: asking for that ε gives back σ ≈ 1.5.
	out, _, err = runCLI(t, "privacy", "--records", "20000", "--batch", "100", "--epsilon",
		jsonNumber(r.Epsilon), "--steps", "400", "--d-rounds", "5", "--chunks", "4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var inv privacyReport
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	if math.Abs(inv.NoiseMultiplier-1.5) > 1e-4 || inv.Epsilon > r.Epsilon*(1+1e-9) {
		t.Errorf("inverse: σ = %v (want 1.5), ε = %v (target %v)", inv.NoiseMultiplier, inv.Epsilon, r.Epsilon)
	}
}

func jsonNumber(f float64) string { b, _ := json.Marshal(f); return string(b) }

func TestPrivacyCommandErrorsAndWarnings(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--records", "100", "--batch", "10", "--steps", "5"}, "noise"},
		{[]string{"--records", "100", "--batch", "10", "--noise", "1"}, "steps"},
		{[]string{"--records", "100", "--batch", "10", "--noise", "1", "--epsilon", "2", "--steps", "5"}, "noise"},
		{[]string{"--records", "100", "--batch", "200", "--noise", "1", "--steps", "5"}, "--batch"},
		{[]string{"--records", "100", "--batch", "10", "--noise", "-1", "--steps", "5"}, "--noise"},
		{[]string{"--records", "100", "--batch", "10", "--noise", "1", "--steps", "5", "--delta", "0"}, "--delta"},
		{[]string{"--records", "100", "--batch", "10", "--noise", "1", "--steps", "5", "--conversion", "x"}, "--conversion"},
		{[]string{"--records", "100", "--batch", "10", "--epsilon", "0.5", "--steps", "5", "--count-noise", "0.2"}, "unreachable"},
	} {
		_, _, err := runCLI(t, append([]string{"privacy"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want mention of %q", c.args, err, c.want)
		}
	}
	out, _, err := runCLI(t, "privacy", "--records", "1000", "--batch", "10", "--noise", "1", "--steps", "5", "--delta", "0.01", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1/records") {
		t.Errorf("no warning for δ ≥ 1/N in %s", out)
	}
}
