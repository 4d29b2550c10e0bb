package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func chunksOf(steps [][]ChunkJob) [][]int {
	var out [][]int
	for _, s := range steps {
		var cs []int
		for _, j := range s {
			cs = append(cs, j.Chunk)
		}
		out = append(out, cs)
	}
	return out
}

// The plan trains the first chunk with flows alone when the others are
// fine-tuned from it, and every chunk at once when none starts from
// another; empty chunks get no job.
func TestBuildPlanSteps(t *testing.T) {
	split := &SplitInfo{Chunks: []ChunkInfo{{Flows: 0}, {Flows: 5}, {Flows: 3}, {Flows: 0}, {Flows: 7}}}
	cfg := tinyConfig(t, 40)
	dir := t.TempDir()

	cfg.Train.FineTune = true
	p, err := buildPlan(dir, cfg, "pre", split, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(chunksOf(p.Steps)); got != "[[1] [2 4]]" {
		t.Errorf("fine-tuning: steps %s, want [[1] [2 4]]", got)
	}
	base := p.Steps[0][0]
	if base.InitFrom != "" || base.Iterations != 40 {
		t.Errorf("base job %+v", base)
	}
	for _, j := range p.Steps[1] {
		if j.InitFrom != ModelDir(dir, 1) || j.Iterations >= 40 || j.Key == base.Key {
			t.Errorf("fine-tuned job %+v", j)
		}
	}
	if p.Privacy != nil {
		t.Error("privacy guarantee without DP")
	}

	cfg.Train.FineTune = false
	q, err := buildPlan(dir, cfg, "pre", split, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(chunksOf(q.Steps)); got != "[[1 2 4]]" {
		t.Errorf("no fine-tuning: steps %s, want [[1 2 4]]", got)
	}
	for _, j := range q.Jobs() {
		if j.InitFrom != "" || j.Iterations != 40 {
			t.Errorf("job %+v", j)
		}
	}
	// A job's key depends on its settings, not on the plan's shape: the
	// base chunk keeps its key (and its checkpoints) either way.
	if q.Steps[0][0].Key != base.Key {
		t.Error("the first chunk's key changed with fine-tuning")
	}

	if _, err := buildPlan(dir, cfg, "pre", &SplitInfo{Chunks: []ChunkInfo{{}, {}}}, nil); err == nil {
		t.Error("a plan for empty chunks")
	}
}

// fakeDriver records the steps it is asked to train.
type fakeDriver struct {
	steps []string
	fail  int // step that fails, or -1
}

func (d *fakeDriver) TrainStep(step int, jobs []ChunkJob) error {
	var cs []int
	for _, j := range jobs {
		cs = append(cs, j.Chunk)
	}
	d.steps = append(d.steps, fmt.Sprint(step, cs))
	if step == d.fail {
		return errors.New("boom")
	}
	return nil
}

// Execute runs the steps in order, leaves out the jobs already trained
// (and steps with none left), and stops at the first failing step.
func TestPlanExecute(t *testing.T) {
	p := &Plan{Steps: [][]ChunkJob{{{Chunk: 0}}, {{Chunk: 1}, {Chunk: 2}}, {{Chunk: 3}}}}
	done := func(cs ...int) func(ChunkJob) bool {
		return func(j ChunkJob) bool { return slices.Contains(cs, j.Chunk) }
	}
	for _, tc := range []struct {
		trained []int
		fail    int
		want    string
		err     bool
	}{
		{nil, -1, "[0 [0] 1 [1 2] 2 [3]]", false},
		{[]int{0, 2}, -1, "[1 [1] 2 [3]]", false},
		{[]int{0, 1, 2, 3}, -1, "[]", false},
		{nil, 1, "[0 [0] 1 [1 2]]", true},
	} {
		d := &fakeDriver{fail: tc.fail}
		err := p.Execute(d, done(tc.trained...))
		if got := fmt.Sprint(d.steps); got != tc.want || (err != nil) != tc.err {
			t.Errorf("trained %v, failing step %d: steps %s (err %v), want %s", tc.trained, tc.fail, got, err, tc.want)
		}
	}
}
