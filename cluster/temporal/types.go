package temporal

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"time"

	"github.com/netshare-go/netshare/pipeline"
)

// Names under which the workflow, its query and its activities are
// registered.
const (
	WorkflowName = "netshare.Run"
	QueryName    = "status"

	ActPreprocess   = "netshare.Preprocess"
	ActTrainChunk   = "netshare.TrainChunk"
	ActRecordChunks = "netshare.RecordChunks"
	ActGenerate     = "netshare.Generate"
	ActEvaluate     = "netshare.Evaluate"
)

// Default task queue names: the workflow and its stage activities run on
// DefaultTaskQueue, chunk training on the training queue, which defaults to
// the task queue's name plus TrainQueueSuffix.
const (
	DefaultTaskQueue = "netshare"
	TrainQueueSuffix = "-train"
)

// TrainQueueFor is the training queue that goes with a task queue when none
// is named.
func TrainQueueFor(taskQueue string) string { return taskQueue + TrainQueueSuffix }

// Error types of non-retryable activity failures.
const (
	// ErrTypeInvalid marks a request that no retry can fix (a relative
	// run directory, an invalid configuration).
	ErrTypeInvalid = "netshare.Invalid"
	// ErrTypeDiverged marks a chunk whose training diverged (a loss
	// became NaN or infinite): retrying from the same checkpoint with the
	// same settings diverges again.
	ErrTypeDiverged = "netshare.Diverged"
)

// Policy holds the timeouts and retries of a run's activities. Zero fields
// take the defaults below (see docs/cluster.md).
type Policy struct {
	// HeartbeatTimeout is how long an activity may go without a heartbeat
	// before the server considers its worker gone and retries it
	// elsewhere; activities heartbeat several times per timeout, whatever
	// their training speed. Default 2 minutes.
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout"`
	// TrainTimeout bounds one attempt at training one chunk
	// (start-to-close). Default 7 days.
	TrainTimeout time.Duration `json:"train_timeout"`
	// StageTimeout bounds one attempt at pre-processing, generation or
	// evaluation (start-to-close). Default 24 hours.
	StageTimeout time.Duration `json:"stage_timeout"`
	// RetryInterval is the wait before the first retry; each further
	// retry waits twice as long, up to RetryMaxInterval. Defaults 10
	// seconds and 5 minutes.
	RetryInterval    time.Duration `json:"retry_interval"`
	RetryMaxInterval time.Duration `json:"retry_max_interval"`
	// MaxAttempts bounds the attempts of every activity (the first
	// included). Default 10.
	MaxAttempts int32 `json:"max_attempts"`
}

// Default policy values.
const (
	DefaultHeartbeatTimeout = 2 * time.Minute
	DefaultTrainTimeout     = 7 * 24 * time.Hour
	DefaultStageTimeout     = 24 * time.Hour
	DefaultRetryInterval    = 10 * time.Second
	DefaultRetryMaxInterval = 5 * time.Minute
	DefaultMaxAttempts      = 10
)

// WithDefaults returns p with its zero fields set to the defaults.
func (p Policy) WithDefaults() Policy {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&p.HeartbeatTimeout, DefaultHeartbeatTimeout)
	set(&p.TrainTimeout, DefaultTrainTimeout)
	set(&p.StageTimeout, DefaultStageTimeout)
	set(&p.RetryInterval, DefaultRetryInterval)
	set(&p.RetryMaxInterval, DefaultRetryMaxInterval)
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	return p
}

// RunInput is the workflow's input: one run directory to take through
// every stage.
type RunInput struct {
	// RunDir is the run directory: an absolute path that names the same
	// folder on every worker (shared storage).
	RunDir string `json:"run_dir"`
	// Input is the trace to learn: an absolute path on shared storage, or
	// empty for the input recorded in the run directory (or the sample
	// embedded in the binary for a new run).
	Input string `json:"input,omitempty"`
	// Config is the effective configuration as YAML (config.Config.YAML);
	// empty uses the one saved in the run directory.
	Config string `json:"config,omitempty"`
	// Audit keeps 20% of the flows aside for the memorisation audit.
	Audit bool `json:"audit,omitempty"`
	// Force accepts an input or configuration other than the one the run
	// directory's results were made with (pipeline.Options.Force).
	Force bool `json:"force,omitempty"`
	// TrainQueue is the task queue of chunk training activities; empty
	// uses the workflow's own task queue plus TrainQueueSuffix.
	TrainQueue string `json:"train_queue,omitempty"`
	// Policy sets timeouts and retries.
	Policy Policy `json:"policy"`
}

