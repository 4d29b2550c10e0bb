package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/nn/blas"
)

// ScheduleFile, in a run's models folder, records the iterations decided
// for each chunk when they are derived from epochs, so that a resumed run
// trains (and keys its jobs by) the same counts even when this machine is
// now faster or busier than when they were decided.
const ScheduleFile = "schedule.json"

// rateIterations is how many iterations of chunk 0 are timed to estimate
// the seconds an iteration takes; the first of them, which allocates the
// model's buffers, is not counted.
const rateIterations = 4

// Schedule is the number of iterations each chunk trains, derived from the
// configured epochs and, with a budget, from a measured training rate.
type Schedule struct {
	// Key identifies what the decision depends on: the pre-processing and
	// the model and training settings.
	Key string `json:"key"`
	// Chunks lists the decision for each chunk that has flows.
	Chunks []ChunkSchedule `json:"chunks"`
	// SecondsPerIteration is the measured time of one chunk-0 iteration on
	// the whole machine (0 when no budget asked for a measurement).
	SecondsPerIteration float64 `json:"seconds_per_iteration,omitempty"`
	// Budget is the configured cap; EstimatedSeconds the estimated training
	// time of the decided iterations; Capped whether the budget reduced
	// them.
	Budget           string  `json:"budget,omitempty"`
	EstimatedSeconds float64 `json:"estimated_seconds,omitempty"`
	Capped           bool    `json:"capped,omitempty"`
}

// ChunkSchedule is one chunk's decided iterations.
type ChunkSchedule struct {
	Chunk      int  `json:"chunk"`
	Flows      int  `json:"flows"`
	FineTuned  bool `json:"fine_tuned,omitempty"`
	Iterations int  `json:"iterations"`
	// Wanted is the count the epochs ask for, within the bounds, before
	// the budget; Epochs the passes over the chunk's flows the decided
	// iterations make.
	Wanted int     `json:"wanted"`
	Epochs float64 `json:"epochs"`
}

// Iterations returns chunk c's decided iterations, or 0.
func (s *Schedule) Iterations(c int) int {
	for _, ch := range s.Chunks {
		if ch.Chunk == c {
			return ch.Iterations
		}
	}
	return 0
}

// epochIterations is ceil(epochs × flows / batch), at least 1 and within
// [lo, hi] where those are positive.
func epochIterations(epochs float64, flows, batch, lo, hi int) int {
	// The small slack keeps an exact product (40 × 7100 / 100) from being
	// rounded up by floating-point error.
	it := int(math.Ceil(epochs*float64(flows)/float64(batch) - 1e-9))
	it = max(it, 1)
	if lo > 0 {
		it = max(it, lo)
	}
	if hi > 0 {
		it = min(it, hi)
	}
	return it
}

// chunkBounds returns the [min, max] iterations of a chunk: a fine-tuned
// chunk's are the configured ones divided by fine_tune_reduce, as its
// iterations are when stated as a count.
func chunkBounds(t config.Train, fineTuned bool) (lo, hi int) {
	lo, hi = t.MinIterations, t.MaxIterations
	if fineTuned && t.FineTuneReduce > 0 {
		if lo > 0 {
			lo = max(1, int(float64(lo)/t.FineTuneReduce))
		}
		if hi > 0 {
			hi = max(1, int(float64(hi)/t.FineTuneReduce))
		}
	}
	return lo, hi
}

// decideSchedule sizes each chunk's training from its flows: chunk 0 (the
// first chunk with flows) for train.epochs, the others for
// train.fine_tune_epochs when fine-tuned, within the configured bounds.
// With a budget, rate is called for the seconds one iteration takes on the
// whole machine, and when the iterations would take longer than the
// budget they are all scaled down by the same factor (not below their
// lower bound). The estimate counts every chunk's iterations at that rate,
// one after the other: fine-tuned chunks that train at once share the
// cores, and usually get through more iterations together than one job
// alone, so the estimate errs long.
func decideSchedule(cfg *config.Config, chunks []ChunkInfo, rate func() (float64, error)) (*Schedule, error) {
	t := cfg.Train
	first, tuned := t.ChunkEpochs()
	batch := cfg.Model.BatchSize
	s := &Schedule{Budget: t.Budget}
	total := 0
	for _, ci := range chunks {
		ft := len(s.Chunks) > 0 && t.FineTune
		e := first
		if ft {
			e = tuned
		}
		lo, hi := chunkBounds(t, ft)
		it := epochIterations(e, ci.Flows, batch, lo, hi)
		s.Chunks = append(s.Chunks, ChunkSchedule{Chunk: ci.Index, Flows: ci.Flows, FineTuned: ft, Iterations: it, Wanted: it})
		total += it
	}
	budget, err := t.BudgetDuration()
	if err != nil {
		return nil, fmt.Errorf("train.budget: %w", err)
	}
	if budget > 0 && rate != nil && len(s.Chunks) > 0 {
		sec, err := rate()
		if err != nil {
			return nil, fmt.Errorf("measure the training rate for train.budget: %w", err)
		}
		if !(sec > 0) || math.IsInf(sec, 0) {
			return nil, fmt.Errorf("measure the training rate for train.budget: got %v seconds per iteration", sec)
		}
		s.SecondsPerIteration = sec
		if est := sec * float64(total); est > budget.Seconds() {
			f := budget.Seconds() / est
			total = 0
			for i := range s.Chunks {
				c := &s.Chunks[i]
				lo, _ := chunkBounds(t, c.FineTuned)
				c.Iterations = max(1, lo, int(float64(c.Wanted)*f))
				total += c.Iterations
			}
			s.Capped = true
		}
		s.EstimatedSeconds = sec * float64(total)
	}
	for i := range s.Chunks {
		c := &s.Chunks[i]
		c.Epochs = float64(c.Iterations) * float64(batch) / float64(max(1, c.Flows))
	}
	return s, nil
}

