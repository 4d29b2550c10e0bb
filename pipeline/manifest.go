package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/trace"
)

// ManifestName is the manifest's file name inside a run directory.
const ManifestName = "manifest.json"

// StageRecord is what the manifest remembers of one completed stage.
type StageRecord struct {
	// Key hashes everything the stage's result depends on: its inputs'
	// hashes and the configuration it used. A stage whose key is unchanged
	// is skipped on a re-run.
	Key string `json:"key"`
	// Outputs are the files and folders the stage wrote (relative to the
	// run directory), and Files every file among them with its size and
	// SHA-256: a stage whose files are missing or changed runs again.
	Outputs  []string  `json:"outputs,omitempty"`
	Files    []FileSum `json:"files,omitempty"`
	Finished time.Time `json:"finished"`
	// Seconds is the stage's wall time: from when it was found not done
	// to its completion.
	Seconds float64 `json:"seconds,omitempty"`
	// PeakRSS is the peak resident memory, in bytes, of the process that
	// recorded the stage, when it did (getrusage's maxrss: the peak since
	// the process started, so a stage run after others in one process
	// reports at least their peaks; 0 where unknown). Records is the
	// number of records the stage handled (pre-processing: the input's;
	// a training job: its chunk's; generation: the synthetic ones;
	// evaluation: real and synthetic), for a figure per record.
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	Records int   `json:"records,omitempty"`
	// Info holds the stage's figures: a PreprocessInfo, TrainInfo,
	// GenStats or EvaluateInfo (DecodeInfo reads it back).
	Info json.RawMessage `json:"info,omitempty"`
}

// FileSum identifies the content of one output file.
type FileSum struct {
	Path   string `json:"path"` // relative to the run directory
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// DecodeInfo decodes the stage's figures into v.
func (s *StageRecord) DecodeInfo(v any) error { return json.Unmarshal(s.Info, v) }

// PreprocessInfo is what the manifest records of pre-processing.
type PreprocessInfo struct {
	Records          int `json:"records"`
	Flows            int `json:"flows"`
	Chunks           int `json:"chunks"`
	MaxFlowLen       int `json:"max_flow_len"`
	TruncatedRecords int `json:"truncated_records"`
	HoldoutRecords   int `json:"holdout_records"`
}

// TrainInfo is what the manifest records of a chunk's training.
type TrainInfo struct {
	Iterations int    `json:"iterations"`
	InitFrom   string `json:"init_from"`
}

// EvaluateInfo is what the manifest records of the evaluation.
type EvaluateInfo struct {
	MeanJSD           float64 `json:"mean_jsd"`
	MeanEMDNormalized float64 `json:"mean_emd_normalized"`
	MeanJointTVD      float64 `json:"mean_joint_tvd"`
}

// Manifest records a run's input, configuration and completed stages.
type Manifest struct {
	Version    int                     `json:"version"`
	Input      InputInfo               `json:"input"`
	ConfigHash string                  `json:"config_sha256"`
	Audit      bool                    `json:"audit,omitempty"`
	Stages     map[string]*StageRecord `json:"stages"`
	// Privacy is the guarantee of a DP run's training plan.
	Privacy *eval.PrivacyInfo `json:"privacy,omitempty"`

	mu       sync.Mutex
	path     string
	verified map[string]string    // stage → key whose files were found intact
	begun    map[string]time.Time // stages found not done, and when
}

// InputInfo identifies the trace a run learns.
type InputInfo struct {
	Path   string     `json:"path"`
	SHA256 string     `json:"sha256"`
	Format string     `json:"format"`
	Kind   trace.Kind `json:"kind"`
	Bytes  int64      `json:"bytes"`
}

// LoadManifest reads dir's manifest, or returns an empty one when there is
// none yet.
func LoadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	m := &Manifest{Version: 1, Stages: map[string]*StageRecord{}, path: p, verified: map[string]string{}}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: corrupt manifest: %w", p, err)
	}
	if m.Stages == nil {
		m.Stages = map[string]*StageRecord{}
	}
	m.path = p
	return m, nil
}

// errNotDone is Verify's answer for a stage not recorded with the key.
var errNotDone = errors.New("not done")

// Done reports whether stage completed with the given key and its output
// files are intact. A stage found not done starts its clock: Complete
// records the time since as its wall time.
func (m *Manifest) Done(stage, key string) bool {
	if m.Verify(stage, key) == nil {
		return true
	}
	m.start(stage)
	return false
}

