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

	"github.com/netshare-go/netshare/internal/atomicfile"
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
	// Seconds is the stage's wall time: from when it was found not done
	// to its completion.
	Seconds float64 `json:"seconds,omitempty"`
	// Info holds stage-specific figures (counts, losses, ε, ...).
	Info map[string]any `json:"info,omitempty"`
}

// Manifest records a run's input, configuration and completed stages.
type Manifest struct {
	Version    int                     `json:"version"`
	Input      InputInfo               `json:"input"`
	ConfigHash string                  `json:"config_sha256"`
	Audit      bool                    `json:"audit,omitempty"`
	Stages     map[string]*StageRecord `json:"stages"`
	Privacy    map[string]any          `json:"privacy,omitempty"`

	mu    sync.Mutex
	path  string
	begun map[string]time.Time // stages found not done, and when
}

// InputInfo identifies the trace a run learns.
type InputInfo struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Format string `json:"format"`
	Kind   string `json:"kind"`
	Bytes  int64  `json:"bytes"`
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

// Done reports whether stage completed with the given key. A stage found
// not done starts its clock: Complete records the time since as its wall
// time.
func (m *Manifest) Done(stage, key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.Stages[stage]
	done := ok && r.Key == key
	if !done {
		if m.begun == nil {
			m.begun = map[string]time.Time{}
		}
		if _, seen := m.begun[stage]; !seen {
			m.begun[stage] = time.Now()
		}
	}
	return done
}

// Running returns how long ago stage was found not done, while it has not
// completed since.
func (m *Manifest) Running(stage string) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.begun[stage]
	return time.Since(t), ok
}

// Stage returns the record of a completed stage, or nil.
func (m *Manifest) Stage(stage string) *StageRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Stages[stage]
}

// Complete records stage as done and saves the manifest atomically.
func (m *Manifest) Complete(stage, key string, outputs []string, info map[string]any) error {
	m.mu.Lock()
	rec := &StageRecord{Key: key, Outputs: outputs, Finished: time.Now().UTC(), Info: info}
	if t, ok := m.begun[stage]; ok {
		rec.Seconds = math.Round(rec.Finished.Sub(t).Seconds()*1000) / 1000
		delete(m.begun, stage)
	}
	m.Stages[stage] = rec
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
