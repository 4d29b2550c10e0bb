package report

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/trace"
)

func genFlows(seed uint64, n int) []trace.Flow {
	r := rand.New(rand.NewPCG(seed, 1))
	fs := make([]trace.Flow, n)
	for i := range fs {
		pkt := 1 + uint64(r.ExpFloat64()*r.ExpFloat64()*20)
		lab := "background"
		if r.IntN(8) == 0 {
			lab = "blacklist"
		}
		fs[i] = trace.Flow{
			Start: 1_458_298_072_000_000 + int64(i)*1500, Dur: int64(r.ExpFloat64() * 2e6),
			Src: uint32(r.IntN(300)) * 7919, Dst: uint32(r.IntN(60)) * 104729,
			SrcPort: uint16(1024 + r.IntN(60000)), DstPort: []uint16{80, 443, 53, 22, 25, 8080}[r.IntN(6)],
			Proto: []uint8{6, 6, 17, 1}[r.IntN(4)], Packets: pkt, Bytes: pkt * uint64(40+r.IntN(1400)), Label: lab,
		}
	}
	return fs
}

var (
	sampleOnce sync.Once
	sampleRes  *eval.Result
	sampleErr  error
)

// sampleResult evaluates two generated traces once per test binary; the
// result is shared read-only.
func sampleResult(t testing.TB) *eval.Result {
	sampleOnce.Do(func() { sampleRes, sampleErr = makeSample() })
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return sampleRes
}

func makeSample() (*eval.Result, error) {
	return eval.Flows(genFlows(1, 2000), genFlows(2, 1800), eval.Options{Seed: 1, HoldoutFlows: genFlows(3, 500),
		Privacy: &eval.PrivacyInfo{Epsilon: 3.5, Delta: 1e-5, Noise: 1.2, Clip: 1, Steps: 4000}})
}

// external matches anything that would make a browser fetch a resource;
// XML namespace names (http://www.w3.org/...) are identifiers, not fetched.
var external = regexp.MustCompile(`(?i)<script|<link|<img|<iframe|@import|url\(|src=|https?://[^"' ]*`)

func externalRef(s string) string {
	for _, m := range external.FindAllString(s, -1) {
		if !strings.HasPrefix(m, "http://www.w3.org/") {
			return m
		}
	}
	return ""
}

