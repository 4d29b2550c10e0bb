package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	// Force accepts an input or a configuration other than the one a run
	// directory with results was made with: the stages they change run
	// again, and their old outputs go. Without it, Open refuses.
	Force bool
	// Progress receives training progress (may be nil).
	Progress func(Progress)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ErrOtherRun is the error of an Open that would re-use a run directory
// holding results for another input or configuration without Force.
var ErrOtherRun = errors.New("refused")

// Run is an open run directory.
type Run struct {
	Dir       string
	InputPath string
	Cfg       *config.Config
	Man       *Manifest
	Audit     bool
	Progress  func(Progress)
	log       *slog.Logger
	plan      *Plan // built by Plan on its first call
	// rate measures the seconds per training iteration for train.budget
	// (measureRate when nil).
	rate    func(cfg *config.Config, job ChunkJob) (float64, error)
	lock    *dirLock
	created bool // Open made the directory
	// dpRelease, when set, adds the noise of every DP release of
	// pre-processing in place of seeded Gaussian noise (tests).
	dpRelease releaser
}

// Close releases the run directory for other processes. A directory that
// Open created and in which no stage completed (a command that failed)
// is removed.
func (r *Run) Close() error {
	if r.lock == nil || r.lock.f == nil {
		return nil
	}
	if r.created && len(r.Man.Stages) == 0 {
		defer os.RemoveAll(r.Dir) // after the lock file is closed
	}
	return r.lock.release()
}

// Open opens (or creates) a run directory, and holds it, against other
// processes, until Close.
func Open(opt Options) (_ *Run, err error) {
	if opt.Dir == "" {
		return nil, errors.New("run directory not set")
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		if created {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.release()
			if created {
				os.RemoveAll(dir) // nothing of it is worth keeping
			}
		}
	}()
	man, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Man: man, Audit: opt.Audit, Progress: opt.Progress, log: opt.Logger, lock: lock, created: created}
	if opt.Config == nil && man.Audit {
		r.Audit = true // a later stage of an audited run
	}
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
	sampleDir := filepath.Join(dir, sampleFolder)
	_, statErr = os.Stat(sampleDir)
	hadSample := statErr == nil
	if r.InputPath, err = materialiseInput(dir, input); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && !hadSample {
			os.RemoveAll(sampleDir) // written for a run that did not open
		}
	}()
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
	if len(man.Stages) > 0 && man.Input.SHA256 != "" && man.Input.SHA256 != sum && !opt.Force {
		return nil, fmt.Errorf("%w: %s holds a run of another input (%s, SHA-256 %.12s), not of %s (SHA-256 %.12s): pass --force to start it over with this input, or choose another directory",
			ErrOtherRun, dir, man.Input.Path, man.Input.SHA256, name, sum)
	}
	oldInput := man.Input

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
	cfgHash := hashBytes(cfgText)
	if opt.Config != nil && len(man.Stages) > 0 && !opt.Force && (cfgHash != man.ConfigHash || man.Audit != r.Audit) {
		return nil, fmt.Errorf("%w: %s holds a run made with another configuration (or --audit setting): pass --force to run the stages it changes again, or choose another directory", ErrOtherRun, dir)
	}
	if input != "" && hadSample {
		// The embedded sample is no longer this run's input.
		if err := os.RemoveAll(sampleDir); err != nil {
			return nil, err
		}
	}
	if err := writeBytesAtomic(filepath.Join(dir, ConfigFile), cfgText); err != nil {
		return nil, err
	}
	if oldInput.SHA256 != "" && oldInput.SHA256 != sum {
		r.log.Info("the run's input has changed: every stage runs again", "was", oldInput.Path, "now", name)
	}
	man.Input = in
	man.Audit = r.Audit
	man.ConfigHash = cfgHash
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
	r.plan = nil
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
	if r.done("preprocess", key) {
		r.log.Info("pre-processing already done", "dir", r.Dir)
		return nil
	}
	r.plan = nil // the plan follows from what pre-processing writes
	// What an earlier pre-processing wrote goes: chunks, audit split.
	if err := os.RemoveAll(filepath.Join(r.Dir, PreDir)); err != nil {
		return err
	}
	if err := r.preprocess(ctx); err != nil {
		return fmt.Errorf("pre-process: %w", err)
	}
	split, err := LoadSplit(r.Dir)
	if err != nil {
		return err
	}
	r.Man.Input.Format, r.Man.Input.Kind = split.Format, split.Kind
	return r.complete("preprocess", key, []string{PreDir}, PreprocessInfo{
		Records: split.Records, Flows: split.Stats.Flows, Chunks: len(split.Chunks), MaxFlowLen: split.MaxLen,
		TruncatedRecords: split.Stats.TruncatedRecords, HoldoutRecords: split.Holdout,
	}, split.Records)
}

// done reports whether stage completed with key and its outputs are
// intact; outputs found missing or changed are logged, and the stage is
// not done.
func (r *Run) done(stage, key string) bool {
	err := r.Man.Verify(stage, key)
	if err != nil && !errors.Is(err, errNotDone) {
		r.log.Warn("the stage's outputs are missing or changed: it runs again", "stage", stage, "err", err)
	}
	if err != nil {
		r.Man.start(stage) // its wall time counts from here
	}
	return err == nil
}

func (r *Run) requireDone(stage, key, what string) error {
	if !r.done(stage, key) {
		return fmt.Errorf("%s first (stage %s is not done with the current settings)", what, stage)
	}
	return nil
}

