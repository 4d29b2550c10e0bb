package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare-go/netshare/config"
)

// epochConfig is the tiny test configuration sized by epochs instead of a
// fixed count of iterations.
func epochConfig(t *testing.T, epochs, fineTuneEpochs float64, budget string) *config.Config {
	t.Helper()
	c := tinyConfig(t, 1)
	c.Train.Iterations = 0
	c.Train.Epochs, c.Train.FineTuneEpochs, c.Train.Budget = epochs, fineTuneEpochs, budget
	c.Train.FineTune, c.Train.FineTuneReduce = true, 4
	c.Model.BatchSize = 100
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func iterationsOf(s *Schedule) []int {
	var out []int
	for _, c := range s.Chunks {
		out = append(out, c.Iterations)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var scheduleChunks = []ChunkInfo{{Index: 0, Flows: 7100}, {Index: 2, Flows: 301}, {Index: 3, Flows: 1234}}

// Iterations are ceil(epochs × flows / batch): chunk 0 for train.epochs,
// the fine-tuned ones for fine_tune_epochs (or epochs / fine_tune_reduce),
// within [min, max] (divided by fine_tune_reduce for fine-tuned chunks).
func TestScheduleFromEpochs(t *testing.T) {
	cfg := epochConfig(t, 40, 10, "")
	s, err := decideSchedule(cfg, scheduleChunks, func() (float64, error) {
		t.Error("the rate was measured without a budget")
		return 1, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 40×7100/100 = 2840; 10×301/100 = 30.1 → 31; 10×1234/100 = 123.4 → 124.
	if got, want := iterationsOf(s), []int{2840, 31, 124}; !equalInts(got, want) {
		t.Errorf("iterations %v, want %v", got, want)
	}
	if s.Chunks[0].Epochs != 40 || s.Chunks[0].FineTuned || !s.Chunks[1].FineTuned || s.Capped {
		t.Errorf("schedule %+v", s)
	}

	cfg.Train.FineTuneEpochs = 0 // 40 / 4 = 10: the same
	if s, _ = decideSchedule(cfg, scheduleChunks, nil); !equalInts(iterationsOf(s), []int{2840, 31, 124}) {
		t.Errorf("epochs / fine_tune_reduce: %v", iterationsOf(s))
	}

	cfg.Train.MinIterations, cfg.Train.MaxIterations = 400, 2000
	if s, _ = decideSchedule(cfg, scheduleChunks, nil); !equalInts(iterationsOf(s), []int{2000, 100, 124}) {
		t.Errorf("bounds [400, 2000] ([100, 500] fine-tuned): %v", iterationsOf(s))
	}

	cfg.Train.FineTune = false // every chunk from scratch, for train.epochs
	cfg.Train.MinIterations, cfg.Train.MaxIterations = 0, 0
	if s, _ = decideSchedule(cfg, scheduleChunks, nil); !equalInts(iterationsOf(s), []int{2840, 121, 494}) {
		t.Errorf("without fine-tuning: %v", iterationsOf(s))
	}
}

// A budget scales every chunk's iterations down by the same factor until
// the estimate at the measured rate fits, never below the lower bound.
func TestScheduleBudgetCap(t *testing.T) {
	cfg := epochConfig(t, 40, 10, "10m")
	calls := 0
	rate := func() (float64, error) { calls++; return 0.5, nil }
	s, err := decideSchedule(cfg, scheduleChunks, rate)
	if err != nil {
		t.Fatal(err)
	}
	// 2995 iterations at 0.5 s = 1497.5 s > 600 s: factor 600/1497.5.
	f := 600 / 1497.5
	want := []int{int(2840 * f), int(31 * f), int(124 * f)}
	if got := iterationsOf(s); !equalInts(got, want) || calls != 1 || !s.Capped {
		t.Fatalf("iterations %v (capped %v, %d measurements), want %v", got, s.Capped, calls, want)
	}
	if s.EstimatedSeconds > 600 || s.SecondsPerIteration != 0.5 || s.Chunks[0].Wanted != 2840 {
		t.Errorf("schedule %+v", s)
	}
	if e := s.Chunks[0].Epochs; e >= 40 || e < 15 {
		t.Errorf("chunk 0 achieves %v epochs", e)
	}

	// The lower bound holds even past the budget.
	cfg.Train.MinIterations = 2000
	if s, _ = decideSchedule(cfg, scheduleChunks, rate); !equalInts(iterationsOf(s), []int{2000, 500, 500}) || s.EstimatedSeconds <= 600 {
		t.Errorf("with min_iterations 2000: %v, estimated %v s", iterationsOf(s), s.EstimatedSeconds)
	}

	// A budget the schedule fits is not touched.
	cfg.Train.MinIterations, cfg.Train.Budget = 0, "1h"
	if s, _ = decideSchedule(cfg, scheduleChunks, rate); !equalInts(iterationsOf(s), []int{2840, 31, 124}) || s.Capped {
		t.Errorf("within the budget: %v", iterationsOf(s))
	}
}

// openPreprocessed pre-processes the embedded sample into a new run.
func openPreprocessed(t *testing.T, dir string, cfg *config.Config) *Run {
	t.Helper()
	r, err := Open(Options{Dir: dir, Config: cfg, Logger: quietLogger(), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Preprocess(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func planIterations(p *Plan) []int {
	var out []int
	for _, j := range p.Jobs() {
		out = append(out, j.Iterations)
	}
	return out
}

// The decided iterations are recorded in the run directory: a run opened
// again trains the same counts under the same job keys whatever the rate
// measures now, and a changed budget decides again.
func TestScheduleRecordedAndReused(t *testing.T) {
	dir := t.TempDir()
	cfg := epochConfig(t, 40, 10, "1s")
	r := openPreprocessed(t, dir, cfg)
	r.rate = func(*config.Config, ChunkJob) (float64, error) { return 0.001, nil }
	p, err := r.PlanTraining()
	if err != nil {
		t.Fatal(err)
	}
	first := planIterations(p)
	r.Close()

	var s Schedule
	b, err := os.ReadFile(filepath.Join(dir, ModelsDir, ScheduleFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if !equalInts(iterationsOf(&s), first) || s.SecondsPerIteration != 0.001 {
		t.Fatalf("recorded %+v, planned %v", s, first)
	}

	// The machine is now a hundred times slower: the recorded decision holds.
	r, err = Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r.rate = func(*config.Config, ChunkJob) (float64, error) {
		t.Error("the rate was measured again")
		return 0.1, nil
	}
	q, err := r.PlanTraining()
	if err != nil {
		t.Fatal(err)
	}
	if got := planIterations(q); !equalInts(got, first) {
		t.Errorf("resumed plan %v, first %v", got, first)
	}
	for i, j := range q.Jobs() {
		if j.Key != p.Jobs()[i].Key || jobStageKey(j) != jobStageKey(p.Jobs()[i]) {
			t.Errorf("chunk %d's job key changed on resume", j.Chunk)
		}
	}
	r.Close()

	// Another budget is another decision: at 0.1 s per iteration, a second
	// buys fewer iterations.
	cfg2 := epochConfig(t, 40, 10, "2s")
	r = openPreprocessed(t, dir, cfg2)
	defer r.Close()
	r.rate = func(*config.Config, ChunkJob) (float64, error) { return 0.1, nil }
	q2, err := r.PlanTraining()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, it := range planIterations(q2) {
		total += it
	}
	if total > 20 {
		t.Errorf("a 2 s budget at 0.1 s per iteration planned %v", planIterations(q2))
	}
}

// train.iterations, when set, is the count: no schedule is decided or
// recorded and no rate is measured.
func TestExplicitIterationsWin(t *testing.T) {
	dir := t.TempDir()
	r := openPreprocessed(t, dir, tinyConfig(t, 40))
	defer r.Close()
	r.rate = func(*config.Config, ChunkJob) (float64, error) {
		t.Error("rate measured for a fixed count")
		return 1, nil
	}
	p, err := r.PlanTraining()
	if err != nil {
		t.Fatal(err)
	}
	if got := planIterations(p); got[0] != 40 || got[len(got)-1] != 10 {
		t.Errorf("iterations %v, want 40 then 40/4", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ModelsDir, ScheduleFile)); !os.IsNotExist(err) {
		t.Errorf("a schedule was recorded: %v", err)
	}
}

// The real measurement times a few iterations of the run's chunk-0 model.
func TestMeasureRate(t *testing.T) {
	dir := t.TempDir()
	cfg := epochConfig(t, 1, 1, "1h")
	r := openPreprocessed(t, dir, cfg)
	defer r.Close()
	sec, err := measureRate(cfg, ChunkJob{RunDir: dir, Chunk: 0, Seed: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !(sec > 0 && sec < 10) {
		t.Errorf("%v seconds per iteration of a tiny model", sec)
	}
}

// Under DP, iterations stated in epochs follow from the public run's
// chunk-0 flows, the same whatever the private trace's size.
func TestDPEpochsFromPublicRun(t *testing.T) {
	pub := t.TempDir()
	runAll(t, Options{Dir: pub, Config: tinyConfig(t, 5)})
	pubSplit, err := LoadSplit(pub)
	if err != nil {
		t.Fatal(err)
	}
	flows := pubSplit.Chunks[0].Flows
	cfg := epochConfig(t, 3, 0, "")
	cfg.DP = config.DP{Enabled: true, Epsilon: 5, Clip: 1, Pretrained: pub, Init: "public", CountNoise: 20, PublicSchema: true}
	cfg.LongFlows = "truncate"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := epochIterations(3, flows, cfg.Model.BatchSize, 0, 0)
	for _, priv := range []int{1000, 100000} {
		p, err := buildPlan(t.TempDir(), cfg, "pre", &SplitInfo{Chunks: []ChunkInfo{{Flows: priv}, {Flows: priv / 2}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Jobs() {
			if j.Iterations != want {
				t.Errorf("private chunks of %d flows: chunk %d trains %d iterations, want %d (3 epochs of the public chunk's %d flows)", priv, j.Chunk, j.Iterations, want, flows)
			}
		}
	}
}
