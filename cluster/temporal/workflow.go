package temporal

import (
	"fmt"
	"slices"
	"time"

	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/netshare-go/netshare/pipeline"
)

// recordTimeout bounds one attempt at recording chunk completions (a
// manifest rewrite).
const recordTimeout = 5 * time.Minute

func (p Policy) retry() *sdktemporal.RetryPolicy {
	return &sdktemporal.RetryPolicy{
		InitialInterval:        p.RetryInterval,
		BackoffCoefficient:     2,
		MaximumInterval:        p.RetryMaxInterval,
		MaximumAttempts:        p.MaxAttempts,
		NonRetryableErrorTypes: []string{ErrTypeInvalid, ErrTypeDiverged},
	}
}

func (s Status) clone() Status {
	s.Chunks = slices.Clone(s.Chunks)
	s.Trained = slices.Clone(s.Trained)
	it := make(map[int]int, len(s.Iterations))
	for k, v := range s.Iterations {
		it[k] = v
	}
	s.Iterations = it
	return s
}

// ChunkActivityID is the activity ID of chunk c's training activity.
func ChunkActivityID(c int) string { return fmt.Sprintf("train-chunk-%03d", c) }

// RunWorkflow takes one run directory through every stage: pre-processing,
// the base chunk's training, the other chunks' training in parallel
// (fine-tuned from the base; all chunks in parallel when none starts from
// another), then generation and evaluation. Stages the
// run's manifest records as done with the same settings are skipped, so
// re-running the workflow on a run directory continues it.
func RunWorkflow(ctx workflow.Context, in RunInput) (*RunResult, error) {
	pol := in.Policy.WithDefaults()
	st := Status{RunDir: in.RunDir, Fingerprint: in.Fingerprint(), Stage: StagePreprocess, Iterations: map[int]int{}}
	if err := workflow.SetQueryHandler(ctx, QueryName, func() (Status, error) { return st.clone(), nil }); err != nil {
		return nil, err
	}
	stageCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: pol.StageTimeout,
		HeartbeatTimeout:    pol.HeartbeatTimeout,
		RetryPolicy:         pol.retry(),
		WaitForCancellation: true,
	})
	recordCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: recordTimeout,
		RetryPolicy:         pol.retry(),
	})
	trainQueue := in.TrainQueue
	if trainQueue == "" {
		trainQueue = TrainQueueFor(workflow.GetInfo(ctx).TaskQueueName)
	}
	trainOpts := workflow.ActivityOptions{
		TaskQueue:           trainQueue,
		StartToCloseTimeout: pol.TrainTimeout,
		HeartbeatTimeout:    pol.HeartbeatTimeout,
		RetryPolicy:         pol.retry(),
		WaitForCancellation: true,
	}
	train := func(ctx workflow.Context, j pipeline.ChunkJob) workflow.Future {
		o := trainOpts
		o.ActivityID = ChunkActivityID(j.Chunk)
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), ActTrainChunk, j)
	}
	stageIn := StageInput{RunDir: in.RunDir, Audit: in.Audit}
	record := func(jobs ...pipeline.ChunkJob) error {
		err := workflow.ExecuteActivity(recordCtx, ActRecordChunks, RecordInput{RunDir: in.RunDir, Audit: in.Audit, Jobs: jobs}).Get(ctx, nil)
		if err != nil {
			return fmt.Errorf("record trained chunks: %w", err)
		}
		for _, j := range jobs {
			st.Trained = append(st.Trained, j.Chunk)
			st.Iterations[j.Chunk] = j.Iterations
		}
		return nil
	}

	var plan Plan
	if err := workflow.ExecuteActivity(stageCtx, ActPreprocess, in).Get(ctx, &plan); err != nil {
		return nil, fmt.Errorf("pre-process: %w", err)
	}
	if b := plan.Base; b != nil {
		st.Chunks = append(st.Chunks, b.Chunk)
		if plan.BaseDone {
			st.Trained = append(st.Trained, b.Chunk)
			st.Iterations[b.Chunk] = b.Iterations
		} else {
			// The base chunk first: the others start from its weights.
			st.Stage = StageTrainBase
			if err := train(ctx, *b).Get(ctx, nil); err != nil {
				return nil, fmt.Errorf("train chunk %d: %w", b.Chunk, err)
			}
			if err := record(*b); err != nil {
				return nil, err
			}
		}
	}
	for _, j := range plan.Rest {
		st.Chunks = append(st.Chunks, j.Chunk)
	}

	// The other chunks in parallel. Completions are recorded one batch at
	// a time, as they come; the first failure cancels the chunks still
	// training (they checkpoint, and a new run of the workflow resumes
	// them) and fails the run once they have stopped.
	var todo []pipeline.ChunkJob
	for i, j := range plan.Rest {
		if len(plan.RestDone) > i && plan.RestDone[i] {
			st.Trained = append(st.Trained, j.Chunk)
			st.Iterations[j.Chunk] = j.Iterations
		} else {
			todo = append(todo, j)
		}
	}
	if len(todo) > 0 {
		st.Stage = StageTrain
		tctx, cancel := workflow.WithCancel(ctx)
		defer cancel()
		sel := workflow.NewSelector(ctx)
		var (
			failed   error
			finished []pipeline.ChunkJob
		)
		for _, j := range todo {
			sel.AddFuture(train(tctx, j), func(f workflow.Future) {
				if err := f.Get(ctx, nil); err != nil {
					if failed == nil {
						failed = fmt.Errorf("train chunk %d: %w", j.Chunk, err)
						cancel()
					}
					return
				}
				finished = append(finished, j)
			})
		}
		recordFailed := false
		for range todo {
			sel.Select(ctx)
			if len(finished) > 0 && !recordFailed && ctx.Err() == nil {
				batch := finished
				finished = nil
				if err := record(batch...); err != nil {
					recordFailed = true
					if failed == nil {
						failed = err
						cancel()
					}
				}
			}
		}
		if failed != nil {
			return nil, failed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	st.Stage = StageGenerate
	if err := workflow.ExecuteActivity(stageCtx, ActGenerate, stageIn).Get(ctx, nil); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	st.Stage = StageEvaluate
	var res RunResult
	if err := workflow.ExecuteActivity(stageCtx, ActEvaluate, stageIn).Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	st.Stage = StageDone
	return &res, nil
}
