package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/nn/blas"
)

// jobKeyFile holds, in a chunk's model folder, the key of the job that
// wrote the checkpoints; a job with another key starts over.
const jobKeyFile = "job.key"

// DGConfig maps the run configuration onto the model's.
func DGConfig(c *config.Config, seed uint64) dg.Config {
	m := c.Model
	return dg.Config{
		BatchSize: m.BatchSize, SampleLen: m.SampleLen, AttrNoiseDim: m.AttrNoiseDim, FeatNoiseDim: m.FeatNoiseDim,
		AttrGenLayers: m.AttrGenLayers, AttrGenUnits: m.AttrGenUnits, LSTMUnits: m.LSTMUnits,
		DiscLayers: m.DiscLayers, DiscUnits: m.DiscUnits, AuxDiscLayers: m.AuxDiscLayers, AuxDiscUnits: m.AuxDiscUnits,
		DRounds: m.DRounds, GRounds: m.GRounds,
		GPCoef: float32(m.GPCoef), AuxGPCoef: float32(m.AuxGPCoef), GAuxCoef: float32(m.GAuxCoef),
		GLR: m.GLR, DLR: m.DLR, AuxDLR: m.AuxDLR, Beta1: m.Beta1, Beta2: m.Beta2, AdamEps: m.AdamEps,
		InitialState: m.InitialState, LeakyReLU: m.LeakyReLU, UseAuxDisc: m.AuxDisc, Seed: seed,
	}
}

// chunkSeed derives chunk c's seed from the run's.
func chunkSeed(seed uint64, c int) uint64 {
	x := seed*0x9e3779b97f4a7c15 + uint64(c+1)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	return x
}

// LoadSchema rebuilds a run's schema from its saved spec and embedding.
func LoadSchema(dir string) (*encoding.Schema, error) {
	spec, err := encoding.LoadSpec(preFile(dir, SchemaFile))
	if err != nil {
		return nil, fmt.Errorf("schema: %w (has the run been pre-processed?)", err)
	}
	emb, err := ip2vec.Load(preFile(dir, EmbeddingFile))
	if err != nil {
		return nil, err
	}
	return encoding.NewSchema(spec, emb)
}

// loadRunConfig reads the effective configuration saved in a run directory.
func loadRunConfig(dir string) (*config.Config, error) {
	return config.Load(filepath.Join(dir, ConfigFile), "")
}

func toDGOutputs(outs []encoding.Output) []dg.Output {
	r := make([]dg.Output, len(outs))
	for i, o := range outs {
		var act dg.Activation
		switch o.Act {
		case encoding.Softmax:
			act = dg.Softmax
		case encoding.Sigmoid:
			act = dg.Sigmoid
		default:
			act = dg.Tanh
		}
		r[i] = dg.Output{Name: o.Name, Dim: o.Dim, Act: act}
	}
	return r
}

// newChunkModel builds an untrained model for a run's schema.
func newChunkModel(cfg *config.Config, s *encoding.Schema, job ChunkJob) (*dg.Model, error) {
	c := DGConfig(cfg, job.Seed)
	if job.DPNoise > 0 {
		c.DP = dg.DP{Enabled: true, Clip: job.DPClip, Noise: job.DPNoise}
	}
	return dg.New(c, toDGOutputs(s.AttrOutputs()), toDGOutputs(s.FeatOutputs()), s.MaxLen)
}

