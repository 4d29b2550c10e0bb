package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/netshare-go/netshare/pipeline"
)

func TestReporterPlainLogsEveryTenPercent(t *testing.T) {
	var logs bytes.Buffer
	r := newReporter(&bytes.Buffer{}, false, slog.New(slog.NewTextHandler(&logs, nil)))
	for it := 1; it <= 100; it++ {
		r.Update(pipeline.Progress{Chunk: 0, Iteration: it, Iterations: 100, Elapsed: time.Duration(it) * time.Millisecond, Losses: map[string]float64{"d": -1}})
	}
	r.Update(pipeline.Progress{Chunk: 0, Iteration: 100, Iterations: 100, Done: true})
	lines := strings.Count(logs.String(), "msg=training")
	if lines < 10 || lines > 12 {
		t.Errorf("%d progress lines for 100 iterations, want about 11:\n%s", lines, logs.String())
	}
	if !strings.Contains(logs.String(), `msg="chunk trained"`) || !strings.Contains(logs.String(), "loss_d=-1") {
		t.Errorf("missing completion line or losses:\n%s", logs.String())
	}
}

func TestReporterTerminalRedrawsBars(t *testing.T) {
	var out bytes.Buffer
	r := newReporter(&out, true, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	r.Update(pipeline.Progress{Chunk: 1, Iteration: 5, Iterations: 10, First: 0, Elapsed: time.Second})
	r.Update(pipeline.Progress{Chunk: 2, Iteration: 10, Iterations: 10, Done: true})
	r.Update(pipeline.Progress{Chunk: 1, Iteration: 10, Iterations: 10, Done: true})
	drawn := out.Len()
	r.Close()
	if out.Len() != drawn {
		t.Error("Close drew again although nothing changed")
	}
	s := out.String()
	if !strings.Contains(s, "chunk   1 [") || !strings.Contains(s, "chunk   2 [") || !strings.Contains(s, "done") {
		t.Errorf("bars missing:\n%q", s)
	}
	if !strings.Contains(s, "\x1b[2A") {
		t.Errorf("second draw does not move back over the two bars:\n%q", s)
	}
	if p := (pipeline.Progress{Iteration: 5, Iterations: 10, First: 0, Elapsed: 10 * time.Second}); p.ETA() != 10*time.Second {
		t.Errorf("ETA %v, want 10s", p.ETA())
	}
}
