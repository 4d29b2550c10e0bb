package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// ChunkJob trains the model of one time chunk. A job is idempotent given
// its fields: it reads its training set and configuration from the run
// directory, writes only under its own model folder, and resumes from that
// folder's latest checkpoint when one exists. This is what lets any
// executor (a local worker pool, a cluster engine) run it, retry it, or
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

// Executor runs chunk jobs.
type Executor interface {
	// RunChunks runs independent jobs, possibly in parallel, calling
	// progress from any goroutine, and returns when all have finished or
	// one has failed.
	RunChunks(ctx context.Context, jobs []ChunkJob, progress func(Progress)) error
	// Workers is how many jobs run at once (for sizing BLAS threads).
	Workers() int
}

// TrainFunc trains one chunk job; TrainChunk is the real one.
type TrainFunc func(ctx context.Context, job ChunkJob, progress func(Progress)) error

// Local runs chunk jobs on a pool of goroutines in this process.
type Local struct {
	// N is the pool size; 0 means the number of CPUs.
	N int
	// Train runs one job (TrainChunk when nil).
	Train TrainFunc
}

// Workers returns the pool size.
func (l *Local) Workers() int {
	if l.N > 0 {
		return l.N
	}
	return runtime.NumCPU()
}

// RunChunks runs the jobs on the pool; the first failure cancels the rest.
func (l *Local) RunChunks(ctx context.Context, jobs []ChunkJob, progress func(Progress)) error {
	train := l.Train
	if train == nil {
		train = TrainChunk
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan ChunkJob)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range min(l.Workers(), max(1, len(jobs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := train(ctx, j, progress); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("chunk %d: %w", j.Chunk, err))
					mu.Unlock()
					cancel()
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
		return errors.Join(errs...)
	}
	return ctx.Err()
}