func TestWriteIsSelfContained(t *testing.T) {
	dir := t.TempDir()
	res := sampleResult(t)
	if err := Write(dir, Input{Result: res, RealName: "real.csv", SyntheticName: "syn.csv"}); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	if m := externalRef(s); m != "" {
		t.Errorf("report references an external resource: %q", m)
	}
	for _, want := range []string{`id="metrics"`, "mean joint TVD", "bootstrap (floor)", "Spearman", "Count-Min", "popularity", "Differential privacy", "3.5000", "real.csv", `id="targets-table"`, "Memorisation audit", "membership-inference AUC", "✔ pass",
		`id="address-table"`, "distinct destination IPs", "share of bytes of the top 10 source IPs", `id="fig-address_concentration"`,
		"split half (no copy)", fmtF(res.Baselines.SplitHalf.MeanJointTVD())} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	nsvg := strings.Count(s, "<svg")
	figs, _ := Figures(res)
	if nsvg != len(figs) || nsvg < 9 {
		t.Errorf("%d inline SVGs, %d figures; want one per figure, at least 9 (5 CDFs, 2 bars, 2 rank curves)", nsvg, len(figs))
	}
	for _, f := range figs {
		b, err := os.ReadFile(filepath.Join(dir, PlotsDir, f.Name+".png"))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("plots/%s.png missing or not a PNG (%v)", f.Name, err)
		}
		if !strings.Contains(s, `href="plots/`+f.Name+`.png"`) {
			t.Errorf("report does not link plots/%s.png", f.Name)
		}
	}
	back, err := eval.ReadResult(filepath.Join(dir, MetricsFile))
	if err != nil || back.MeanJSD != res.MeanJSD {
		t.Fatalf("metrics.json round trip: %v", err)
	}
	// Atomic writes leave no temporary files behind.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestRenderMinimalResult(t *testing.T) {
	res, err := eval.Packets(
		[]trace.Packet{{TS: 0, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 60}, {TS: 5, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 1500}},
		[]trace.Packet{{TS: 0, Src: 4, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 60}},
		eval.Options{NoBaselines: true, NoDistributions: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, Input{Result: res}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if !strings.Contains(s, "pkt_len_proto") || strings.Contains(s, "bootstrap (floor)") || !strings.Contains(s, "Skipped: packet traces") {
		t.Errorf("unexpected packet report:\n%s", s)
	}
	if err := Write(t.TempDir(), Input{}); err == nil {
		t.Error("Write without a result should fail")
	}
}

func TestPositionBetweenReferences(t *testing.T) {
	for _, c := range []struct {
		syn, boot, marg, want float64
		known                 bool
	}{
		{0.4, 0.1, 0.7, 0.5, true},
		{0.1, 0.1, 0.7, 1, true},
		{0.9, 0.1, 0.7, -1.0 / 3, true},
		{0.03, 0.035, 0.036, 0, false},
		// The marginal sampler below the floor: both are noise.
		{0.0324, 0.0082, 0.0058, 0, false},
	} {
		got, ok := positionOf(c.syn, c.boot, c.marg)
		if ok != c.known || (ok && (got-c.want > 1e-12 || c.want-got > 1e-12)) {
			t.Errorf("positionOf(%v, %v, %v) = %v, %v; want %v, %v", c.syn, c.boot, c.marg, got, ok, c.want, c.known)
		}
	}
}

// Each target is rendered with its own mark: a failed target must not show
// as passed.
func TestTargetMarks(t *testing.T) {
	res := *sampleResult(t)
	yes, no := true, false
	v := 0.1
	res.Targets = []eval.Target{
		{Name: "a", Description: "target A", Value: &v, Pass: &yes},
		{Name: "b", Description: "target B", Value: &v, Pass: &no},
		{Name: "c", Description: "target C", Reason: "cannot tell"},
	}
	var b bytes.Buffer
	if err := Render(&b, Input{Result: &res}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	i := strings.Index(s, `id="targets-table"`)
	rows := strings.Split(s[i:strings.Index(s[i:], "</table>")+i], "<tr>")
	var got []string
	for _, r := range rows[2:] { // skip the text before the first row and the header
		switch {
		case strings.Contains(r, "✔ pass"):
			got = append(got, "pass")
		case strings.Contains(r, "✘ fail"):
			got = append(got, "fail")
		case strings.Contains(r, "not judged: cannot tell"):
			got = append(got, "n/a")
		}
	}
	if strings.Join(got, ",") != "pass,fail,n/a" {
		t.Errorf("marks %v, want pass,fail,n/a", got)
	}
}

// Degenerate traces (one record; every value equal; zeros on log axes)
// still give every figure.
func TestTinyTraceReport(t *testing.T) {
	one := []trace.Flow{{Start: 5, Src: 1, Dst: 2, DstPort: 80, Proto: 6}}
	res, err := eval.Flows(one, one, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	figs, err := Figures(res)
	if err != nil || len(figs) != 11 {
		t.Errorf("one flow record: %d figures (%v), want 11 (10 distributions, the address concentration)", len(figs), err)
	}
	if err := Write(t.TempDir(), Input{Result: res}); err != nil {
		t.Fatal(err)
	}
	ps := []trace.Packet{{TS: 1, Len: 40}}
	res, err = eval.Packets(ps, ps, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	figs, err = Figures(res)
	if err != nil || len(figs) != 9 {
		t.Errorf("one packet: %d figures (%v), want 9", len(figs), err)
	}
	if err := Write(t.TempDir(), Input{Result: res}); err != nil {
		t.Fatal(err)
	}
}

// The protocol table lists every check with both traces' shares, the
// "all" row and the target's mark.
func TestProtocolTable(t *testing.T) {
	for _, kind := range []string{"flows", "packets"} {
		var res *eval.Result
		var err error
		if kind == "flows" {
			res, err = eval.Flows(genFlows(1, 300), genFlows(2, 300), eval.Options{NoDownstream: true, NoAudit: true})
		} else {
			ps := []trace.Packet{{TS: 1, Src: 10 << 24, Dst: 11 << 24, SrcPort: 1, DstPort: 80, Proto: 6, Len: 40, TTL: 9, TCPFlags: 16}}
			res, err = eval.Packets(ps, append(ps, trace.Packet{TS: 2, Src: 10 << 24, Dst: 11 << 24, Proto: 6, Len: 40}), eval.Options{NoDownstream: true, NoAudit: true})
		}
		if err != nil || res.Protocol == nil {
			t.Fatalf("%s: %v, protocol %v", kind, err, res.Protocol)
		}
		var b bytes.Buffer
		if err := Render(&b, Input{Result: res}); err != nil {
			t.Fatal(err)
		}
		s := b.String()
		i := strings.Index(s, `id="protocol-table"`)
		if i < 0 {
			t.Fatalf("%s: no protocol table", kind)
		}
		table := s[i : i+strings.Index(s[i:], "</table>")]
		if n := strings.Count(table, "<tr"); n != len(res.Protocol.Checks)+2 {
			t.Errorf("%s: %d rows, want %d checks, all and the header", kind, n, len(res.Protocol.Checks))
		}
		for _, c := range res.Protocol.Checks {
			if !strings.Contains(table, "<td class=\"l\">"+c.Name+"</td>") {
				t.Errorf("%s: table lacks check %s", kind, c.Name)
			}
		}
		if got := strings.Contains(table, "real packets"); got != (kind == "packets") {
			t.Errorf("%s: packet columns shown: %v", kind, got)
		}
		if kind == "packets" {
			// The real packet passes everything; the second synthetic one
			// has no ports and no TCP flags.
			if !strings.Contains(table, "<td>100.00%</td><td>50.00%</td><td>100.00%</td><td>50.00%</td>") || !strings.Contains(s, `<span class="fail">✘ fail</span> synthetic flows passing`) {
				t.Errorf("packets: shares or mark wrong:\n%s", table)
			}
		}
		// The handshake table, for packet traces only: the synthetic
		// trace's second packet (no flags) opens nothing.
		if got := strings.Contains(s, `id="handshake-table"`); got != (kind == "packets") {
			t.Errorf("%s: handshake table shown: %v", kind, got)
		}
		if kind == "packets" && !strings.Contains(s, `<tr><td class="l">synthetic</td><td>0</td><td>0</td><td>0</td><td>0</td></tr>`) {
			t.Errorf("packets: handshake counts wrong")
		}
	}
}

// TestSubsampleNote shows the subsample beside the sections that used it,
// and only there.
func TestSubsampleNote(t *testing.T) {
	res, err := eval.Flows(genFlows(1, 2000), genFlows(2, 1800), eval.Options{Seed: 1, HoldoutFlows: genFlows(3, 500), SubsampleLimit: 400})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, Input{Result: res, RealName: "real.csv", SyntheticName: "syn.csv"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, id := range []string{"downstream", "audit"} {
		i := strings.Index(s, `<h2 id="`+id+`">`)
		j := strings.Index(s, `id="`+id+`-subsample"`)
		if i < 0 || j < i {
			t.Errorf("no subsample note after the %s heading", id)
		}
	}
	if !strings.Contains(s, "synthetic 400 of 1,800") {
		t.Error("report does not give the synthetic subsample's size")
	}
	back, err := eval.ReadResult(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if back.Subsample == nil || back.Subsample.Limit != 400 || len(back.Subsample.Sides) != 3 {
		t.Errorf("metrics.json subsample record %+v", back.Subsample)
	}

	dir = t.TempDir()
	if err := Write(dir, Input{Result: sampleResult(t), RealName: "real.csv", SyntheticName: "syn.csv"}); err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "-subsample") {
		t.Error("subsample note in a report whose evaluation used none")
	}
}

// Checkpoint scores in the result give the selection table and figure;
// a result without them has neither.
func TestSelectionSection(t *testing.T) {
	res := *sampleResult(t)
	var b bytes.Buffer
	if err := Render(&b, Input{Result: &res}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `id="selection"`) {
		t.Error("a selection section without checkpoint scores")
	}
	res.CheckpointSelection = []eval.ChunkSelection{
		{Chunk: 0, ValidationFlows: 180, Chosen: 200, Scores: []eval.CheckpointScore{
			{Iteration: 100, Score: 0.4, Seconds: 0.2}, {Iteration: 200, Score: 0.3, Seconds: 0.4}, {Iteration: 300, Score: 0.35, Seconds: 0.3}}},
		{Chunk: 1, ValidationFlows: 90, Chosen: 50, Scores: []eval.CheckpointScore{{Iteration: 50, Score: 0.5}}},
	}
	rows := SelectionRows(&res)
	if len(rows) != 2 || rows[0].Chosen.Iteration != 200 || rows[0].Chosen.Score != 0.3 || rows[0].Last.Iteration != 300 || rows[0].Checkpoints != 3 || math.Abs(rows[0].Seconds-0.3) > 1e-9 {
		t.Errorf("selection rows %+v", rows)
	}
	b.Reset()
	if err := Render(&b, Input{Result: &res}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="selection-table"`, `id="fig-checkpoint_selection"`, "<td>200</td><td>0.3000</td><td>300</td><td>0.3500</td>"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %s", want)
		}
	}
}

// The joint histograms no generation pass calibrates are shown beside
// the mean's, marked as not in it: td_byt and its companions for flow
// records, dstport_pkt_len for a capture; a result without them (an
// older metrics.json) shows none.
func TestExtraJointRows(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, Input{Result: sampleResult(t)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "td_byt (not in the mean)") {
		t.Error("the flow report lacks td_byt (not in the mean)")
	}
	pk := []trace.Packet{{TS: 0, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 60}, {TS: 5, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 1500}}
	res, err := eval.Packets(pk, pk[:1], eval.Options{NoBaselines: true, NoDistributions: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range Rows(res) {
		if r.Group == ExtraJointGroup {
			n++
			if r.Name != "dstport_pkt_len" || r.Synthetic != res.JointExtra["dstport_pkt_len"] {
				t.Errorf("extra row %+v, want dstport_pkt_len at %v", r, res.JointExtra["dstport_pkt_len"])
			}
		}
	}
	if n != 1 {
		t.Errorf("%d extra joint rows for a capture, want 1", n)
	}
	res.JointExtra = nil // as read from a metrics.json written before the pair
	for _, r := range Rows(res) {
		if r.Group == ExtraJointGroup {
			t.Errorf("row %+v from a result without extra pairs", r)
		}
	}
}