// start starts stage's clock, unless it runs already.
func (m *Manifest) start(stage string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.begun == nil {
		m.begun = map[string]time.Time{}
	}
	if _, seen := m.begun[stage]; !seen {
		m.begun[stage] = time.Now()
	}
}

// Running returns how long ago stage was found not done, while it has not
// completed since.
func (m *Manifest) Running(stage string) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.begun[stage]
	return time.Since(t), ok
}

// Verify returns nil when stage completed with the given key and every
// file it recorded is still there with the same size and SHA-256,
// errNotDone when the stage is not recorded with that key, and otherwise
// an error naming the file that is missing or changed. (A stage recorded
// before files were, by an older netshare, needs its outputs to exist.)
// A stage found intact is not checked again in this process until it is
// recorded again.
func (m *Manifest) Verify(stage, key string) error {
	m.mu.Lock()
	r, ok := m.Stages[stage]
	if !ok || r.Key != key {
		m.mu.Unlock()
		return errNotDone
	}
	if m.verified[stage] == key {
		m.mu.Unlock()
		return nil
	}
	files, outputs := r.Files, r.Outputs
	m.mu.Unlock()
	dir := filepath.Dir(m.path)
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if len(files) == 0 {
		for _, o := range outputs {
			if _, err := os.Stat(abs(o)); err != nil {
				return fmt.Errorf("output %s is missing", abs(o))
			}
		}
	}
	for _, f := range files {
		p := abs(f.Path)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("output %s is missing", p)
		}
		if st.Size() != f.Bytes {
			return fmt.Errorf("output %s has changed (%d bytes, %d recorded)", p, st.Size(), f.Bytes)
		}
		sum, _, err := hashFile(p)
		if err != nil {
			return err
		}
		if sum != f.SHA256 {
			return fmt.Errorf("output %s has changed (SHA-256 %.12s, %.12s recorded)", p, sum, f.SHA256)
		}
	}
	m.mu.Lock()
	if m.verified == nil {
		m.verified = map[string]string{}
	}
	if r := m.Stages[stage]; r != nil && r.Key == key {
		m.verified[stage] = key
	}
	m.mu.Unlock()
	return nil
}

// sumOutputs lists every file of outputs (files, or folders walked) with
// its size and SHA-256, paths relative to the run directory.
func (m *Manifest) sumOutputs(outputs []string) ([]FileSum, error) {
	dir := filepath.Dir(m.path)
	var sums []FileSum
	for _, o := range outputs {
		p := o
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		err := filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			sum, n, err := hashFile(f)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, f)
			if err != nil {
				return err
			}
			sums = append(sums, FileSum{Path: filepath.ToSlash(rel), Bytes: n, SHA256: sum})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record the outputs: %w", err)
		}
	}
	return sums, nil
}

// Stage returns the record of a completed stage, or nil.
func (m *Manifest) Stage(stage string) *StageRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Stages[stage]
}

// Complete records stage as done, with its outputs (paths relative to the
// run directory) and their content, the records it handled and the
// process's peak memory, and saves the manifest atomically.
func (m *Manifest) Complete(stage, key string, outputs []string, info any, records int) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	files, err := m.sumOutputs(outputs)
	if err != nil {
		return err
	}
	m.mu.Lock()
	rec := &StageRecord{Key: key, Outputs: outputs, Files: files, Finished: time.Now().UTC(), Info: b, PeakRSS: peakRSS(), Records: records}
	if t, ok := m.begun[stage]; ok {
		rec.Seconds = math.Round(rec.Finished.Sub(t).Seconds()*1000) / 1000
		delete(m.begun, stage)
	}
	m.Stages[stage] = rec
	m.verified[stage] = key
	m.mu.Unlock()
	return m.Save()
}

// Invalidate forgets stage.
func (m *Manifest) Invalidate(stage string) {
	m.mu.Lock()
	delete(m.Stages, stage)
	delete(m.verified, stage)
	m.mu.Unlock()
}

// Save writes the manifest atomically.
func (m *Manifest) Save() error {
	m.mu.Lock()
	b, err := json.MarshalIndent(m, "", "  ")
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(m.path, append(b, '\n'), 0o644)
}

// hashKey hashes the given parts into a stage key.
func hashKey(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		enc.Encode(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// hashFile returns the SHA-256 of a file's content and its size.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
