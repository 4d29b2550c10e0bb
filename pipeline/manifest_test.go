package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// A manifest written before the input kind, the stage figures and the
// privacy guarantee were typed still reads: the kind by its name, the
// figures into their structs.
func TestLoadOldManifest(t *testing.T) {
	dir := t.TempDir()
	old := `{
  "version": 1,
  "input": {"path": "/in.pcap", "sha256": "ab", "format": "pcap", "kind": "packets", "bytes": 10},
  "config_sha256": "cd",
  "stages": {
    "generate": {"key": "k", "outputs": ["synthetic.pcap"], "finished": "2026-01-02T03:04:05Z",
      "info": {"continued_flows": 3, "dropped_continuations": 1, "fixed_inconsistent_tags": 2, "flows": 40, "records": 90, "records_outside_chunk": 4}}
  },
  "privacy": {"clip": 1, "delta": 1e-05, "epsilon": 4.9, "noise": 1.3, "steps": 60}
}
`
	if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Kind != trace.KindPackets {
		t.Errorf("input kind %v", m.Input.Kind)
	}
	var st GenStats
	if err := m.Stage("generate").DecodeInfo(&st); err != nil {
		t.Fatal(err)
	}
	if st.Flows != 40 || st.Records != 90 || st.Continuations != 3 || st.DroppedCopies != 1 || st.FixedTags != 2 || st.OutOfRange != 4 {
		t.Errorf("generation figures %+v", st)
	}
	if p := m.Privacy; p == nil || p.Epsilon != 4.9 || p.Steps != 60 {
		t.Errorf("privacy %+v", p)
	}
	// Saved again, it reads back the same.
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st2 GenStats
	if err := m2.Stage("generate").DecodeInfo(&st2); err != nil || st2.Flows != 40 || m2.Input.Kind != trace.KindPackets {
		t.Errorf("after saving: %+v, kind %v (%v)", st2, m2.Input.Kind, err)
	}
}
