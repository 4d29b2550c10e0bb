package temporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/netshare-go/netshare/pipeline"
)

// ErrOtherSettings is returned by Submit when the run directory's workflow
// is running with other settings.
var ErrOtherSettings = errors.New("a run with other settings is in progress on this run directory")

// Submit starts the workflow of in.RunDir on taskQueue, or attaches to the
// one running for that directory when it asks for the same (same input,
// configuration and audit flag). A run that has finished or failed is
// started afresh and skips the stages its manifest records as done.
func Submit(ctx context.Context, c client.Client, taskQueue string, in RunInput) (client.WorkflowRun, error) {
	if taskQueue == "" {
		taskQueue = DefaultTaskQueue
	}
	id := WorkflowID(in.RunDir)
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return nil, fmt.Errorf("temporal: %w", err)
	case desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, qerr := QueryStatus(qctx, c, id, runID)
		cancel()
		if qerr == nil && st.Fingerprint != in.Fingerprint() {
			return nil, fmt.Errorf("%w (workflow %s); follow it with the same options, wait for it to end, or cancel it (temporal workflow cancel --workflow-id %s)", ErrOtherSettings, id, id)
		}
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("temporal: start workflow %s: %w", id, err)
	}
	return run, nil
}

// QueryStatus asks a running workflow for its status (a worker must be
// polling its task queue to answer).
func QueryStatus(ctx context.Context, c client.Client, workflowID, runID string) (*Status, error) {
	v, err := c.QueryWorkflow(ctx, workflowID, runID, QueryName)
	if err != nil {
		return nil, err
	}
	var st Status
	if err := v.Get(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// FollowOptions says what Follow reports.
type FollowOptions struct {
	// Progress receives the training progress of every chunk, from the
	// training activities' heartbeats and the workflow's status.
	Progress func(pipeline.Progress)
	// Interval is the polling period (default 1 s).
	Interval time.Duration
	// Log receives stage changes, retries and waits (default
	// slog.Default()).
	Log *slog.Logger
}

// Follow reports a run's progress until it ends and returns its result.
// When ctx ends first, the run goes on without the client.
func Follow(ctx context.Context, c client.Client, run client.WorkflowRun, o FollowOptions) (*RunResult, error) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	type outcome struct {
		res *RunResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var res RunResult
		err := run.Get(ctx, &res)
		done <- outcome{&res, err}
	}()
	f := &follower{c: c, id: run.GetID(), runID: run.GetRunID(), o: o, reported: map[int]bool{}, attempts: map[string]int32{}, waiting: map[string]bool{}}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case out := <-done:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("stopped following workflow %s; the run goes on (run the same command again to follow it): %w", f.id, ctx.Err())
			}
			if out.err != nil {
				return nil, out.err
			}
			f.poll(ctx)
			return out.res, nil
		case <-t.C:
			f.poll(ctx)
		}
	}
}

type follower struct {
	c         client.Client
	id, runID string
	o         FollowOptions
	stage     string
	reported  map[int]bool     // chunks reported done
	attempts  map[string]int32 // last attempt seen per activity
	waiting   map[string]bool  // activities reported as waiting for a worker
	since     map[string]time.Time
	queryWarn bool
}

func (f *follower) poll(ctx context.Context) {
	if f.since == nil {
		f.since = map[string]time.Time{}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := QueryStatus(pctx, f.c, f.id, f.runID)
	if err == nil {
		if st.Stage != f.stage {
			f.stage = st.Stage
			f.o.Log.Info("stage", "stage", st.Stage, "workflow", f.id)
		}
		for _, ch := range st.Trained {
			if !f.reported[ch] && f.o.Progress != nil {
				f.reported[ch] = true
				n := st.Iterations[ch]
				f.o.Progress(pipeline.Progress{Chunk: ch, Iteration: n, Iterations: n, First: n, Done: true})
			}
		}
	} else if !f.queryWarn && ctx.Err() == nil {
		f.queryWarn = true
		f.o.Log.Warn("cannot query the run's status yet (is a worker polling its task queue?)", "err", err)
	}
	desc, err := f.c.DescribeWorkflowExecution(pctx, f.id, f.runID)
	if err != nil {
		return
	}
	pending := desc.GetPendingActivities()
	slices.SortFunc(pending, func(a, b *workflowpb.PendingActivityInfo) int {
		return strings.Compare(a.GetActivityId(), b.GetActivityId())
	})
	for _, pa := range pending {
		aid := pa.GetActivityId()
		if pa.GetAttempt() > 1 && f.attempts[aid] != pa.GetAttempt() {
			f.attempts[aid] = pa.GetAttempt()
			f.o.Log.Warn("activity retried", "activity", aid, "attempt", pa.GetAttempt(), "previous_failure", pa.GetLastFailure().GetMessage())
		}
		backoff := false
		if nt := pa.GetNextAttemptScheduleTime(); nt != nil && nt.AsTime().After(time.Now()) {
			backoff = true // waiting to retry, not for a worker
		}
		if pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED && !backoff {
			if _, ok := f.since[aid]; !ok {
				f.since[aid] = time.Now()
			}
			if !f.waiting[aid] && time.Since(f.since[aid]) > 30*time.Second {
				f.waiting[aid] = true
				f.o.Log.Warn("waiting for a worker to take an activity (is a worker polling its queue?)", "activity", aid, "type", pa.GetActivityType().GetName())
			}
		} else {
			delete(f.since, aid)
			f.waiting[aid] = false
		}
		if pa.GetActivityType().GetName() != ActTrainChunk || pa.GetHeartbeatDetails() == nil || f.o.Progress == nil {
			continue
		}
		var hb Heartbeat
		if err := converter.GetDefaultDataConverter().FromPayloads(pa.GetHeartbeatDetails(), &hb); err != nil || hb.Iterations == 0 {
			continue
		}
		if !f.reported[hb.Chunk] {
			f.o.Progress(hb.Progress())
		}
	}
}
