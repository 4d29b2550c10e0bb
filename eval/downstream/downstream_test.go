package downstream

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func TestCountMinNeverUnderestimates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	truth := map[uint64]uint64{}
	cms := NewCountMin(5, 50, 7)
	for i := 0; i < 5000; i++ {
		k := uint64(r.IntN(400))
		n := uint64(1 + r.IntN(3))
		truth[k] += n
		cms.Add(k, n)
	}
	for k, v := range truth {
		if e := cms.Estimate(k); e < v {
			t.Fatalf("key %d: estimate %d below true count %d", k, e, v)
		}
	}
	wide := NewCountMin(5, 1<<20, 7)
	for k, v := range truth {
		wide.Add(k, v)
	}
	exact := 0
	for k, v := range truth {
		if wide.Estimate(k) == v {
			exact++
		}
	}
	if exact != len(truth) {
		t.Errorf("a very wide sketch estimated %d of %d keys exactly", exact, len(truth))
	}
}

func TestHeavyHitterErrorShrinksWithWidth(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	counts := map[uint64]uint64{}
	for k := uint64(0); k < 2000; k++ {
		counts[k] = uint64(1 + r.ExpFloat64()*r.ExpFloat64()*50)
	}
	errs, keys, k := heavyHitterError(counts, 5, []float64{0.05, 0.2, 1, 20}, 0.1, 1)
	if keys != 2000 || k != 200 {
		t.Fatalf("keys %d top %d", keys, k)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i] > errs[i-1] {
			t.Errorf("error grew with width: %v", errs)
		}
	}
	if errs[0] <= 0 || errs[len(errs)-1] > 0.01 {
		t.Errorf("errors %v: want positive at small width, ≈0 at width 20×keys", errs)
	}
	// One key alone in a sketch is estimated exactly.
	if e, _, _ := heavyHitterError(map[uint64]uint64{9: 5}, 5, []float64{0.5}, 0.1, 1); e[0] != 0 {
		t.Errorf("single key error %v", e)
	}
}

// TestHeavyHitterErrorDependsOnTheCountsAlone relabels a trace's keys
// (the same counts on other keys) and wants the same error at every width,
// within 12%: the error must describe the trace's count profile, not the
// luck of where its keys hash. Averaged over 3 sketches, a relabelled
// trace came out up to 50% off at some widths.
func TestHeavyHitterErrorDependsOnTheCountsAlone(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	counts := map[uint64]uint64{}
	for k := uint64(0); k < 170; k++ {
		counts[k] = uint64(1 + r.ExpFloat64()*r.ExpFloat64()*r.ExpFloat64()*20)
	}
	counts[0] = 5000
	fracs := []float64{0.1, 0.2, 0.3, 0.5, 0.7, 0.9}
	want, _, _ := heavyHitterError(counts, 5, fracs, 0.1, 1)
	for trial := range 4 {
		other := map[uint64]uint64{}
		for k, v := range counts {
			other[k*2654435761+uint64(trial)*7919+1<<40] = v
		}
		got, _, _ := heavyHitterError(other, 5, fracs, 0.1, 1)
		for i := range fracs {
			if d := got[i] - want[i]; d > 0.12*want[i] || d < -0.12*want[i] {
				t.Errorf("relabelling %d, width fraction %g: error %.4f against %.4f", trial, fracs[i], got[i], want[i])
			}
		}
	}
}

// labelled returns flows whose class is determined by dstport and size,
// with anomalous flows (blacklist) being large and on unusual ports.
func labelled(r *rand.Rand, n int) []trace.Flow {
	fs := make([]trace.Flow, n)
	for i := range fs {
		f := trace.Flow{Start: int64(i) * 1000, Src: uint32(r.IntN(100)), Dst: uint32(r.IntN(30)), SrcPort: uint16(1024 + r.IntN(30000)), Proto: 6}
		switch c := r.IntN(10); {
		case c < 5:
			f.DstPort, f.Packets, f.Dur, f.Label = 443, uint64(5+r.IntN(20)), int64(r.IntN(2e6)), "background"
		case c < 8:
			f.DstPort, f.Proto, f.Packets, f.Dur, f.Label = 53, 17, 1, 0, "background"
		default:
			f.DstPort, f.Packets, f.Dur, f.Label = uint16(6000+r.IntN(10)), uint64(2000+r.IntN(5000)), int64(5e7+r.IntN(5e7)), "blacklist"
		}
		if r.IntN(10) == 0 { // some noise, so that models differ
			f.Label = []string{"background", "blacklist"}[r.IntN(2)]
		}
		f.Bytes = f.Packets * uint64(60+r.IntN(1000))
		fs[i] = f
	}
	return fs
}

