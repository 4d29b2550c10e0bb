package report

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleRunInfo is a two-chunk run with loss logs.
func sampleRunInfo() *RunInfo {
	ri := &RunInfo{Version: "v9.9.9-test", Preset: "quick", Seed: 7, Config: "seed: 7\nn_chunks: 2\ntrain:\n  iterations: 100\n",
		Stages: []StageTime{
			{Name: "pre-process", Seconds: 1.25, Finished: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), PeakRSS: 300 << 20, Records: 1 << 20},
			{Name: "train chunk 0", Seconds: 95, Finished: time.Date(2025, 1, 2, 3, 6, 0, 0, time.UTC)},
			{Name: "evaluate", Seconds: 3},
		}}
	for c := 0; c < 2; c++ {
		cr := ChunkRun{Chunk: c, Iterations: 100, Seconds: 40 + float64(c)}
		if c > 0 {
			cr.InitFrom = "chunk 0"
		}
		for it := 5; it <= 100; it += 5 {
			x := float64(it)
			cr.Losses = append(cr.Losses, LossPoint{Iteration: it, D: -2 * math.Exp(-x/40), DAttr: -1, G: 0.5 - x/200, WDist: 3 * math.Exp(-x/30)})
		}
		ri.Chunks = append(ri.Chunks, cr)
	}
	return ri
}

// A run's report has a run section: version, preset, seed, iterations and
// training time per chunk, wall time per stage, loss curves and the
// effective configuration in a collapsible block.
func TestReportRunSection(t *testing.T) {
	s := renderString(t, Input{Result: sampleResult(t), Run: sampleRunInfo()})
	i := strings.Index(s, `<h2 id="run">`)
	if i < 0 {
		t.Fatal("no run section")
	}
	run := s[i:]
	for _, want := range []string{"v9.9.9-test", ">quick<", ">7<", `id="chunks-table"`, `id="stages-table"`, ">1.2 s<", ">95 s<", "running (this report)", ">300 MiB<", ">300 B<", ">1048576<",
		"2025-01-02 03:06 UTC", ">chunk 0<", ">scratch<", `id="fig-loss_w_dist"`, `id="fig-loss_g"`, `<details id="config">`, "n_chunks: 2"} {
		if !strings.Contains(run, want) {
			t.Errorf("run section lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`<tr><td>\d+</td><td>100</td>`).FindAllString(run, -1)); n != 2 {
		t.Errorf("%d chunk rows, want 2", n)
	}
	// Without a run (a report of two trace files) there is no section.
	if s := renderString(t, Input{Result: sampleResult(t)}); strings.Contains(s, `id="run"`) {
		t.Error("run section without run information")
	}
	// Without loss logs the section says so.
	ri := sampleRunInfo()
	for i := range ri.Chunks {
		ri.Chunks[i].Losses = nil
	}
	if s := renderString(t, Input{Result: sampleResult(t), Run: ri}); !strings.Contains(s, "No loss log") {
		t.Error("no note on missing loss logs")
	}
}

func TestDuration(t *testing.T) {
	for s, want := range map[float64]string{0.25: "0.2 s", 9.94: "9.9 s", 42.4: "42 s", 185: "3 min 5 s", 7325: "2 h 2 min"} {
		if got := Duration(s); got != want {
			t.Errorf("Duration(%v) = %q, want %q", s, got, want)
		}
	}
	if v := BuildVersion(); v == "" {
		t.Error("empty version")
	}
}
