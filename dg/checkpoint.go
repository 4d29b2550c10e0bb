package dg

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/nn"
)

// ManifestFile is the checkpoint manifest inside a checkpoint directory; it
// names the checkpoint's tensor files.
const ManifestFile = "manifest.json"

// PrevManifestFile is the manifest of the checkpoint before the latest:
// Save keeps it, and the files it names, so that a run whose latest
// checkpoint is damaged can resume from it (LoadPrevious).
const PrevManifestFile = "manifest-prev.json"

const checkpointFormat = 2

type manifest struct {
	Format      int            `json:"format"`
	Weights     string         `json:"weights"` // file names of this checkpoint's tensors
	Optim       string         `json:"optim"`
	Config      Config         `json:"config"`
	AttrOutputs []Output       `json:"attr_outputs"`
	FeatOutputs []Output       `json:"feat_outputs"` // without the generation flag
	MaxLen      int            `json:"max_len"`
	Iteration   int            `json:"iteration"`
	AdamSteps   map[string]int `json:"adam_steps"`
	RNGState    []byte         `json:"rng_state"`
}

// HasCheckpoint reports whether dir holds a checkpoint manifest.
func HasCheckpoint(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ManifestFile))
	return err == nil
}

func (m *Model) optimizers() map[string]*nn.Adam[float32] {
	o := map[string]*nn.Adam[float32]{"g": m.n.optG, "d": m.n.optD}
	if m.n.optA != nil {
		o["a"] = m.n.optA
	}
	return o
}

// Save writes a checkpoint into dir (created if needed): the weights and
// BatchNorm statistics (model-NNNNNN.safetensors), the Adam moments
// (optim-NNNNNN.safetensors, NNNNNN the iteration) and a manifest with the
// configuration, outputs, iteration count, random state and the two file
// names (manifest.json). Each file is written atomically, the manifest last,
// and the previous checkpoint's files are removed only after it: a process
// killed at any point leaves a manifest that names a complete, consistent
// checkpoint.
func (m *Model) Save(dir string) error { return m.save(dir, true) }

// SaveSnapshot writes a checkpoint into dir as Save does, but keeps no
// previous one: for a copy of the model at one iteration (such as the
// best-scoring checkpoint) that is replaced as a whole. Load reads it.
func (m *Model) SaveSnapshot(dir string) error { return m.save(dir, false) }

