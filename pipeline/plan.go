package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/eval"
)

// Plan is a run's training plan: every chunk job, in the order the jobs
// train, and under DP the guarantee the whole training gives. It follows
// from the pre-processed run directory and the configuration alone;
// Run.Plan builds it once per opened run, and a local run and a cluster
// workflow execute the same plan, each through its own Driver.
type Plan struct {
	// Steps lists the jobs in training order. The jobs of one step are
	// independent and may train at the same time; a step starts once every
	// job of the steps before it has finished (a fine-tuned chunk starts
	// from the weights of the chunk trained in the first step).
	Steps [][]ChunkJob `json:"steps"`
	// Privacy is the (ε, δ) guarantee of a DP run's training and flow-count
	// releases, with the noise multiplier that gives it; nil without DP.
	Privacy *eval.PrivacyInfo `json:"privacy,omitempty"`
}

// Driver trains the jobs of a plan's steps: the local driver on a pool of
// goroutines in this process, or a cluster workflow's training activities
// on its workers (cluster/temporal).
type Driver interface {
	// TrainStep trains the jobs of step (an index into Plan.Steps), which
	// are independent of each other, records each job's completion in the
	// run's manifest (Run.RecordChunk), and returns once all have finished
	// or, after a failure, once the others have stopped.
	TrainStep(step int, jobs []ChunkJob) error
}

// Jobs lists every job of the plan in training order.
func (p *Plan) Jobs() []ChunkJob {
	var all []ChunkJob
	for _, s := range p.Steps {
		all = append(all, s...)
	}
	return all
}

// Execute trains, step by step through d, the jobs that trained does not
// report as done already; a step whose jobs are all done is skipped.
func (p *Plan) Execute(d Driver, trained func(ChunkJob) bool) error {
	for i, step := range p.Steps {
		var todo []ChunkJob
		for _, j := range step {
			if !trained(j) {
				todo = append(todo, j)
			}
		}
		if len(todo) == 0 {
			continue
		}
		if err := d.TrainStep(i, todo); err != nil {
			return err
		}
	}
	return nil
}

// buildPlan makes the training plan of the run in dir, pre-processed with
// key preKey into split. Without DP, the first chunk with flows is trained
// from scratch for the full budget; with fine-tuning on, it is trained
// alone first and the others are fine-tuned from it for a reduced budget,
// else all are trained from scratch at once. Under DP every chunk starts
// from the public run's model (or from scratch) and trains with DP-SGD for
// the full budget, all at once, at the noise multiplier that keeps ε
// within the target.
//
// The iterations are train.iterations (divided by fine_tune_reduce for a
// fine-tuned chunk), or, when the configuration states epochs, the counts
// sched decided; under DP they follow from the epochs and the public run's
// chunk-0 flows, so that they reveal nothing of the private trace.
//
// With train.select_best each job holds a validation slice out and scores
// its checkpoints on it, except under DP: the scores are read from the
// private flows outside the privacy accounting, so selection is off there.
func buildPlan(dir string, cfg *config.Config, preKey string, split *SplitInfo, sched *Schedule) (*Plan, error) {
	trainCfg := struct {
		M  config.Model
		DP config.DP
		S  uint64
	}{cfg.Model, cfg.DP, cfg.Seed}
	var pub *publicRun
	if cfg.DP.Enabled && cfg.DP.Pretrained != "" {
		var err error
		if pub, err = loadPublicRun(cfg.DP.Pretrained); err != nil {
			return nil, err
		}
	}
	var jobs []ChunkJob
	for c, ci := range split.Chunks {
		if ci.Flows == 0 {
			continue
		}
		j := ChunkJob{RunDir: dir, Chunk: c, Iterations: cfg.Train.Iterations, Seed: chunkSeed(cfg.Seed, c), Threads: cfg.Train.Threads}
		if sched != nil {
			if j.Iterations = sched.Iterations(c); j.Iterations <= 0 {
				return nil, fmt.Errorf("the training schedule has no iterations for chunk %d", c)
			}
		}
		switch {
		case cfg.DP.Enabled:
			if cfg.Train.FromEpochs() {
				// Sized by the public run's chunk-0 flows, or by the chunk's
				// noisy flow count: never by a true count.
				n := 0
				if pub != nil {
					n = pub.baseFlows
				} else if c < len(split.NoisyFlows) {
					n = split.NoisyFlows[c]
				}
				lo, hi := chunkBounds(cfg.Train, false)
				j.Iterations = epochIterations(cfg.Train.Epochs, max(1, n), cfg.Model.BatchSize, lo, hi)
			}
			if cfg.DP.Iterations > 0 {
				// dp.iterations is the run's total: the chunks share it,
				// so that ε and the wall time do not grow with their number.
				j.Iterations = max(1, (cfg.DP.Iterations+len(split.Chunks)-1)/len(split.Chunks))
			}
			if pub != nil && cfg.DP.Init == "public" {
				j.InitFrom = ModelDir(pub.dir, pub.base)
			}
			j.DPClip = cfg.DP.Clip
			j.Key = hashKey("train-dp/v1", preKey, trainCfg, c, j.Seed, j.InitFrom)
		case len(jobs) > 0 && cfg.Train.FineTune:
			base := jobs[0]
			j.InitFrom = ModelDir(dir, base.Chunk)
			if sched == nil {
				j.Iterations = max(1, int(float64(cfg.Train.Iterations)/cfg.Train.FineTuneReduce))
			}
			// Fine-tuned chunks start over when their base changes.
			j.Key = hashKey("train/v1", preKey, trainCfg, c, j.Seed, base.Key, base.Iterations)
		default:
			j.Key = hashKey("train/v1", preKey, trainCfg, c, j.Seed)
		}
		if cfg.Train.SelectBest && pub == nil {
			// Training on fewer flows, with scores: other checkpoints.
			j.SelectBest = true
			j.Key = hashKey(j.Key, "select-best/v1")
		}
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return nil, errors.New("every chunk is empty")
	}
	p := &Plan{Steps: [][]ChunkJob{jobs}}
	if !cfg.DP.Enabled && cfg.Train.FineTune && len(jobs) > 1 {
		p.Steps = [][]ChunkJob{jobs[:1], jobs[1:]}
	}
	if cfg.DP.Enabled {
		priv, err := dpNoise(cfg, split, jobs)
		if err != nil {
			return nil, err
		}
		for s := range p.Steps {
			for i := range p.Steps[s] {
				p.Steps[s][i].DPNoise = priv.Noise
			}
		}
		p.Privacy = priv
	}
	return p, nil
}

