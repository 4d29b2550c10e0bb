package cli

import (
	"context"
	"log/slog"
	"runtime"

	"github.com/spf13/cobra"

	nstemporal "github.com/netshare-go/netshare/cluster/temporal"
	"github.com/netshare-go/netshare/nn/blas"
)

func init() { register(newWorkerCmd) }

// Roles a worker may take.
const (
	pollAll    = "all"
	pollStages = "stages"
	pollTrain  = "train"
)

func newWorkerCmd() *cobra.Command {
	var (
		t           temporalFlags
		trainQueue  string
		poll        string
		concurrency int
		threads     int
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker of a Temporal cluster: it takes runs' stages and chunk training from its task queues",
		Long: `worker connects to a Temporal service and runs what 'netshare run --executor
temporal' submits: the run workflow and its stage activities (pre-processing,
generation, evaluation) from --task-queue, and chunk training from
--train-queue (the task queue's name + "-train" by default).

Every worker must see the run directories (and inputs) at the same absolute
paths: shared storage such as NFS. A chunk whose worker dies is retried on
another worker from its last checkpoint. On SIGINT or SIGTERM the worker stops
taking work, checkpoints the chunks it is training (retried elsewhere) and
exits.

--concurrency chunks train at once, each with --threads BLAS threads (unless
the run's configuration sets train.threads); by default one chunk at a time
on every core, or as many chunks as --threads leaves cores for.`,
		Example: `  netshare worker --temporal temporal.example.org:7233
  netshare worker --temporal 10.0.0.5:7233 --poll train --concurrency 4
  netshare worker --temporal 10.0.0.5:7233 --train-queue netshare-big --poll train`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := nstemporal.WorkerOptions{TaskQueue: t.taskQueue, TrainQueue: trainQueue, Log: slog.Default()}
			switch poll {
			case pollAll:
				o.Stages, o.Training = true, true
			case pollStages:
				o.Stages = true
			case pollTrain:
				o.Training = true
			default:
				return usagef(cmd, "--poll: want %s, %s or %s, got %q", pollAll, pollStages, pollTrain, poll)
			}
			if concurrency < 0 || threads < 0 {
				return usagef(cmd, "--concurrency and --threads must not be negative")
			}
			cores := runtime.NumCPU()
			switch {
			case concurrency == 0 && threads == 0:
				concurrency, threads = 1, cores
			case concurrency == 0:
				concurrency = max(1, cores/threads)
			case threads == 0:
				threads = max(1, cores/concurrency)
			}
			o.Concurrency, o.Threads = concurrency, threads
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, err := t.dial(ctx, false)
			if err != nil {
				return err
			}
			defer c.Close()
			o.Identity = nstemporal.DefaultIdentity()
			tq := o.TrainQueue
			if tq == "" {
				tq = nstemporal.TrainQueueFor(o.TaskQueue)
			}
			slog.Info("worker", "identity", o.Identity, "temporal", t.hostPort, "namespace", t.namespace, "task_queue", o.TaskQueue,
				"train_queue", tq, "poll", poll, "concurrency", concurrency, "threads", threads, "blas", blas.Info().String())
			return nstemporal.RunWorkers(ctx, c, o)
		},
	}
	t.add(cmd, "")
	cmd.Flags().StringVar(&trainQueue, "train-queue", "", "task queue of chunk training (default: the task queue's name + \""+nstemporal.TrainQueueSuffix+"\")")
	cmd.Flags().StringVar(&poll, "poll", pollAll, "what to take: all, stages (the workflow and its stage activities) or train (chunk training)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "chunks trained at once (default: 1, or cores / --threads)")
	cmd.Flags().IntVar(&threads, "threads", 0, "BLAS threads per chunk when the run's configuration does not set train.threads (default: cores / --concurrency)")
	return cmd
}
