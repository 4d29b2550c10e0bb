package eval

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/netshare-go/netshare/eval/audit"
	"github.com/netshare-go/netshare/eval/downstream"
)

// fmtNum formats a metric for the text table.
func fmtNum(v float64) string {
	return fmt.Sprintf("%.4g", v)
}

// WriteText writes the result as readable tables.
func (r *Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "kind: %s\treal records: %d\tsynthetic records: %d\n\n", r.Kind, r.RealRecords, r.SyntheticRecords)
	cols := []*Fidelity{&r.Fidelity}
	head := "metric\tsynthetic"
	if r.Baselines != nil {
		cols = append(cols, r.Baselines.Bootstrap, r.Baselines.Marginal)
		head += "\tbootstrap (floor)\tmarginal sampler"
		if r.Baselines.DPMarginal != nil {
			cols = append(cols, r.Baselines.DPMarginal)
			head += "\tDP marginal sampler"
		}
		if r.Baselines.SplitHalf != nil {
			cols = append(cols, r.Baselines.SplitHalf)
			head += "\tsplit half (no copy)"
		}
	}
	fmt.Fprintln(tw, head)
	row := func(name string, get func(f *Fidelity) float64) {
		var b strings.Builder
		b.WriteString(name)
		for _, f := range cols {
			b.WriteString("\t" + fmtNum(get(f)))
		}
		fmt.Fprintln(tw, b.String())
	}
	for _, k := range jsdFields {
		row("JSD "+k, func(f *Fidelity) float64 { return f.JSD[k] })
	}
	for _, k := range EMDFields(r.Kind) {
		row("EMD "+k+unit(k), func(f *Fidelity) float64 { return f.EMD[k] })
	}
	for _, k := range EMDFields(r.Kind) {
		row("normalised EMD "+k, func(f *Fidelity) float64 { return f.EMDNormalized[k] })
	}
	if r.FlowIAT != nil {
		row("normalised EMD flow_iat (not in the mean)", func(f *Fidelity) float64 {
			if f.FlowIAT == nil {
				return math.NaN()
			}
			return *f.FlowIAT
		})
	}
	for _, k := range JointNames(r.Kind) {
		row("joint TVD "+k, func(f *Fidelity) float64 { return f.Joint[k] })
	}
	if r.JointExtra != nil {
		for _, k := range ExtraJointNames(r.Kind) {
			row("joint TVD "+k+" (not in the mean)", func(f *Fidelity) float64 {
				if v, ok := f.JointExtra[k]; ok {
					return v
				}
				return math.NaN()
			})
		}
	}
	row("mean JSD", func(f *Fidelity) float64 { return f.MeanJSD })
	row("mean normalised EMD", func(f *Fidelity) float64 { return f.MeanEMDNormalized })
	row("mean joint TVD", func(f *Fidelity) float64 { return f.MeanJointTVD() })
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.textSections() {
		if _, err := io.WriteString(w, "\n"+s); err != nil {
			return err
		}
	}
	return nil
}

func unit(field string) string {
	switch field {
	case "ts", "td":
		return " (s)"
	case "byt", "pkt_len":
		return " (bytes)"
	case "pkt", "flow_size":
		return " (packets)"
	}
	return ""
}

