package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/eval"
)

func TestValidationSplit(t *testing.T) {
	for _, c := range []struct{ n, want int }{{100, 0}, {194, 0}, {200, 20}, {1234, 123}, {50000, 2000}} {
		if got := validationCount(c.n); got != c.want {
			t.Errorf("validationCount(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// Flow i: attributes (i, -i), 1+i%3 records whose one feature is i
	// (sparse: each flow's records only).
	d := &encoding.Data{N: 50, AttrDim: 2, FeatDim: 1, MaxLen: 3}
	for i := 0; i < d.N; i++ {
		d.Attr = append(d.Attr, float32(i), float32(-i))
		d.Len = append(d.Len, 1+i%3)
		for range 1 + i%3 {
			d.Feat = append(d.Feat, float32(i))
		}
	}
	train, valid := splitValidation(d, 7, 9)
	if train.N != 43 || valid.N != 7 || len(train.Attr) != 86 || len(valid.Len) != 7 || len(valid.Feat) != valid.Records() || len(train.Feat) != train.Records() {
		t.Fatalf("split sizes: train %d, valid %d", train.N, valid.N)
	}
	seen := map[float32]bool{}
	for _, part := range []*encoding.Data{train, valid} {
		pos := 0
		for i := 0; i < part.N; i++ {
			v := part.Attr[2*i]
			if part.Attr[2*i+1] != -v || part.Len[i] != 1+int(v)%3 || seen[v] {
				t.Fatalf("row %v split apart or repeated", v)
			}
			for k := 0; k < part.Len[i]; k++ {
				if part.Feat[pos] != v {
					t.Fatalf("flow %v: record %d has feature %v", v, k, part.Feat[pos])
				}
				pos++
			}
			seen[v] = true
		}
	}
	if len(seen) != 50 {
		t.Errorf("%d rows after the split, want 50", len(seen))
	}
	_, again := splitValidation(d, 7, 9)
	if fmt.Sprint(again.Attr) != fmt.Sprint(valid.Attr) {
		t.Error("the validation slice is not reproducible from the seed")
	}
}

// selectConfigRun pre-processes a run of the embedded sample with checkpoint
// selection on (a checkpoint every 10 iterations) and returns its plan's
// chunk-0 job.
func selectConfigRun(t *testing.T, dir string) (*Run, ChunkJob) {
	t.Helper()
	cfg := tinyConfig(t, 30)
	cfg.Train.SelectBest = true
	r, err := Open(Options{Dir: dir, Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Preprocess(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := r.PlanTraining()
	if err != nil {
		t.Fatal(err)
	}
	j := p.Jobs()[0]
	if !j.SelectBest {
		t.Fatal("train.select_best did not reach the job")
	}
	return r, j
}

// checkChosen asserts that a chunk's chosen checkpoint is its best-scoring
// one and that the copy in BestDir is that checkpoint.
func checkChosen(t *testing.T, modelDir string, iterations ...int) *eval.ChunkSelection {
	t.Helper()
	s, err := ReadSelection(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	var its []int
	best := s.Scores[0]
	for _, sc := range s.Scores {
		its = append(its, sc.Iteration)
		if sc.Score < best.Score {
			best = sc
		}
		if !(sc.Score >= 0 && sc.Score <= 1) || math.Abs(sc.Score-(sc.JointTVD+sc.MeanJSD)/2) > 1.01e-5 { // each of the three rounded to 5 decimals
			t.Errorf("iteration %d: score %v from joint TVD %v and JSD %v", sc.Iteration, sc.Score, sc.JointTVD, sc.MeanJSD)
		}
	}
	if fmt.Sprint(its) != fmt.Sprint(iterations) {
		t.Errorf("scored iterations %v, want %v", its, iterations)
	}
	if s.Chosen != best.Iteration {
		t.Errorf("chose iteration %d, the best score is at %d (%+v)", s.Chosen, best.Iteration, s.Scores)
	}
	m, err := dg.Load(filepath.Join(modelDir, BestDir))
	if err != nil {
		t.Fatal(err)
	}
	if m.Iteration() != s.Chosen {
		t.Errorf("the best checkpoint's copy is at iteration %d, chosen %d", m.Iteration(), s.Chosen)
	}
	if s.ValidationFlows < validationMin {
		t.Errorf("%d validation flows", s.ValidationFlows)
	}
	return s
}

// A job killed after its checkpoint at iteration 20 and resumed to 30
// keeps the scores up to 20 and ends with the scores and choice of a job
// that ran through; a checkpoint resumed from without a score (the job
// stopped between saving and scoring it) is scored on resumption.
func TestSelectionResumeKeepsScores(t *testing.T) {
	ctx := context.Background()
	through := t.TempDir()
	_, j := selectConfigRun(t, through)
	j.RunDir = through
	if err := TrainChunk(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	want := checkChosen(t, ModelDir(through, 0), 10, 20, 30)

	dir := t.TempDir()
	_, k := selectConfigRun(t, dir)
	k.RunDir = dir
	if k.Key != j.Key {
		t.Fatal("the same settings gave two job keys")
	}
	half := k
	half.Iterations = 20
	if err := TrainChunk(ctx, half, nil); err != nil {
		t.Fatal(err)
	}
	md := ModelDir(dir, 0)
	before := checkChosen(t, md, 10, 20)
	// Lose the score of the last checkpoint, as a job killed before
	// writing it would.
	cut := *before
	cut.Scores = cut.Scores[:1]
	if err := writeJSON(filepath.Join(md, SelectionFile), cut); err != nil {
		t.Fatal(err)
	}
	if err := TrainChunk(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	got := checkChosen(t, md, 10, 20, 30)
	for i := range got.Scores {
		a, b := got.Scores[i], want.Scores[i]
		if a.Iteration != b.Iteration || a.Score != b.Score || a.JointTVD != b.JointTVD || a.MeanJSD != b.MeanJSD {
			t.Errorf("resumed score %+v, uninterrupted %+v", a, b)
		}
	}
	if got.Scores[0].Seconds != before.Scores[0].Seconds {
		t.Error("the score from before the resumption was not kept")
	}
	if got.Chosen != want.Chosen {
		t.Errorf("resumed job chose %d, uninterrupted %d", got.Chosen, want.Chosen)
	}
}

// A whole run with selection: every chunk's scores are in its model folder
// and metrics.json, generation uses the chosen checkpoint, and the report
// draws the scores.
func TestRunSelectsBestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, 30)
	cfg.Train.SelectBest = true
	r := runAll(t, Options{Dir: dir, Config: cfg, Logger: quietLogger()})
	res, err := eval.ReadResult(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CheckpointSelection) != 2 {
		t.Fatalf("metrics.json has %d chunk selections, want 2", len(res.CheckpointSelection))
	}
	for c, cs := range res.CheckpointSelection {
		// Chunk 1 is fine-tuned for 30/4 iterations: one checkpoint.
		its := []int{10, 20, 30}
		if c == 1 {
			its = []int{7}
		}
		s := checkChosen(t, ModelDir(dir, c), its...)
		if cs.Chunk != c || cs.Chosen != s.Chosen || len(cs.Scores) != len(s.Scores) {
			t.Errorf("metrics.json chunk %d selection %+v, model folder %+v", c, cs, s)
		}
	}
	models, err := r.loadModels(mustSplit(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if models[0].Iteration() != res.CheckpointSelection[0].Chosen {
		t.Errorf("generation loads chunk 0 at iteration %d, chosen %d", models[0].Iteration(), res.CheckpointSelection[0].Chosen)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{`id="fig-checkpoint_selection"`, `id="selection-table"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %s", want)
		}
	}
	var raw map[string]json.RawMessage
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.json"))
	json.Unmarshal(b, &raw)
	if raw["checkpoint_selection"] == nil {
		t.Error("metrics.json has no checkpoint_selection key")
	}
}

func mustSplit(t *testing.T, dir string) *SplitInfo {
	t.Helper()
	s, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A job whose latest checkpoint is damaged resumes from the one before and
// drops the later scores; a copy of the best checkpoint from after it is
// dropped too, and the checkpoint resumed from stands in for it: the copy
// generation uses is always the chosen iteration's.
func TestSelectionResumeAfterDamagedCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, j := selectConfigRun(t, dir)
	j.RunDir = dir
	if err := TrainChunk(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	md := ModelDir(dir, 0)
	// Make the copy the latest checkpoint's, then damage the latest.
	last, err := dg.Load(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := last.SaveSnapshot(filepath.Join(md, BestDir)); err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(md, "model-000030.safetensors")
	raw, _ := os.ReadFile(w)
	os.WriteFile(w, raw[:len(raw)/2], 0o644)
	if err := TrainChunk(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSelection(md)
	if err != nil {
		t.Fatal(err)
	}
	var its []int
	for _, sc := range s.Scores {
		its = append(its, sc.Iteration)
	}
	if fmt.Sprint(its) != "[10 20 30]" {
		t.Errorf("scored iterations %v, want [10 20 30]", its)
	}
	it, err := dg.CheckpointIteration(filepath.Join(md, BestDir))
	if err != nil {
		t.Fatal(err)
	}
	if it != s.Chosen || (it != 20 && it != 30) {
		t.Errorf("best copy at iteration %d, chosen %d; want 20 or 30 (the weights of 10 are gone)", it, s.Chosen)
	}
}
