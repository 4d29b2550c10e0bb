package cli

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/spf13/cobra"

	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/report"
	"github.com/netshare-go/netshare/trace"
)

func init() { register(newEvalCmd) }

// skipNote reports the records a reader skipped, if any.
func skipNote(role string, t *trace.Trace) string {
	if t.Stats.TotalSkipped() == 0 {
		return ""
	}
	n := fmt.Sprintf("%s trace %s: read %d records, %s", role, t.Name, t.Len(), t.Stats.SkippedText())
	slog.Warn("records skipped", "trace", role, "file", t.Name, "skipped", t.Stats.TotalSkipped())
	return n
}

func newEvalCmd() *cobra.Command {
	var realPath, synPath, holdoutPath, reportDir, format string
	var asJSON, skipBad, noDownstream, noBaselines bool
	var seed int64
	var subsampleLimit int
	cmd := &cobra.Command{
		Use:   "eval --real FILE --synthetic FILE",
		Short: "Measure how faithful a synthetic trace is to the real one",
		Long: `eval compares a synthetic trace with the real one it imitates. Both files may be
in any supported format (detected from their content) but must hold the same
kind of records: flows or packets.

It prints Jensen–Shannon divergences (IP popularity rank, ports, protocol),
raw and normalised EMDs of the numeric fields, total variation distances of
2-way histograms (joint fidelity), downstream-task comparisons (traffic-type
classifiers, Count-Min Sketch heavy hitters, anomaly detectors), and the same
metrics for two references drawn from the real trace: a bootstrap resample
(the sampling-noise floor of a perfect copy) and an independent-marginal
sampler. docs/metrics.md defines every figure.

A memorisation audit reports the share of synthetic records that are exact
copies of real ones. With --holdout FILE (real records kept out of the
generator's training; --real is then the training set) it also compares
distances to the closest training record and runs a membership-inference
attack, and judges the privacy targets.

A trace of more than --subsample-limit records is subsampled (seeded from
--seed) for the downstream tasks and the audit's synthetic and held-out
records; the fidelity metrics always use every record. The output says so.

--json prints one JSON object (the content of a run's metrics.json); --report
DIR writes metrics.json, report.html and plots/*.png into DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if realPath == "" || synPath == "" {
				return usagef(cmd, "both --real and --synthetic are required")
			}
			opt := trace.Options{SkipBad: skipBad}
			if format != "" {
				f, err := trace.ParseFormat(format)
				if err != nil {
					return usagef(cmd, "--format: %w", err)
				}
				opt.Format = f
			}
			// The traces are read concurrently: on large inputs reading
			// takes about as long as the evaluation.
			var real, syn, holdout *trace.Trace
			var realErr, synErr, holdErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); real, realErr = trace.ReadAll(realPath, opt) }()
			go func() { defer wg.Done(); syn, synErr = trace.ReadAll(synPath, trace.Options{SkipBad: skipBad}) }()
			if holdoutPath != "" {
				wg.Add(1)
				go func() { defer wg.Done(); holdout, holdErr = trace.ReadAll(holdoutPath, opt) }()
			}
			wg.Wait()
			if realErr != nil {
				return fmt.Errorf("--real: %w", realErr)
			}
			if synErr != nil {
				return fmt.Errorf("--synthetic: %w", synErr)
			}
			if real.Kind != syn.Kind {
				return fmt.Errorf("the real trace %s holds %s (%s) but the synthetic trace %s holds %s (%s): both must be the same kind",
					realPath, real.Kind, real.Format, synPath, syn.Kind, syn.Format)
			}
			if holdErr != nil {
				return fmt.Errorf("--holdout: %w", holdErr)
			}
			if holdout != nil && holdout.Kind != real.Kind {
				return fmt.Errorf("the held-out trace %s holds %s, the real trace %s", holdoutPath, holdout.Kind, real.Kind)
			}
			eo := eval.Options{Seed: seed, NoDownstream: noDownstream, NoBaselines: noBaselines, SubsampleLimit: subsampleLimit}
			var notes []string
			for _, n := range []string{skipNote("real", real), skipNote("synthetic", syn)} {
				if n != "" {
					notes = append(notes, n)
				}
			}
			if holdout != nil {
				if n := skipNote("held-out", holdout); n != "" {
					notes = append(notes, n)
				}
				eo.HoldoutFlows, eo.HoldoutPackets = holdout.Flows, holdout.Packets
			}
			var res *eval.Result
			var err error
			if real.Kind == trace.KindFlows {
				res, err = eval.Flows(real.Flows, syn.Flows, eo)
			} else {
				res, err = eval.Packets(real.Packets, syn.Packets, eo)
			}
			if err != nil {
				return err
			}
			res.Notes = append(res.Notes, notes...)
			if reportDir != "" {
				if err := report.Write(reportDir, report.Input{Result: res, RealName: realPath, SyntheticName: synPath}); err != nil {
					return fmt.Errorf("--report: %w", err)
				}
				slog.Info("report written", "dir", reportDir)
			}
			return writeResult(cmd.OutOrStdout(), res, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&realPath, "real", "", "the real trace (any supported format)")
	f.StringVar(&synPath, "synthetic", "", "the synthetic trace, of the same kind as the real one")
	f.StringVar(&holdoutPath, "holdout", "", "real records held out of training, for the memorisation audit")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of tables")
	f.StringVar(&reportDir, "report", "", "write metrics.json, report.html and plots/ into this directory")
	f.Int64Var(&seed, "seed", 1, "seed of every random choice (reference generators, subsamples, models)")
	f.BoolVar(&skipBad, "skip-bad", false, "skip malformed rows of text traces, and read a capture cut short up to the cut (counted and reported), instead of failing")
	f.StringVar(&format, "format", "", "force the real (and held-out) trace's format instead of detecting it")
	f.BoolVar(&noDownstream, "no-downstream", false, "skip the downstream tasks")
	f.IntVar(&subsampleLimit, "subsample-limit", eval.DefaultSubsampleLimit, "most records of a trace the downstream tasks and the audit see; larger traces are subsampled there (negative: never)")
	f.BoolVar(&noBaselines, "no-baselines", false, "skip the reference generators (bootstrap and marginal sampler)")
	return cmd
}

func writeResult(w io.Writer, res *eval.Result, asJSON bool) error {
	if asJSON {
		b, err := res.JSON()
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	return res.WriteText(w)
}
