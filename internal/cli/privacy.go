package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/netshare-go/netshare/privacy"
	"github.com/spf13/cobra"
)

func init() { register(newPrivacyCmd) }

// privacyParams are the privacy command's inputs.
type privacyParams struct {
	records, batch   int64
	noise, target    float64 // exactly one is set (> 0)
	iterations       int64   // per chunk, from --steps or --epochs
	epochs           float64 // 0 when --steps was given
	delta            float64
	dRounds, chunks  int64
	countNoise       float64 // 0: the flow count is not a private release
	conv             privacy.Conversion
	haveNoise, useEp bool
}

// privacyReport is the privacy command's result (its --json output).
type privacyReport struct {
	Epsilon            float64  `json:"epsilon"`
	Delta              float64  `json:"delta"`
	Order              float64  `json:"order"`
	Conversion         string   `json:"conversion"`
	EpsilonClassic     float64  `json:"epsilon_classic"`
	OrderClassic       float64  `json:"order_classic"`
	NoiseMultiplier    float64  `json:"noise_multiplier"`
	TargetEpsilon      float64  `json:"target_epsilon,omitempty"`
	Records            int64    `json:"records"`
	Batch              int64    `json:"batch"`
	SamplingRate       float64  `json:"sampling_rate"`
	Epochs             float64  `json:"epochs,omitempty"`
	IterationsPerChunk int64    `json:"iterations_per_chunk"`
	DRounds            int64    `json:"d_rounds"`
	StepsPerChunk      int64    `json:"steps_per_chunk"`
	Chunks             int64    `json:"chunks"`
	TotalSteps         int64    `json:"total_steps"`
	CountNoise         float64  `json:"count_noise_multiplier"`
	CountReleases      int64    `json:"count_releases"`
	Warnings           []string `json:"warnings,omitempty"`
}

