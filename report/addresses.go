package report

import (
	"fmt"
	"image/color"

	"github.com/netshare-go/netshare/eval"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// AddressRow is one line of the address table: a statistic of the real
// and the synthetic trace, and the synthetic value relative to the real
// one.
type AddressRow struct {
	Name            string
	Real, Synthetic string
	Ratio           float64 // synthetic / real (0 when real is 0)
	Count           bool    // a count of addresses (else a share)
}

// tableK are the k of the address table's top-k shares.
var tableK = []int{1, 10, 100}

// AddressRows lays out a result's address statistics (none without).
func AddressRows(res *eval.Result) []AddressRow {
	a := res.Addresses
	if a == nil {
		return nil
	}
	var rows []AddressRow
	count := func(name string, r, s int) {
		row := AddressRow{Name: name, Real: fmt.Sprint(r), Synthetic: fmt.Sprint(s), Count: true}
		if r > 0 {
			row.Ratio = float64(s) / float64(r)
		}
		rows = append(rows, row)
	}
	count("distinct source IPs", a.Real.SrcDistinct, a.Synthetic.SrcDistinct)
	count("distinct destination IPs", a.Real.DstDistinct, a.Synthetic.DstDistinct)
	for _, side := range []struct {
		name   string
		rc, sc eval.Concentration
	}{{"source", a.Real.Src, a.Synthetic.Src}, {"destination", a.Real.Dst, a.Synthetic.Dst}} {
		for _, m := range []struct {
			name   string
			rv, sv []float64
		}{{"flows", side.rc.Flows, side.sc.Flows}, {"packets", side.rc.Packets, side.sc.Packets}, {"bytes", side.rc.Bytes, side.sc.Bytes}} {
			for _, k := range tableK {
				r, ok1 := eval.At(a.K, m.rv, k)
				s, ok2 := eval.At(a.K, m.sv, k)
				if !ok1 || !ok2 {
					continue
				}
				row := AddressRow{Name: fmt.Sprintf("share of %s of the top %d %s IPs", m.name, k, side.name), Real: pct(r), Synthetic: pct(s)}
				if r > 0 {
					row.Ratio = s / r
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// The address figure's colours: sources and destinations.
var (
	srcColor = color.RGBA{0x1f, 0x5f, 0xa8, 0xff}
	dstColor = color.RGBA{0xd9, 0x5f, 0x02, 0xff}
)

// addressFigure draws the share of flows held by the k busiest source and
// destination addresses against k, for both traces.
func addressFigure(a *eval.Addresses) (Figure, error) {
	p := newPlot("Address concentration", "k busiest addresses (log scale)", "share of flows")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Y.Min, p.Y.Max = 0, 1
	for _, l := range []struct {
		name   string
		curve  []float64
		c      color.Color
		dashed bool
	}{
		{"real src", a.Real.Src.Flows, srcColor, false},
		{"synth. src", a.Synthetic.Src.Flows, srcColor, true},
		{"real dst", a.Real.Dst.Flows, dstColor, false},
		{"synth. dst", a.Synthetic.Dst.Flows, dstColor, true},
	} {
		pts := make(plotter.XYs, 0, len(a.K))
		for i, k := range a.K {
			if i < len(l.curve) {
				pts = append(pts, plotter.XY{X: float64(k), Y: l.curve[i]})
			}
		}
		if len(pts) < 2 {
			return Figure{}, fmt.Errorf("address concentration: %s: %d points", l.name, len(pts))
		}
		if err := addLine(p, l.name, pts, l.c, l.dashed); err != nil {
			return Figure{}, err
		}
	}
	return renderFigure("address_concentration", "Share of flows held by the k source (blue) and destination (orange) addresses with the most flows, real (solid) and synthetic (dashed); the table gives the shares of packets and bytes.", p)
}
