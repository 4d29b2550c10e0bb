package report

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// twoRuns writes two runs under a fresh directory: "a" with a full report
// and "b" with metrics.json only.
func twoRuns(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	res := sampleResult(t)
	if err := Write(filepath.Join(root, "a"), Input{Result: res, Title: "run a"}); err != nil {
		t.Fatal(err)
	}
	js, _ := res.JSON()
	os.MkdirAll(filepath.Join(root, "b"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "b", MetricsFile), js, 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "not-a-run"), 0o755)
	return root
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestServerPages(t *testing.T) {
	root := twoRuns(t)
	s, err := NewServer(root)
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, s, "/")
	if code != 200 || !strings.Contains(body, `href="/run/a/"`) || !strings.Contains(body, `href="/run/b/"`) || !strings.Contains(body, `id="compare"`) || strings.Contains(body, "not-a-run") {
		t.Fatalf("index: %d\n%s", code, body)
	}
	if !strings.Contains(body, "mean joint TVD") {
		t.Error("comparison lacks the metric rows")
	}
	code, body = get(t, s, "/run/a/")
	if code != 200 || !strings.Contains(body, "<title>run a</title>") {
		t.Errorf("run a: %d", code)
	}
	// b has no report.html: it is rendered from metrics.json.
	code, body = get(t, s, "/run/b/")
	if code != 200 || !strings.Contains(body, `id="metrics"`) || !strings.Contains(body, "<svg") {
		t.Errorf("run b: %d", code)
	}
	code, body = get(t, s, "/run/a/plots/cdf_byt.png")
	if code != 200 || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("png: %d", code)
	}
	for _, p := range []string{"/run/zzz/", "/run/a/../../../etc/passwd", "/run/a/%2e%2e/b/metrics.json", "/run/a/nothing.png"} {
		if code, body := get(t, s, p); code == 200 && !strings.Contains(body, `"kind"`) {
			t.Errorf("%s served: %d", p, code)
		} else if code == 200 {
			t.Errorf("%s escaped the run directory", p)
		}
	}
	if code, _ := get(t, s, "/favicon.ico"); code != http.StatusNoContent {
		t.Errorf("favicon: %d", code)
	}
}

func TestServerSingleRunDirectory(t *testing.T) {
	root := twoRuns(t)
	s, err := NewServer(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s, "/"); code != 200 || !strings.Contains(body, `href="/run/a/"`) {
		t.Fatalf("single run index: %d %s", code, body)
	}
}

func TestServerErrors(t *testing.T) {
	if _, err := NewServer(t.TempDir()); !errors.Is(err, ErrNoRuns) {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := NewServer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory: no error")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, MetricsFile), []byte("{not json"), 0o644)
	if _, err := NewServer(bad); err == nil || !strings.Contains(err.Error(), MetricsFile) {
		t.Errorf("corrupt metrics.json: %v", err)
	}
	var b bytes.Buffer
	if err := Render(&b, Input{}); err == nil {
		t.Error("Render without result: no error")
	}
}