// scheduleKey identifies what a run's schedule depends on. Settings that
// only change how the work is spread (workers, threads) or saved
// (checkpoints) are left out.
func scheduleKey(cfg *config.Config, preKey string) string {
	t := cfg.Train
	t.Workers, t.Threads, t.CheckpointEvery = 0, 0, 0
	return hashKey("schedule/v1", preKey, t, cfg.Model)
}

// schedule returns the run's schedule: the one recorded in the models
// folder when it was decided for the same settings, else a new decision,
// which is logged and recorded.
func (r *Run) schedule(split *SplitInfo) (*Schedule, error) {
	path := filepath.Join(r.Dir, ModelsDir, ScheduleFile)
	key := scheduleKey(r.Cfg, r.preKey())
	if b, err := os.ReadFile(path); err == nil {
		var s Schedule
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if s.Key == key {
			r.log.Info("training schedule (as decided before)", s.logAttrs()...)
			return &s, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var chunks []ChunkInfo
	for c, ci := range split.Chunks {
		if ci.Flows > 0 {
			ci.Index = c
			chunks = append(chunks, ci)
		}
	}
	if len(chunks) == 0 {
		return nil, errors.New("every chunk is empty")
	}
	rate := r.rate
	if rate == nil {
		rate = measureRate
	}
	s, err := decideSchedule(r.Cfg, chunks, func() (float64, error) {
		job := ChunkJob{RunDir: r.Dir, Chunk: chunks[0].Index, Seed: chunkSeed(r.Cfg.Seed, chunks[0].Index), Threads: r.Cfg.Train.Threads}
		return rate(r.Cfg, job)
	})
	if err != nil {
		return nil, err
	}
	s.Key = key
	r.log.Info("training schedule", s.logAttrs()...)
	if s.Capped {
		r.log.Warn("train.budget cut the training short of train.epochs: raise the budget, or lower the epochs to train for what the budget allows",
			"budget", s.Budget, "estimated", time.Duration(s.EstimatedSeconds*float64(time.Second)).Round(time.Second).String())
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := writeBytesAtomic(path, append(b, '\n')); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Schedule) logAttrs() []any {
	var its []int
	var eps []string
	for _, c := range s.Chunks {
		its = append(its, c.Iterations)
		eps = append(eps, fmt.Sprintf("%.1f", c.Epochs))
	}
	a := []any{"iterations", its, "epochs", eps}
	if s.SecondsPerIteration > 0 {
		a = append(a, "seconds_per_iteration", fmt.Sprintf("%.3g", s.SecondsPerIteration),
			"estimated", time.Duration(s.EstimatedSeconds*float64(time.Second)).Round(time.Second).String(),
			"budget", s.Budget, "capped", s.Capped)
	}
	return a
}

// measureRate times the first iterations of a fresh model of job's chunk
// on its training data, with every core (or train.threads), and returns
// the seconds per iteration after the first.
func measureRate(cfg *config.Config, job ChunkJob) (float64, error) {
	s, err := LoadSchema(job.RunDir)
	if err != nil {
		return 0, err
	}
	data, err := encoding.LoadData(chunkDataPath(job.RunDir, job.Chunk))
	if err != nil {
		return 0, err
	}
	threads := job.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	blas.SetThreads(threads)
	m, err := newChunkModel(cfg, s, job)
	if err != nil {
		return 0, err
	}
	var after1, last time.Duration
	err = m.Train(context.Background(), &dg.Data{Attr: data.Attr, Feat: data.Feat, Len: data.Len, N: data.N}, rateIterations, dg.TrainOptions{
		ProgressEvery: 1,
		Progress: func(p dg.Progress) {
			if p.Iteration == 1 {
				after1 = p.Elapsed
			}
			last = p.Elapsed
		},
	})
	if err != nil {
		return 0, err
	}
	return (last - after1).Seconds() / float64(rateIterations-1), nil
}
