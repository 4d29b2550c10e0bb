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
// the training plan's steps (the base chunk, then the chunks fine-tuned
// from it in parallel; all chunks in parallel when none starts from
// another), then generation and evaluation. Stages the run's manifest
// records as done with the same settings are skipped, so re-running the
// workflow on a run directory continues it.
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
	trainQueue := in.TrainQueue
	if trainQueue == "" {
		trainQueue = TrainQueueFor(workflow.GetInfo(ctx).TaskQueueName)
	}
	d := &workflowDriver{
		ctx: ctx,
		in:  in,
		st:  &st,
		trainOpts: workflow.ActivityOptions{
			TaskQueue:           trainQueue,
			StartToCloseTimeout: pol.TrainTimeout,
			HeartbeatTimeout:    pol.HeartbeatTimeout,
			RetryPolicy:         pol.retry(),
			WaitForCancellation: true,
		},
		recordCtx: workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: recordTimeout,
			RetryPolicy:         pol.retry(),
		}),
	}

	var pr PlanResult
	if err := workflow.ExecuteActivity(stageCtx, ActPreprocess, in).Get(ctx, &pr); err != nil {
		return nil, fmt.Errorf("pre-process: %w", err)
	}
	d.steps = len(pr.Plan.Steps)
	for _, j := range pr.Plan.Jobs() {
		st.Chunks = append(st.Chunks, j.Chunk)
		if slices.Contains(pr.Trained, j.Chunk) {
			st.Trained = append(st.Trained, j.Chunk)
			st.Iterations[j.Chunk] = j.Iterations
		}
	}
	trained := func(j pipeline.ChunkJob) bool { return slices.Contains(pr.Trained, j.Chunk) }
	if err := pr.Plan.Execute(d, trained); err != nil {
		return nil, err
	}

	stageIn := StageInput{RunDir: in.RunDir, Audit: in.Audit}
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

// workflowDriver is the pipeline.Driver of a workflow: it trains each job
// of a plan step as an activity on the training queue and records
// completions in the manifest through the recording activity.
type workflowDriver struct {
	ctx       workflow.Context
	in        RunInput
	st        *Status
	steps     int // steps in the plan
	trainOpts workflow.ActivityOptions
	recordCtx workflow.Context
}

func (d *workflowDriver) train(ctx workflow.Context, j pipeline.ChunkJob) workflow.Future {
	o := d.trainOpts
	o.ActivityID = ChunkActivityID(j.Chunk)
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), ActTrainChunk, j)
}

func (d *workflowDriver) record(jobs ...pipeline.ChunkJob) error {
	err := workflow.ExecuteActivity(d.recordCtx, ActRecordChunks, RecordInput{RunDir: d.in.RunDir, Audit: d.in.Audit, Jobs: jobs}).Get(d.ctx, nil)
	if err != nil {
		return fmt.Errorf("record trained chunks: %w", err)
	}
	for _, j := range jobs {
		d.st.Trained = append(d.st.Trained, j.Chunk)
		d.st.Iterations[j.Chunk] = j.Iterations
	}
	return nil
}

// TrainStep trains the step's chunks in parallel. Completions are recorded
// one batch at a time, as they come; the first failure cancels the chunks
// still training (they checkpoint, and a new run of the workflow resumes
// them) and fails the run once they have stopped.
func (d *workflowDriver) TrainStep(step int, jobs []pipeline.ChunkJob) error {
	ctx := d.ctx
	d.st.Stage = StageTrain
	if step < d.steps-1 {
		d.st.Stage = StageTrainBase // the chunks of later steps start from its weights
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel := workflow.NewSelector(ctx)
	var (
		failed   error
		finished []pipeline.ChunkJob
	)
	for _, j := range jobs {
		sel.AddFuture(d.train(tctx, j), func(f workflow.Future) {
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
	for range jobs {
		sel.Select(ctx)
		if len(finished) > 0 && !recordFailed && ctx.Err() == nil {
			batch := finished
			finished = nil
			if err := d.record(batch...); err != nil {
				recordFailed = true
				if failed == nil {
					failed = err
					cancel()
				}
			}
		}
	}
	if failed != nil {
		return failed
	}
	return ctx.Err()
}
