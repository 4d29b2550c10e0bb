package report

import (
	"fmt"
	"image/color"
	"runtime/debug"
	"strings"
	"time"

	"gonum.org/v1/plot/plotter"
)

// RunInfo describes the pipeline run a report comes from; a report of
// two trace files alone has none.
type RunInfo struct {
	Version string // netshare version ([BuildVersion])
	// Preset is the preset the effective configuration equals, or "" for
	// a configuration of one's own.
	Preset string
	Config string // the effective configuration, YAML
	Seed   uint64
	// Audit is set when real records were held out of training.
	Audit  bool
	Chunks []ChunkRun
	Stages []StageTime
}

// ChunkRun is one chunk's training.
type ChunkRun struct {
	Chunk      int
	Iterations int    // the job's target
	InitFrom   string // what it was fine-tuned from ("" for scratch)
	Seconds    float64
	Losses     []LossPoint // empty when no loss log was kept
}

// LossPoint is the training losses after one iteration.
type LossPoint struct {
	Iteration int
	// D and DAttr are the critics' losses, G the generator's, WDist the
	// critic's estimate of the Wasserstein distance between real and
	// generated data.
	D, DAttr, G, WDist float64
}

// StageTime is the wall time of one pipeline stage, and its memory.
type StageTime struct {
	Name     string
	Seconds  float64
	Finished time.Time
	// PeakRSS is the peak resident memory, in bytes, of the process that
	// ran the stage, up to its end (0: unknown); Records the records it
	// handled.
	PeakRSS int64
	Records int
}

// Memory formats the peak resident memory ("–" when unknown).
func (s StageTime) Memory() string {
	if s.PeakRSS <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(s.PeakRSS)/(1<<20))
}

// PerRecord formats the peak resident memory per record handled ("–"
// when either is unknown).
func (s StageTime) PerRecord() string {
	if s.PeakRSS <= 0 || s.Records <= 0 {
		return "–"
	}
	b := float64(s.PeakRSS) / float64(s.Records)
	if b >= 10<<10 {
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// Version is the netshare version the command line was built as; when
// empty or "dev", [BuildVersion] reads the module's build information.
var Version string

// BuildVersion returns the netshare version: [Version] when set, else the
// module version or the source revision recorded at build time.
func BuildVersion() string {
	if Version != "" && Version != "dev" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (revision %.12s%s)", rev, dirty)
	}
	return v
}

// Duration writes seconds as a short duration: 0.8 s, 42 s, 3 min 5 s.
func Duration(s float64) string {
	switch {
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	}
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d h %d min", h, m)
	}
	return fmt.Sprintf("%d min %d s", m, sec)
}

var chunkColors = []color.RGBA{
	{0x1f, 0x5f, 0xa8, 0xff}, {0xd9, 0x5f, 0x02, 0xff}, {0x1b, 0x9e, 0x77, 0xff}, {0x75, 0x70, 0xb3, 0xff},
	{0xe7, 0x29, 0x8a, 0xff}, {0x66, 0xa6, 0x1e, 0xff}, {0xa6, 0x76, 0x1d, 0xff}, {0x66, 0x66, 0x66, 0xff},
}

// lossFigure draws one loss of every chunk against the iteration.
func lossFigure(name, title, ylabel, caption string, chunks []ChunkRun, get func(LossPoint) float64) (Figure, error) {
	p := newPlot(title, "iteration", ylabel)
	for i, c := range chunks {
		if len(c.Losses) < 2 {
			continue
		}
		pts := make(plotter.XYs, len(c.Losses))
		for j, l := range c.Losses {
			pts[j] = plotter.XY{X: float64(l.Iteration), Y: get(l)}
		}
		if err := addLine(p, fmt.Sprintf("chunk %d", c.Chunk), pts, chunkColors[i%len(chunkColors)], i >= len(chunkColors)); err != nil {
			return Figure{}, err
		}
	}
	return renderFigure(name, caption, p)
}

// RunFigures renders the loss curves of a run's chunks (none without a
// loss log).
func RunFigures(ri *RunInfo) ([]Figure, error) {
	if ri == nil {
		return nil, nil
	}
	n := 0
	for _, c := range ri.Chunks {
		if len(c.Losses) >= 2 {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	var out []Figure
	for _, f := range []struct {
		name, title, ylabel, caption string
		get                          func(LossPoint) float64
	}{
		{"loss_w_dist", "Critic's Wasserstein estimate", "W-distance estimate", "The critic's estimate of the Wasserstein distance between real and generated flows, per chunk: it should fall and level off.", func(l LossPoint) float64 { return l.WDist }},
		{"loss_g", "Generator loss", "loss", "The generator's loss per chunk (the negated critics' scores of its output).", func(l LossPoint) float64 { return l.G }},
		{"loss_d", "Critic loss", "loss", "The critic's loss per chunk (with its gradient penalty).", func(l LossPoint) float64 { return l.D }},
	} {
		fig, err := lossFigure(f.name, f.title, f.ylabel, f.caption, ri.Chunks, f.get)
		if err != nil {
			return nil, err
		}
		out = append(out, fig)
	}
	return out, nil
}

// presetText names the preset, or says the configuration is one's own.
func (ri *RunInfo) PresetText() string {
	if ri.Preset != "" {
		return ri.Preset
	}
	return "none (a configuration of its own)"
}

// TotalSeconds is the sum of the stage wall times.
func (ri *RunInfo) TotalSeconds() float64 {
	var s float64
	for _, st := range ri.Stages {
		s += st.Seconds
	}
	return s
}

func trimYAML(s string) string { return strings.TrimRight(s, "\n") }
