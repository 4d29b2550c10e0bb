package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/nn/blas"
	"github.com/netshare-go/netshare/pipeline"
)

func init() {
	register(newRunCmd)
	register(func() *cobra.Command {
		return newStageCmd("preprocess", "Read the trace, cut it into chunks, learn the embedding and encode the training sets", true,
			func(r *pipeline.Run, ctx context.Context) error { return r.Preprocess(ctx) })
	})
	register(func() *cobra.Command {
		return newStageCmd("train", "Train every chunk's model (chunk 0, then the others fine-tuned from it)", false,
			func(r *pipeline.Run, ctx context.Context) error { return r.Train(ctx) })
	})
	register(func() *cobra.Command {
		return newStageCmd("generate", "Generate the synthetic trace from the trained models", false,
			func(r *pipeline.Run, ctx context.Context) error { return r.Generate(ctx) })
	})
	register(func() *cobra.Command {
		return newStageCmd("report", "Evaluate the run's synthetic trace against the real one: metrics.json and report.html", false,
			func(r *pipeline.Run, ctx context.Context) error { return r.Evaluate(ctx) })
	})
}

// runFlags are the flags shared by run and the stage commands.
type runFlags struct {
	input, out, cfgFile, preset string
	audit, force, skipBad       bool
	dpEpsilon, dpDelta          float64
	pretrained                  string
	flags                       *pflag.FlagSet
}

func (f *runFlags) add(cmd *cobra.Command, withInput bool) {
	f.flags = cmd.Flags()
	if withInput {
		cmd.Flags().StringVar(&f.input, "input", "", "trace `FILE` to learn (pcap, pcapng, flow CSV, Zeek conn log); default: the sample embedded in the binary")
		cmd.Flags().StringVar(&f.cfgFile, "config", "", configUsage)
		cmd.Flags().StringVar(&f.preset, "preset", "", presetUsage)
		cmd.Flags().BoolVar(&f.audit, "audit", false, "train on 80% of the records (flow records one by one, packets by 5-tuple) and audit the synthetic trace for memorisation against the other 20%")
		cmd.Flags().BoolVar(&f.skipBad, "skip-bad", false, "skip malformed rows of a text input (bad CSV rows, IPv6 addresses), the cut record of a capture cut short, and records whose time lies far outside the trace (docs/formats.md), counted in the log and preprocess/split.json, instead of failing (config key skip_bad)")
		cmd.Flags().Float64Var(&f.dpEpsilon, "dp-epsilon", 0, "train with differential privacy for this target ε: DP statistics of the trace build the schema, DP-SGD trains the discriminators")
		cmd.Flags().Float64Var(&f.dpDelta, "dp-delta", 0, "δ of the DP guarantee (default 1e-5, or less than 1/flows)")
		cmd.Flags().StringVar(&f.pretrained, "pretrained", "", "directory of a `RUN` trained on public data: under DP its weights and embedding start every chunk (optional)")
	}
	cmd.Flags().StringVar(&f.out, "out", "", "the run directory `DIR` (required)")
	if cmd.Name() == "run" {
		cmd.Flags().BoolVar(&f.force, "force", false, "re-use a run directory made with another input or configuration: the stages they change run again and their old outputs go")
	} else {
		cmd.Flags().BoolVar(&f.force, "force", false, "run the stage again (and the later ones) even if it is done; with another input or configuration than the run directory's, accept them")
	}
	cmd.MarkFlagRequired("out")
}

// settings is the configuration the flags ask for: the file or preset,
// with the command line's DP settings over it. Errors about a value given
// by a flag name the flag.
func (f *runFlags) settings() (*config.Config, error) {
	cfg, err := loadConfig(f.cfgFile, f.preset)
	if err != nil {
		return nil, err
	}
	if f.skipBad {
		cfg.SkipBad = true
	}
	changed := func(name string) bool { return f.flags != nil && f.flags.Changed(name) }
	eps, delta, pre := changed("dp-epsilon"), changed("dp-delta"), changed("pretrained")
	if !eps && !delta && !pre {
		return cfg, nil
	}
	if eps {
		if !(f.dpEpsilon > 0) {
			return nil, fmt.Errorf("--dp-epsilon %g: the privacy budget must be positive", f.dpEpsilon)
		}
		cfg.DP.Enabled, cfg.DP.Epsilon, cfg.DP.Noise = true, f.dpEpsilon, 0
		cfg.LongFlows = "truncate" // one flow, one training example
	}
	if delta {
		if !(f.dpDelta > 0 && f.dpDelta < 1) {
			return nil, fmt.Errorf("--dp-delta %g: must be between 0 and 1 (exclusive)", f.dpDelta)
		}
		cfg.DP.Delta = f.dpDelta
	}
	if pre {
		if f.pretrained == "" {
			return nil, errors.New("--pretrained: name the directory of a run on public data")
		}
		cfg.DP.Pretrained = f.pretrained
	}
	if !cfg.DP.Enabled {
		var given []string
		for _, name := range []string{"dp-delta", "pretrained"} {
			if changed(name) {
				given = append(given, "--"+name)
			}
		}
		verb := "applies"
		if len(given) > 1 {
			verb = "apply"
		}
		return nil, fmt.Errorf("%s only %s to a run with differential privacy: add --dp-epsilon ε (or set dp.enabled in the configuration)", strings.Join(given, " and "), verb)
	}
	if err := cfg.Validate(); err != nil {
		return nil, f.nameFlags(err, eps)
	}
	return cfg, nil
}