// textSections renders the optional parts of the result.
func (r *Result) textSections() []string {
	var out []string
	for _, n := range r.Notes {
		out = append(out, "note: "+n+"\n")
	}
	if a := r.Addresses; a != nil {
		out = append(out, addressText(a))
	}
	if d := r.Downstream; d != nil {
		out = append(out, downstreamText(d)+subsampleText(r.Subsample, SubsampleDownstream))
	}
	if a := r.PrivacyAudit; a != nil {
		out = append(out, auditText(a)+subsampleText(r.Subsample, SubsampleAudit))
	}
	if p := r.Protocol; p != nil {
		var b bytes.Buffer
		p.WriteText(&b)
		out = append(out, b.String())
	}
	if len(r.Targets) > 0 {
		out = append(out, targetsText(r.Targets))
	}
	if v := r.Verdict; v != nil {
		out = append(out, "verdict: "+v.Summary+"\n")
	}
	if p := r.Privacy; p != nil {
		out = append(out, fmt.Sprintf("differential privacy: epsilon %.4g, delta %.3g, noise multiplier %.4g, clip %.4g, %d steps\n",
			p.Epsilon, p.Delta, p.Noise, p.Clip, p.Steps))
		if len(p.Mechanisms) > 0 {
			var b strings.Builder
			if p.Unit != "" {
				fmt.Fprintf(&b, "  unit of privacy: %s\n", p.Unit)
			}
			if p.StatsShare > 0 {
				fmt.Fprintf(&b, "  statistics calibrated to %.3g of epsilon\n", p.StatsShare)
			}
			for _, m := range p.Mechanisms {
				fmt.Fprintf(&b, "  %-20s noise %-8.4g releases %-6d epsilon alone %-8.4g share %.3g\n", m.Name, m.Noise, m.Releases, m.Epsilon, m.Share)
			}
			for _, s := range p.Public {
				fmt.Fprintf(&b, "  public: %s\n", s)
			}
			out = append(out, b.String())
		}
	}
	return out
}

// subsampleText is the subsample note of a part, or "".
func subsampleText(s *Subsample, part string) string {
	if n := s.Note(part); n != "" {
		return "note: " + n + "\n"
	}
	return ""
}

func fmtRho(rho *float64, note string) string {
	if rho == nil {
		return "undefined (" + note + ")"
	}
	return fmt.Sprintf("%.3f", *rho)
}

func downstreamText(d *downstream.Report) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if c := d.TrafficType; c != nil {
		if c.Skipped != "" {
			fmt.Fprintf(tw, "traffic-type prediction: skipped: %s\n", c.Skipped)
		} else {
			fmt.Fprintf(tw, "traffic-type prediction (accuracy on %s; classes %s)\n", Plural(c.Test, "real test record"), strings.Join(c.Classes, ", "))
			fmt.Fprintln(tw, "classifier\ttrained on real\ttrained on synthetic")
			for _, m := range append(c.Models, *c.Majority) {
				fmt.Fprintf(tw, "%s\t%.3f\t%.3f\n", m.Name, m.Real, m.Synthetic)
			}
			fmt.Fprintf(tw, "Spearman rank correlation: %s\n", fmtRho(c.Spearman, c.SpearmanNote))
			if c.MeanGap != nil {
				fmt.Fprintf(tw, "mean |real − synthetic| accuracy: %.3f\n", *c.MeanGap)
			}
		}
		for _, n := range c.Notes {
			fmt.Fprintf(tw, "  note: %s\n", n)
		}
		fmt.Fprintln(tw)
	}
	if tm := d.Telemetry; tm != nil && tm.Skipped == "" {
		fmt.Fprintf(tw, "Count-Min Sketch heavy hitters (depth %d, top %.0f%% of keys): mean relative error\n", tm.Depth, tm.TopFraction*100)
		fmt.Fprintln(tw, "task\twidth/keys\treal\tsynthetic\tbootstrap")
		for _, t := range tm.Tasks {
			if t.Skipped != "" {
				fmt.Fprintf(tw, "%s\tskipped: %s\n", t.Name, t.Skipped)
			}
			for _, w := range t.Widths {
				b := "—"
				if w.Bootstrap != nil {
					b = fmt.Sprintf("%.4g", *w.Bootstrap)
				}
				fmt.Fprintf(tw, "%s\t%.2f\t%.4g\t%.4g\t%s\n", t.Name, w.Fraction, w.Real, w.Synthetic, b)
			}
		}
		fmt.Fprintln(tw)
	}
	if a := d.Anomaly; a != nil {
		if a.Skipped != "" {
			fmt.Fprintf(tw, "anomaly detection: skipped: %s\n", a.Skipped)
		} else {
			fmt.Fprintf(tw, "anomaly detection (AUC on %s, %d anomalous; detectors fitted on %s or %s)\n", Plural(a.Test, "real test record"), a.TestAnomalous, Plural(a.FitReal, "normal real record"), Plural(a.FitSynthetic, "normal synthetic record"))
			fmt.Fprintln(tw, "detector\tfitted on real\tfitted on synthetic")
			for _, m := range a.Detectors {
				fmt.Fprintf(tw, "%s\t%.3f\t%.3f\n", m.Name, m.Real, m.Synthetic)
			}
			fmt.Fprintf(tw, "Spearman rank correlation: %s\n", fmtRho(a.Spearman, a.SpearmanNote))
			if a.MeanGap != nil {
				fmt.Fprintf(tw, "mean |real − synthetic| AUC: %.3f\n", *a.MeanGap)
			}
		}
		for _, n := range a.Notes {
			fmt.Fprintf(tw, "  note: %s\n", n)
		}
	}
	tw.Flush()
	s := b.String()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

