package temporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/netshare-go/netshare/pipeline"
)

// stageSlots is how many stage activities (pre-processing, generation,
// evaluation, recording) a worker runs at once: one heavy stage and a
// manifest update of another run beside it.
const stageSlots = 2

// heartbeatEvery caps how long the SDK holds back a training activity's
// heartbeat details (it sends at most one heartbeat per 80% of the
// heartbeat timeout otherwise): clients show progress this fresh.
const heartbeatEvery = 5 * time.Second

// workerStopTimeout is how long a stopping worker waits for its
// activities to save a checkpoint and return.
const workerStopTimeout = time.Minute

// WorkerOptions configures a worker process.
type WorkerOptions struct {
	// TaskQueue is the queue of workflows and stage activities
	// (DefaultTaskQueue when empty); TrainQueue that of chunk training
	// (TrainQueueFor(TaskQueue) when empty).
	TaskQueue, TrainQueue string
	// Stages polls the task queue (workflows and stage activities);
	// Training polls the training queue. A worker does both by default
	// (see the CLI); a GPU machine may only train, for instance.
	Stages, Training bool
	// Concurrency is the number of chunks this worker trains at once
	// (default 1).
	Concurrency int
	// Threads is the number of BLAS threads per chunk when the run's
	// configuration does not set train.threads (0: every core).
	Threads int
	// Identity names the worker (default pid@host).
	Identity string
	// Train replaces pipeline.TrainChunk (tests).
	Train pipeline.TrainFunc
	// Log receives the worker's logs (default slog.Default()).
	Log *slog.Logger
}

// DefaultIdentity is pid@host.
func DefaultIdentity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}

// Register registers the workflow and the stage activities on w.
func Register(w worker.Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(RunWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivityWithOptions(a.Preprocess, activity.RegisterOptions{Name: ActPreprocess})
	w.RegisterActivityWithOptions(a.RecordChunks, activity.RegisterOptions{Name: ActRecordChunks})
	w.RegisterActivityWithOptions(a.Generate, activity.RegisterOptions{Name: ActGenerate})
	w.RegisterActivityWithOptions(a.Evaluate, activity.RegisterOptions{Name: ActEvaluate})
}

// RegisterTraining registers the chunk training activity on w.
func RegisterTraining(w worker.Registry, a *Activities) {
	w.RegisterActivityWithOptions(a.TrainChunk, activity.RegisterOptions{Name: ActTrainChunk})
}

// NewWorkers builds the workers of one process: one on the task queue
// (the workflow and stage activities) and one on the training queue
// (chunk training, Concurrency at a time), as o asks.
func NewWorkers(c client.Client, o WorkerOptions) ([]worker.Worker, error) {
	if !o.Stages && !o.Training {
		return nil, errors.New("a worker must poll the task queue, the training queue or both")
	}
	if o.TaskQueue == "" {
		o.TaskQueue = DefaultTaskQueue
	}
	if o.TrainQueue == "" {
		o.TrainQueue = TrainQueueFor(o.TaskQueue)
	}
	if o.TrainQueue == o.TaskQueue && o.Stages && o.Training {
		return nil, fmt.Errorf("the training queue must differ from the task queue (%q), or chunk training would take the stage slots", o.TaskQueue)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Identity == "" {
		o.Identity = DefaultIdentity()
	}
	a := &Activities{Train: o.Train, Threads: o.Threads, Worker: o.Identity, Log: o.Log, Client: c}
	var ws []worker.Worker
	if o.Stages {
		w := worker.New(c, o.TaskQueue, worker.Options{
			Identity:                           o.Identity,
			MaxConcurrentActivityExecutionSize: stageSlots,
			WorkerStopTimeout:                  workerStopTimeout,
		})
		Register(w, a)
		ws = append(ws, w)
	}
	if o.Training {
		w := worker.New(c, o.TrainQueue, worker.Options{
			Identity:                           o.Identity,
			MaxConcurrentActivityExecutionSize: o.Concurrency,
			WorkerStopTimeout:                  workerStopTimeout,
			MaxHeartbeatThrottleInterval:       heartbeatEvery,
		})
		RegisterTraining(w, a)
		ws = append(ws, w)
	}
	return ws, nil
}

// RunWorkers runs the workers of NewWorkers until ctx is done, then stops
// them: running chunk activities save a checkpoint and fail over to
// another worker.
func RunWorkers(ctx context.Context, c client.Client, o WorkerOptions) error {
	ws, err := NewWorkers(c, o)
	if err != nil {
		return err
	}
	for i, w := range ws {
		if err := w.Start(); err != nil {
			for _, s := range ws[:i] {
				s.Stop()
			}
			return fmt.Errorf("start worker: %w", err)
		}
	}
	<-ctx.Done()
	for _, w := range ws {
		w.Stop()
	}
	return nil
}
