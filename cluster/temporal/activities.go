package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/pipeline"
	"github.com/netshare-go/netshare/report"
)

// AttemptsFile is the journal each chunk's model folder keeps of the
// training attempts made on it by the cluster workflow: which worker ran
// each, the iteration it started at (0 for a start from scratch, the
// checkpoint's otherwise) and the iteration it reached.
const AttemptsFile = "attempts.json"

// Attempt is one entry of a chunk's attempt journal.
type Attempt struct {
	Attempt  int32     `json:"attempt"`
	Worker   string    `json:"worker"`
	Workflow string    `json:"workflow_run"`
	First    int       `json:"first_iteration"`
	Reached  int       `json:"reached_iteration,omitempty"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	Outcome  string    `json:"outcome,omitempty"`
}

// ReadAttempts reads the attempt journal of a chunk's model folder (nil
// when there is none).
func ReadAttempts(modelDir string) ([]Attempt, error) {
	b, err := os.ReadFile(filepath.Join(modelDir, AttemptsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a []Attempt
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(modelDir, AttemptsFile), err)
	}
	return a, nil
}

func appendAttempt(modelDir string, a Attempt) error {
	all, err := ReadAttempts(modelDir)
	if err != nil {
		all = nil // a damaged journal is replaced, not fatal
	}
	replaced := false
	for i := range all {
		if all[i].Attempt == a.Attempt && all[i].Workflow == a.Workflow && all[i].Worker == a.Worker {
			all[i], replaced = a, true
		}
	}
	if !replaced {
		all = append(all, a)
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(modelDir, AttemptsFile), append(b, '\n'), 0o644)
}

// Activities holds the activities of a run. A worker registers the stage
// activities (Preprocess, RecordChunks, Generate, Evaluate) on its task
// queue and TrainChunk on its training queue.
type Activities struct {
	// Train trains one chunk; nil uses pipeline.TrainChunk.
	Train pipeline.TrainFunc
	// Threads is the number of BLAS threads a training activity uses when
	// the run's configuration does not set train.threads (0: all cores).
	Threads int
	// Worker names this worker in heartbeats, logs and attempt journals.
	Worker string
	// Client, when set, is the worker's connection: activities then send
	// their periodic heartbeats through it and stop (checkpointing) when
	// the service has been unreachable for half the heartbeat timeout,
	// before another worker can take over the same chunk.
	Client client.Client
	// Log receives the activities' logs; nil uses slog.Default().
	Log *slog.Logger
}

func (a *Activities) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

func invalid(format string, args ...any) error {
	return sdktemporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalid, nil)
}

// checkRunDir verifies that dir is an absolute path this worker sees.
func (a *Activities) checkRunDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return invalid("run directory %q is not an absolute path", dir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		// Retryable: another worker may see it.
		return fmt.Errorf("run directory %s is not visible on worker %s (is the shared storage mounted at the same path on every worker?)", dir, a.Worker)
	}
	return nil
}

// Preprocess prepares the run directory (configuration, input, manifest)
// and pre-processes the trace unless that is done, then returns the
// training plan (its privacy guarantee recorded in the manifest) and the
// chunks already trained.
func (a *Activities) Preprocess(ctx context.Context, in RunInput) (*PlanResult, error) {
	if !filepath.IsAbs(in.RunDir) {
		return nil, invalid("run directory %q is not an absolute path", in.RunDir)
	}
	if in.Input != "" && !filepath.IsAbs(in.Input) {
		return nil, invalid("input %q is not an absolute path", in.Input)
	}
	var cfg *config.Config
	if in.Config != "" {
		var err error
		if cfg, err = config.Parse([]byte(in.Config), ""); err != nil {
			return nil, invalid("configuration: %v", err)
		}
	}
	ctx, g := a.guard(ctx, nil)
	defer g.close()
	r, err := pipeline.Open(pipeline.Options{Dir: in.RunDir, Input: in.Input, Config: cfg, Audit: in.Audit, Force: in.Force, Logger: a.log()})
	if errors.Is(err, pipeline.ErrOtherRun) {
		return nil, invalid("%v", err)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.Preprocess(ctx); err != nil {
		return nil, err
	}
	p, err := r.PlanTraining()
	if err != nil {
		return nil, invalid("%v", err)
	}
	res := &PlanResult{Plan: *p}
	for _, j := range p.Jobs() {
		if r.ChunkTrained(j) {
			res.Trained = append(res.Trained, j.Chunk)
		}
	}
	return res, nil
}

// TrainChunk trains one chunk, resuming from its last checkpoint, and
// heartbeats its progress. It writes only the chunk's model folder.
func (a *Activities) TrainChunk(ctx context.Context, job pipeline.ChunkJob) (*ChunkResult, error) {
	if err := a.checkRunDir(job.RunDir); err != nil {
		return nil, err
	}
	info := activity.GetInfo(ctx)
	// The first heartbeat says where this attempt resumes (TrainChunk's
	// own report, with the same figure, comes after the first iterations).
	resume := pipeline.ResumePoint(job)
	hb := Heartbeat{Chunk: job.Chunk, Iteration: resume, Iterations: job.Iterations, First: resume, Attempt: info.Attempt, Worker: a.Worker}
	if activity.HasHeartbeatDetails(ctx) {
		var prev Heartbeat
		if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil {
			hb.Previous = prev.Iteration
		}
	}
	if job.Threads == 0 {
		job.Threads = a.Threads
	}
	log := a.log().With("chunk", job.Chunk, "attempt", info.Attempt, "worker", a.Worker)
	tctx, g := a.guard(ctx, hb)
	defer g.close()
	dir := pipeline.ModelDir(job.RunDir, job.Chunk)
	entry := Attempt{Attempt: info.Attempt, Worker: a.Worker, Workflow: info.WorkflowExecution.RunID, Started: time.Now().UTC()}
	started := false
	var journalErr error
	progress := func(p pipeline.Progress) {
		hb.Iteration, hb.First, hb.Elapsed, hb.Losses, hb.Done = p.Iteration, p.First, p.Elapsed, p.Losses, p.Done
		g.set(hb)
		if !started {
			// The first report comes once the model folder holds this
			// job's key: the journal belongs to it from then on.
			started = true
			entry.First = p.First
			journalErr = appendAttempt(dir, entry)
			if p.First > 0 {
				log.Info("chunk training resumed", "from_iteration", p.First, "of", job.Iterations, "previous_attempt_reached", hb.Previous)
			} else {
				log.Info("chunk training started", "iterations", job.Iterations)
			}
		}
	}
	train := a.Train
	if train == nil {
		train = pipeline.TrainChunk
	}
	err := train(tctx, job, progress)
	// The checkpoint holds where training stopped (it saves on
	// cancellation too).
	entry.Reached = max(hb.Iteration, pipeline.ResumePoint(job))
	if started {
		entry.Ended = time.Now().UTC()
		switch cause := context.Cause(tctx); {
		case err == nil:
			entry.Outcome = "done"
		case errors.Is(cause, errWorkerStopping), errors.Is(cause, errLostContact), errors.Is(cause, errTimedOut):
			entry.Outcome = cause.Error()
		default:
			entry.Outcome = err.Error()
		}
		if jerr := appendAttempt(dir, entry); jerr != nil && journalErr == nil {
			journalErr = jerr
		}
	}
	if journalErr != nil {
		log.Warn("could not write the attempt journal", "err", journalErr)
	}
	if err != nil {
		switch {
		case errors.Is(err, dg.ErrDiverged):
			return nil, sdktemporal.NewNonRetryableApplicationError(fmt.Sprintf("chunk %d: %v", job.Chunk, err), ErrTypeDiverged, err)
		case errors.Is(context.Cause(tctx), errWorkerStopping):
			log.Info("worker stopping: chunk checkpointed for a retry elsewhere", "iteration", entry.Reached)
			return nil, fmt.Errorf("chunk %d: worker %s stopped at iteration %d (checkpointed; retried elsewhere)", job.Chunk, a.Worker, entry.Reached)
		case errors.Is(context.Cause(tctx), errLostContact), errors.Is(context.Cause(tctx), errTimedOut):
			log.Warn("chunk checkpointed and left to a retry", "reason", context.Cause(tctx), "iteration", entry.Reached)
			return nil, fmt.Errorf("chunk %d: %w at iteration %d (checkpointed)", job.Chunk, context.Cause(tctx), entry.Reached)
		}
		log.Warn("chunk training failed", "iteration", entry.Reached, "err", err)
		return nil, fmt.Errorf("chunk %d: %w", job.Chunk, err)
	}
	log.Info("chunk trained", "iterations", job.Iterations)
	return &ChunkResult{Chunk: job.Chunk, First: max(hb.First, 0), Iteration: job.Iterations, Attempt: info.Attempt, Worker: a.Worker}, nil
}

// RecordChunks records chunk completions in the run's manifest. The
// workflow runs it for one run at a time, so the manifest has one writer.
func (a *Activities) RecordChunks(ctx context.Context, in RecordInput) error {
	r, err := pipeline.Reopen(in.RunDir, in.Audit, a.log())
	if err != nil {
		return err
	}
	defer r.Close()
	for _, j := range in.Jobs {
		if !dg.HasCheckpoint(pipeline.ModelDir(in.RunDir, j.Chunk)) {
			return fmt.Errorf("chunk %d: no model in %s", j.Chunk, pipeline.ModelDir(in.RunDir, j.Chunk))
		}
		if err := r.RecordChunk(j); err != nil {
			return err
		}
	}
	return nil
}

// Generate writes the synthetic trace unless that is done.
func (a *Activities) Generate(ctx context.Context, in StageInput) error {
	return a.stage(ctx, in, func(ctx context.Context, r *pipeline.Run) error { return r.Generate(ctx) })
}

// Evaluate writes metrics.json and the report unless that is done, and
// returns where the outputs are.
func (a *Activities) Evaluate(ctx context.Context, in StageInput) (*RunResult, error) {
	var res RunResult
	err := a.stage(ctx, in, func(ctx context.Context, r *pipeline.Run) error {
		if err := r.Evaluate(ctx); err != nil {
			return err
		}
		res = RunResult{RunDir: r.Dir, Synthetic: r.Synthetic(), Metrics: filepath.Join(r.Dir, report.MetricsFile), Report: filepath.Join(r.Dir, report.ReportFile)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func (a *Activities) stage(ctx context.Context, in StageInput, f func(context.Context, *pipeline.Run) error) error {
	if err := a.checkRunDir(in.RunDir); err != nil {
		return err
	}
	ctx, g := a.guard(ctx, nil)
	defer g.close()
	r, err := pipeline.Reopen(in.RunDir, in.Audit, a.log())
	if err != nil {
		return err
	}
	defer r.Close()
	return f(ctx, r)
}
