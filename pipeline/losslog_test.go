package pipeline

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
)

func progressAt(it int, secs float64, w float64) dg.Progress {
	return dg.Progress{Iteration: it, Elapsed: time.Duration(secs * float64(time.Second)), Losses: dg.Losses{D: -w, DA: -1, G: 0.5, WassersteinD: -w}}
}

// The loss log is written at each checkpoint interval and on save; a
// resumed job keeps the points up to its checkpoint and continues the
// clock; a diverged loss is not logged.
func TestLossRecorder(t *testing.T) {
	dir := t.TempDir()
	job := ChunkJob{Chunk: 3, Iterations: 40}
	r := newLossRecorder(dir, job, 0, 10)
	for it := 2; it <= 8; it += 2 {
		if err := r.add(progressAt(it, float64(it)/10, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadLossLog(dir); err == nil {
		t.Error("loss log written before the first checkpoint")
	}
	for it := 10; it <= 24; it += 2 {
		r.add(progressAt(it, float64(it)/10, 2))
	}
	l, err := ReadLossLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.Points); n < 5 || l.Points[n-1].Iteration < 20 || l.Chunk != 3 || l.Iterations != 40 || l.Points[0].WDist != 3 {
		t.Errorf("log at the checkpoint: %+v", l)
	}
	// Killed after iteration 24, resumed from the checkpoint at 20.
	r = newLossRecorder(dir, job, 20, 10)
	if n := len(r.log.Points); r.log.Points[n-1].Iteration != 20 || r.offset != 2 {
		t.Errorf("resumed log ends at %d with %.1f s", r.log.Points[n-1].Iteration, r.offset)
	}
	r.add(progressAt(22, 0.1, 1))
	r.add(dg.Progress{Iteration: 24, Losses: dg.Losses{D: math.NaN()}})
	if err := r.save(); err != nil {
		t.Fatal(err)
	}
	l, _ = ReadLossLog(dir)
	last := l.Points[len(l.Points)-1]
	if last.Iteration != 22 || math.Abs(last.Seconds-2.1) > 1e-9 {
		t.Errorf("last point %+v, want iteration 22 at 2.1 s", last)
	}
	for i := 1; i < len(l.Points); i++ {
		if l.Points[i].Iteration <= l.Points[i-1].Iteration {
			t.Fatalf("iterations not increasing: %+v", l.Points)
		}
	}
	// A new job (iteration 0) starts an empty log.
	if r := newLossRecorder(dir, job, 0, 10); len(r.log.Points) != 0 {
		t.Error("a new job kept an old log")
	}
	os.WriteFile(filepath.Join(dir, LossLogFile), []byte("{bad"), 0o644)
	if _, err := ReadLossLog(dir); err == nil || !strings.Contains(err.Error(), LossLogFile) {
		t.Errorf("corrupt log: %v", err)
	}
}

// A run's report carries the run section: loss curves from every chunk's
// loss log, iterations per chunk, wall time per stage, the configuration.
func TestRunReportHasRunSection(t *testing.T) {
	dir := t.TempDir()
	runAll(t, Options{Dir: dir, Config: tinyConfig(t, 30)})
	for c := 0; c < 2; c++ {
		l, err := ReadLossLog(ModelDir(dir, c))
		if err != nil {
			t.Fatalf("chunk %d: %v", c, err)
		}
		if n := len(l.Points); n < 5 || l.Points[n-1].Iteration != l.Iterations || l.Points[n-1].Seconds <= 0 {
			t.Errorf("chunk %d loss log: %d points, last %+v, target %d", c, n, l.Points[n-1], l.Iterations)
		}
	}
	man, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"preprocess", "train/chunk-000", "generate", "evaluate"} {
		if s := man.Stage(st); s == nil || s.Seconds <= 0 {
			t.Errorf("stage %s: no wall time (%+v)", st, s)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`<h2 id="run">`, `id="fig-loss_w_dist"`, `id="chunks-table"`, ">pre-process<", ">train chunk 0<", ">train the other chunks<", ">generate<", ">evaluate<",
		"none (a configuration of its own)", `<details id="config">`, "iterations: 30", ">chunk 0<"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "plots", "loss_w_dist.png")); err != nil {
		t.Errorf("loss figure PNG: %v", err)
	}
}

// The preset a configuration equals is named.
func TestMatchingPreset(t *testing.T) {
	c := tinyConfig(t, 30)
	text, _ := c.YAML()
	if p := matchingPreset(text, "flows"); p != "" {
		t.Errorf("custom configuration matched preset %q", p)
	}
	q, err := configLoad("quick")
	if err != nil {
		t.Fatal(err)
	}
	text, _ = q.YAML()
	if p := matchingPreset(text, "flows"); p != "quick" {
		t.Errorf("quick preset matched %q", p)
	}
}

func configLoad(preset string) (interface{ YAML() ([]byte, error) }, error) {
	c, err := config.Load("", preset)
	if err != nil {
		return nil, err
	}
	return c.ForKind("flows")
}