func (m *Model) save(dir string, keepPrev bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dg: save checkpoint: %w", err)
	}
	var ws []nn.Tensor
	for _, p := range m.n.allParams() {
		ws = append(ws, nn.Tensor{Name: p.Name, Shape: p.Shape, Data: p.W})
	}
	for _, bn := range m.n.attrBN {
		name := bn.Gamma.Name[:len(bn.Gamma.Name)-len(".weight")]
		ws = append(ws, nn.Tensor{Name: name + ".running_mean", Shape: []int{bn.Dim}, Data: bn.RunMean},
			nn.Tensor{Name: name + ".running_var", Shape: []int{bn.Dim}, Data: bn.RunVar})
	}
	meta := map[string]string{"format": "netshare-dg", "iteration": fmt.Sprint(m.n.step)}
	wname := fmt.Sprintf("model-%06d.safetensors", m.n.step)
	oname := fmt.Sprintf("optim-%06d.safetensors", m.n.step)
	if err := nn.WriteSafetensors(filepath.Join(dir, wname), ws, meta); err != nil {
		return fmt.Errorf("dg: save checkpoint: %w", err)
	}
	var os_ []nn.Tensor
	steps := map[string]int{}
	for key, a := range m.optimizers() {
		steps[key] = a.T
		for i, p := range a.Params {
			os_ = append(os_, nn.Tensor{Name: key + ".m/" + p.Name, Shape: p.Shape, Data: a.M[i]},
				nn.Tensor{Name: key + ".v/" + p.Name, Shape: p.Shape, Data: a.V[i]})
		}
	}
	if err := nn.WriteSafetensors(filepath.Join(dir, oname), os_, meta); err != nil {
		return fmt.Errorf("dg: save checkpoint: %w", err)
	}
	st, err := m.n.rng.MarshalBinary()
	if err != nil {
		return fmt.Errorf("dg: save checkpoint: %w", err)
	}
	man := manifest{Format: checkpointFormat, Weights: wname, Optim: oname, Config: m.n.cfg, AttrOutputs: m.AttrOutputs(), FeatOutputs: m.FeatOutputs(),
		MaxLen: m.n.maxLen, Iteration: m.n.step, AdamSteps: steps, RNGState: st}
	js, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("dg: save checkpoint: %w", err)
	}
	// The checkpoint being replaced becomes the previous one.
	keep := map[string]bool{wname: true, oname: true}
	if !keepPrev {
		if err := os.Remove(filepath.Join(dir, PrevManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("dg: save checkpoint: %w", err)
		}
	} else if prev, err := readManifestAt(dir, ManifestFile); err == nil && (prev.Weights != wname || prev.Optim != oname) {
		b, err := json.MarshalIndent(prev, "", "  ")
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(dir, PrevManifestFile), append(b, '\n'), 0o644)
		}
		if err != nil {
			return fmt.Errorf("dg: save checkpoint: %w", err)
		}
	}
	if prev, err := readManifestAt(dir, PrevManifestFile); err == nil {
		keep[prev.Weights], keep[prev.Optim] = true, true
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("dg: save checkpoint: %w", err)
	}
	// The manifests now name the files to keep; the others can go.
	for _, pat := range []string{"model-*.safetensors", "optim-*.safetensors"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range old {
			if !keep[filepath.Base(f)] {
				os.Remove(f)
			}
		}
	}
	return nil
}

// CheckpointIteration returns the iteration of the checkpoint in dir,
// from its manifest alone.
func CheckpointIteration(dir string) (int, error) {
	man, err := readManifest(dir)
	if err != nil {
		return 0, err
	}
	return man.Iteration, nil
}

// files returns the checkpoint's weight and optimiser file names.
func (man *manifest) files() (weights, optim string) { return man.Weights, man.Optim }

func readManifest(dir string) (*manifest, error) { return readManifestAt(dir, ManifestFile) }

func readManifestAt(dir, name string) (*manifest, error) {
	p := filepath.Join(dir, name)
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("dg: load checkpoint: %w", err)
	}
	var man manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, fmt.Errorf("dg: load checkpoint: %s: %w", p, err)
	}
	if man.Format != checkpointFormat {
		return nil, fmt.Errorf("dg: load checkpoint: %s: format %d, want %d", p, man.Format, checkpointFormat)
	}
	for _, f := range []string{man.Weights, man.Optim} {
		if f == "" || f != filepath.Base(f) {
			return nil, fmt.Errorf("dg: load checkpoint: %s: invalid file name %q", p, f)
		}
	}
	return &man, nil
}

// Load reads a checkpoint written by Save, restoring everything needed to
// resume training: weights, BatchNorm statistics, Adam moments, random state
// and iteration count.
func Load(dir string) (*Model, error) { return loadAt(dir, ManifestFile) }

// LoadPrevious is Load for the checkpoint before the latest, which Save
// keeps: for resuming when the latest is damaged.
func LoadPrevious(dir string) (*Model, error) { return loadAt(dir, PrevManifestFile) }

