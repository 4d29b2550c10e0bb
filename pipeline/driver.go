package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// ChunkJob trains the model of one time chunk. A job is idempotent given
// its fields: it reads its training set and configuration from the run
// directory, writes only under its own model folder, and resumes from that
// folder's latest checkpoint when one exists. This is what lets any
// Driver (a local worker pool, a cluster workflow) run it, retry it, or
// run it on another machine that sees the same directory.
type ChunkJob struct {
	// RunDir is the run directory (on storage every worker sees).
	RunDir string `json:"run_dir"`
	Chunk  int    `json:"chunk"`
	// InitFrom is the model folder whose weights start this chunk (chunk
	// 0's model when fine-tuning, a public model under DP), or empty.
	InitFrom string `json:"init_from,omitempty"`
	// Iterations is the number of training iterations to reach.
	Iterations int `json:"iterations"`
	// Seed seeds the chunk's model.
	Seed uint64 `json:"seed"`
	// Threads is the number of BLAS threads the job may use (0: all).
	Threads int `json:"threads"`
	// DPNoise and DPClip, when DPNoise is positive, train the critics with
	// DP-SGD: per-example gradients clipped to DPClip, Gaussian noise of
	// multiplier DPNoise.
	DPNoise float64 `json:"dp_noise,omitempty"`
	DPClip  float64 `json:"dp_clip,omitempty"`
	// SelectBest holds a validation slice of the chunk's flows out of
	// training and scores each checkpoint on it (train.select_best; never
	// under DP).
	SelectBest bool `json:"select_best,omitempty"`
	// Key identifies everything the job's checkpoints depend on (data,
	// settings, the model it starts from); a model folder holding
	// checkpoints of another key is cleared before training.
	Key string `json:"key"`
}

// Progress is a report from a running chunk job.
type Progress struct {
	Chunk      int
	Iteration  int // iterations done
	Iterations int // iterations to reach
	First      int // iteration the job started (or resumed) at
	Elapsed    time.Duration
	Losses     map[string]float64
	Done       bool
}

// ETA estimates the time left from this job's rate so far.
func (p Progress) ETA() time.Duration {
	done := p.Iteration - p.First
	if done <= 0 || p.Iteration >= p.Iterations {
		return 0
	}
	return time.Duration(float64(p.Elapsed) / float64(done) * float64(p.Iterations-p.Iteration))
}

// TrainFunc trains one chunk job; TrainChunk is the real one.
type TrainFunc func(ctx context.Context, job ChunkJob, progress func(Progress)) error

// localDriver trains a plan's steps in this process, on a pool of
// goroutines, and records each job in the manifest as it finishes.
type localDriver struct {
	ctx context.Context
	r   *Run
	// workers is the pool size; 0 means the number of CPUs.
	workers int
	// train runs one job (TrainChunk when nil).
	train TrainFunc
}

// progress passes a job's reports on to the run's progress display, and
// logs, on the first, where the job starts: from its checkpoint or from
// the start.
func (d *localDriver) progress(j ChunkJob) func(Progress) {
	var once sync.Once
	return func(p Progress) {
		once.Do(func() {
			if p.First > 0 {
				d.r.log.Info("chunk training resumed from checkpoint", "chunk", j.Chunk, "iteration", p.First, "of", j.Iterations)
			} else {
				d.r.log.Info("chunk training started", "chunk", j.Chunk, "iterations", j.Iterations)
			}
		})
		if d.r.Progress != nil {
			d.r.Progress(p)
		}
	}
}

// TrainStep trains the jobs on the pool, BLAS threads shared out between
// the jobs that run at once; the first failure cancels the rest.
func (d *localDriver) TrainStep(_ int, jobs []ChunkJob) error {
	train := d.train
	if train == nil {
		train = TrainChunk
	}
	workers := d.workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = max(1, min(workers, len(jobs)))
	jobs = slices.Clone(jobs)
	for i := range jobs {
		if jobs[i].Threads == 0 {
			jobs[i].Threads = max(1, runtime.NumCPU()/workers)
		}
	}
	d.r.log.Info("training", "chunks", len(jobs), "workers", workers, "blas_threads", jobs[0].Threads, "iterations", jobs[0].Iterations)
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	work := make(chan ChunkJob)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := train(ctx, j, d.progress(j)); err != nil {
					fail(fmt.Errorf("chunk %d: %w", j.Chunk, err))
					continue
				}
				// One manifest write at a time: each saves the whole file.
				mu.Lock()
				err := d.r.RecordChunk(j)
				mu.Unlock()
				if err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("train: %w", errors.Join(errs...))
	}
	if err := d.ctx.Err(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
