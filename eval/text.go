package eval

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
	for _, k := range JointNames(r.Kind) {
		row("joint TVD "+k, func(f *Fidelity) float64 { return f.Joint[k] })
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
	if p := r.Privacy; p != nil {
		out = append(out, fmt.Sprintf("differential privacy: epsilon %.4g, delta %.3g, noise multiplier %.4g, clip %.4g, %d steps\n",
			p.Epsilon, p.Delta, p.Noise, p.Clip, p.Steps))
	}
	return out
}