func TestFlowsOnLabelledTraces(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	real, syn := labelled(r, 1500), labelled(r, 1500)
	rep := Flows(real, syn, Options{Seed: 1})
	tt := rep.TrafficType
	if tt.Skipped != "" {
		t.Fatalf("traffic type skipped: %s", tt.Skipped)
	}
	if len(tt.Models) < 5 || tt.Spearman == nil {
		t.Fatalf("traffic type: %d models, spearman %v", len(tt.Models), tt.Spearman)
	}
	for _, m := range tt.Models {
		t.Logf("%s: real %.3f synthetic %.3f", m.Name, m.Real, m.Synthetic)
		if m.Real < 0.85 || m.Synthetic < 0.85 {
			t.Errorf("%s: accuracy real %.3f synthetic %.3f on an easy task", m.Name, m.Real, m.Synthetic)
		}
	}
	if tt.MeanGap == nil || math.Abs(*tt.MeanGap-*meanGap(tt.Models)) > 1e-12 || *tt.MeanGap > 0.15 {
		t.Errorf("traffic type: mean accuracy gap %v, want the models' mean |real − synthetic|, small on an easy task", tt.MeanGap)
	}
	an := rep.Anomaly
	if an.Skipped != "" || len(an.Detectors) != 4 {
		t.Fatalf("anomaly: %+v", an)
	}
	if an.MeanGap == nil || math.Abs(*an.MeanGap-*meanGap(an.Detectors)) > 1e-12 {
		t.Errorf("anomaly: mean AUC gap %v, want the detectors' mean |real − synthetic|", an.MeanGap)
	}
	good := 0
	for _, d := range an.Detectors {
		if d.Real < 0 || d.Real > 1 || d.Synthetic < 0 || d.Synthetic > 1 {
			t.Errorf("%s: AUC out of [0,1]: %+v", d.Name, d)
		}
		if d.Real > 0.6 {
			good++
		}
	}
	// PCA reconstruction may miss anomalies that dominate a principal
	// direction (20% of these records are anomalous); the others must not.
	if good < 3 {
		t.Errorf("only %d detectors beat AUC 0.6 on blatant anomalies: %+v", good, an.Detectors)
	}
	if len(rep.Telemetry.Tasks) != 2 || len(rep.Telemetry.Tasks[0].Widths) != 6 {
		t.Fatalf("telemetry %+v", rep.Telemetry)
	}
	a, _ := json.Marshal(rep)
	b, _ := json.Marshal(Flows(real, syn, Options{Seed: 1}))
	if string(a) != string(b) {
		t.Error("two runs with one seed differ")
	}
}

// A generator that scrambles labels should rank below a faithful one on
// the traffic-type task.
func TestScrambledLabelsHurtSyntheticAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	real, syn := labelled(r, 1500), labelled(r, 1500)
	for i := range syn {
		syn[i].Label = []string{"background", "blacklist"}[r.IntN(2)]
	}
	tt := Flows(real, syn, Options{Seed: 1}).TrafficType
	if tt.Skipped != "" {
		t.Fatal(tt.Skipped)
	}
	var better int
	for _, m := range tt.Models {
		if m.Real > m.Synthetic+0.1 {
			better++
		}
	}
	if better < len(tt.Models)-1 {
		t.Errorf("only %d of %d models did clearly better trained on real data: %+v", better, len(tt.Models), tt.Models)
	}
}

func TestDegenerateLabelsAreSkipped(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	base := labelled(r, 600)
	set := func(fs []trace.Flow, f func(i int) string) []trace.Flow {
		out := append([]trace.Flow(nil), fs...)
		for i := range out {
			out[i].Label = f(i)
		}
		return out
	}
	cases := []struct {
		name      string
		real, syn []trace.Flow
		want      string
	}{
		{"no real labels", set(base, func(int) string { return "" }), base, "no labels"},
		{"one real class", set(base, func(int) string { return "background" }), base, "1 class"},
		{"tiny second class", set(base, func(i int) string {
			if i < 3 {
				return "blacklist"
			}
			return "background"
		}), base, "1 class"},
		{"unlabelled synthetic", base, set(base, func(int) string { return "" }), "no records labelled"},
		{"one synthetic class", base, set(base, func(int) string { return "blacklist" }), "only one"},
	}
	for _, c := range cases {
		rep := Flows(c.real, c.syn, Options{Seed: 1})
		if !strings.Contains(rep.TrafficType.Skipped, c.want) {
			t.Errorf("%s: skipped = %q, want it to mention %q", c.name, rep.TrafficType.Skipped, c.want)
		}
	}
	rep := Flows(cases[1].real, base, Options{Seed: 1})
	if !strings.Contains(rep.Anomaly.Skipped, "0 anomalous") {
		t.Errorf("anomaly without anomalous labels: %q", rep.Anomaly.Skipped)
	}
	if rep.Telemetry == nil || len(rep.Telemetry.Tasks) != 2 {
		t.Error("telemetry should run without labels")
	}
}

