package report

import (
	"bytes"
	"fmt"
	"image/color"
	"log/slog"
	"math"
	"strconv"
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

// legendWidth is the strip on the right of a figure that holds its legend,
// outside the plot area so that it never covers a curve.
const legendWidth = 1.1 * vg.Inch

// drawFigure draws p on c with its legend in a strip on the right.
func drawFigure(c draw.Canvas, p *plot.Plot) {
	lg := p.Legend
	p.Legend = plot.NewLegend()
	defer func() { p.Legend = lg }()
	var w vg.Length
	if r := lg.Rectangle(c); r.Max.X > r.Min.X {
		w = min(legendWidth, r.Max.X-r.Min.X+vg.Points(10))
	}
	p.Draw(draw.Crop(c, 0, -w, 0, 0))
	if w == 0 {
		return
	}
	lg.Left, lg.Top = true, true
	lg.XOffs, lg.YOffs = vg.Points(4), 0
	titleH := vg.Length(0)
	if p.Title.Text != "" {
		titleH = p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding
	}
	lg.Draw(draw.Crop(c, c.Max.X-c.Min.X-w, 0, 0, -titleH-vg.Points(6)))
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
	drawFigure(draw.New(sc), p)
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return Figure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	svg := sb.String()
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:]
	}
	ic := vgimg.NewWith(vgimg.UseWH(figW, figH), vgimg.UseDPI(110))
	drawFigure(draw.New(ic), p)
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pb); err != nil {
		return Figure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	return Figure{Name: name, Caption: caption, SVG: svg, PNG: pb.Bytes()}, nil
}

// tickLabel writes a tick value briefly: 0.001, 25, 1e+06.
func tickLabel(v float64) string {
	a := math.Abs(v)
	if a != 0 && (a < 1e-3 || a >= 1e4) {
		// 1e+06 → 1e6, 2.5e-05 → 2.5e-5
		m, e, _ := strings.Cut(strconv.FormatFloat(v, 'e', 3, 64), "e")
		m = strings.TrimRight(strings.TrimRight(m, "0"), ".")
		exp, _ := strconv.Atoi(e)
		return m + "e" + strconv.Itoa(exp)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// linearTicks labels about five round values (1, 2 or 5 × 10^k apart).
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: tickLabel(lo)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ts []plot.Tick
	for i := math.Ceil(lo / step); i*step <= hi+step*1e-9; i++ {
		x := i * step
		label := strconv.FormatFloat(x, 'f', dec, 64)
		if a := math.Abs(x); a >= 1e4 || (a != 0 && a < 1e-3) {
			label = tickLabel(x)
		}
		ts = append(ts, plot.Tick{Value: x, Label: label})
		// unlabelled minor ticks halfway
		if m := x + step/2; m < hi {
			ts = append(ts, plot.Tick{Value: m})
		}
	}
	return ts
}

// logTicks labels the powers of ten in range, and 2 and 5 times them (or
// every integer multiple) when the range spans too few powers of ten for
// at least three labels; the other multiples get unlabelled ticks.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return linearTicks{}.Ticks(lo, hi)
	}
	k0, k1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	in := func(v float64) bool { return v >= lo*(1-1e-9) && v <= hi*(1+1e-9) }
	for _, labelled := range [][]int{{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		var ts []plot.Tick
		n := 0
		for k := k0; k <= k1; k++ {
			p := math.Pow(10, float64(k))
			for m := 1; m <= 9; m++ {
				v := float64(m) * p
				if !in(v) {
					continue
				}
				t := plot.Tick{Value: v}
				for _, l := range labelled {
					if m == l {
						t.Label = tickLabel(v)
						n++
					}
				}
				ts = append(ts, t)
			}
		}
		if n >= 3 || len(labelled) == 9 {
			if n < 2 { // within one decade and between integers: label the ends
				ts = append(ts, plot.Tick{Value: lo, Label: tickLabel(roundSig(lo))}, plot.Tick{Value: hi, Label: tickLabel(roundSig(hi))})
			}
			// With many decades, thin the labels to at most about eight.
			if n > 8 {
				every := (n + 7) / 8
				i := 0
				for j := range ts {
					if ts[j].Label != "" {
						if i%every != 0 {
							ts[j].Label = ""
						}
						i++
					}
				}
			}
			return ts
		}
	}
	return nil
}

func roundSig(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 2, 64), 64)
	return f
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
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
	p, err := cdfPlot(c)
	if err != nil {
		return Figure{}, err
	}
	return renderFigure("cdf_"+c.Name, "CDF of "+c.Label+": real (solid) and synthetic (dashed).", p)
}

func cdfPlot(c eval.CDF) (*plot.Plot, error) {
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
		p.X.Tick.Marker = logTicks{}
	}
	p.Y.Min, p.Y.Max = 0, 1
	if err := addLine(p, "real", cdfPoints(c.Real, logx, floor), realColor, false); err != nil {
		return nil, err
	}
	if err := addLine(p, "synthetic", cdfPoints(c.Synthetic, logx, floor), synColor, true); err != nil {
		return nil, err
	}
	return p, nil
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
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
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

// timelineFigure draws both traces' records over time.
func timelineFigure(tl *eval.Timeline) (Figure, error) {
	bin := tl.BinSeconds
	p := newPlot("Records over time", "time since the first record (s)", "records per "+tickLabel(roundSig(bin))+" s")
	steps := func(c []float64) plotter.XYs {
		pts := make(plotter.XYs, 0, 2*len(c))
		for i, v := range c {
			pts = append(pts, plotter.XY{X: float64(i) * bin, Y: v}, plotter.XY{X: float64(i+1) * bin, Y: v})
		}
		return pts
	}
	if err := addLine(p, "real", steps(tl.Real), realColor, false); err != nil {
		return Figure{}, err
	}
	if err := addLine(p, "synthetic", steps(tl.Synthetic), synColor, true); err != nil {
		return Figure{}, err
	}
	p.Y.Min = 0
	var nr, ns float64
	for i := range tl.Real {
		nr += tl.Real[i]
		ns += tl.Synthetic[i]
	}
	caption := fmt.Sprintf("Records over time in %d bins of %s s: real (solid, %s) and synthetic (dashed, %s).",
		len(tl.Real), tickLabel(roundSig(bin)), eval.Plural(int(nr), "record"), eval.Plural(int(ns), "record"))
	return renderFigure("timeline", caption, p)
}

// Figures renders every figure the result's summaries allow. A figure that
// cannot be drawn (say, a curve of a single point on log axes) is left out
// and logged; the other figures are still returned.
func Figures(res *eval.Result) ([]Figure, error) {
	out := distributionFigures(res.Distributions)
	if a := res.Addresses; a != nil {
		if f, err := addressFigure(a); err != nil {
			slog.Warn("figure left out", "err", err)
		} else {
			out = append(out, f)
		}
	}
	return out, nil
}

// distributionFigures draws the distribution summaries (none without).
func distributionFigures(d *eval.Distributions) []Figure {
	if d == nil {
		return nil
	}
	var out []Figure
	if tl := d.Timeline; tl != nil && len(tl.Real) > 0 && len(tl.Real) == len(tl.Synthetic) && tl.BinSeconds > 0 {
		if f, err := timelineFigure(tl); err != nil {
			slog.Warn("figure left out", "err", err)
		} else {
			out = append(out, f)
		}
	}
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
		f, err := barFigure("top_ports", "Top service ports", "destination port", "Share of records on the real trace's five most used destination ports below 1024, ICMP left out (its port field carries the message type and code; the protocol chart shows its share).", d.TopPorts)
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
	return out
}
