package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	Key      string    `json:"key"`
	Outputs  []string  `json:"outputs,omitempty"`
	Finished time.Time `json:"finished"`
	// Info holds the stage's figures: a PreprocessInfo, TrainInfo,
	// GenStats or EvaluateInfo (DecodeInfo reads it back).
	Info json.RawMessage `json:"info,omitempty"`
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

	mu   sync.Mutex
	path string
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
	m := &Manifest{Version: 1, Stages: map[string]*StageRecord{}, path: p}
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

// Done reports whether stage completed with the given key.
func (m *Manifest) Done(stage, key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.Stages[stage]
	return ok && r.Key == key
}

// Stage returns the record of a completed stage, or nil.
func (m *Manifest) Stage(stage string) *StageRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Stages[stage]
}

// Complete records stage as done and saves the manifest atomically.
func (m *Manifest) Complete(stage, key string, outputs []string, info any) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.Stages[stage] = &StageRecord{Key: key, Outputs: outputs, Finished: time.Now().UTC(), Info: b}
	m.mu.Unlock()
	return m.Save()
}

// Invalidate forgets stage.
func (m *Manifest) Invalidate(stage string) {
	m.mu.Lock()
	delete(m.Stages, stage)
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
