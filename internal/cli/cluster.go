package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/term"

	nstemporal "github.com/netshare-go/netshare/cluster/temporal"
)

// Executors of the run command.
const (
	executorLocal    = "local"
	executorTemporal = "temporal"
)

// clusterFlags are the run command's flags for running on a cluster.
type clusterFlags struct {
	executor string
	temporalFlags
	trainQueue   string
	heartbeat    time.Duration
	trainTimeout time.Duration
}

// temporalFlags locate a Temporal service and task queue.
type temporalFlags struct {
	hostPort, namespace, taskQueue string
}

// add adds the flags; note prefixes their help (e.g. "with --executor
// temporal: ").
func (t *temporalFlags) add(cmd *cobra.Command, note string) {
	cmd.Flags().StringVar(&t.hostPort, "temporal", "", note+"Temporal frontend address, HOST:PORT")
	cmd.Flags().StringVar(&t.namespace, "namespace", "default", note+"Temporal namespace")
	cmd.Flags().StringVar(&t.taskQueue, "task-queue", nstemporal.DefaultTaskQueue, note+"task queue of the run's workflow and stage activities")
}

// dial connects to the Temporal service; quiet keeps the SDK's own
// information messages out of the output.
func (t *temporalFlags) dial(ctx context.Context, quiet bool) (client.Client, error) {
	if t.hostPort == "" {
		return nil, errors.New("--temporal HOST:PORT is required")
	}
	h := slog.Default().Handler()
	if quiet {
		h = minLevel{h, slog.LevelWarn}
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: t.hostPort, Namespace: t.namespace, Logger: sdklog.NewStructuredLogger(slog.New(h))})
	if err != nil {
		return nil, fmt.Errorf("temporal: cannot connect to %s (namespace %s): %w", t.hostPort, t.namespace, err)
	}
	return c, nil
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(g string) slog.Handler { return minLevel{h.Handler.WithGroup(g), h.min} }

func (c *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.executor, "executor", executorLocal, "where chunks train: local (this process) or temporal (a Temporal cluster's workers; see docs/cluster.md)")
	c.temporalFlags.add(cmd, "with --executor temporal: ")
	cmd.Flags().StringVar(&c.trainQueue, "train-queue", "", "with --executor temporal: task queue of chunk training (default: the task queue's name + \""+nstemporal.TrainQueueSuffix+"\")")
	cmd.Flags().DurationVar(&c.heartbeat, "heartbeat-timeout", nstemporal.DefaultHeartbeatTimeout, "with --executor temporal: how long an activity may go without a heartbeat before it is retried on another worker")
	cmd.Flags().DurationVar(&c.trainTimeout, "train-timeout", nstemporal.DefaultTrainTimeout, "with --executor temporal: the longest one attempt at training one chunk may take")
}

// run submits the run to the executor the flags name and follows it.
func (c *clusterFlags) run(cmd *cobra.Command, f *runFlags) error {
	if c.executor != executorTemporal {
		return usagef(cmd, "--executor: want %s or %s, got %q", executorLocal, executorTemporal, c.executor)
	}
	cfg, err := f.settings()
	if err != nil {
		return err
	}
	// Paths are resolved here and must name the same files on every
	// worker: shared storage mounted at the same place.
	if cfg.DP.Pretrained != "" {
		if cfg.DP.Pretrained, err = filepath.Abs(cfg.DP.Pretrained); err != nil {
			return err
		}
	}
	text, err := cfg.YAML()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(f.out)
	if err != nil {
		return err
	}
	input := f.input
	if input != "" {
		if input, err = filepath.Abs(input); err != nil {
			return err
		}
	}
	in := nstemporal.RunInput{RunDir: dir, Input: input, Config: string(text), Audit: f.audit, Force: f.force, TrainQueue: c.trainQueue,
		Policy: nstemporal.Policy{HeartbeatTimeout: c.heartbeat, TrainTimeout: c.trainTimeout}}

	stderr := cmd.ErrOrStderr()
	tty := false
	if file, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(file.Fd()))
	}
	rep := newReporter(stderr, tty, slog.Default())
	defer rep.Close()
	if tty {
		slog.SetDefault(slog.New(breakHandler{slog.Default().Handler(), rep}))
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	cl, err := c.dial(ctx, true)
	if err != nil {
		return err
	}
	defer cl.Close()
	run, err := nstemporal.Submit(ctx, cl, c.taskQueue, in)
	if err != nil {
		return err
	}
	slog.Info("run submitted", "workflow", run.GetID(), "run_id", run.GetRunID(), "task_queue", c.taskQueue, "dir", dir)
	res, err := nstemporal.Follow(ctx, cl, run, nstemporal.FollowOptions{Progress: rep.Update})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "synthetic trace, metrics and report written to %s\n  synthetic: %s\n  metrics:   %s\n  report:    %s\n",
		res.RunDir, res.Synthetic, res.Metrics, res.Report)
	return nil
}