// TrainChunk runs one chunk job: it is what every driver calls. It reads
// the run's configuration, schema and the chunk's training set from
// job.RunDir, resumes from the chunk's last checkpoint when the folder
// holds one written by the same job, or else starts from job.InitFrom's
// weights (or from scratch), and trains until job.Iterations, saving
// checkpoints as configured.
func TrainChunk(ctx context.Context, job ChunkJob, progress func(Progress)) error {
	cfg, err := loadRunConfig(job.RunDir)
	if err != nil {
		return err
	}
	if job.Threads > 0 {
		blas.SetThreads(job.Threads)
	}
	s, err := LoadSchema(job.RunDir)
	if err != nil {
		return err
	}
	data, err := encoding.LoadData(chunkDataPath(job.RunDir, job.Chunk))
	if err != nil {
		return err
	}
	dir := ModelDir(job.RunDir, job.Chunk)
	key := job.Key
	if key == "" {
		key = hashKey(job.Chunk, job.Seed, job.InitFrom)
	}
	if old, err := os.ReadFile(filepath.Join(dir, jobKeyFile)); err != nil || strings.TrimSpace(string(old)) != key {
		// Checkpoints from another job (other settings) must not be resumed.
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, jobKeyFile), key+"\n"); err != nil {
			return err
		}
	}
	var m *dg.Model
	if dg.HasCheckpoint(dir) {
		// Resume: weights, optimiser moments, random state and iteration;
		// from the checkpoint before the latest when the latest is damaged.
		if m, err = dg.Load(dir); err != nil {
			prev, perr := dg.LoadPrevious(dir)
			if perr != nil {
				return fmt.Errorf("resume chunk %d: %w (and no earlier checkpoint to fall back to)", job.Chunk, err)
			}
			slog.Warn("the latest checkpoint is unreadable: resuming from the one before", "chunk", job.Chunk, "iteration", prev.Iteration(), "err", err)
			m = prev
		}
	} else {
		if m, err = newChunkModel(cfg, s, job); err != nil {
			return err
		}
		if job.InitFrom != "" {
			if err := m.LoadWeights(job.InitFrom); err != nil {
				return fmt.Errorf("fine-tune from %s: %w", job.InitFrom, err)
			}
		}
	}
	first := m.Iteration()
	train, sel, err := trainingSet(dir, s, job, data, first)
	if err != nil {
		return err
	}
	var onCheckpoint func(int) error
	if sel != nil {
		if first > 0 {
			if err := sel.resume(m); err != nil {
				return err
			}
		}
		onCheckpoint = func(int) error { return sel.score(m) }
	}
	every := max(1, job.Iterations/200)
	losses := newLossRecorder(dir, job, first, cfg.Train.CheckpointEvery)
	var lossErr error
	err = m.Train(ctx, &dg.Data{Attr: train.Attr, Feat: train.Feat, Len: train.Len, N: train.N}, job.Iterations, dg.TrainOptions{
		CheckpointDir:   dir,
		CheckpointEvery: cfg.Train.CheckpointEvery,
		OnCheckpoint:    onCheckpoint,
		ProgressEvery:   every,
		Progress: func(p dg.Progress) {
			if err := losses.add(p); err != nil && lossErr == nil {
				lossErr = err
			}
			if progress != nil {
				progress(Progress{Chunk: job.Chunk, Iteration: p.Iteration, Iterations: job.Iterations, First: first, Elapsed: p.Elapsed,
					Losses: map[string]float64{"d": p.Losses.D, "d_attr": p.Losses.DA, "g": p.Losses.G, "w_dist": -p.Losses.WassersteinD}})
			}
		},
	})
	// The loss log is written when training stops, as its checkpoint is.
	err = errors.Join(err, lossErr, losses.save())
	if err != nil {
		if errors.Is(err, dg.ErrDiverged) {
			return fmt.Errorf("%w; try a lower learning rate or another seed", err)
		}
		return err
	}
	if progress != nil {
		progress(Progress{Chunk: job.Chunk, Iteration: job.Iterations, Iterations: job.Iterations, First: first, Done: true})
	}
	return nil
}

// trainingSet returns the flows job trains on and, with checkpoint
// selection, the selector that scores its checkpoints: without it, or
// under DP, or for a chunk too small to spare a validation slice, every
// flow and no selector.
func trainingSet(dir string, s *encoding.Schema, job ChunkJob, data *encoding.Data, first int) (*encoding.Data, *selector, error) {
	if !job.SelectBest || job.DPNoise > 0 {
		return data, nil, nil
	}
	k := validationCount(data.N)
	if k == 0 {
		slog.Info("checkpoint selection off for this chunk: too few flows to hold a validation slice out", "chunk", job.Chunk, "flows", data.N)
		return data, nil, nil
	}
	split, err := LoadSplit(job.RunDir)
	if err != nil {
		return nil, nil, err
	}
	if job.Chunk >= len(split.Chunks) {
		return nil, nil, fmt.Errorf("chunk %d: the split has %d chunks", job.Chunk, len(split.Chunks))
	}
	train, valid := splitValidation(data, k, job.Seed)
	sel, err := newSelector(dir, s, split, job, valid, first)
	if err != nil {
		return nil, nil, err
	}
	return train, sel, nil
}

func writeFileAtomic(path, s string) error {
	return writeBytesAtomic(path, []byte(s))
}
