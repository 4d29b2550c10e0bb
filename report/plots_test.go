package report

import (
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"

	"github.com/netshare-go/netshare/eval"
)

func labels(ts []plot.Tick) []string {
	var out []string
	for _, t := range ts {
		if t.Label != "" {
			out = append(out, t.Label)
		}
	}
	return out
}

// Every axis gets labelled ticks, including log axes spanning less than a
// decade (records per 5-tuple from 1 to 2) and durations from microseconds
// up; labels are short.
func TestTicksLabelEveryAxis(t *testing.T) {
	for _, c := range []struct {
		log    bool
		lo, hi float64
		min    int
	}{
		{true, 1, 2, 2}, {true, 1, 3, 2}, {true, 110, 300, 2}, {true, 1e-6, 0.5, 3}, {true, 1, 1e9, 3}, {true, 0.8, 1.2, 2},
		{false, 0, 1, 3}, {false, 0, 27.3, 3}, {false, 0, 0.0004, 3}, {false, 0, 3e6, 3}, {false, 5, 5, 1},
	} {
		var ts []plot.Tick
		if c.log {
			ts = logTicks{}.Ticks(c.lo, c.hi)
		} else {
			ts = linearTicks{}.Ticks(c.lo, c.hi)
		}
		ls := labels(ts)
		if len(ls) < c.min || len(ls) > 12 {
			t.Errorf("log %v [%g, %g]: labels %q, want %d to 12", c.log, c.lo, c.hi, ls, c.min)
		}
		for _, l := range ls {
			if len(l) > 8 {
				t.Errorf("log %v [%g, %g]: long label %q", c.log, c.lo, c.hi, l)
			}
		}
	}
}

// The legend is drawn beside the plot area, right of every curve, so it
// covers none.
func TestLegendOutsidePlotArea(t *testing.T) {
	for _, c := range sampleResult(t).Distributions.CDFs {
		p, err := cdfPlot(c)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder.Canvas{}
		drawFigure(draw.NewCanvas(rec, figW, figH), p)
		var curveMax, legendX float64
		numbers := 0
		for _, a := range rec.Actions {
			switch a := a.(type) {
			case *recorder.Stroke:
				if len(a.Path) > 10 { // a curve, not a legend thumbnail or a tick
					for _, comp := range a.Path {
						curveMax = max(curveMax, float64(comp.Pos.X))
					}
				}
			case *recorder.FillString:
				if a.String == "real" || a.String == "synthetic" {
					legendX = float64(a.Point.X)
				}
				if strings.ContainsAny(a.String, "0123456789") {
					numbers++
				}
			}
		}
		if legendX == 0 || legendX < curveMax {
			t.Errorf("%s: legend at x=%.1f, curves reach x=%.1f", c.Name, legendX, curveMax)
		}
		if numbers < 4 {
			t.Errorf("%s: %d tick labels, want at least two per axis", c.Name, numbers)
		}
	}
}

// The timeline figure and the service ports without ICMP.
func TestTimelineAndPortsFigures(t *testing.T) {
	figs, err := Figures(sampleResult(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.Name)
	}
	if len(figs) == 0 || figs[0].Name != "timeline" || !strings.Contains(figs[0].Caption, "Records over time") {
		t.Errorf("figures %v: want the timeline first", names)
	}
	for _, f := range figs {
		if f.Name == "top_ports" && !strings.Contains(f.Caption, "ICMP left out") {
			t.Errorf("ports caption %q", f.Caption)
		}
	}
	_ = eval.TimelineBins
}
