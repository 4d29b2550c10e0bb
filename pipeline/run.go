package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/report"
	"github.com/netshare-go/netshare/trace"
)

// Options configures a run.
type Options struct {
	// Dir is the run directory (created if needed).
	Dir string
	// Input is the trace to learn; empty uses the input recorded in the
	// run directory, or the sample embedded in the binary for a new run.
	Input string
	// Config is the configuration; nil uses the one saved in the run
	// directory (for stage commands over an existing run).
	Config *config.Config
	// Audit keeps 20% of the flows aside and audits the synthetic trace
	// for memorisation against them.
	Audit bool
	// Executor runs chunk jobs; nil uses a local pool.
	Executor Executor
	// Progress receives training progress (may be nil).
	Progress func(Progress)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Run is an open run directory.
type Run struct {
	Dir       string
	InputPath string
	Cfg       *config.Config
	Man       *Manifest
	Audit     bool
	Exec      Executor
	Progress  func(Progress)
	log       *slog.Logger
	privacy   *eval.PrivacyInfo // set by trainPlan under DP
}

// Open opens (or creates) a run directory.
func Open(opt Options) (*Run, error) {
	if opt.Dir == "" {
		return nil, errors.New("run directory not set")
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	man, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Man: man, Audit: opt.Audit, Exec: opt.Executor, Progress: opt.Progress, log: opt.Logger}
	if opt.Config == nil && man.Audit {
		r.Audit = true // a later stage of an audited run
	}
	man.Audit = r.Audit
	if r.log == nil {
		r.log = slog.Default()
	}
	input := opt.Input
	if input == "" && man.Input.Path != "" {
		input = man.Input.Path
		if man.Input.Path == EmbeddedSampleName {
			input = ""
		}
	}
	if r.InputPath, err = materialiseInput(dir, input); err != nil {
		return nil, err
	}
	sum, size, err := hashFile(r.InputPath)
	if err != nil {
		return nil, err
	}
	name := r.InputPath
	if input == "" {
		name = EmbeddedSampleName
	}
	in := InputInfo{Path: name, SHA256: sum, Bytes: size}
	if man.Input.SHA256 == sum {
		in.Format, in.Kind = man.Input.Format, man.Input.Kind // learned by pre-processing
	}
	man.Input = in

	r.Cfg = opt.Config
	if r.Cfg == nil {
		if r.Cfg, err = loadRunConfig(dir); err != nil {
			return nil, fmt.Errorf("no configuration given and none saved in %s: %w", dir, err)
		}
	}
	// The configuration's packets: or flows: section applies to this input.
	src, err := trace.Open(r.InputPath, trace.Options{})
	if err != nil {
		return nil, err
	}
	kind := src.Kind()
	src.Close()
	if r.Cfg, err = r.Cfg.ForKind(kind.String()); err != nil {
		return nil, err
	}
	cfgText, err := r.Cfg.YAML()
	if err != nil {
		return nil, err
	}
	if err := writeBytesAtomic(filepath.Join(dir, ConfigFile), cfgText); err != nil {
		return nil, err
	}
	man.ConfigHash = hashBytes(cfgText)
	if r.Exec == nil {
		r.Exec = &Local{N: r.Cfg.Train.Workers}
	}
	return r, man.Save()
}

// Force forgets that stage (one of preprocess, train, generate, report)
// and every later one were done, so that the next calls run them again
// (training from scratch).
func (r *Run) Force(stage string) error {
	order := []string{"preprocess", "train", "generate", "report"}
	i := slices.Index(order, stage)
	if i < 0 {
		return fmt.Errorf("unknown stage %q (want one of %s)", stage, strings.Join(order, ", "))
	}
	for _, st := range order[i:] {
		switch st {
		case "train":
			for name := range r.Man.Stages {
				if strings.HasPrefix(name, "train/") {
					r.Man.Invalidate(name)
				}
			}
			if err := os.RemoveAll(filepath.Join(r.Dir, ModelsDir)); err != nil {
				return err
			}
		case "report":
			r.Man.Invalidate("evaluate")
		default:
			r.Man.Invalidate(st)
		}
	}
	return r.Man.Save()
}

// RunAll runs every stage, skipping those already done with the same key.
func (r *Run) RunAll(ctx context.Context) error {
	for _, stage := range []func(context.Context) error{r.Preprocess, r.Train, r.Generate, r.Evaluate} {
		if err := stage(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (r *Run) preKey() string { return preprocessKey(r.Man.Input.SHA256, r.Cfg, r.Audit) }

// Preprocess runs the pre-processing stage unless it is done.
func (r *Run) Preprocess(ctx context.Context) error {
	key := r.preKey()
	if r.Man.Done("preprocess", key) {
		r.log.Info("pre-processing already done", "dir", r.Dir)
		return nil
	}
	if err := r.preprocess(ctx); err != nil {
		return fmt.Errorf("pre-process: %w", err)
	}
	split, err := LoadSplit(r.Dir)
	if err != nil {
		return err
	}
	r.Man.Input.Format, r.Man.Input.Kind = split.Format, split.Kind
	return r.Man.Complete("preprocess", key, []string{PreDir}, map[string]any{
		"records": split.Records, "flows": split.Stats.Flows, "chunks": len(split.Chunks), "max_flow_len": split.MaxLen,
		"truncated_records": split.Stats.TruncatedRecords, "holdout_records": split.Holdout,
	})
}

func (r *Run) requireDone(stage, key, what string) error {
	if !r.Man.Done(stage, key) {
		return fmt.Errorf("%s first (stage %s is not done with the current settings)", what, stage)
	}
	return nil
}

// trainPlan returns the chunk jobs: the base chunk (trained from scratch
// for the full budget) and the others (fine-tuned from it for a reduced
// budget, or from scratch when fine-tuning is off). Under DP there is no
// base: every chunk starts from the public run's model (or from scratch)
// and trains with DP-SGD for the full budget.
func (r *Run) trainPlan(split *SplitInfo) (base *ChunkJob, rest []ChunkJob, err error) {
	preKey := r.preKey()
	trainCfg := struct {
		M  config.Model
		DP config.DP
		S  uint64
	}{r.Cfg.Model, r.Cfg.DP, r.Cfg.Seed}
	var pub *publicRun
	if r.Cfg.DP.Enabled {
		if pub, err = loadPublicRun(r.Cfg.DP.Pretrained); err != nil {
			return nil, nil, err
		}
	}
	for c, ci := range split.Chunks {
		if ci.Flows == 0 {
			continue
		}
		j := ChunkJob{RunDir: r.Dir, Chunk: c, Iterations: r.Cfg.Train.Iterations, Seed: chunkSeed(r.Cfg.Seed, c)}
		switch {
		case pub != nil:
			if r.Cfg.DP.Init == "public" {
				j.InitFrom = ModelDir(pub.dir, pub.base)
			}
			j.DPClip = r.Cfg.DP.Clip
			j.Key = hashKey("train-dp/v1", preKey, trainCfg, c, j.Seed, j.InitFrom)
			rest = append(rest, j)
		case base == nil:
			j.Key = hashKey("train/v1", preKey, trainCfg, c, j.Seed)
			base = &j
		case r.Cfg.Train.FineTune:
			j.InitFrom = ModelDir(r.Dir, base.Chunk)
			j.Iterations = max(1, int(float64(r.Cfg.Train.Iterations)/r.Cfg.Train.FineTuneReduce))
			// Fine-tuned chunks start over when their base changes.
			j.Key = hashKey("train/v1", preKey, trainCfg, c, j.Seed, base.Key, base.Iterations)
			rest = append(rest, j)
		default:
			j.Key = hashKey("train/v1", preKey, trainCfg, c, j.Seed)
			rest = append(rest, j)
		}
	}
	if base == nil && len(rest) == 0 {
		return nil, nil, errors.New("every chunk is empty")
	}
	if pub != nil {
		p, err := r.dpNoise(split, rest)
		if err != nil {
			return nil, nil, err
		}
		for i := range rest {
			rest[i].DPNoise = p.Noise
		}
		r.privacy = p
	}
	return base, rest, nil
}

// planJobs lists every chunk job, the base (if any) first.
func planJobs(base *ChunkJob, rest []ChunkJob) []ChunkJob {
	if base == nil {
		return rest
	}
	return append([]ChunkJob{*base}, rest...)
}

func stageOf(j ChunkJob) string { return fmt.Sprintf("train/chunk-%03d", j.Chunk) }

func jobStageKey(j ChunkJob) string { return hashKey(j.Key, j.Iterations) }

// Train trains every chunk's model: the base chunk first, then the rest in
// parallel through the executor.
func (r *Run) Train(ctx context.Context) error {
	if err := r.requireDone("preprocess", r.preKey(), "pre-process"); err != nil {
		return err
	}
	split, err := LoadSplit(r.Dir)
	if err != nil {
		return err
	}
	base, rest, err := r.trainPlan(split)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if p := r.privacy; p != nil {
		r.log.Info("differential privacy", "epsilon", p.Epsilon, "delta", p.Delta, "noise_multiplier", p.Noise, "clip", p.Clip, "steps", p.Steps)
		r.Man.Privacy = map[string]any{"epsilon": p.Epsilon, "delta": p.Delta, "noise": p.Noise, "clip": p.Clip, "steps": p.Steps}
		if err := r.Man.Save(); err != nil {
			return err
		}
	}
	cores := runtime.NumCPU()
	run := func(jobs []ChunkJob) error {
		var todo []ChunkJob
		for _, j := range jobs {
			if !r.Man.Done(stageOf(j), jobStageKey(j)) {
				todo = append(todo, j)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		workers := max(1, min(r.Exec.Workers(), len(todo)))
		threads := r.Cfg.Train.Threads
		if threads == 0 {
			threads = max(1, cores/workers)
		}
		for i := range todo {
			todo[i].Threads = threads
		}
		r.log.Info("training", "chunks", len(todo), "workers", workers, "blas_threads", threads, "iterations", todo[0].Iterations)
		if err := r.Exec.RunChunks(ctx, todo, r.Progress); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		for _, j := range todo {
			if err := r.Man.Complete(stageOf(j), jobStageKey(j), []string{ModelDir(r.Dir, j.Chunk)}, map[string]any{"iterations": j.Iterations, "init_from": j.InitFrom}); err != nil {
				return err
			}
		}
		return nil
	}
	if base != nil {
		if err := run([]ChunkJob{*base}); err != nil {
			return err
		}
	}
	return run(rest)
}

// trainKey summarises every chunk's training stage.
func (r *Run) trainKey() (string, error) {
	split, err := LoadSplit(r.Dir)
	if err != nil {
		return "", err
	}
	base, rest, err := r.trainPlan(split)
	if err != nil {
		return "", err
	}
	var keys []string
	for _, j := range planJobs(base, rest) {
		if !r.Man.Done(stageOf(j), jobStageKey(j)) {
			return "", fmt.Errorf("train first (chunk %d is not trained with the current settings)", j.Chunk)
		}
		keys = append(keys, jobStageKey(j))
	}
	return hashKey(keys), nil
}

func (r *Run) genKey() (string, error) {
	tk, err := r.trainKey()
	if err != nil {
		return "", err
	}
	return hashKey(generateVersion, tk, r.Cfg.Generate, r.Cfg.Seed), nil
}

// Generate writes the synthetic trace unless it is done.
func (r *Run) Generate(ctx context.Context) error {
	key, err := r.genKey()
	if err != nil {
		return err
	}
	if r.Man.Done("generate", key) {
		r.log.Info("generation already done")
		return nil
	}
	st, err := r.generate(ctx)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	kind := trace.KindFlows
	if r.Man.Input.Kind == trace.KindPackets.String() {
		kind = trace.KindPackets
	}
	return r.Man.Complete("generate", key, []string{filepath.Base(r.SyntheticPath(kind))}, map[string]any{
		"flows": st.Flows, "records": st.Records, "continued_flows": st.Continuations,
		"fixed_inconsistent_tags": st.FixedTags, "dropped_continuations": st.DroppedCopies, "records_outside_chunk": st.OutOfRange,
	})
}

// Evaluate compares the synthetic trace with the real one and writes
// metrics.json and the report, unless that is done.
func (r *Run) Evaluate(ctx context.Context) error {
	gk, err := r.genKey()
	if err != nil {
		return err
	}
	// The synthetic trace's content is part of the key: a forced
	// regeneration is evaluated again.
	syn := ""
	if g := r.Man.Stage("generate"); g != nil {
		syn = fmt.Sprint(g.Finished.UnixNano())
	}
	key := hashKey(evaluateVersion, gk, syn)
	if r.Man.Done("evaluate", key) {
		r.log.Info("evaluation already done")
		return nil
	}
	if err := r.requireDone("generate", gk, "generate"); err != nil {
		return err
	}
	res, err := r.evaluate(ctx)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	r.log.Info("evaluated", "mean_jsd", res.MeanJSD, "mean_emd_normalized", res.MeanEMDNormalized, "mean_joint_tvd", res.Joint["mean_joint_tvd"],
		"report", filepath.Join(r.Dir, report.ReportFile))
	return r.Man.Complete("evaluate", key, []string{report.MetricsFile, report.ReportFile}, map[string]any{
		"mean_jsd": res.MeanJSD, "mean_emd_normalized": res.MeanEMDNormalized, "mean_joint_tvd": res.Joint["mean_joint_tvd"],
	})
}

func (r *Run) evaluate(ctx context.Context) (*eval.Result, error) {
	kind := trace.KindFlows
	if r.Man.Input.Kind == trace.KindPackets.String() {
		kind = trace.KindPackets
	}
	realPath := r.InputPath
	opt := eval.Options{Seed: int64(r.Cfg.Seed), Privacy: r.privacy}
	var hold *Trace
	if r.Audit {
		realPath = preFile(r.Dir, TrainBase+traceExt(kind == trace.KindPackets))
		var err error
		if hold, err = ReadTrace(preFile(r.Dir, HoldoutBase+traceExt(kind == trace.KindPackets)), trace.Options{}); err != nil {
			return nil, err
		}
		opt.HoldoutFlows, opt.HoldoutPackets = hold.Flows, hold.Packets
	}
	real, err := ReadInput(realPath, trace.Options{SkipBad: r.Cfg.SkipBad})
	if err != nil {
		return nil, err
	}
	syn, err := ReadTrace(r.SyntheticPath(kind), trace.Options{})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opt.DPMarginal, err = r.dpBaseline(real); err != nil {
		return nil, err
	}
	var res *eval.Result
	if kind == trace.KindPackets {
		res, err = eval.Packets(real.Packets, syn.Packets, opt)
	} else {
		res, err = eval.Flows(real.Flows, syn.Flows, opt)
	}
	if err != nil {
		return nil, err
	}
	in := report.Input{Title: "netshare run " + filepath.Base(r.Dir), RealName: r.Man.Input.Path, SyntheticName: filepath.Base(syn.Name), Result: res, Run: r.reportInfo()}
	if err := report.Write(r.Dir, in); err != nil {
		return nil, err
	}
	return res, nil
}
