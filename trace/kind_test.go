package trace_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// A kind is written by its name and read back; the zero kind (not known
// yet) is the empty string; any other name is an error that says which.
func TestKindText(t *testing.T) {
	type doc struct {
		Kind trace.Kind `json:"kind"`
	}
	for _, k := range []trace.Kind{trace.KindPackets, trace.KindFlows, 0} {
		b, err := json.Marshal(doc{k})
		if err != nil {
			t.Fatal(err)
		}
		var d doc
		if err := json.Unmarshal(b, &d); err != nil || d.Kind != k {
			t.Errorf("%v: %s read back as %v (%v)", k, b, d.Kind, err)
		}
	}
	if b, _ := json.Marshal(doc{trace.KindPackets}); string(b) != `{"kind":"packets"}` {
		t.Errorf("packets written as %s", b)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"kind":"frames"}`), &d); err == nil || !strings.Contains(err.Error(), `"frames"`) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := json.Marshal(doc{trace.Kind(7)}); err == nil {
		t.Error("kind 7 written")
	}
}
