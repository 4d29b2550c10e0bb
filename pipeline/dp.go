package pipeline

import (
	"errors"
	"fmt"
	"math"
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
	// The lengths and sizes of the public run's chunks are not the private
	// trace's: a DP run calibrates lengths to its models' pilot samples,
	// neither given ports nor sizes given packets.
	spec.LengthKnots = nil
	spec.SizeKnots, spec.PacketSizeKnots = nil, nil
	spec.PortLengthKnots, spec.PortLengthFlows = nil, nil
	// Nor are the records per port of its chunks the private chunks'.
	spec.DropChunkPriors()
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
// count), one release per chunk; generation uses these counts, never the
// true ones.
func noisyCounts(cfg *config.Config, info *SplitInfo, rel releaser) error {
	info.NoisyFlows = make([]int, len(info.Chunks))
	for c, ci := range info.Chunks {
		h := privacy.GaussianHistogram{Name: fmt.Sprintf("flow count of chunk %d", c), Sensitivity: 1, Noise: cfg.DP.CountNoise}
		v, err := rel.release(h.Name, []float64{float64(ci.Flows)}, h)
		if err != nil {
			return err
		}
		info.NoisyFlows[c] = max(0, int(math.Round(v[0])))
	}
	return nil
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
		// A batch larger than the chunk samples every flow (rate 1).
		n := int64(split.Chunks[j.Chunk].Flows)
		mech, err := privacy.DPSGD{Records: n, Batch: min(int64(cfg.Model.BatchSize), n),
			Noise: sigma, Iterations: int64(j.Iterations), DRounds: int64(cfg.Model.DRounds)}.Mechanism()
		if err != nil {
			return nil, 0, err
		}
		if err := acct.Add(mech); err != nil {
			return nil, 0, err
		}
		steps += mech.Count
	}
	counts := privacy.Gaussian(cfg.DP.CountNoise, int64(len(split.Chunks)))
	counts.Name = dpCountsName
	if err := acct.Add(counts); err != nil {
		return nil, 0, err
	}
	for _, d := range split.DPStats {
		if err := acct.Add(d.Mechanism()); err != nil {
			return nil, 0, err
		}
	}
	return acct, steps, nil
}

const (
	dpCountsName = "noisy flow counts"
	dpSGDName    = "DP-SGD"
	// DPUnit is the unit of privacy a DP run's guarantee is stated for.
	DPUnit = "flow: one 5-tuple (source and destination address and port, protocol) with all its records, added or removed"
)

// dpShares lists the mechanisms of a run's accountant, DP-SGD's steps of
// all chunks as one, with the ε each would spend alone at δ and its share
// of the composed Rényi divergence at the order that attains the run's ε.
func dpShares(acct *privacy.Accountant, g privacy.Guarantee) ([]eval.MechanismInfo, error) {
	orders := acct.Orders()
	at := 0
	for i, a := range orders {
		if a == g.Order {
			at = i
		}
	}
	total := acct.RDP()[at]
	var out []eval.MechanismInfo
	byName := map[string]int{}
	for _, m := range acct.Mechanisms() {
		rdp, err := m.RDP(orders)
		if err != nil {
			return nil, err
		}
		name := m.Name
		if m.SamplingRate < 1 {
			name = dpSGDName
		}
		i, ok := byName[name]
		if !ok {
			i = len(out)
			byName[name] = i
			out = append(out, eval.MechanismInfo{Name: name, Noise: m.NoiseMultiplier, RDP: make([]float64, len(orders))})
		}
		out[i].Releases += m.Count
		for k := range rdp {
			out[i].RDP[k] += rdp[k]
		}
	}
	for i := range out {
		if total > 0 {
			out[i].Share = out[i].RDP[at] / total
		}
		e, err := privacy.EpsilonFromRDP(orders, out[i].RDP, g.Delta, g.Conversion)
		if err != nil {
			return nil, err
		}
		out[i].Epsilon = e.Epsilon
		out[i].RDP = nil
	}
	return out, nil
}

// dpNoise returns the noise multiplier of a DP run (the configured one, or
// the smallest that keeps ε within the target) and the guarantee it gives.
func dpNoise(cfg *config.Config, split *SplitInfo, jobs []ChunkJob) (*eval.PrivacyInfo, error) {
	delta := split.DPDelta
	if delta <= 0 {
		delta = dpDelta(cfg, split.publicFlows())
	}
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
	acct, steps, err := dpAccount(cfg, split, jobs, sigma)
	if err != nil {
		return nil, err
	}
	g, err := acct.Epsilon(delta)
	if err != nil {
		if errors.Is(err, privacy.ErrUnreachable) {
			return nil, fmt.Errorf("dp: %w", err)
		}
		return nil, err
	}
	shares, err := dpShares(acct, g)
	if err != nil {
		return nil, err
	}
	info := &eval.PrivacyInfo{Epsilon: g.Epsilon, Delta: delta, Noise: sigma, Clip: cfg.DP.Clip, Steps: steps,
		Target: cfg.DP.Epsilon, Unit: DPUnit, Mechanisms: shares, Public: dpPublicParts(cfg)}
	if len(split.DPStats) > 0 {
		info.StatsShare = cfg.DP.StatsShare
	}
	return info, nil
}

// dpPublicParts says what a DP run takes from public knowledge rather
// than from the private trace.
func dpPublicParts(cfg *config.Config) []string {
	out := []string{"the domain of every statistic: IPv4 addresses (32 bits), ports 0-65535, protocols 0-255, and the bounds dp.max_duration, dp.max_gap, dp.max_packets, dp.max_bytes"}
	if cfg.DP.Start != "" {
		out = append(out, "the time range and chunk edges (dp.start, dp.end)")
	} else {
		out = append(out, "the time range and chunk edges: the trace's first and last timestamps (not covered by ε; set dp.start and dp.end)")
	}
	out = append(out, "the maximum flow length and the number of chunks (configuration)")
	if cfg.DP.Pretrained != "" {
		if cfg.DP.Init == "public" {
			out = append(out, "initial weights: the public run's chunk-0 model (dp.pretrained)")
		}
		out = append(out, "the port/protocol embedding of the public run")
		if cfg.DP.PublicSchema {
			out = append(out, "the schema (value ranges, quantile knots, vocabularies, categories) of the public run")
		} else {
			out = append(out, "the schema's structure (categories, field types) of the public run")
		}
	} else {
		out = append(out, "nothing else: no public data (the embedding is trained on sentences drawn from the DP vocabulary)")
	}
	return out
}
