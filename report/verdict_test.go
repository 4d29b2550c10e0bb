package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/eval/reference"
)

// clone returns a deep copy of the shared sample result.
func clone(t *testing.T, r *eval.Result) *eval.Result {
	t.Helper()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var c eval.Result
	if err := json.Unmarshal(js, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func renderString(t *testing.T, in Input) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The verdict is the first thing the report says after the trace sizes.
func TestReportVerdictAtTop(t *testing.T) {
	real := genFlows(1, 2000)
	one, err := eval.Flows(real, real[:1], eval.Options{Seed: 1, NoDownstream: true})
	if err != nil {
		t.Fatal(err)
	}
	s := renderString(t, Input{Result: one})
	if !strings.Contains(s, "1 synthetic record ") && !strings.Contains(s, "1 synthetic record.") {
		t.Errorf("singular not used:\n%s", metaLine(s))
	}
	if m := regexp.MustCompile(`[^0-9.,]1 [a-z -]*records`).FindString(s); m != "" {
		t.Errorf("report says %q", m)
	}
	v := verdictLine(t, s)
	if !strings.Contains(v, "v-not judged") || !strings.Contains(v, "under 10%") {
		t.Errorf("one-record verdict: %s", v)
	}
	copyRes, _ := eval.Flows(real, real, eval.Options{Seed: 1, NoDownstream: true})
	if v := verdictLine(t, renderString(t, Input{Result: copyRes})); !strings.Contains(v, "Verdict: copy") || !strings.Contains(v, "copy of the real trace") {
		t.Errorf("copy verdict: %s", v)
	}
	marg, _ := eval.Flows(real, reference.MarginalFlows(real, 1500, 2), eval.Options{Seed: 1, NoDownstream: true})
	if v := verdictLine(t, renderString(t, Input{Result: marg})); !strings.Contains(v, "Verdict: fail.</b> 1 of") {
		t.Errorf("marginal sampler verdict: %s", v)
	}
	// A metrics.json without a verdict (older versions) is judged when
	// rendered.
	old := clone(t, copyRes)
	old.Verdict = nil
	if v := verdictLine(t, renderString(t, Input{Result: old})); !strings.Contains(v, "Verdict: copy") {
		t.Errorf("verdict of an old result: %s", v)
	}
}

func metaLine(s string) string {
	i := strings.Index(s, `<p class="meta">`)
	j := strings.Index(s[i:], "</p>")
	return s[i : i+j]
}

// verdictLine returns the verdict paragraph, which must come before the
// first section.
func verdictLine(t *testing.T, s string) string {
	t.Helper()
	i := strings.Index(s, `id="verdict"`)
	if i < 0 || i > strings.Index(s, "<h2") {
		t.Fatalf("no verdict before the first section")
	}
	return s[i : i+strings.Index(s[i:], "</p>")]
}

// A marginal field far above its floor is marked, not passed off as
// "references alike", and listed among the worst fields.
func TestReportWorstFieldsAgainstFloor(t *testing.T) {
	res := clone(t, sampleResult(t))
	res.JSD["srcip"] = 0.211
	res.Baselines.Bootstrap.JSD["srcip"] = 0.060
	res.Baselines.Marginal.JSD["srcip"] = 0.061
	s := renderString(t, Input{Result: res})
	row := regexp.MustCompile(`<tr class="worse"><td class="l">JSD</td><td class="l">srcip</td>.*?</tr>`).FindString(s)
	if row == "" || !strings.Contains(row, "3.5× the floor") || strings.Contains(row, "references alike") {
		t.Errorf("srcip row: %q", row)
	}
	i := strings.Index(s, `id="worst"`)
	if i < 0 || i > strings.Index(s, "<h2") || !strings.Contains(s[i:i+strings.Index(s[i:], "</div>")], "JSD srcip</span>: 0.2110 against a bootstrap floor of 0.0600") {
		t.Errorf("worst fields list lacks srcip: %s", s[i:i+strings.Index(s[i:], "</div>")])
	}
	// A field near its floor stays "references alike".
	if rows := Rows(res); len(WorstFields(rows, 10)) == 0 {
		t.Error("no worst field")
	}
	for _, r := range Rows(res) {
		if r.Group == "JSD" && r.Name == "proto" && r.Worse {
			t.Errorf("proto marked worse: %+v", r)
		}
	}
}

// Positions above 100% come with the note on calibration.
func TestReportNoteAboveFloor(t *testing.T) {
	res := clone(t, sampleResult(t))
	note := `id="above-floor"`
	res.Joint[eval.MeanJointKey] = res.Baselines.Bootstrap.Joint[eval.MeanJointKey] / 2
	if s := renderString(t, Input{Result: res}); !strings.Contains(s, note) || !strings.Contains(s, "calibrated to the real trace's quantiles") {
		t.Error("no note for a position above 100%")
	}
	res.Joint[eval.MeanJointKey] = res.Baselines.Marginal.Joint[eval.MeanJointKey]
	for k := range res.Joint {
		res.Joint[k] = res.Baselines.Marginal.Joint[k]
	}
	for _, r := range Rows(res) {
		if r.PositionKnown && r.Position > 1 {
			t.Skip("another row is above 100% in the sample")
		}
	}
	if s := renderString(t, Input{Result: res}); strings.Contains(s, note) {
		t.Error("note shown without a position above 100%")
	}
}
