package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/trace"
)

// Checkpoint selection (train.select_best): a validation slice of each
// chunk's flows is kept out of training; at every checkpoint a sample of
// as many flows is generated, decoded and compared with the decoded slice
// (mean joint TVD and mean JSD, eval.SelectionScore); the best-scoring
// checkpoint is copied into BestDir and generation uses it. The last
// checkpoint stays where it is, for resuming training.
const (
	// SelectionFile, in a chunk's model folder, holds its checkpoint
	// scores (an eval.ChunkSelection).
	SelectionFile = "selection.json"
	// BestDir, in a chunk's model folder, holds a copy of its
	// best-scoring checkpoint.
	BestDir = "best"

	// validationShare of a chunk's flows, at most validationMax, are held
	// out; a chunk with fewer than validationMin to hold out is trained on
	// all its flows and generates from its last checkpoint.
	validationShare = 0.1
	validationMax   = 2000
	validationMin   = 20
	// selectionSample is the fewest flows generated per score (more when
	// the slice is larger): the slice is the same at every checkpoint, so
	// its sampling noise shifts every score alike, while the generated
	// sample's noise differs between checkpoints and is what a larger
	// sample reduces.
	selectionSample = 1000
)

// validationCount is the number of a chunk's n flows held out for
// checkpoint selection, 0 when too few.
func validationCount(n int) int {
	k := min(int(math.Round(validationShare*float64(n))), validationMax)
	if k < validationMin {
		return 0
	}
	return k
}

// splitValidation draws k of d's flows (seeded) as the validation slice
// and returns the rest, in their order, for training.
func splitValidation(d *encoding.Data, k int, seed uint64) (train, valid *encoding.Data) {
	r := rand.New(rand.NewPCG(seed, 0x76616c6964))
	held := make([]bool, d.N)
	for _, i := range r.Perm(d.N)[:k] {
		held[i] = true
	}
	var ti, vi []int
	for i := 0; i < d.N; i++ {
		if held[i] {
			vi = append(vi, i)
		} else {
			ti = append(ti, i)
		}
	}
	return subsetData(d, ti), subsetData(d, vi)
}

// subsetData returns flows idx of d (features sparse, as in d).
func subsetData(d *encoding.Data, idx []int) *encoding.Data {
	a, f := d.AttrDim, d.FeatDim
	off := make([]int, d.N+1) // flow i's features are Feat[off[i]:off[i+1]]
	for i, l := range d.Len {
		off[i+1] = off[i] + l*f
	}
	out := &encoding.Data{N: len(idx), AttrDim: d.AttrDim, FeatDim: d.FeatDim, MaxLen: d.MaxLen,
		Attr: make([]float32, 0, len(idx)*a), Len: make([]int, 0, len(idx))}
	for _, i := range idx {
		out.Attr = append(out.Attr, d.Attr[i*a:(i+1)*a]...)
		out.Feat = append(out.Feat, d.Feat[off[i]:off[i+1]]...)
		out.Len = append(out.Len, d.Len[i])
	}
	return out
}

