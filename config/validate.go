package config

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// FieldError is a problem with the value of one key.
type FieldError struct {
	// Key is the dotted key path, e.g. "model.beta1" (or a section, "dp",
	// for a problem with its settings together).
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate checks every value's range and the settings' consistency. Its
// error joins a *FieldError for each problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	atLeast := func(key string, v, lo int) {
		if v < lo {
			bad(key, "must be at least %d, got %d", lo, v)
		}
	}
	positive := func(key string, v float64) {
		if !(v > 0) {
			bad(key, "must be positive, got %g", v)
		}
	}
	nonNeg := func(key string, v float64) {
		if !(v >= 0) {
			bad(key, "must not be negative, got %g", v)
		}
	}
	atLeast("n_chunks", c.Chunks, 1)
	if c.Chunks > 1000 {
		bad("n_chunks", "must be at most 1000, got %d", c.Chunks)
	}
	atLeast("max_flow_len", c.MaxFlowLen, 0)
	atLeast("max_flow_len_cap", c.MaxFlowLenCap, 1)
	switch c.Continuous {
	case "minmax":
	case "quantile":
		atLeast("quantile_knots", c.QuantileKnots, 2)
	default:
		bad("continuous", "must be minmax or quantile, got %q", c.Continuous)
	}
	switch c.LongFlows {
	case "split", "truncate":
	case "chain":
		if !c.LengthAttribute {
			bad("long_flows", "chain needs length_attribute: true (a chained flow's length is generated as an attribute)")
		}
		atLeast("max_chain_len", c.MaxChainLen, 1)
	default:
		bad("long_flows", "must be split, chain or truncate, got %q", c.LongFlows)
	}

	atLeast("word2vec.vec_size", c.Word2Vec.VecSize, 1)
	atLeast("word2vec.window", c.Word2Vec.Window, 1)
	atLeast("word2vec.epochs", c.Word2Vec.Epochs, 1)
	switch c.Word2Vec.Decode {
	case "nearest":
	case "posterior":
		positive("word2vec.kappa", c.Word2Vec.Kappa)
		atLeast("word2vec.top_k", c.Word2Vec.TopK, 1)
	default:
		bad("word2vec.decode", "must be nearest or posterior, got %q", c.Word2Vec.Decode)
	}
	if t := c.Word2Vec.TailPortFlows; t != 0 {
		switch {
		case t < 2:
			bad("word2vec.tail_port_flows", "must be 0 (off) or at least 2, got %d", t)
		case c.Word2Vec.Decode != "posterior":
			bad("word2vec.tail_port_flows", "needs word2vec.decode: posterior")
		}
	}

	m := c.Model
	atLeast("model.batch_size", m.BatchSize, 1)
	atLeast("model.sample_len", m.SampleLen, 1)
	atLeast("model.attr_noise_dim", m.AttrNoiseDim, 1)
	atLeast("model.feat_noise_dim", m.FeatNoiseDim, 1)
	atLeast("model.attr_gen_layers", m.AttrGenLayers, 1)
	atLeast("model.attr_gen_units", m.AttrGenUnits, 1)
	atLeast("model.lstm_units", m.LSTMUnits, 1)
	atLeast("model.disc_layers", m.DiscLayers, 1)
	atLeast("model.disc_units", m.DiscUnits, 1)
	if m.AuxDisc {
		atLeast("model.aux_disc_layers", m.AuxDiscLayers, 1)
		atLeast("model.aux_disc_units", m.AuxDiscUnits, 1)
	}
	atLeast("model.d_rounds", m.DRounds, 1)
	atLeast("model.g_rounds", m.GRounds, 1)
	nonNeg("model.gp_coef", m.GPCoef)
	nonNeg("model.aux_gp_coef", m.AuxGPCoef)
	nonNeg("model.g_aux_coef", m.GAuxCoef)
	positive("model.g_lr", m.GLR)
	positive("model.d_lr", m.DLR)
	positive("model.aux_d_lr", m.AuxDLR)
	for key, b := range map[string]float64{"model.beta1": m.Beta1, "model.beta2": m.Beta2} {
		if !(b >= 0 && b < 1) {
			bad(key, "must be in [0, 1), got %g", b)
		}
	}
	positive("model.adam_eps", m.AdamEps)
	if m.InitialState != "random" && m.InitialState != "zero" {
		bad("model.initial_state", "must be random or zero, got %q", m.InitialState)
	}

	t := c.Train
	atLeast("train.iterations", t.Iterations, 0)
	nonNeg("train.epochs", t.Epochs)
	nonNeg("train.fine_tune_epochs", t.FineTuneEpochs)
	atLeast("train.min_iterations", t.MinIterations, 0)
	atLeast("train.max_iterations", t.MaxIterations, 0)
	if t.MinIterations > 0 && t.MaxIterations > 0 && t.MaxIterations < t.MinIterations {
		bad("train.max_iterations", "must not be less than train.min_iterations (%d), got %d", t.MinIterations, t.MaxIterations)
	}
	if _, err := t.BudgetDuration(); err != nil {
		bad("train.budget", "%v", err)
	}
	switch {
	case t.Iterations > 0 && t.Epochs > 0:
		bad("train.iterations", "set train.iterations or train.epochs, not both (iterations fix the count; epochs size it to each chunk's flows)")
	case t.Iterations > 0:
		if t.FineTuneEpochs > 0 {
			bad("train.fine_tune_epochs", "applies to train.epochs; with train.iterations fine-tuned chunks train iterations / fine_tune_reduce")
		}
		if t.MinIterations > 0 || t.MaxIterations > 0 {
			bad("train.iterations", "train.min_iterations and train.max_iterations bound the iterations derived from train.epochs; with train.iterations set they would have no effect")
		}
		if t.Budget != "" {
			bad("train.budget", "caps the iterations derived from train.epochs; with train.iterations set it would have no effect")
		}
	case t.Epochs == 0:
		bad("train.epochs", "set train.epochs (passes over each chunk's flows) or train.iterations")
	}
	if t.FineTune && !(t.FineTuneReduce >= 1) {
		bad("train.fine_tune_reduce", "must be at least 1, got %g", t.FineTuneReduce)
	}
	atLeast("train.checkpoint_every", t.CheckpointEvery, 1)
	atLeast("train.workers", t.Workers, 0)
	atLeast("train.threads", t.Threads, 0)

	positive("generate.scale", c.Generate.Scale)
	if d := c.Generate.Duration; d != "" {
		if v, err := time.ParseDuration(d); err != nil || v <= 0 {
			bad("generate.duration", "want a positive duration such as 24h, got %q", d)
		}
	}
	atLeast("generate.ip_snap_top", c.Generate.IPSnapTop, 0)
	if w := c.Generate.IPSnapWeight; !(w >= 0) || math.IsInf(w, 1) {
		bad("generate.ip_snap_weight", "must be 0 or more, got %g", w)
	}
	if c.Generate.IPDistinct && c.Generate.IPSnapTop <= 0 {
		bad("generate.ip_distinct", "needs generate.ip_snap_top")
	}
	if c.Generate.IPCarry && c.Generate.IPSnapTop <= 0 {
		bad("generate.ip_carry", "needs generate.ip_snap_top")
	}
	if c.Generate.MatchPorts && c.Word2Vec.Decode != "posterior" {
		bad("generate.match_ports", "needs word2vec.decode: posterior")
	}
	if c.Generate.Calibrate && c.Continuous != "quantile" {
		bad("generate.calibrate", "needs continuous: quantile")
	}

	d := c.DP
	if d.Enabled {
		positive("dp.clip", d.Clip)
		if !(d.Delta >= 0 && d.Delta < 1) {
			bad("dp.delta", "must be in [0, 1) (0: the default), got %g", d.Delta)
		}
		if !(d.Epsilon > 0) && !(d.Noise > 0) {
			bad("dp", "set a target epsilon or a noise multiplier")
		}
		positive("dp.count_noise", d.CountNoise)
		if d.Pretrained == "" && d.PublicSchema {
			bad("dp.public_schema", "needs dp.pretrained (a run on public data) to take the schema from")
		}
		if !d.PublicSchema && !(d.StatsShare > 0 && d.StatsShare < 1) {
			bad("dp.stats_share", "must be in (0, 1): the part of ε spent on the DP statistics of the trace, got %g", d.StatsShare)
		}
		if !d.PublicSchema {
			for key, v := range map[string]string{"dp.max_duration": d.MaxDuration, "dp.max_gap": d.MaxGap} {
				if _, err := durMicros(key, v); err != nil {
					bad(key, "must be a positive duration such as 24h, got %q", v)
				}
			}
			if d.MaxPackets < 1 || d.MaxPackets > 1<<53 {
				bad("dp.max_packets", "must be in [1, 2^53], got %d", d.MaxPackets)
			}
			if d.MaxBytes < 1 || d.MaxBytes > 1<<53 {
				bad("dp.max_bytes", "must be in [1, 2^53], got %d", d.MaxBytes)
			}
			if !(d.Epsilon > 0) {
				bad("dp.epsilon", "must be set: the DP statistics of the trace are calibrated to a share of it (with only dp.noise, set dp.public_schema and dp.pretrained)")
			}
		}
		atLeast("dp.batch_size", d.BatchSize, 0)
		atLeast("dp.d_rounds", d.DRounds, 0)
		atLeast("dp.iterations", d.Iterations, 0)
		atLeast("dp.n_chunks", d.Chunks, 0)
		if d.Init != "public" && d.Init != "random" {
			bad("dp.init", "must be public or random, got %q", d.Init)
		}
		if c.Word2Vec.Pretrained != "" {
			bad("word2vec.pretrained", "is taken from dp.pretrained under DP")
		}
		if c.LongFlows != "truncate" {
			bad("long_flows", "must be truncate under DP: split or chained segments would make one flow several training examples")
		}
		for key, v := range map[string]string{"dp.start": d.Start, "dp.end": d.End} {
			if v != "" {
				if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
					bad(key, "must be an RFC 3339 time: %v", err)
				}
			}
		}
		if (d.Start == "") != (d.End == "") {
			bad("dp", "set both start and end, or neither")
		}
	}
	return errors.Join(errs...)
}
