package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/internal/atomicfile"
)

// File names inside a run directory.
const (
	MetricsFile = "metrics.json"
	ReportFile  = "report.html"
	PlotsDir    = "plots"
)

// Input is what a report shows.
type Input struct {
	Title         string // page title; a default is used when empty
	RealName      string // where the real trace came from (shown, optional)
	SyntheticName string // where the synthetic trace came from (optional)
	Result        *eval.Result
	// Run describes the pipeline run behind the result (optional).
	Run *RunInfo
}

// Write writes metrics.json, report.html and plots/*.png into dir
// (created if needed), each file atomically.
func Write(dir string, in Input) error {
	if in.Result == nil {
		return fmt.Errorf("report: no result to write")
	}
	if err := os.MkdirAll(filepath.Join(dir, PlotsDir), 0o755); err != nil {
		return err
	}
	js, err := in.Result.JSON()
	if err != nil {
		return fmt.Errorf("report: encode metrics: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, MetricsFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	figs, err := Figures(in.Result)
	if err != nil {
		return err
	}
	runFigs, err := RunFigures(in.Run)
	if err != nil {
		return err
	}
	selFigs, err := SelectionFigures(in.Result)
	if err != nil {
		return err
	}
	runFigs = append(runFigs, selFigs...)
	for _, f := range append(append([]Figure(nil), figs...), runFigs...) {
		if err := atomicfile.WriteFile(filepath.Join(dir, PlotsDir, f.Name+".png"), f.PNG, 0o644); err != nil {
			return err
		}
	}
	return atomicfile.Write(filepath.Join(dir, ReportFile), 0o644, func(w io.Writer) error {
		return render(w, in, figs, runFigs)
	})
}

// Render writes the HTML report to w.
func Render(w io.Writer, in Input) error {
	if in.Result == nil {
		return fmt.Errorf("report: no result to render")
	}
	figs, err := Figures(in.Result)
	if err != nil {
		return err
	}
	runFigs, err := RunFigures(in.Run)
	if err != nil {
		return err
	}
	selFigs, err := SelectionFigures(in.Result)
	if err != nil {
		return err
	}
	return render(w, in, figs, append(runFigs, selFigs...))
}

// MetricRow is one line of the metric table: the synthetic trace's value,
// the two reference generators' values, and where the synthetic value lies
// between them.
type MetricRow struct {
	Group, Name            string
	Unit                   string // the unit of the values ("" for none)
	Synthetic              float64
	Bootstrap, Marginal    float64
	HasBaselines           bool
	Position               float64 // 0 = as the marginal sampler, 1 = as the bootstrap floor
	PositionKnown, Primary bool
	// Ratio is the synthetic value over the bootstrap floor (0 when the
	// floor is 0); Worse marks a field clearly above its floor.
	Ratio float64
	Worse bool
	// SplitHalf is the split-half reference's value (two halves of the
	// real trace sharing no flow; eval.Baselines.SplitHalf), when drawn.
	SplitHalf    float64
	HasSplitHalf bool
}

// A field is clearly worse than its floor when its value is at least
// worseRatio times the floor's and at least worseGap above it.
const (
	worseRatio = 2
	worseGap   = 0.01
)

// judged reports whether a row's values are comparable across fields
// (unitless divergences and distances): raw EMDs are not.
func (r MetricRow) judged() bool {
	return r.HasBaselines && r.Group != "summary" && r.Group != "EMD"
}

// WorstFields returns up to n fields clearly above their bootstrap floor,
// the furthest (by ratio to the floor) first.
func WorstFields(rows []MetricRow, n int) []MetricRow {
	var out []MetricRow
	for _, r := range rows {
		if r.Worse && r.judged() {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ratio > out[j].Ratio })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// positionOf returns where syn lies from marginal (0) to bootstrap (1),
// and whether the two references are far enough apart for that to mean
// anything (at least 25% of the larger one).
//
// The marginal sampler must be the worse of the two: where it scores
// below the floor, both are sampling noise and a position between them
// means nothing.
func positionOf(syn, boot, marg float64) (float64, bool) {
	gap := marg - boot
	if !(gap > 0) || gap < 0.25*math.Max(math.Abs(marg), math.Abs(boot)) {
		return 0, false
	}
	return (marg - syn) / gap, true
}

// Rows returns the metric table of a result.
func Rows(res *eval.Result) []MetricRow {
	var rows []MetricRow
	add := func(group, name string, get func(f *eval.Fidelity) float64, primary bool) {
		r := MetricRow{Group: group, Name: name, Unit: unitOf(group, name), Synthetic: get(&res.Fidelity), Primary: primary}
		if b := res.Baselines; b != nil && b.Bootstrap != nil && b.Marginal != nil {
			r.HasBaselines = true
			r.Bootstrap, r.Marginal = get(b.Bootstrap), get(b.Marginal)
			r.Position, r.PositionKnown = positionOf(r.Synthetic, r.Bootstrap, r.Marginal)
			if r.Bootstrap > 0 {
				r.Ratio = r.Synthetic / r.Bootstrap
			}
			gap := r.Synthetic - r.Bootstrap
			if group == "EMD" { // in the field's unit: judge the ratio alone
				gap = math.Inf(1)
			}
			r.Worse = r.Synthetic >= worseRatio*r.Bootstrap && gap >= worseGap && r.Synthetic > 0
			if b.SplitHalf != nil {
				r.SplitHalf, r.HasSplitHalf = get(b.SplitHalf), true
			}
		}
		rows = append(rows, r)
	}
	add("summary", "mean JSD", func(f *eval.Fidelity) float64 { return f.MeanJSD }, true)
	add("summary", "mean normalised EMD", func(f *eval.Fidelity) float64 { return f.MeanEMDNormalized }, true)
	add("summary", "mean joint TVD", func(f *eval.Fidelity) float64 { return f.MeanJointTVD() }, true)
	for _, k := range eval.JSDFields() {
		add("JSD", k, func(f *eval.Fidelity) float64 { return f.JSD[k] }, false)
	}
	for _, k := range eval.EMDFields(res.Kind) {
		add("EMD", k, func(f *eval.Fidelity) float64 { return f.EMD[k] }, false)
	}
	for _, k := range eval.EMDFields(res.Kind) {
		add("normalised EMD", k, func(f *eval.Fidelity) float64 { return f.EMDNormalized[k] }, false)
	}
	for _, k := range eval.JointNames(res.Kind) {
		add("joint TVD", k, func(f *eval.Fidelity) float64 { return f.Joint[k] }, false)
	}
	// The pairs no generation pass calibrates, where the result has them
	// (older metrics.json files of captures do not).
	for _, k := range eval.ExtraJointNames(res.Kind) {
		if _, ok := res.Fidelity.JointExtra[k]; ok {
			add(ExtraJointGroup, k, func(f *eval.Fidelity) float64 { return f.JointExtra[k] }, false)
		}
	}
	return rows
}

// ExtraJointGroup is the group of the metric rows of the joint
// histograms reported beside the mean, not in it (eval.Fidelity.JointExtra).
const ExtraJointGroup = "joint TVD, not in the mean"

// unitOf returns the unit of a metric row's values.
func unitOf(group, name string) string {
	switch {
	case group == "JSD" || name == "mean JSD":
		return "nats"
	case group == "EMD":
		switch name {
		case "ts", "td":
			return "s"
		case "pkt":
			return "packets"
		case "byt", "pkt_len":
			return "bytes"
		case "flow_size":
			return "packets"
		}
	}
	return "" // normalised EMD and TVD have no unit
}

type page struct {
	Input
	Title   string
	R       *eval.Result
	Verdict *eval.Verdict
	Rows    []MetricRow
	Worst   []MetricRow
	// AboveFloor is set when some position is above 100%.
	AboveFloor bool
	Figures    []figView
	RunFigures []figView
	// Selection and SelectionFigures show the checkpoint selection.
	Selection        []SelectionRow
	SelectionFigures []figView
	Addresses        []AddressRow
	JSON             string
}

type figView struct {
	Name, Caption string
	SVG           template.HTML
}

func render(w io.Writer, in Input, figs, runFigs []Figure) error {
	p := page{Input: in, Title: in.Title, R: in.Result, Rows: Rows(in.Result), Verdict: in.Result.Verdict}
	if p.Verdict == nil { // metrics.json from an older version
		_, p.Verdict = eval.Judge(in.Result)
	}
	p.Worst = WorstFields(p.Rows, 3)
	for _, r := range p.Rows {
		if r.PositionKnown && r.Position > 1 {
			p.AboveFloor = true
		}
	}
	if p.Title == "" {
		p.Title = "netshare fidelity report"
	}
	for _, f := range figs {
		// The SVG comes from gonum/plot, drawn from numbers only.
		p.Figures = append(p.Figures, figView{Name: f.Name, Caption: f.Caption, SVG: template.HTML(f.SVG)})
	}
	for _, f := range runFigs {
		v := figView{Name: f.Name, Caption: f.Caption, SVG: template.HTML(f.SVG)}
		if f.Name == "checkpoint_selection" {
			p.SelectionFigures = append(p.SelectionFigures, v)
		} else {
			p.RunFigures = append(p.RunFigures, v)
		}
	}
	p.Selection = SelectionRows(in.Result)
	p.Addresses = AddressRows(in.Result)
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func fmtF(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e5 || math.Abs(v) < 1e-3:
		return fmt.Sprintf("%.3e", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func pct(v float64) string {
	if a := math.Abs(v); a != 0 && a < 0.1 {
		return fmt.Sprintf("%.2f%%", 100*v)
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

var funcs = template.FuncMap{
	"f":    fmtF,
	"f3":   func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"dur":  Duration,
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"yaml": trimYAML,
	// reason is a verdict's summary without its leading status.
	"reason": func(v *eval.Verdict) string { return strings.TrimPrefix(v.Summary, v.Status+": ") },
	"pct":    pct,
	"plural": func(n int, noun string) string { return eval.Plural(n, noun) },
	"ratio": func(v float64) string {
		if v >= 10 {
			return fmt.Sprintf("%.0f×", v)
		}
		return fmt.Sprintf("%.1f×", v)
	},
	"deref": func(b *bool) bool { return b != nil && *b },
	"share": func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }, // a pass rate, two decimals
	// pos shows a position between the references, saturating far outside.
	"pos": func(v float64) string {
		switch {
		case v > 2:
			return "> 200%"
		case v < -1:
			return "< −100%"
		}
		return pct(v)
	},
	"barpct": func(v float64) string {
		return fmt.Sprintf("%.1f", 100*clamp01(v))
	},
	"rho": func(p *float64) string {
		if p == nil {
			return "undefined"
		}
		return fmt.Sprintf("%.3f", *p)
	},
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

var pageTmpl = template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))