// dpFlags maps configuration keys to the flags that set them.
var dpFlags = map[string]string{"dp.epsilon": "dp-epsilon", "dp.delta": "dp-delta", "dp.pretrained": "pretrained"}

// nameFlags rewords the configuration's validation errors about values the
// command line set in terms of the flags; dpByFlag says DP was turned on
// by --dp-epsilon.
func (f *runFlags) nameFlags(err error, dpByFlag bool) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	source := "the configuration"
	if f.cfgFile != "" {
		source = f.cfgFile
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			out = append(out, e)
			continue
		}
		if flag, ok := dpFlags[fe.Key]; ok && f.flags.Changed(flag) {
			v := f.flags.Lookup(flag).Value.String()
			out = append(out, fmt.Errorf("--%s %s: %s", flag, v, fe.Msg))
			continue
		}
		if dpByFlag {
			// The key comes from the file, but DP from the command line.
			out = append(out, fmt.Errorf("%s: %s (DP is on by --dp-epsilon)", source, e))
			continue
		}
		out = append(out, fmt.Errorf("%s: %w", source, e))
	}
	return errors.Join(out...)
}

// open opens the run directory with a progress display.
func (f *runFlags) open(cmd *cobra.Command, withConfig bool) (*pipeline.Run, func(), error) {
	var cfg *config.Config
	if withConfig {
		var err error
		if cfg, err = f.settings(); err != nil {
			return nil, nil, err
		}
	}
	stderr := cmd.ErrOrStderr()
	tty := false
	if file, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(file.Fd()))
	}
	rep := newReporter(stderr, tty, slog.Default())
	if tty {
		slog.SetDefault(slog.New(breakHandler{slog.Default().Handler(), rep}))
	}
	made, err := missingDirs(f.out)
	if err != nil {
		return nil, nil, err
	}
	if !withConfig && len(made) > 0 {
		return nil, nil, fmt.Errorf("run directory %s does not exist: %s works on a run started by netshare run or preprocess", f.out, cmd.Name())
	}
	slog.Info("BLAS", "backend", blas.Info().Name())
	r, err := pipeline.Open(pipeline.Options{Dir: f.out, Input: f.input, Config: cfg, Audit: f.audit, Force: f.force, Progress: rep.Update})
	if err != nil {
		// Leave no empty directory behind for a run that never started.
		removeEmpty(made)
		return nil, nil, err
	}
	return r, func() { rep.Close(); r.Close() }, nil
}

// missingDirs returns the directories that making dir would create,
// deepest first.
func missingDirs(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for d := abs; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out, nil
		}
	}
}

// removeEmpty removes the directories dirs (deepest first) while they are
// empty (or gone already: pipeline.Open removes a run directory it made).
func removeEmpty(dirs []string) {
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
}

func newRunCmd() *cobra.Command {
	var f runFlags
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Learn a trace and generate a synthetic one, with its fidelity report (all stages)",
		Long: `run pre-processes the input, trains one model per time chunk (chunk 0 first,
the others fine-tuned from it in parallel), generates the synthetic trace
(DIR/synthetic.csv for flow input, DIR/synthetic.pcap for packet input) and
evaluates it (DIR/metrics.json, DIR/report.html).

Re-running with the same directory skips completed stages and resumes an
interrupted training from its last checkpoint. Without --input, run learns the
small UGR'16 NetFlow sample embedded in the binary.`,
		Example: `  netshare run --out runs/demo --preset quick
  netshare run --input capture.pcap --out runs/cap1
  netshare run --input flows.csv --out runs/f1 --config my.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cf.executor != executorLocal {
				return cf.run(cmd, &f)
			}
			r, done, err := f.open(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			if err := r.RunAll(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "synthetic trace, metrics and report written to %s\n", r.Dir)
			return nil
		},
	}
	f.add(cmd, true)
	cf.add(cmd)
	return cmd
}

func newStageCmd(name, short string, first bool, stage func(*pipeline.Run, context.Context) error) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Long: short + `.

The stage works on a run directory; later stages use the input and the
configuration saved there by the first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, done, err := f.open(cmd, first)
			if err != nil {
				return err
			}
			defer done()
			if f.force {
				if err := r.Force(name); err != nil {
					return err
				}
			}
			return stage(r, cmd.Context())
		},
	}
	f.add(cmd, first)
	return cmd
}

// breakHandler lets log records through a live progress display.
type breakHandler struct {
	slog.Handler
	rep *reporter
}

func (h breakHandler) Handle(ctx context.Context, r slog.Record) error {
	h.rep.Break()
	return h.Handler.Handle(ctx, r)
}

func (h breakHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return breakHandler{h.Handler.WithAttrs(a), h.rep}
}

func (h breakHandler) WithGroup(g string) slog.Handler {
	return breakHandler{h.Handler.WithGroup(g), h.rep}
}
