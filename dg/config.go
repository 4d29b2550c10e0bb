package dg

import (
	"fmt"
	"math"

	"github.com/netshare-go/netshare/nn"
)

// Activation is an output field's nonlinearity.
type Activation = nn.Activation

// The output activations.
const (
	Softmax = nn.Softmax // a discrete field: one-hot over Dim categories
	Sigmoid = nn.Sigmoid // a continuous field in [0, 1]
	Tanh    = nn.Tanh    // a continuous field in [-1, 1]
)

// Output describes one attribute or feature field as the networks see it.
type Output struct {
	Name string     `json:"name"`
	Dim  int        `json:"dim"`
	Act  Activation `json:"act"`
}

// GenFlagName is the name of the generation-flag feature output that New
// appends to the caller's feature outputs.
const GenFlagName = "gen_flag"

// DP configures DP-SGD for the critics.
type DP struct {
	Enabled bool    `json:"enabled"`
	Clip    float64 `json:"clip"`  // L2 bound C on each example's joint (D, D_a) gradient
	Noise   float64 `json:"noise"` // noise multiplier σ: the noise is N(0, σ²C²)
}

// Config holds DoppelGANger's hyper-parameters.
type Config struct {
	BatchSize     int `json:"batch_size"`
	SampleLen     int `json:"sample_len"` // time steps emitted per LSTM step
	AttrNoiseDim  int `json:"attr_noise_dim"`
	FeatNoiseDim  int `json:"feat_noise_dim"`
	AttrGenLayers int `json:"attr_gen_layers"` // (layers−1) hidden blocks, then the heads
	AttrGenUnits  int `json:"attr_gen_units"`
	LSTMUnits     int `json:"lstm_units"`
	DiscLayers    int `json:"disc_layers"` // (layers−1) hidden layers, then the scalar output
	DiscUnits     int `json:"disc_units"`
	AuxDiscLayers int `json:"aux_disc_layers"`
	AuxDiscUnits  int `json:"aux_disc_units"`
	DRounds       int `json:"d_rounds"`
	GRounds       int `json:"g_rounds"`

	GPCoef    float32 `json:"gp_coef"`     // λ for D
	AuxGPCoef float32 `json:"aux_gp_coef"` // λ for D_a
	GAuxCoef  float32 `json:"g_aux_coef"`  // β: weight of D_a in the generator loss

	GLR     float64 `json:"g_lr"`
	DLR     float64 `json:"d_lr"`
	AuxDLR  float64 `json:"aux_d_lr"`
	Beta1   float64 `json:"beta1"`
	Beta2   float64 `json:"beta2"`
	AdamEps float64 `json:"adam_eps"`

	InitialState string `json:"initial_state"` // "random" (N(0,1) per forward pass) or "zero"
	LeakyReLU    bool   `json:"leaky_relu"`    // critics use LeakyReLU(0.2) instead of ReLU
	UseAuxDisc   bool   `json:"use_aux_disc"`
	Seed         uint64 `json:"seed"`

	DP DP `json:"dp"`
}

// DefaultConfig returns NetShare's model defaults (master branch defaults,
// sample_len 10).
func DefaultConfig() Config {
	return Config{
		BatchSize: 100, SampleLen: 10, AttrNoiseDim: 5, FeatNoiseDim: 5,
		AttrGenLayers: 5, AttrGenUnits: 512, LSTMUnits: 100,
		DiscLayers: 5, DiscUnits: 512, AuxDiscLayers: 5, AuxDiscUnits: 512,
		DRounds: 5, GRounds: 1,
		GPCoef: 10, AuxGPCoef: 10, GAuxCoef: 1,
		GLR: 1e-4, DLR: 1e-4, AuxDLR: 1e-4, Beta1: 0.5, Beta2: 0.999, AdamEps: 1e-8,
		InitialState: "random", UseAuxDisc: true, Seed: 1,
	}
}