// ReadSelection reads the checkpoint scores of a chunk's model folder.
func ReadSelection(modelDir string) (*eval.ChunkSelection, error) {
	p := filepath.Join(modelDir, SelectionFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var s eval.ChunkSelection
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &s, nil
}

// selector scores a chunk's checkpoints as training saves them.
type selector struct {
	dir    string
	schema *encoding.Schema
	rng    encoding.ChunkRange
	seed   uint64
	// The decoded validation slice: flows or packets.
	validFlows   []trace.Flow
	validPackets []trace.Packet
	sel          eval.ChunkSelection
	// best is the score of the checkpoint copied into BestDir; hasBest is
	// false while there is none.
	best    float64
	hasBest bool
}

// newSelector decodes the validation slice and starts the chunk's scores:
// a job resuming at iteration first keeps those up to it.
func newSelector(dir string, s *encoding.Schema, split *SplitInfo, job ChunkJob, valid *encoding.Data, first int) (*selector, error) {
	ci := split.Chunks[job.Chunk]
	sl := &selector{dir: dir, schema: s, rng: encoding.ChunkRange{Index: job.Chunk, Start: ci.Start, End: ci.End},
		seed: job.Seed ^ 0x73656c656374, sel: eval.ChunkSelection{Chunk: job.Chunk, ValidationFlows: valid.N, GeneratedFlows: max(valid.N, selectionSample)}}
	s.SeedDecoding(sl.seed)
	attrs, err := s.DecodeAttributes(valid.Attr, valid.N)
	if err != nil {
		return nil, fmt.Errorf("checkpoint selection: validation flows: %w", err)
	}
	// A chained flow's later segment in the slice starts where its own
	// start attribute says, not after whichever flow precedes it there.
	for i := range attrs {
		attrs[i].Follows = false
	}
	feat := valid.Dense()
	if s.Kind() == trace.KindPackets {
		sl.validPackets, err = s.DecodePackets(attrs, feat, valid.Len, sl.rng)
	} else {
		sl.validFlows, err = s.DecodeFlows(attrs, feat, valid.Len, sl.rng)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint selection: validation flows: %w", err)
	}
	if first > 0 {
		old, err := ReadSelection(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if old != nil {
			for _, sc := range old.Scores {
				if sc.Iteration <= first {
					sl.sel.Scores = append(sl.sel.Scores, sc)
				}
			}
		}
		// The copy of the best checkpoint counts if it is one of the kept
		// scores' best (a job resumed from the checkpoint before a damaged
		// latest may have copied a later one, whose score is dropped).
		bestDir := filepath.Join(dir, BestDir)
		best, ok := sl.sel.Best()
		if it, err := dg.CheckpointIteration(bestDir); err == nil && ok && it == best.Iteration {
			sl.sel.Chosen, sl.best, sl.hasBest = it, best.Score, true
		} else if err := os.RemoveAll(bestDir); err != nil {
			return nil, err
		}
	}
	return sl, nil
}

// resume makes sure, for a job resuming with model m, that m's checkpoint
// is scored (the job may have stopped between saving and scoring it) and
// that a best checkpoint is kept: m itself when the copy was lost.
func (sl *selector) resume(m *dg.Model) error {
	if !sl.scored(m.Iteration()) {
		return sl.score(m)
	}
	if sl.hasBest {
		return nil
	}
	for _, sc := range sl.sel.Scores {
		if sc.Iteration == m.Iteration() {
			return sl.keep(m, sc.Score)
		}
	}
	return nil
}

// keep copies m into BestDir as the best checkpoint, with score sc.
func (sl *selector) keep(m *dg.Model, sc float64) error {
	if err := m.SaveSnapshot(filepath.Join(sl.dir, BestDir)); err != nil {
		return err
	}
	sl.sel.Chosen, sl.best, sl.hasBest = m.Iteration(), sc, true
	return writeJSON(filepath.Join(sl.dir, SelectionFile), sl.sel)
}

// scored reports whether the checkpoint at iteration it has a score.
func (sl *selector) scored(it int) bool {
	for _, sc := range sl.sel.Scores {
		if sc.Iteration == it {
			return true
		}
	}
	return false
}

// score scores model m at its current iteration (once per iteration),
// records the score, and copies the checkpoint into BestDir when it is the
// best so far. The copy is written before the scores: a job killed
// between the two has no score for its last checkpoint, which it scores
// again (to the same value) when it resumes.
func (sl *selector) score(m *dg.Model) error {
	it := m.Iteration()
	if sl.scored(it) {
		return nil
	}
	t0 := time.Now()
	f, err := sl.fidelity(m)
	if err != nil {
		return fmt.Errorf("checkpoint selection at iteration %d: %w", it, err)
	}
	sc := eval.CheckpointScore{Iteration: it, JointTVD: round(f.MeanJointTVD()), MeanJSD: round(f.MeanJSD),
		Score: round(eval.SelectionScore(f)), Seconds: round(time.Since(t0).Seconds())}
	sl.sel.Scores = append(sl.sel.Scores, sc)
	slog.Debug("checkpoint scored", "chunk", sl.sel.Chunk, "iteration", it, "score", sc.Score, "mean_joint_tvd", sc.JointTVD,
		"mean_jsd", sc.MeanJSD, "best_so_far", sl.best, "seconds", sc.Seconds)
	if !sl.hasBest || sc.Score < sl.best {
		return sl.keep(m, sc.Score)
	}
	return writeJSON(filepath.Join(sl.dir, SelectionFile), sl.sel)
}

// sampleFlows generates n flows from m, attributes then features, without
// the post-generation passes; chained long flows are drawn and chained as
// generation does.
func sampleFlows(s *encoding.Schema, m *dg.Model, n int) ([]encoding.FlowAttr, []float32, []int, error) {
	if s.Chains() {
		rows, err := generateRows(s, m, n)
		if err != nil {
			return nil, nil, nil, err
		}
		batches, _ := postgen.Chain(s, rows, math.MaxInt)
		o, err := generateFeatures(s, m, batches[0])
		if err != nil {
			return nil, nil, nil, err
		}
		return o.Attrs, o.Feat, o.Lens, nil
	}
	A := m.GenerateAttributes(n)
	attrs, err := s.DecodeAttributes(A, n)
	if err != nil {
		return nil, nil, nil, err
	}
	var feat []float32
	var lens []int
	if s.HasLength() {
		d := s.AttrDim()
		lens = make([]int, n)
		for i := range lens {
			lens[i] = s.DecodeLength(A[i*d : (i+1)*d])
		}
		feat, err = m.GenerateFeaturesLen(A, lens)
	} else {
		feat, lens, err = m.GenerateFeatures(A, n)
	}
	return attrs, feat, lens, err
}

// fidelity generates GeneratedFlows flows from m, decodes them as
// generation does (without the post-generation passes) and compares them
// with the validation slice.
func (sl *selector) fidelity(m *dg.Model) (*eval.Fidelity, error) {
	s := sl.schema
	n := sl.sel.GeneratedFlows
	m.SetGenerationSeed(sl.seed)
	s.SeedDecoding(sl.seed)
	attrs, feat, lens, err := sampleFlows(s, m, n)
	if err != nil {
		return nil, err
	}
	if s.Kind() == trace.KindPackets {
		ps, err := s.DecodePackets(attrs, feat, lens, sl.rng)
		if err != nil {
			return nil, err
		}
		return eval.FastPackets(sl.validPackets, ps)
	}
	fl, err := s.DecodeFlows(attrs, feat, lens, sl.rng)
	if err != nil {
		return nil, err
	}
	return eval.FastFlows(sl.validFlows, fl)
}