// Plan returns the run's training plan, built on the first call from the
// pre-processed run directory and the configuration.
func (r *Run) Plan() (*Plan, error) {
	if r.plan != nil {
		return r.plan, nil
	}
	if err := r.requireDone("preprocess", r.preKey(), "pre-process"); err != nil {
		return nil, err
	}
	split, err := LoadSplit(r.Dir)
	if err != nil {
		return nil, err
	}
	var sched *Schedule
	switch t := r.Cfg.Train; {
	case t.FromEpochs() && !r.Cfg.DP.Enabled:
		if sched, err = r.schedule(split); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	case t.FromEpochs() && t.Budget != "":
		r.log.Info("train.budget does not apply under DP: the iterations follow from train.epochs and the public run's chunk-0 flows alone", "budget", t.Budget)
	}
	p, err := buildPlan(r.Dir, r.Cfg, r.preKey(), split, sched)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	r.plan = p
	return p, nil
}

// PlanTraining returns the run's training plan, as Plan does, and records
// its privacy guarantee (if any) in the manifest: what a run or a cluster
// workflow calls before executing it.
func (r *Run) PlanTraining() (*Plan, error) {
	p, err := r.Plan()
	if err != nil {
		return nil, err
	}
	// Model folders of chunks the plan does not train (an earlier split's)
	// go.
	keep := map[string]bool{}
	for _, j := range p.Jobs() {
		keep[ModelDir(r.Dir, j.Chunk)] = true
	}
	old, _ := filepath.Glob(filepath.Join(r.Dir, ModelsDir, "chunk-*"))
	for _, d := range old {
		if !keep[d] {
			if err := os.RemoveAll(d); err != nil {
				return nil, err
			}
		}
	}
	if v := p.Privacy; v != nil {
		r.log.Info("differential privacy", "epsilon", v.Epsilon, "delta", v.Delta, "noise_multiplier", v.Noise, "clip", v.Clip, "steps", v.Steps,
			"target_epsilon", v.Target, "unit", "flow (5-tuple)", "stats_share", v.StatsShare)
		for _, m := range v.Mechanisms {
			r.log.Info("privacy budget split", "mechanism", m.Name, "noise_multiplier", m.Noise, "releases", m.Releases, "epsilon_alone", m.Epsilon, "share", m.Share)
		}
		r.Man.Privacy = v
		if err := r.Man.Save(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func stageOf(j ChunkJob) string { return fmt.Sprintf("train/chunk-%03d", j.Chunk) }

func jobStageKey(j ChunkJob) string { return hashKey(j.Key, j.Iterations) }

// ChunkTrained reports whether the manifest records j as trained.
func (r *Run) ChunkTrained(j ChunkJob) bool { return r.done(stageOf(j), jobStageKey(j)) }

// RecordChunk records j's completion in the manifest. The manifest must
// have a single writer at a time.
func (r *Run) RecordChunk(j ChunkJob) error {
	files, err := checkpointFiles(ModelDir(r.Dir, j.Chunk))
	if err != nil {
		return fmt.Errorf("chunk %d: %w", j.Chunk, err)
	}
	var outputs []string
	for _, f := range files {
		rel, err := filepath.Rel(r.Dir, f)
		if err != nil {
			return err
		}
		outputs = append(outputs, rel)
	}
	records := 0
	if split, err := LoadSplit(r.Dir); err == nil && j.Chunk < len(split.Chunks) {
		records = split.Chunks[j.Chunk].Records
	}
	return r.complete(stageOf(j), jobStageKey(j), outputs, TrainInfo{Iterations: j.Iterations, InitFrom: j.InitFrom}, records)
}

// checkpointFiles lists the files of the checkpoint in a chunk's model
// folder: its job key, the checkpoint manifest and the weight and
// optimiser files it names, and with checkpoint selection those of the
// best checkpoint and the scores.
func checkpointFiles(dir string) ([]string, error) {
	p := filepath.Join(dir, dg.ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("no model: %w", err)
	}
	var m struct {
		Weights string `json:"weights"`
		Optim   string `json:"optim"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Weights == "" || m.Optim == "" {
		return nil, fmt.Errorf("%s: not a checkpoint manifest (%v)", p, err)
	}
	files := []string{filepath.Join(dir, jobKeyFile), p, filepath.Join(dir, filepath.Base(m.Weights)), filepath.Join(dir, filepath.Base(m.Optim))}
	// Checkpoint selection's copy of the best checkpoint and its scores.
	if best := filepath.Join(dir, BestDir); dg.HasCheckpoint(best) {
		bf, err := checkpointFiles(best)
		if err != nil {
			return nil, err
		}
		files = append(files, bf[1:]...)
		files = append(files, filepath.Join(dir, SelectionFile))
	}
	return files, nil
}