func TestPacketsSkipLabelTasks(t *testing.T) {
	ps := []trace.Packet{
		{TS: 1, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 60},
		{TS: 2, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: 6, Len: 60},
		{TS: 3, Src: 4, Dst: 5, SrcPort: 3, DstPort: 53, Proto: 17, Len: 80},
	}
	rep := Packets(ps, ps, Options{})
	if rep.TrafficType.Skipped == "" || rep.Anomaly.Skipped == "" {
		t.Error("label tasks should be skipped for packets")
	}
	tasks := rep.Telemetry.Tasks
	if len(tasks) != 2 || tasks[0].KeysReal != 2 || tasks[1].KeysReal != 2 {
		t.Fatalf("telemetry %+v", tasks)
	}
	for _, w := range tasks[0].Widths {
		if w.Real != w.Synthetic {
			t.Errorf("same trace gives different sketch errors: %+v", w)
		}
	}
}

func TestLabelClass(t *testing.T) {
	for l, want := range map[string]int{"blacklist": 1, "Malicious": 1, "anomaly-spam": 1, "Background": -1, "benign": -1, "normal": -1, "unlabeled": 0, "": 0, "victim": 0} {
		if got := LabelClass(l); got != want {
			t.Errorf("LabelClass(%q) = %d, want %d", l, got, want)
		}
	}
}

func TestSketchWithoutCounts(t *testing.T) {
	real := []trace.Flow{{Dst: 1, Packets: 3}, {Dst: 2, Packets: 1}}
	syn := []trace.Flow{{Dst: 1}, {Dst: 2}} // no packets at all
	tm := Flows(real, syn, Options{}).Telemetry
	if tm.Tasks[0].Skipped == "" || len(tm.Tasks[0].Widths) != 0 {
		t.Errorf("packet counting on a trace without packets: %+v", tm.Tasks[0])
	}
	if tm.Tasks[1].Skipped != "" || len(tm.Tasks[1].Widths) != 6 {
		t.Errorf("flow counting: %+v", tm.Tasks[1])
	}
	if _, err := json.Marshal(tm); err != nil {
		t.Error(err)
	}
}

func TestMeanGap(t *testing.T) {
	if g := meanGap(nil); g != nil {
		t.Errorf("no scores: %v, want nil", *g)
	}
	g := meanGap([]Score{{Real: 0.9, Synthetic: 0.8}, {Real: 0.7, Synthetic: 0.9}})
	if g == nil || math.Abs(*g-0.15) > 1e-12 {
		t.Errorf("mean gap %v, want 0.15", g)
	}
}

// Real scores closer than two standard errors of one accuracy on the test
// set are a tie; further apart they are an order.
func TestTiedNote(t *testing.T) {
	// Accuracy 0.99 on 3,000 records: two standard errors are 0.0036.
	if n := tiedNote([]float64{0.989, 0.991, 0.992}, 3000); n == "" {
		t.Error("scores 0.003 apart: no note")
	}
	if n := tiedNote([]float64{0.98, 0.99, 0.992}, 3000); n != "" {
		t.Errorf("scores 0.012 apart: %q", n)
	}
	if n := tiedNote([]float64{0.9}, 3000); n != "" {
		t.Errorf("one score: %q", n)
	}
}

// scans returns flows of which most are anomalous one-packet probes of
// zero duration to a few ports, the rest normal web flows of many sizes:
// the shape of a capture taken while a host was infected.
func scans(r *rand.Rand, n int) []trace.Flow {
	fs := make([]trace.Flow, n)
	for i := range fs {
		f := trace.Flow{Start: int64(i) * 1000, Src: uint32(r.IntN(50)), Dst: uint32(r.IntN(500)), SrcPort: uint16(49152 + r.IntN(16000)), Proto: 6}
		if r.IntN(10) < 6 {
			f.DstPort, f.Packets, f.Bytes, f.Label = []uint16{23, 445, 2323}[r.IntN(3)], 1, 60, "Malicious"
		} else {
			f.DstPort, f.Packets, f.Dur, f.Label = []uint16{80, 443}[r.IntN(2)], uint64(3+r.IntN(200)), int64(1e4+r.IntN(3e7)), "Benign"
			f.Bytes = f.Packets * uint64(60+r.IntN(1400))
		}
		fs[i] = f
	}
	return fs
}

