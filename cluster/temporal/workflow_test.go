package temporal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/pipeline"
)

// tinyConfig trains three chunks in a second or two.
func tinyConfig(t testing.TB) (*config.Config, string) {
	t.Helper()
	c, err := config.Parse([]byte(testutil.TinyConfig(3, 60, 20, "threads: 1")), "quick")
	if err != nil {
		t.Fatal(err)
	}
	text, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return c, string(text)
}

var mockAny = mock.Anything

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv returns a test environment with the workflow and a's activities
// registered.
func newEnv(t *testing.T, a *Activities) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(quiet()))
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(2 * time.Minute)
	Register(env, a)
	RegisterTraining(env, a)
	return env
}

// TestWorkflowResumesFailedChunkFromCheckpoint runs the whole workflow on
// the embedded sample with real training; the base chunk's first attempt
// fails at iteration 40 (after checkpoints at 20 and 40) and the retry must
// resume there, not at 0. The synthetic trace must equal a local run's.
func TestWorkflowResumesFailedChunkFromCheckpoint(t *testing.T) {
	cfg, text := tinyConfig(t)
	dir := t.TempDir()
	const failAt = 40
	var (
		mu     sync.Mutex
		firsts = map[int][]int{} // chunk → First of each attempt
		failed bool
	)
	train := func(ctx context.Context, job pipeline.ChunkJob, progress func(pipeline.Progress)) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		seen := false
		err := pipeline.TrainChunk(ctx, job, func(p pipeline.Progress) {
			if !seen {
				seen = true
				mu.Lock()
				firsts[job.Chunk] = append(firsts[job.Chunk], p.First)
				mu.Unlock()
			}
			mu.Lock()
			fail := job.Chunk == 0 && !failed && p.Iteration == failAt
			if fail {
				failed = true
			}
			mu.Unlock()
			if fail {
				cancel() // the job stops at the next iteration boundary
			}
			progress(p)
		})
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		return err
	}
	a := &Activities{Train: train, Worker: "test", Log: quiet()}
	env := newEnv(t, a)
	var heartbeats []Heartbeat
	env.SetOnActivityHeartbeatListener(func(info *activity.Info, details converter.EncodedValues) {
		var hb Heartbeat
		if details.Get(&hb) == nil && info.ActivityType.Name == ActTrainChunk {
			mu.Lock()
			heartbeats = append(heartbeats, hb)
			mu.Unlock()
		}
	})
	env.ExecuteWorkflow(WorkflowName, RunInput{RunDir: dir, Config: text, Policy: Policy{MaxAttempts: 3}})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	var res RunResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Synthetic != filepath.Join(dir, "synthetic.csv") {
		t.Errorf("result names %q", res.Synthetic)
	}

	if got := firsts[0]; len(got) != 2 || got[0] != 0 || got[1] != failAt {
		t.Fatalf("chunk 0's attempts started at iterations %v, want [0 %d] (a retry resumes from the checkpoint)", got, failAt)
	}
	for _, c := range []int{1, 2} {
		if got := firsts[c]; len(got) != 1 || got[0] != 0 {
			t.Errorf("chunk %d's attempts started at %v, want one from 0", c, got)
		}
	}
	att, err := ReadAttempts(pipeline.ModelDir(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(att) != 2 || att[0].First != 0 || att[0].Reached != failAt || att[0].Outcome == "done" ||
		att[1].First != failAt || att[1].Reached != 60 || att[1].Outcome != "done" || att[1].Attempt != 2 {
		t.Errorf("chunk 0's attempt journal: %+v", att)
	}
	resumed := false
	for _, hb := range heartbeats {
		if hb.Chunk == 0 && hb.Attempt == 2 && hb.First == failAt {
			resumed = true
			if hb.Previous != failAt {
				t.Errorf("retry's heartbeat says the previous attempt reached %d, want %d", hb.Previous, failAt)
			}
		}
	}
	if !resumed {
		for _, hb := range heartbeats {
			t.Logf("%+v", hb)
		}
		t.Errorf("no heartbeat of the retry reports resuming at %d", failAt)
	}

	// Every chunk and stage is recorded in the manifest.
	r, err := pipeline.Reopen(dir, false, quiet())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range plan.Jobs() {
		if !r.ChunkTrained(j) {
			t.Errorf("chunk %d not recorded as trained", j.Chunk)
		}
	}
	for _, s := range []string{"preprocess", "generate", "evaluate"} {
		if r.Man.Stage(s) == nil {
			t.Errorf("stage %s not recorded", s)
		}
	}
	r.Close()

	// The same configuration run locally gives the same synthetic trace.
	local := t.TempDir()
	lr, err := pipeline.Open(pipeline.Options{Dir: local, Config: cfg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	if err := lr.RunAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(local, "synthetic.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(res.Synthetic)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("synthetic trace differs from a local run's (%d vs %d bytes)", len(got), len(want))
	}

	// Running the workflow again on the same directory trains nothing.
	env2 := newEnv(t, &Activities{Train: func(context.Context, pipeline.ChunkJob, func(pipeline.Progress)) error {
		return errors.New("trained again")
	}, Worker: "test", Log: quiet()})
	env2.ExecuteWorkflow(WorkflowName, RunInput{RunDir: dir, Config: text})
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatalf("re-run: %v", err)
	}
}

// fakePlan makes a run directory with a model folder per chunk, and a
// plan of n chunks (chunk 0 the base, trained first) for a mocked
// pre-processing.
func fakePlan(t *testing.T, n int) (string, PlanResult) {
	dir := t.TempDir()
	base := pipeline.ChunkJob{RunDir: dir, Chunk: 0, Iterations: 8, Key: "k0"}
	var rest []pipeline.ChunkJob
	for c := 1; c < n; c++ {
		rest = append(rest, pipeline.ChunkJob{RunDir: dir, Chunk: c, Iterations: 2, InitFrom: pipeline.ModelDir(dir, 0), Key: fmt.Sprintf("k%d", c)})
	}
	p := PlanResult{Plan: pipeline.Plan{Steps: [][]pipeline.ChunkJob{{base}, rest}}}
	for c := range n {
		if err := os.MkdirAll(pipeline.ModelDir(dir, c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, p
}

// mockStages replaces the stage activities: pre-processing returns plan,
// recording notes the chunks it records and fails if two recordings
// overlap, generation and evaluation do nothing.
type mockStages struct {
	mu        sync.Mutex
	recorded  [][]int
	inFlight  int
	overlap   bool
	generated bool
}

func (m *mockStages) install(env *testsuite.TestWorkflowEnvironment, plan PlanResult) {
	env.OnActivity(ActPreprocess, mockAny, mockAny).Return(&plan, nil)
	env.OnActivity(ActRecordChunks, mockAny, mockAny).Return(func(ctx context.Context, in RecordInput) error {
		m.mu.Lock()
		m.inFlight++
		if m.inFlight > 1 {
			m.overlap = true
		}
		var cs []int
		for _, j := range in.Jobs {
			cs = append(cs, j.Chunk)
		}
		m.recorded = append(m.recorded, cs)
		m.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		m.mu.Lock()
		m.inFlight--
		m.mu.Unlock()
		return nil
	})
	env.OnActivity(ActGenerate, mockAny, mockAny).Return(func(ctx context.Context, in StageInput) error {
		m.mu.Lock()
		m.generated = true
		m.mu.Unlock()
		return nil
	})
	env.OnActivity(ActEvaluate, mockAny, mockAny).Return(&RunResult{RunDir: plan.Plan.Steps[0][0].RunDir}, nil)
}

func (m *mockStages) recordedChunks() map[int]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := map[int]int{}
	for _, b := range m.recorded {
		for _, c := range b {
			n[c]++
		}
	}
	return n
}

// TestWorkflowOrdersBaseThenParallel checks the schedule: the base chunk
// trains alone and is recorded before any other starts; the others train
// at the same time (each waits until all have started); every completion
// is recorded once, by one recording at a time.
func TestWorkflowOrdersBaseThenParallel(t *testing.T) {
	const n = 4
	dir, plan := fakePlan(t, n)
	var m mockStages
	var (
		mu      sync.Mutex
		running = map[int]bool{}
		events  []string
	)
	allStarted := make(chan struct{})
	started := 0
	train := func(ctx context.Context, job pipeline.ChunkJob, progress func(pipeline.Progress)) error {
		mu.Lock()
		running[job.Chunk] = true
		events = append(events, fmt.Sprintf("start %d", job.Chunk))
		if job.Chunk == 0 && len(running) > 1 {
			mu.Unlock()
			return errors.New("base chunk trains beside others")
		}
		if job.Chunk != 0 {
			if got := m.recordedChunks()[0]; got != 1 {
				mu.Unlock()
				return fmt.Errorf("chunk %d started before the base chunk was recorded", job.Chunk)
			}
			started++
			if started == n-1 {
				close(allStarted)
			}
		}
		mu.Unlock()
		progress(pipeline.Progress{Chunk: job.Chunk, Iteration: 0, Iterations: job.Iterations})
		if job.Chunk != 0 {
			select {
			case <-allStarted:
			case <-time.After(20 * time.Second):
				return fmt.Errorf("chunk %d: the other chunks did not start while it trained", job.Chunk)
			}
		}
		progress(pipeline.Progress{Chunk: job.Chunk, Iteration: job.Iterations, Iterations: job.Iterations, Done: true})
		mu.Lock()
		delete(running, job.Chunk)
		events = append(events, fmt.Sprintf("end %d", job.Chunk))
		mu.Unlock()
		return nil
	}
	env := newEnv(t, &Activities{Train: train, Worker: "test", Log: quiet()})
	m.install(env, plan)
	env.ExecuteWorkflow(WorkflowName, RunInput{RunDir: dir})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow: %v (events %v)", err, events)
	}
	if events[0] != "start 0" || events[1] != "end 0" {
		t.Errorf("events %v: the base chunk must train first, alone", events)
	}
	if m.overlap {
		t.Error("two manifest recordings ran at once")
	}
	rec := m.recordedChunks()
	for c := range n {
		if rec[c] != 1 {
			t.Errorf("chunk %d recorded %d times, want once (%v)", c, rec[c], m.recorded)
		}
	}
	if !m.generated {
		t.Error("generation did not run")
	}
	var st Status
	v, err := env.QueryWorkflow(QueryName)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	if st.Stage != StageDone || len(st.Trained) != n || len(st.Chunks) != n {
		t.Errorf("status %+v", st)
	}
}

// TestWorkflowIndependentChunksInParallel: when no chunk starts from
// another's weights (DP, or fine-tuning off), every chunk trains at once.
func TestWorkflowIndependentChunksInParallel(t *testing.T) {
	const n = 3
	dir, plan := fakePlan(t, n)
	plan.Plan.Steps = [][]pipeline.ChunkJob{plan.Plan.Jobs()}
	var m mockStages
	var (
		mu      sync.Mutex
		started int
	)
	all := make(chan struct{})
	train := func(ctx context.Context, job pipeline.ChunkJob, progress func(pipeline.Progress)) error {
		mu.Lock()
		if started++; started == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return nil
		case <-time.After(20 * time.Second):
			return fmt.Errorf("chunk %d: the other chunks did not start while it trained", job.Chunk)
		}
	}
	env := newEnv(t, &Activities{Train: train, Worker: "test", Log: quiet()})
	m.install(env, plan)
	env.ExecuteWorkflow(WorkflowName, RunInput{RunDir: dir})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	if rec := m.recordedChunks(); len(rec) != n {
		t.Errorf("recorded %v", m.recorded)
	}
}

// TestWorkflowChunkFailure checks that a chunk that keeps failing fails
// the run with its error after the configured attempts, that a diverged
// chunk is not retried, and that the other chunks are cancelled (they
// checkpoint) rather than left running.
func TestWorkflowChunkFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
	}{
		{"retried then fails", errors.New("disk on fire"), 3},
		{"diverged", fmt.Errorf("iteration 7: %w", dg.ErrDiverged), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, plan := fakePlan(t, 4)
			var m mockStages
			var (
				mu        sync.Mutex
				attempts  int
				cancelled = map[string]bool{}
			)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			train := func(ctx context.Context, job pipeline.ChunkJob, progress func(pipeline.Progress)) error {
				switch job.Chunk {
				case 0:
					return nil
				case 2:
					mu.Lock()
					attempts++
					mu.Unlock()
					return tc.err
				}
				// The others train until cancelled (or the test ends).
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-release:
					return errors.New("not cancelled")
				}
			}
			env := newEnv(t, &Activities{Train: train, Worker: "test", Log: quiet()})
			m.install(env, plan)
			env.SetOnActivityCanceledListener(func(info *activity.Info) {
				mu.Lock()
				cancelled[info.ActivityID] = true
				mu.Unlock()
			})
			env.ExecuteWorkflow(WorkflowName, RunInput{RunDir: dir, Policy: Policy{MaxAttempts: 3, RetryInterval: time.Second}})
			err := env.GetWorkflowError()
			if err == nil {
				t.Fatal("workflow succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "train chunk 2") || !strings.Contains(msg, tc.err.Error()) {
				t.Errorf("error %q does not name chunk 2 and its cause", msg)
			}
			mu.Lock()
			defer mu.Unlock()
			if attempts != tc.attempts {
				t.Errorf("chunk 2 tried %d times, want %d", attempts, tc.attempts)
			}
			// The chunks still training are cancelled (they checkpoint and
			// stop), not left running.
			if !cancelled[ChunkActivityID(1)] || !cancelled[ChunkActivityID(3)] {
				t.Errorf("chunks still training were not cancelled: %v", cancelled)
			}
			if m.generated {
				t.Error("generation ran after a failed chunk")
			}
			if rec := m.recordedChunks(); rec[2] != 0 {
				t.Error("the failed chunk was recorded as trained")
			}
		})
	}
}

func TestWorkflowIDAndFingerprint(t *testing.T) {
	a, b := WorkflowID("/shared/runs/x"), WorkflowID("/shared/runs/x/")
	if a != b {
		t.Errorf("same directory, IDs %q and %q", a, b)
	}
	if a == WorkflowID("/shared/other/x") {
		t.Error("different directories share an ID")
	}
	if !strings.Contains(a, "x") {
		t.Errorf("ID %q does not name the run", a)
	}
	in := RunInput{RunDir: "/r", Config: "seed: 1\n"}
	other := in
	other.Config = "seed: 2\n"
	if in.Fingerprint() == other.Fingerprint() {
		t.Error("different configurations, same fingerprint")
	}
	other = in
	other.Policy.HeartbeatTimeout = time.Second // timeouts do not change what is computed
	if in.Fingerprint() != other.Fingerprint() {
		t.Error("the policy changes the fingerprint")
	}
	p := Policy{HeartbeatTimeout: 5 * time.Second}.WithDefaults()
	if p.HeartbeatTimeout != 5*time.Second || p.TrainTimeout != DefaultTrainTimeout || p.MaxAttempts != DefaultMaxAttempts {
		t.Errorf("defaults: %+v", p)
	}
}