func newPrivacyCmd() *cobra.Command {
	var (
		p        privacyParams
		steps    int64
		convName string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "privacy",
		Short: "Compute the (ε, δ) guarantee of DP training, or the noise for a target ε",
		Long: `privacy accounts for differentially private training as netshare runs it:
DP-SGD on the discriminators with Poisson sampling of flows (rate batch/records),
per-flow gradients clipped and Gaussian noise of multiplier σ added, each
training iteration making --d-rounds discriminator steps. The Rényi-DP of all
--chunks chunks is summed (a flow may appear in several chunks), together with
one Gaussian release per chunk of the number of flows to generate
(--count-noise; 0 when that number is not taken from private data). The unit
of privacy is one flow.

With --noise it prints ε for --delta and the Rényi order that attains it; with
--epsilon it finds the smallest noise multiplier that meets that ε.`,
		Example: `  netshare privacy --records 60000 --batch 256 --noise 1.1 --epochs 60 --count-noise 0
  netshare privacy --records 50000 --batch 100 --epsilon 10 --steps 2000 --d-rounds 5 --chunks 10 --count-noise 10 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			p.haveNoise = f.Changed("noise")
			p.useEp = f.Changed("epochs")
			if f.Changed("steps") {
				p.iterations = steps
			}
			var err error
			if p.conv, err = privacy.ParseConversion(convName); err != nil {
				return usagef(cmd, "--conversion: %w", err)
			}
			rep, err := runPrivacy(p)
			if err != nil {
				return usage(cmd, err)
			}
			for _, w := range rep.Warnings {
				slog.Warn(w)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return writePrivacyText(out, rep)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&p.records, "records", 0, "flows (privacy units) per chunk, N")
	f.Int64Var(&p.batch, "batch", 0, "expected batch size B; Poisson sampling rate q = B/N")
	f.Float64Var(&p.noise, "noise", 0, "noise multiplier σ (noise std / clipping norm)")
	f.Float64Var(&p.target, "epsilon", 0, "target ε: find the smallest σ that meets it")
	f.Int64Var(&steps, "steps", 0, "training iterations per chunk")
	f.Float64Var(&p.epochs, "epochs", 0, "training epochs per chunk (iterations = ⌈epochs·N/B⌉)")
	f.Float64Var(&p.delta, "delta", privacy.DefaultDelta, "δ of the (ε, δ) guarantee")
	f.Int64Var(&p.dRounds, "d-rounds", 1, "discriminator steps per iteration")
	f.Int64Var(&p.chunks, "chunks", 1, "time chunks trained (each with N flows)")
	f.Float64Var(&p.countNoise, "count-noise", 1.0, "noise multiplier of the per-chunk flow-count release (0: not released from private data)")
	f.StringVar(&convName, "conversion", privacy.ConversionBalle.String(), "RDP to (ε, δ) conversion: balle2020 or classic")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("records")
	_ = cmd.MarkFlagRequired("batch")
	cmd.MarkFlagsMutuallyExclusive("noise", "epsilon")
	cmd.MarkFlagsOneRequired("noise", "epsilon")
	cmd.MarkFlagsMutuallyExclusive("steps", "epochs")
	cmd.MarkFlagsOneRequired("steps", "epochs")
	return cmd
}

// runPrivacy validates p and computes its report.
func runPrivacy(p privacyParams) (privacyReport, error) {
	var rep privacyReport
	switch {
	case p.records <= 0:
		return rep, fmt.Errorf("--records %d: want at least 1", p.records)
	case p.batch <= 0 || p.batch > p.records:
		return rep, fmt.Errorf("--batch %d: want 1 ≤ batch ≤ records (%d)", p.batch, p.records)
	case p.haveNoise && !(p.noise > 0):
		return rep, fmt.Errorf("--noise %v: want σ > 0", p.noise)
	case !p.haveNoise && !(p.target > 0):
		return rep, fmt.Errorf("--epsilon %v: want ε > 0", p.target)
	case p.useEp && !(p.epochs > 0):
		return rep, fmt.Errorf("--epochs %v: want > 0", p.epochs)
	case !p.useEp && p.iterations <= 0:
		return rep, fmt.Errorf("--steps %d: want at least 1", p.iterations)
	case !(p.delta > 0 && p.delta < 1):
		return rep, fmt.Errorf("--delta %v: want 0 < δ < 1", p.delta)
	case p.dRounds <= 0:
		return rep, fmt.Errorf("--d-rounds %d: want at least 1", p.dRounds)
	case p.chunks <= 0:
		return rep, fmt.Errorf("--chunks %d: want at least 1", p.chunks)
	case p.countNoise < 0:
		return rep, fmt.Errorf("--count-noise %v: want σ > 0, or 0 when the flow count is not released", p.countNoise)
	}
	iters := p.iterations
	if p.useEp {
		var err error
		if iters, err = privacy.IterationsForEpochs(p.epochs, p.records, p.batch); err != nil {
			return rep, err
		}
		rep.Epochs = p.epochs
	}
	train := privacy.DPSGD{Records: p.records, Batch: p.batch, Noise: 1, Iterations: iters, DRounds: p.dRounds}
	perChunk := train.Steps()
	total := perChunk * p.chunks
	if iters != 0 && (perChunk/iters != p.dRounds || total/p.chunks != perChunk) {
		return rep, fmt.Errorf("%d iterations × %d discriminator rounds × %d chunks is too many steps", iters, p.dRounds, p.chunks)
	}
	q := train.SamplingRate()
	var extra []privacy.Mechanism
	if p.countNoise > 0 {
		extra = append(extra, privacy.Gaussian(p.countNoise, p.chunks))
		rep.CountReleases = p.chunks
	}
	sigma := p.noise
	if !p.haveNoise {
		var err error
		sigma, err = privacy.NoiseForEpsilonWith(privacy.DefaultOrders(), p.conv, q, total, p.delta, p.target, extra...)
		if err != nil {
			return rep, err
		}
		rep.TargetEpsilon = p.target
	}
	acc := privacy.NewAccountant()
	if err := acc.Add(privacy.SampledGaussian(q, sigma, total)); err != nil {
		return rep, err
	}
	for _, m := range extra {
		if err := acc.Add(m); err != nil {
			return rep, err
		}
	}
	g, err := acc.EpsilonWith(p.delta, p.conv)
	if err != nil {
		return rep, err
	}
	gc, err := acc.EpsilonWith(p.delta, privacy.ConversionClassic)
	if err != nil {
		return rep, err
	}
	rep.Epsilon, rep.Delta, rep.Order, rep.Conversion = g.Epsilon, g.Delta, g.Order, g.Conversion.String()
	rep.EpsilonClassic, rep.OrderClassic = gc.Epsilon, gc.Order
	rep.NoiseMultiplier = sigma
	rep.Records, rep.Batch, rep.SamplingRate = p.records, p.batch, q
	rep.IterationsPerChunk, rep.DRounds, rep.StepsPerChunk = iters, p.dRounds, perChunk
	rep.Chunks, rep.TotalSteps = p.chunks, total
	rep.CountNoise = p.countNoise
	if p.delta >= 1/float64(p.records) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("δ = %g is not below 1/records = %g: such a guarantee allows publishing a few flows outright; choose δ ≪ 1/N", p.delta, 1/float64(p.records)))
	}
	return rep, nil
}

func writePrivacyText(w io.Writer, r privacyReport) error {
	var err error
	pr := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	if r.TargetEpsilon > 0 {
		pr("noise multiplier σ = %.6g meets ε = %g at δ = %g\n", r.NoiseMultiplier, r.TargetEpsilon, r.Delta)
	}
	pr("ε = %.4f at δ = %g (Rényi order %g, %s conversion; classic conversion: ε = %.4f at order %g)\n",
		r.Epsilon, r.Delta, r.Order, r.Conversion, r.EpsilonClassic, r.OrderClassic)
	pr("  sampling:   Poisson, q = %d/%d = %.6g\n", r.Batch, r.Records, r.SamplingRate)
	if r.Epochs > 0 {
		pr("  training:   %g epochs = %d iterations per chunk", r.Epochs, r.IterationsPerChunk)
	} else {
		pr("  training:   %d iterations per chunk", r.IterationsPerChunk)
	}
	pr(" × %d discriminator step(s) = %d steps, noise multiplier σ = %.6g\n", r.DRounds, r.StepsPerChunk, r.NoiseMultiplier)
	pr("  chunks:     %d (RDP summed: %d steps in all)\n", r.Chunks, r.TotalSteps)
	if r.CountReleases > 0 {
		pr("  flow count: %d Gaussian release(s), σ = %g\n", r.CountReleases, r.CountNoise)
	} else {
		pr("  flow count: not released from private data\n")
	}
	return err
}
