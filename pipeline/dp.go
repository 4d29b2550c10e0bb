package pipeline

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/netshare-go/netshare/config"

	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/privacy"
)

// publicRun is a run on public data whose schema, embedding and weights a
// differentially private run builds on.
type publicRun struct {
	dir  string
	spec encoding.Spec
	emb  *ip2vec.Model
	base int // the chunk whose model starts private chunks
	// baseFlows is the flows of the public run's chunk base, which size a
	// private chunk's training when it is stated in epochs.
	baseFlows int
}

func loadPublicRun(dir string) (*publicRun, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	spec, err := encoding.LoadSpec(preFile(abs, SchemaFile))
	if err != nil {
		return nil, fmt.Errorf("dp.pretrained: %s is not a pre-processed run: %w", dir, err)
	}
	emb, err := ip2vec.Load(preFile(abs, EmbeddingFile))
	if err != nil {
		return nil, fmt.Errorf("dp.pretrained: %w", err)
	}
	split, err := LoadSplit(abs)
	if err != nil {
		return nil, fmt.Errorf("dp.pretrained: %w", err)
	}
	p := &publicRun{dir: abs, spec: spec, emb: emb, base: -1}
	for c, ci := range split.Chunks {
		if ci.Flows > 0 && dg.HasCheckpoint(ModelDir(abs, c)) {
			p.base, p.baseFlows = c, ci.Flows
			break
		}
	}
	if p.base < 0 {
		return nil, fmt.Errorf("dp.pretrained: %s has no trained model", dir)
	}
	return p, nil
}

// noisyCounts releases each chunk's flow count with Gaussian noise
// (σ = dp.count_noise, sensitivity 1: a flow adds at most one to a chunk's
// count); generation uses these counts, never the true ones.
func noisyCounts(cfg *config.Config, info *SplitInfo) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc0c0))
	info.NoisyFlows = make([]int, len(info.Chunks))
	for c, ci := range info.Chunks {
		n := float64(ci.Flows) + cfg.DP.CountNoise*rng.NormFloat64()
		info.NoisyFlows[c] = max(0, int(math.Round(n)))
	}
}

// dpDelta is δ: the configured one, or 1e-5 and below one tenth of
// 1/flows.
func dpDelta(cfg *config.Config, flows int) float64 {
	if d := cfg.DP.Delta; d > 0 {
		return d
	}
	return math.Min(1e-5, 0.1/float64(max(1, flows)))
}

// dpAccount returns the accountant of a DP run with noise multiplier σ:
// for every trained chunk, iterations × d_rounds steps of the sampled
// Gaussian mechanism at rate batch/flows, and one Gaussian release of its
// flow count; all summed, since a flow may appear in several chunks.
func dpAccount(cfg *config.Config, split *SplitInfo, jobs []ChunkJob, sigma float64) (*privacy.Accountant, int64, error) {
	acct := privacy.NewAccountant()
	var steps int64
	for _, j := range jobs {
		mech, err := privacy.DPSGD{Records: int64(split.Chunks[j.Chunk].Flows), Batch: int64(cfg.Model.BatchSize),
			Noise: sigma, Iterations: int64(j.Iterations), DRounds: int64(cfg.Model.DRounds)}.Mechanism()
		if err != nil {
			return nil, 0, err
		}
		if err := acct.Add(mech); err != nil {
			return nil, 0, err
		}
		steps += mech.Count
	}
	if err := acct.Add(privacy.Gaussian(cfg.DP.CountNoise, int64(len(split.Chunks)))); err != nil {
		return nil, 0, err
	}
	return acct, steps, nil
}

// dpNoise returns the noise multiplier of a DP run (the configured one, or
// the smallest that keeps ε within the target) and the guarantee it gives.
func dpNoise(cfg *config.Config, split *SplitInfo, jobs []ChunkJob) (*eval.PrivacyInfo, error) {
	delta := dpDelta(cfg, split.Stats.Flows)
	epsAt := func(sigma float64) (float64, int64, error) {
		acct, steps, err := dpAccount(cfg, split, jobs, sigma)
		if err != nil {
			return 0, 0, err
		}
		g, err := acct.Epsilon(delta)
		return g.Epsilon, steps, err
	}
	sigma := cfg.DP.Noise
	if sigma <= 0 {
		target := cfg.DP.Epsilon
		lo, hi := 0.0, 1.0
		for {
			e, _, err := epsAt(hi)
			if err != nil {
				return nil, err
			}
			if e <= target {
				break
			}
			lo, hi = hi, hi*2
			if hi > 1e6 {
				return nil, fmt.Errorf("dp: ε = %g is out of reach (the flow-count releases alone may spend it; raise dp.count_noise or ε)", target)
			}
		}
		for hi-lo > 1e-4*hi {
			mid := (lo + hi) / 2
			e, _, err := epsAt(mid)
			if err != nil {
				return nil, err
			}
			if e <= target {
				hi = mid
			} else {
				lo = mid
			}
		}
		sigma = hi
	}
	eps, steps, err := epsAt(sigma)
	if err != nil {
		if errors.Is(err, privacy.ErrUnreachable) {
			return nil, fmt.Errorf("dp: %w", err)
		}
		return nil, err
	}
	return &eval.PrivacyInfo{Epsilon: eps, Delta: delta, Noise: sigma, Clip: cfg.DP.Clip, Steps: steps}, nil
}