func optPct(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100**p)
}

func auditText(a *audit.Report) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "memorisation audit (unit: %s)\n", a.Unit)
	e := a.ExactCopy
	fmt.Fprintf(tw, "exact copies of training %s\t%d of %d (%.2f%%)\n", a.Unit, e.SyntheticCopy, e.Synthetic, 100*e.Rate)
	if e.HoldoutRate != nil {
		fmt.Fprintf(tw, "held-out real %s matching training\t%s of %d\n", a.Unit, optPct(e.HoldoutRate), e.Holdout)
	}
	if e.BootstrapRate != nil {
		fmt.Fprintf(tw, "reference: bootstrap / marginal sampler\t%s / %s\n", optPct(e.BootstrapRate), optPct(e.MarginalRate))
	}
	if d := a.DCR; d != nil {
		fmt.Fprintf(tw, "distance to closest training record, median (5th pct)\tsynthetic %.4g (%.4g), held-out %.4g (%.4g)\n",
			d.SyntheticMedian, d.SyntheticP5, d.HoldoutMedian, d.HoldoutP5)
	}
	if m := a.Membership; m != nil {
		fmt.Fprintf(tw, "membership-inference AUC (0.5 = no signal)\t%.3f (%d members, %d non-members)\n", m.AUC, m.Members, m.NonMembers)
	}
	for _, n := range a.NotComputed {
		fmt.Fprintf(tw, "  not computed: %s\n", n)
	}
	tw.Flush()
	return b.String()
}

func targetsText(ts []Target) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "targets")
	for _, t := range ts {
		mark := "n/a"
		if t.Pass != nil {
			mark = map[bool]string{true: "PASS", false: "FAIL"}[*t.Pass]
		}
		val := ""
		if t.Value != nil {
			val = fmt.Sprintf("%.4g", *t.Value)
			if t.Limit != nil {
				val += fmt.Sprintf(" (limit %.4g)", *t.Limit)
			}
		}
		if t.Reason != "" {
			val += " " + t.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, t.Name, t.Description, strings.TrimSpace(val))
	}
	tw.Flush()
	return b.String()
}

// addressText lists the distinct addresses of both traces and the share of
// flows held by their 1, 10 and 100 busiest.
func addressText(a *Addresses) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "addresses\treal\tsynthetic")
	fmt.Fprintf(tw, "distinct source IPs\t%d\t%d\n", a.Real.SrcDistinct, a.Synthetic.SrcDistinct)
	fmt.Fprintf(tw, "distinct destination IPs\t%d\t%d\n", a.Real.DstDistinct, a.Synthetic.DstDistinct)
	for _, side := range []struct {
		name   string
		rc, sc Concentration
	}{{"source", a.Real.Src, a.Synthetic.Src}, {"destination", a.Real.Dst, a.Synthetic.Dst}} {
		for _, k := range []int{1, 10, 100} {
			rv, ok1 := At(a.K, side.rc.Flows, k)
			sv, ok2 := At(a.K, side.sc.Flows, k)
			if ok1 && ok2 {
				fmt.Fprintf(tw, "share of flows of the top %d %s IPs\t%.1f%%\t%.1f%%\n", k, side.name, 100*rv, 100*sv)
			}
		}
	}
	tw.Flush()
	return b.String()
}