func loadAt(dir, name string) (*Model, error) {
	man, err := readManifestAt(dir, name)
	if err != nil {
		return nil, err
	}
	m, err := New(man.Config, man.AttrOutputs, man.FeatOutputs, man.MaxLen)
	if err != nil {
		return nil, fmt.Errorf("dg: load checkpoint %s: %w", dir, err)
	}
	if err := m.restore(dir, name, true); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights replaces the model's weights and BatchNorm statistics with a
// checkpoint's, for fine-tuning: the optimiser state is reset (fresh Adam)
// and the iteration count set to 0; the random state is kept. The
// checkpoint's outputs and network sizes must match the model's.
func (m *Model) LoadWeights(dir string) error {
	return m.restore(dir, ManifestFile, false)
}

func (m *Model) restore(dir, name string, full bool) error {
	man, err := readManifestAt(dir, name)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(man.AttrOutputs, m.AttrOutputs()) || !reflect.DeepEqual(man.FeatOutputs, m.FeatOutputs()) || man.MaxLen != m.n.maxLen {
		return fmt.Errorf("dg: load checkpoint %s: its outputs or maximum length differ from the model's", dir)
	}
	if full && man.Config != m.n.cfg {
		return fmt.Errorf("dg: resume from %s: its configuration differs from the model's (checkpoint %+v)", dir, man.Config)
	}
	wfile, ofile := man.files()
	ws, _, err := nn.ReadSafetensors(filepath.Join(dir, wfile))
	if err != nil {
		return fmt.Errorf("dg: load checkpoint: %w", err)
	}
	take := func(ts map[string]nn.Tensor, name string, dst []float32, file string) error {
		t, ok := ts[name]
		if !ok {
			return fmt.Errorf("dg: load checkpoint: %s: no tensor %q", filepath.Join(dir, file), name)
		}
		if len(t.Data) != len(dst) {
			return fmt.Errorf("dg: load checkpoint: %s: tensor %q has %d values, the model has %d (network sizes differ)", filepath.Join(dir, file), name, len(t.Data), len(dst))
		}
		copy(dst, t.Data)
		return nil
	}
	// Read everything into copies first so that a failure leaves the model
	// untouched.
	type pending struct {
		dst, src []float32
	}
	var todo []pending
	stage := func(ts map[string]nn.Tensor, name string, dst []float32, file string) error {
		tmp := make([]float32, len(dst))
		if err := take(ts, name, tmp, file); err != nil {
			return err
		}
		todo = append(todo, pending{dst, tmp})
		return nil
	}
	for _, p := range m.n.allParams() {
		if err := stage(ws, p.Name, p.W, wfile); err != nil {
			return err
		}
	}
	for _, bn := range m.n.attrBN {
		name := bn.Gamma.Name[:len(bn.Gamma.Name)-len(".weight")]
		if err := stage(ws, name+".running_mean", bn.RunMean, wfile); err != nil {
			return err
		}
		if err := stage(ws, name+".running_var", bn.RunVar, wfile); err != nil {
			return err
		}
	}
	var steps map[string]int
	if full {
		os_, _, err := nn.ReadSafetensors(filepath.Join(dir, ofile))
		if err != nil {
			return fmt.Errorf("dg: load checkpoint: %w", err)
		}
		for key, a := range m.optimizers() {
			if _, ok := man.AdamSteps[key]; !ok {
				return fmt.Errorf("dg: load checkpoint: %s: no optimiser step count for %q", filepath.Join(dir, ManifestFile), key)
			}
			for i, p := range a.Params {
				if err := stage(os_, key+".m/"+p.Name, a.M[i], ofile); err != nil {
					return err
				}
				if err := stage(os_, key+".v/"+p.Name, a.V[i], ofile); err != nil {
					return err
				}
			}
		}
		steps = man.AdamSteps
		probe := nn.NewRNG(0)
		if err := probe.UnmarshalBinary(man.RNGState); err != nil {
			return fmt.Errorf("dg: load checkpoint: %s: %w", filepath.Join(dir, ManifestFile), err)
		}
	}
	for _, t := range todo {
		copy(t.dst, t.src)
	}
	if !full {
		for _, a := range m.optimizers() {
			a.Reset()
		}
		m.n.step = 0
		return nil
	}
	for key, a := range m.optimizers() {
		a.T = steps[key]
	}
	m.n.step = man.Iteration
	if err := m.n.rng.UnmarshalBinary(man.RNGState); err != nil {
		return errors.Join(fmt.Errorf("dg: load checkpoint %s", dir), err)
	}
	return nil
}
