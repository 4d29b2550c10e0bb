package dg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/netshare-go/netshare/nn"
)

// ErrDiverged is returned (wrapped) when a training loss becomes NaN or
// infinite.
var ErrDiverged = errors.New("training diverged")

// Model is a DoppelGANger model with its optimisers and random state.
// A Model is not safe for concurrent use.
type Model struct {
	n      *net[float32]
	genRNG *nn.RNG
	valid  *Data // the data last validated by Train
}

// genSeedSalt separates the generation stream from the training stream.
const genSeedSalt = 0x6a09e667f3bcc908

// New builds a model for flows with the given attribute and feature outputs
// and maximum length. The feature outputs exclude the generation flag, which
// New appends; maxLen is padded up to a multiple of cfg.SampleLen inside the
// networks.
func New(cfg Config, attrOut, featOut []Output, maxLen int) (*Model, error) {
	n, err := newNet[float32](cfg, attrOut, featOut, maxLen)
	if err != nil {
		return nil, err
	}
	return &Model{n: n, genRNG: nn.NewRNG(cfg.Seed ^ genSeedSalt)}, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.n.cfg }

// AttrOutputs returns the attribute outputs.
func (m *Model) AttrOutputs() []Output { return append([]Output(nil), m.n.attrOut...) }

// FeatOutputs returns the feature outputs as given to New (without the
// generation flag).
func (m *Model) FeatOutputs() []Output {
	return append([]Output(nil), m.n.featOut[:len(m.n.featOut)-1]...)
}

// AttrDim is the attribute vector's width.
func (m *Model) AttrDim() int { return m.n.A }

// FeatDim is one time step's feature width, without the generation flag.
func (m *Model) FeatDim() int { return m.n.Fd }

// MaxLen is the maximum flow length given to New.
func (m *Model) MaxLen() int { return m.n.maxLen }

// PaddedLen is MaxLen rounded up to a multiple of SampleLen.
func (m *Model) PaddedLen() int { return m.n.L }

// Iteration is the number of training iterations done.
func (m *Model) Iteration() int { return m.n.step }

// SetGenerationSeed restarts the random stream used by the Generate methods.
// (It starts from a value derived from Config.Seed.)
func (m *Model) SetGenerationSeed(seed uint64) { m.genRNG = nn.NewRNG(seed ^ genSeedSalt) }

func (m *Model) validate(d *Data) error {
	return d.validate(m.n.A, m.n.Fd, m.n.maxLen, m.n.L)
}

// Step runs one training iteration: DRounds updates of D and D_a, each on a
// fresh batch and fresh noise, then GRounds generator updates. d is
// validated the first time Step or Train sees it (the check scans every
// value, so it is done once per *Data; do not modify d between steps).
func (m *Model) Step(d *Data) (Losses, error) {
	if d == nil || m.valid != d {
		if err := m.validate(d); err != nil {
			return Losses{}, err
		}
		m.valid = d
	}
	l := m.n.iteration(d)
	if !l.finite() {
		return l, fmt.Errorf("dg: iteration %d: %w (losses D %v, D_a %v, G %v)", m.n.step, ErrDiverged, l.D, l.DA, l.G)
	}
	return l, nil
}

// Progress is what Train reports after an iteration.
type Progress struct {
	Iteration, Total int
	Losses           Losses
	Elapsed          time.Duration
}

// TrainOptions controls Train.
type TrainOptions struct {
	// Progress, when set, is called every ProgressEvery iterations (default
	// 1) and after the last one. It may call Save.
	Progress      func(Progress)
	ProgressEvery int
	// CheckpointDir, when set, receives a checkpoint (Save) every
	// CheckpointEvery iterations (0: only at the end), when ctx is
	// cancelled, and at the end.
	CheckpointDir   string
	CheckpointEvery int
	// Resume continues from the checkpoint in CheckpointDir when there is
	// one (weights, optimiser moments, random state and iteration count);
	// its configuration and outputs must match the model's.
	Resume bool
	// OnCheckpoint, when set with CheckpointDir, is called after each
	// checkpoint saved every CheckpointEvery iterations and after the last
	// (not after the one saved when ctx is cancelled), with the model's
	// iteration count. It may generate from the model (generation does not
	// touch the training state) or save a copy elsewhere; an error stops
	// training.
	OnCheckpoint func(iteration int) error
}

