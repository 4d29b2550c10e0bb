package report

import (
	"bytes"
	"fmt"
	"image/color"
	"log/slog"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/netshare-go/netshare/eval"
)

// Figure is one rendered plot.
type Figure struct {
	Name    string // file stem: plots/NAME.png
	Caption string
	SVG     string // inline SVG element, without an XML prolog
	PNG     []byte
}

var (
	realColor = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	synColor  = color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}
	figW      = 5 * vg.Inch
	figH      = 3.2 * vg.Inch
)

// widenLog gives a log-scaled axis a positive, non-empty range.
func widenLog(a *plot.Axis) {
	if _, ok := a.Scale.(plot.LogScale); !ok {
		return
	}
	if a.Min <= 0 {
		a.Min = math.SmallestNonzeroFloat64
	}
	if a.Max <= a.Min {
		a.Min, a.Max = a.Max/2, a.Max*2
	}
}

// renderFigure draws p as SVG and PNG. A plot that gonum/plot cannot draw
// is an error, not a panic.
func renderFigure(name, caption string, p *plot.Plot) (fig Figure, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("figure %s: %v", name, r)
		}
	}()
	widenLog(&p.X)
	widenLog(&p.Y)
	sc := vgsvg.New(figW, figH)
	p.Draw(draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return Figure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	svg := sb.String()
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:]
	}
	ic := vgimg.NewWith(vgimg.UseWH(figW, figH), vgimg.UseDPI(110))
	p.Draw(draw.New(ic))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pb); err != nil {
		return Figure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	return Figure{Name: name, Caption: caption, SVG: svg, PNG: pb.Bytes()}, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dashed bool) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.6)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// cdfPoints turns quantiles into a step curve; with logx, values are
// clamped to floor so that a log axis can show them.
func cdfPoints(q []float64, logx bool, floor float64) plotter.XYs {
	pts := make(plotter.XYs, 0, 2*len(q))
	for i, v := range q {
		if logx {
			v = math.Max(v, floor)
		}
		pr := float64(i) / float64(len(q)-1)
		pts = append(pts, plotter.XY{X: v, Y: pr})
	}
	return pts
}

func cdfFigure(c eval.CDF) (Figure, error) {
	logx := c.LogX
	floor := math.Inf(1)
	for _, v := range append(append([]float64(nil), c.Real...), c.Synthetic...) {
		if v > 0 {
			floor = math.Min(floor, v)
		}
	}
	if math.IsInf(floor, 1) {
		logx = false
	}
	hi := math.Inf(-1)
	for _, v := range append(append([]float64(nil), c.Real...), c.Synthetic...) {
		hi = math.Max(hi, v)
	}
	if logx && hi <= floor {
		logx = false
	}
	xl := c.Label
	if logx {
		xl += " (log scale)"
	}
	p := newPlot("CDF of "+c.Label, xl, "cumulative probability")
	if logx {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Y.Min, p.Y.Max = 0, 1
	if err := addLine(p, "real", cdfPoints(c.Real, logx, floor), realColor, false); err != nil {
		return Figure{}, err
	}
	if err := addLine(p, "synthetic", cdfPoints(c.Synthetic, logx, floor), synColor, true); err != nil {
		return Figure{}, err
	}
	p.Legend.Left, p.Legend.Top = false, false
	return renderFigure("cdf_"+c.Name, "CDF of "+c.Label+": real (solid) and synthetic (dashed).", p)
}

// barFigure draws grouped bars of shares (in percent).
func barFigure(name, title, xlabel, caption string, shares []eval.Share) (Figure, error) {
	p := newPlot(title, xlabel, "share of records (%)")
	rv, sv := make(plotter.Values, len(shares)), make(plotter.Values, len(shares))
	names := make([]string, len(shares))
	for i, s := range shares {
		rv[i], sv[i], names[i] = 100*s.Real, 100*s.Synthetic, s.Name
	}
	w := vg.Points(14)
	br, err := plotter.NewBarChart(rv, w)
	if err != nil {
		return Figure{}, err
	}
	br.Color, br.LineStyle.Width, br.Offset = realColor, 0, -w/2
	bs, err := plotter.NewBarChart(sv, w)
	if err != nil {
		return Figure{}, err
	}
	bs.Color, bs.LineStyle.Width, bs.Offset = synColor, 0, w/2
	p.Add(br, bs)
	p.Legend.Add("real", br)
	p.Legend.Add("synthetic", bs)
	p.NominalX(names...)
	p.Y.Min = 0
	return renderFigure(name, caption, p)
}

func rankFigure(rc eval.RankCurve) (Figure, error) {
	label := map[string]string{"srcip": "source IP", "dstip": "destination IP"}[rc.Name]
	if label == "" {
		label = rc.Name
	}
	p := newPlot(label+" popularity by rank", "rank (log scale)", "relative frequency (log scale)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	conv := func(a [][2]float64) plotter.XYs {
		pts := make(plotter.XYs, 0, len(a))
		for _, v := range a {
			if v[0] > 0 && v[1] > 0 {
				pts = append(pts, plotter.XY{X: v[0], Y: v[1]})
			}
		}
		return pts
	}
	r, s := conv(rc.Real), conv(rc.Synthetic)
	if len(r) == 0 || len(s) == 0 {
		return Figure{}, fmt.Errorf("rank curve %s is empty", rc.Name)
	}
	if err := addLine(p, "real", r, realColor, false); err != nil {
		return Figure{}, err
	}
	if err := addLine(p, "synthetic", s, synColor, true); err != nil {
		return Figure{}, err
	}
	return renderFigure("rank_"+rc.Name, label+" popularity-rank curves on log–log axes (identities ignored, as in the rank JSD).", p)
}

// Figures renders every figure the result's summaries allow. A figure that
// cannot be drawn (say, a curve of a single point on log axes) is left out
// and logged; the other figures are still returned.
func Figures(res *eval.Result) ([]Figure, error) {
	d := res.Distributions
	if d == nil {
		return nil, nil
	}
	var out []Figure
	for _, c := range d.CDFs {
		if len(c.Real) == 0 || len(c.Synthetic) == 0 {
			continue
		}
		f, err := cdfFigure(c)
		if err != nil {
			slog.Warn("figure left out", "err", err)
			continue
		}
		out = append(out, f)
	}
	if len(d.Protocols) > 0 {
		f, err := barFigure("protocols", "IP protocols", "protocol", "Share of records by IP protocol.", d.Protocols)
		if err != nil {
			slog.Warn("figure left out", "err", err)
		} else {
			out = append(out, f)
		}
	}
	if len(d.TopPorts) > 0 {
		f, err := barFigure("top_ports", "Top service ports", "destination port", "Share of records on the real trace's five most used destination ports below 1024.", d.TopPorts)
		if err != nil {
			slog.Warn("figure left out", "err", err)
		} else {
			out = append(out, f)
		}
	}
	for _, rc := range d.RankFreq {
		f, err := rankFigure(rc)
		if err != nil {
			slog.Warn("figure left out", "err", err)
			continue
		}
		out = append(out, f)
	}
	return out, nil
}
