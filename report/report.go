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
	for _, f := range figs {
		if err := atomicfile.WriteFile(filepath.Join(dir, PlotsDir, f.Name+".png"), f.PNG, 0o644); err != nil {
			return err
		}
	}
	return atomicfile.Write(filepath.Join(dir, ReportFile), 0o644, func(w io.Writer) error {
		return render(w, in, figs)
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
	return render(w, in, figs)
}

// MetricRow is one line of the metric table: the synthetic trace's value,
// the two reference generators' values, and where the synthetic value lies
// between them.
type MetricRow struct {
	Group, Name            string
	Synthetic              float64
	Bootstrap, Marginal    float64
	HasBaselines           bool
	Position               float64 // 0 = as the marginal sampler, 1 = as the bootstrap floor
	PositionKnown, Primary bool
}

// positionOf returns where syn lies from marginal (0) to bootstrap (1),
// and whether the two references are far enough apart for that to mean
// anything (at least 25% of the larger one).
func positionOf(syn, boot, marg float64) (float64, bool) {
	gap := marg - boot
	if math.Abs(gap) < 0.25*math.Max(math.Abs(marg), math.Abs(boot)) || gap == 0 {
		return 0, false
	}
	return (marg - syn) / gap, true
}

// Rows returns the metric table of a result.
func Rows(res *eval.Result) []MetricRow {
	var rows []MetricRow
	add := func(group, name string, get func(f *eval.Fidelity) float64, primary bool) {
		r := MetricRow{Group: group, Name: name, Synthetic: get(&res.Fidelity), Primary: primary}
		if b := res.Baselines; b != nil && b.Bootstrap != nil && b.Marginal != nil {
			r.HasBaselines = true
			r.Bootstrap, r.Marginal = get(b.Bootstrap), get(b.Marginal)
			r.Position, r.PositionKnown = positionOf(r.Synthetic, r.Bootstrap, r.Marginal)
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
	return rows
}

type page struct {
	Input
	Title   string
	R       *eval.Result
	Rows    []MetricRow
	Figures []figView
	JSON    string
}

type figView struct {
	Name, Caption string
	SVG           template.HTML
}

func render(w io.Writer, in Input, figs []Figure) error {
	p := page{Input: in, Title: in.Title, R: in.Result, Rows: Rows(in.Result)}
	if p.Title == "" {
		p.Title = "netshare fidelity report"
	}
	for _, f := range figs {
		// The SVG comes from gonum/plot, drawn from numbers only.
		p.Figures = append(p.Figures, figView{Name: f.Name, Caption: f.Caption, SVG: template.HTML(f.SVG)})
	}
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
	"f":     fmtF,
	"f3":    func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"pct":   pct,
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