// Train runs iterations until the model has done total iterations in all
// (so a resumed run continues where the checkpoint left off). It stops with
// ctx's error when ctx is cancelled (after saving a checkpoint if
// CheckpointDir is set) and with an error wrapping ErrDiverged if a loss
// becomes NaN or infinite.
func (m *Model) Train(ctx context.Context, d *Data, total int, opt TrainOptions) error {
	if err := m.validate(d); err != nil {
		return err
	}
	m.valid = d
	if opt.Resume && opt.CheckpointDir != "" && HasCheckpoint(opt.CheckpointDir) {
		if err := m.restore(opt.CheckpointDir, ManifestFile, true); err != nil {
			return err
		}
	}
	every := opt.ProgressEvery
	if every < 1 {
		every = 1
	}
	save := func() error {
		if opt.CheckpointDir == "" {
			return nil
		}
		return m.Save(opt.CheckpointDir)
	}
	checkpoint := func() error {
		if err := save(); err != nil || opt.CheckpointDir == "" || opt.OnCheckpoint == nil {
			return err
		}
		return opt.OnCheckpoint(m.n.step)
	}
	start := time.Now()
	for m.n.step < total {
		if err := ctx.Err(); err != nil {
			if serr := save(); serr != nil {
				return errors.Join(err, serr)
			}
			return err
		}
		l, err := m.Step(d)
		if err != nil {
			return err
		}
		it := m.n.step
		if opt.Progress != nil && (it%every == 0 || it == total) {
			opt.Progress(Progress{Iteration: it, Total: total, Losses: l, Elapsed: time.Since(start)})
		}
		if opt.CheckpointEvery > 0 && it%opt.CheckpointEvery == 0 && it < total {
			if err := checkpoint(); err != nil {
				return err
			}
		}
	}
	return checkpoint()
}

// chunk is the number of flows generated per pass.
const chunk = 1024

// GenerateAttributes returns n attribute vectors (n×A, the heads' soft
// outputs: softmax probabilities for discrete fields), with BatchNorm in
// inference mode.
func (m *Model) GenerateAttributes(n int) []float32 {
	out := make([]float32, 0, max(n, 0)*m.n.A)
	for done := 0; done < n; done += chunk {
		b := min(chunk, n-done)
		a := m.n.genAttr(b, false, m.genRNG)
		out = append(out, a.D...)
	}
	return out
}

// GenerateFeatures returns features (n×MaxLen×FeatDim, without generation
// flags, zero after each flow's end) and lengths for n given attribute
// vectors (n×A, e.g. from GenerateAttributes, possibly merged across
// chunks). Discrete attribute fields are conditioned on their argmax.
func (m *Model) GenerateFeatures(attr []float32, n int) (feat []float32, lengths []int, err error) {
	return m.generateFeatures(attr, n, nil)
}

// GenerateFeaturesLen is GenerateFeatures with each flow's length given
// (1..MaxLen) instead of read from the generation flags: the first
// lengths[i] steps of flow i are generated and the rest are zero.
func (m *Model) GenerateFeaturesLen(attr []float32, lengths []int) (feat []float32, err error) {
	for i, l := range lengths {
		if l < 1 || l > m.n.maxLen {
			return nil, fmt.Errorf("dg: GenerateFeaturesLen: flow %d has length %d, want 1..%d", i, l, m.n.maxLen)
		}
	}
	feat, _, err = m.generateFeatures(attr, len(lengths), lengths)
	return feat, err
}

func (m *Model) generateFeatures(attr []float32, n int, force []int) (feat []float32, lengths []int, err error) {
	A, Fd, Fp, ml := m.n.A, m.n.Fd, m.n.Fp, m.n.maxLen
	if n < 0 || len(attr) != n*A {
		return nil, nil, fmt.Errorf("dg: GenerateFeatures: %d attribute values for %d flows × %d dims", len(attr), n, A)
	}
	for k, v := range attr {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("dg: GenerateFeatures: flow %d attribute %d is %v", k/A, k%A, v)
		}
	}
	feat = make([]float32, n*ml*Fd)
	lengths = make([]int, n)
	defer func() { m.n.forceLen = nil }()
	for done := 0; done < n; done += chunk {
		b := min(chunk, n-done)
		if force != nil {
			m.n.forceLen = force[done : done+b]
		}
		am := nn.MatFrom(b, A, attr[done*A:(done+b)*A])
		f := m.n.genFeat(am, m.genRNG)
		for i := 0; i < b; i++ {
			row := f.Row(i)
			dst := feat[(done+i)*ml*Fd:]
			for k := 0; k < ml; k++ {
				copy(dst[k*Fd:(k+1)*Fd], row[k*Fp:k*Fp+Fd])
			}
			lengths[done+i] = min(m.n.lengths[i], ml)
		}
	}
	return feat, lengths, nil
}

// Generate returns n flows: attributes, features and lengths as
// GenerateAttributes and GenerateFeatures give them. The error is non-nil
// only when the model produces non-finite attributes (a diverged model).
func (m *Model) Generate(n int) (attr, feat []float32, lengths []int, err error) {
	attr = m.GenerateAttributes(n)
	feat, lengths, err = m.GenerateFeatures(attr, n)
	return attr, feat, lengths, err
}