// QuickConfig returns tiny networks for tests and demonstrations, with
// DoppelGANger's original learning rate of 1e-3.
func QuickConfig() Config {
	c := DefaultConfig()
	c.BatchSize = 32
	c.SampleLen = 2
	c.AttrGenLayers, c.AttrGenUnits = 2, 32
	c.LSTMUnits = 24
	c.DiscLayers, c.DiscUnits = 3, 48
	c.AuxDiscLayers, c.AuxDiscUnits = 3, 32
	c.DRounds = 2
	c.GLR, c.DLR, c.AuxDLR = 1e-3, 1e-3, 1e-3
	return c
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"batch_size", c.BatchSize}, {"sample_len", c.SampleLen}, {"attr_gen_layers", c.AttrGenLayers},
		{"attr_gen_units", c.AttrGenUnits}, {"lstm_units", c.LSTMUnits}, {"disc_layers", c.DiscLayers},
		{"disc_units", c.DiscUnits}, {"d_rounds", c.DRounds}, {"g_rounds", c.GRounds},
	}
	for _, p := range pos {
		if p.v < 1 {
			return fmt.Errorf("dg config: %s must be at least 1, got %d", p.name, p.v)
		}
	}
	if c.AttrNoiseDim < 1 || c.FeatNoiseDim < 0 {
		return fmt.Errorf("dg config: attr_noise_dim must be ≥ 1 and feat_noise_dim ≥ 0, got %d and %d", c.AttrNoiseDim, c.FeatNoiseDim)
	}
	if c.UseAuxDisc && (c.AuxDiscLayers < 1 || c.AuxDiscUnits < 1) {
		return fmt.Errorf("dg config: aux_disc_layers and aux_disc_units must be at least 1 with use_aux_disc")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"g_lr", c.GLR}, {"d_lr", c.DLR}, {"aux_d_lr", c.AuxDLR}, {"adam_eps", c.AdamEps}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("dg config: %s must be positive, got %v", f.name, f.v)
		}
	}
	if !(c.Beta1 >= 0 && c.Beta1 < 1 && c.Beta2 >= 0 && c.Beta2 < 1) {
		return fmt.Errorf("dg config: beta1 and beta2 must be in [0, 1), got %v and %v", c.Beta1, c.Beta2)
	}
	for _, f := range []struct {
		name string
		v    float32
	}{{"gp_coef", c.GPCoef}, {"aux_gp_coef", c.AuxGPCoef}, {"g_aux_coef", c.GAuxCoef}} {
		if !(f.v >= 0) || math.IsInf(float64(f.v), 0) {
			return fmt.Errorf("dg config: %s must be non-negative, got %v", f.name, f.v)
		}
	}
	if c.InitialState != "random" && c.InitialState != "zero" {
		return fmt.Errorf("dg config: initial_state must be \"random\" or \"zero\", got %q", c.InitialState)
	}
	if c.DP.Enabled && (!(c.DP.Clip > 0) || !(c.DP.Noise >= 0) || math.IsInf(c.DP.Clip, 0) || math.IsInf(c.DP.Noise, 0)) {
		return fmt.Errorf("dg config: DP needs clip > 0 and noise ≥ 0, got clip %v noise %v", c.DP.Clip, c.DP.Noise)
	}
	return nil
}

func validateOutputs(kind string, outs []Output) (int, error) {
	if len(outs) == 0 {
		return 0, fmt.Errorf("dg: no %s outputs", kind)
	}
	total := 0
	for i, o := range outs {
		if o.Dim < 1 {
			return 0, fmt.Errorf("dg: %s output %d (%q) has dim %d", kind, i, o.Name, o.Dim)
		}
		if o.Act != Softmax && o.Act != Sigmoid && o.Act != Tanh {
			return 0, fmt.Errorf("dg: %s output %d (%q) has unknown activation %d", kind, i, o.Name, int(o.Act))
		}
		if o.Act == Softmax && o.Dim < 2 {
			return 0, fmt.Errorf("dg: %s output %d (%q) is discrete with dim %d; need at least 2 categories", kind, i, o.Name, o.Dim)
		}
		if o.Name == GenFlagName && kind == "feature" {
			return 0, fmt.Errorf("dg: feature output %d is named %q, which is reserved for the generation flag", i, o.Name)
		}
		total += o.Dim
	}
	return total, nil
}

// headSlices lays out the heads of outs, repeated repeat times (one block
// per generated step), as consecutive slices of the output row.
func headSlices(outs []Output, repeat int) []nn.Slice {
	var s []nn.Slice
	off := 0
	for r := 0; r < repeat; r++ {
		for _, o := range outs {
			s = append(s, nn.Slice{Off: off, Dim: o.Dim, Act: o.Act})
			off += o.Dim
		}
	}
	return s
}