// Fingerprint identifies what a submission asks for, so that a second
// submission to a running workflow can tell whether it asks for the same.
func (in RunInput) Fingerprint() string {
	h := sha256.Sum256([]byte(strings.Join([]string{in.RunDir, in.Input, in.Config, boolString(in.Audit)}, "\x00")))
	return hex.EncodeToString(h[:8])
}

func boolString(b bool) string {
	if b {
		return "audit"
	}
	return ""
}

// WorkflowID is the workflow ID of a run directory: submitting the same
// directory again attaches to its running workflow, or starts a new one
// that skips the stages already done.
func WorkflowID(runDir string) string {
	dir := filepath.Clean(runDir)
	h := sha256.Sum256([]byte(dir))
	return "netshare-run-" + filepath.Base(dir) + "-" + hex.EncodeToString(h[:6])
}

// PlanResult is what pre-processing returns to the workflow: the run's
// training plan and the chunks its manifest already records as trained.
type PlanResult struct {
	Plan    pipeline.Plan `json:"plan"`
	Trained []int         `json:"trained,omitempty"`
}

// RecordInput asks for chunk completions to be recorded in a run's
// manifest.
type RecordInput struct {
	RunDir string              `json:"run_dir"`
	Audit  bool                `json:"audit,omitempty"`
	Jobs   []pipeline.ChunkJob `json:"jobs"`
}

// StageInput names the run a stage activity works on.
type StageInput struct {
	RunDir string `json:"run_dir"`
	Audit  bool   `json:"audit,omitempty"`
}

// Heartbeat is what a training activity reports as its heartbeat details:
// enough for a client to draw progress and for a retried attempt to say
// where the previous one got to.
type Heartbeat struct {
	Chunk      int `json:"chunk"`
	Iteration  int `json:"iteration"`
	Iterations int `json:"iterations"`
	// First is the iteration this attempt started at: its checkpoint's,
	// or 0 for a chunk trained from the start.
	First   int                `json:"first"`
	Elapsed time.Duration      `json:"elapsed"`
	Losses  map[string]float64 `json:"losses,omitempty"`
	Done    bool               `json:"done,omitempty"`
	Attempt int32              `json:"attempt"`
	Worker  string             `json:"worker"`
	// Previous is the last iteration the previous attempt reported (0 on
	// a first attempt).
	Previous int `json:"previous,omitempty"`
}

// Progress converts a heartbeat to the pipeline's progress report.
func (h Heartbeat) Progress() pipeline.Progress {
	first := max(h.First, 0)
	return pipeline.Progress{Chunk: h.Chunk, Iteration: max(h.Iteration, first), Iterations: h.Iterations, First: first,
		Elapsed: h.Elapsed, Losses: h.Losses, Done: h.Done}
}

// ChunkResult is what a training activity returns.
type ChunkResult struct {
	Chunk     int    `json:"chunk"`
	First     int    `json:"first"`
	Iteration int    `json:"iteration"`
	Attempt   int32  `json:"attempt"`
	Worker    string `json:"worker"`
}

// Stages reported by the status query.
const (
	StagePreprocess = "preprocess"
	StageTrainBase  = "train-base"
	StageTrain      = "train"
	StageGenerate   = "generate"
	StageEvaluate   = "evaluate"
	StageDone       = "done"
)

// Status is the answer to the workflow's status query.
type Status struct {
	RunDir      string `json:"run_dir"`
	Fingerprint string `json:"fingerprint"`
	Stage       string `json:"stage"`
	// Chunks lists the chunks to train (empty ones have no job) and
	// Trained those whose training is complete.
	Chunks     []int       `json:"chunks"`
	Trained    []int       `json:"trained"`
	Iterations map[int]int `json:"iterations,omitempty"`
}

// RunResult is the workflow's result: where the outputs are.
type RunResult struct {
	RunDir    string `json:"run_dir"`
	Synthetic string `json:"synthetic"`
	Metrics   string `json:"metrics"`
	Report    string `json:"report"`
}