// Where anomalous records are the majority, detectors fitted on every
// record learn them as the normal region and score AUCs below 0.5; fitted
// on the normal records, as the task fits them, they find the probes.
func TestAnomalyFitsOnNormalRecords(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	real, syn := scans(r, 3000), scans(r, 3000)
	an := Flows(real, syn, Options{Seed: 1}).Anomaly
	if an.Skipped != "" || len(an.Detectors) != 4 {
		t.Fatalf("anomaly: %+v", an)
	}
	if an.FitReal >= len(real)/2*6/10 || an.FitSynthetic >= len(syn)*6/10 {
		t.Errorf("fitted on %d real and %d synthetic records: more than the normal ones", an.FitReal, an.FitSynthetic)
	}
	for _, d := range an.Detectors {
		if d.Real < 0.8 || d.Synthetic < 0.8 {
			t.Errorf("%s: AUC real %.3f synthetic %.3f on probes among web flows", d.Name, d.Real, d.Synthetic)
		}
	}

	// A synthetic trace without normal labels cannot fit the detectors.
	for i := range syn {
		syn[i].Label = "Malicious"
	}
	an = Flows(real, syn, Options{Seed: 1}).Anomaly
	if !strings.Contains(an.Skipped, "synthetic trace has 0 normal records") {
		t.Errorf("synthetic trace without normal records: %q", an.Skipped)
	}
}

// The detectors' order is noise when their AUCs lie within test-set
// noise of each other or rest on a handful of anomalous records, and is
// not when they spread over many records.
func TestAUCTiedNote(t *testing.T) {
	for _, c := range []struct {
		auc        []float64
		npos, nneg int
		tied       bool
	}{
		{[]float64{0.80, 0.81, 0.805}, 200, 2000, true},
		{[]float64{0.60, 0.95, 0.75}, 200, 2000, false},
		{[]float64{0.999, 1, 0.998}, 5, 3000, true},
		{[]float64{0.60, 0.95, 0.75}, 2000, 12, true},
	} {
		note := aucTiedNote(c.auc, c.npos, c.nneg)
		if (note != "") != c.tied {
			t.Errorf("AUCs %v on %d+%d: note %q, want tied %v", c.auc, c.npos, c.nneg, note, c.tied)
		}
	}
	// The standard error shrinks with the test set and vanishes at AUC 1.
	if a, b := aucSE(0.8, 50, 50), aucSE(0.8, 500, 500); !(b < a && a < 0.1 && b > 0) {
		t.Errorf("SE at AUC 0.8: %.4f on 50+50, %.4f on 500+500", a, b)
	}
	if se := aucSE(1, 50, 50); se != 0 {
		t.Errorf("SE at AUC 1: %v", se)
	}
}

// The reference column: a reference with the real trace's counts scores
// the real trace's errors exactly, one with every count doubled the same
// (the error is relative), and one concentrated on a single destination
// scores otherwise.
func TestTelemetryReference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 9))
	real := labelled(r, 2000)
	for i := range real {
		real[i].Dst = uint32(1 + r.IntN(150))
	}
	rep := Flows(real, labelled(r, 2000), Options{Seed: 1})
	tm := rep.Telemetry
	FlowTelemetryReference(tm, real, Options{Seed: 1})
	for _, task := range tm.Tasks {
		for _, w := range task.Widths {
			if w.Bootstrap == nil || *w.Bootstrap != w.Real {
				t.Fatalf("%s width %g: reference %v on the real trace itself, want %v", task.Name, w.Fraction, w.Bootstrap, w.Real)
			}
		}
	}
	doubled := append(append([]trace.Flow(nil), real...), real...)
	FlowTelemetryReference(tm, doubled, Options{Seed: 1})
	one := append([]trace.Flow(nil), real...)
	for i := range one[:len(one)*9/10] {
		one[i].Dst = 7
	}
	pk := tm.Tasks[0]
	for _, w := range pk.Widths {
		if math.Abs(*w.Bootstrap-w.Real) > 1e-9*w.Real {
			t.Errorf("width %g: doubled counts score %v, want %v", w.Fraction, *w.Bootstrap, w.Real)
		}
	}
	FlowTelemetryReference(tm, one, Options{Seed: 1})
	same := 0
	for _, w := range tm.Tasks[0].Widths {
		if *w.Bootstrap == w.Real {
			same++
		}
	}
	if same == len(tm.Tasks[0].Widths) {
		t.Error("a reference on one heavy destination scored the real trace's errors")
	}
}