// Train trains every chunk's model, step by step as the plan orders them,
// on a pool of goroutines.
func (r *Run) Train(ctx context.Context) error {
	p, err := r.PlanTraining()
	if err != nil {
		return err
	}
	return p.Execute(&localDriver{ctx: ctx, r: r, workers: r.Cfg.Train.Workers}, r.ChunkTrained)
}

// trainKey summarises every chunk's training stage.
func (r *Run) trainKey() (string, error) {
	p, err := r.Plan()
	if err != nil {
		return "", err
	}
	var keys []string
	for _, j := range p.Jobs() {
		if !r.done(stageOf(j), jobStageKey(j)) {
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
	if r.done("generate", key) {
		r.log.Info("generation already done")
		return nil
	}
	// An earlier synthetic trace goes, whichever kind it was.
	for _, k := range []trace.Kind{trace.KindFlows, trace.KindPackets} {
		if err := removeIfExists(r.SyntheticPath(k)); err != nil {
			return err
		}
	}
	st, err := r.generate(ctx)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return r.complete("generate", key, []string{filepath.Base(r.Synthetic())}, st, st.Records)
}

// Evaluate compares the synthetic trace with the real one and writes
// metrics.json and the report, unless that is done.
func (r *Run) Evaluate(ctx context.Context) error {
	gk, err := r.genKey()
	if err != nil {
		return err
	}
	// When the generation finished is part of the key: a forced
	// regeneration (with the same generation key) is evaluated again.
	syn := ""
	if g := r.Man.Stage("generate"); g != nil {
		syn = fmt.Sprint(g.Finished.UnixNano())
	}
	key := hashKey(evaluateVersion, gk, syn)
	if r.done("evaluate", key) {
		r.log.Info("evaluation already done")
		return nil
	}
	if err := r.requireDone("generate", gk, "generate"); err != nil {
		return err
	}
	for _, p := range []string{report.MetricsFile, report.ReportFile, report.PlotsDir} {
		if err := os.RemoveAll(filepath.Join(r.Dir, p)); err != nil {
			return err
		}
	}
	res, err := r.evaluate(ctx)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	r.log.Info("evaluated", "mean_jsd", res.MeanJSD, "mean_emd_normalized", res.MeanEMDNormalized, "mean_joint_tvd", res.Joint["mean_joint_tvd"],
		"report", filepath.Join(r.Dir, report.ReportFile))
	return r.complete("evaluate", key, []string{report.MetricsFile, report.ReportFile}, EvaluateInfo{
		MeanJSD: res.MeanJSD, MeanEMDNormalized: res.MeanEMDNormalized, MeanJointTVD: res.Joint["mean_joint_tvd"],
	}, res.RealRecords+res.SyntheticRecords)
}

// complete records stage in the manifest (Manifest.Complete) and logs its
// wall time and the process's peak memory, in all and per record.
func (r *Run) complete(stage, key string, outputs []string, info any, records int) error {
	if err := r.Man.Complete(stage, key, outputs, info, records); err != nil {
		return err
	}
	if st := r.Man.Stage(stage); st != nil {
		r.log.Info("stage done", "stage", stage, "seconds", st.Seconds, "records", records,
			"peak_rss", mib(st.PeakRSS), "bytes_per_record", perRecord(st.PeakRSS, records))
	}
	return nil
}

func (r *Run) evaluate(ctx context.Context) (*eval.Result, error) {
	kind := r.Man.Input.Kind
	plan, err := r.Plan()
	if err != nil {
		return nil, err
	}
	realPath := r.InputPath
	opt := eval.Options{Seed: int64(r.Cfg.Seed), Privacy: plan.Privacy}
	var hold *trace.Trace
	if r.Audit {
		realPath = preFile(r.Dir, TrainBase+traceExt(kind == trace.KindPackets))
		if hold, err = trace.ReadAll(preFile(r.Dir, HoldoutBase+traceExt(kind == trace.KindPackets)), trace.Options{}); err != nil {
			return nil, err
		}
		opt.HoldoutFlows, opt.HoldoutPackets = hold.Flows, hold.Packets
	}
	real, err := ReadInput(realPath, trace.Options{SkipBad: r.Cfg.SkipBad})
	if err != nil {
		return nil, err
	}
	syn, err := trace.ReadAll(r.Synthetic(), trace.Options{})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opt.DPMarginal, err = r.dpBaseline(real, plan.Privacy); err != nil {
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
	if res.CheckpointSelection, err = r.selections(plan); err != nil {
		return nil, err
	}
	in := report.Input{Title: "netshare run " + filepath.Base(r.Dir), RealName: r.Man.Input.Path, SyntheticName: filepath.Base(syn.Name), Result: res, Run: r.reportInfo()}
	if err := report.Write(r.Dir, in); err != nil {
		return nil, err
	}
	return res, nil
}

// selections reads the checkpoint scores of the plan's chunks that
// selected their best checkpoint.
func (r *Run) selections(p *Plan) ([]eval.ChunkSelection, error) {
	var out []eval.ChunkSelection
	for _, j := range p.Jobs() {
		if !j.SelectBest {
			continue
		}
		s, err := ReadSelection(ModelDir(r.Dir, j.Chunk))
		if errors.Is(err, fs.ErrNotExist) {
			continue // too few flows to select
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, nil
}
