package report

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// twoRuns writes two runs under a fresh directory: "a" with a full report
// and "b" with metrics.json only.
func twoRuns(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	res := sampleResult(t)
	if err := Write(filepath.Join(root, "a"), Input{Result: res, Title: "run a", Run: sampleRunInfo()}); err != nil {
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
	s, err := NewServer(root, ServerOptions{})
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
	s, err := NewServer(filepath.Join(root, "a"), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s, "/"); code != 200 || !strings.Contains(body, `href="/run/a/"`) {
		t.Fatalf("single run index: %d %s", code, body)
	}
}

func TestServerErrors(t *testing.T) {
	if _, err := NewServer(t.TempDir(), ServerOptions{}); !errors.Is(err, ErrNoRuns) {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := NewServer(filepath.Join(t.TempDir(), "missing"), ServerOptions{}); err == nil {
		t.Error("missing directory: no error")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, MetricsFile), []byte("{not json"), 0o644)
	if _, err := NewServer(bad, ServerOptions{}); err == nil || !strings.Contains(err.Error(), MetricsFile) {
		t.Errorf("corrupt metrics.json: %v", err)
	}
	var b bytes.Buffer
	if err := Render(&b, Input{}); err == nil {
		t.Error("Render without result: no error")
	}
}

// privateRun writes a run directory laid out as the pipeline leaves it: the
// report beside the input trace, pre-processed data and checkpoints, which
// must not be served.
func privateRun(t *testing.T) (root, secret string) {
	t.Helper()
	root = twoRuns(t)
	a := filepath.Join(root, "a")
	for name, body := range map[string]string{
		"input/trace.csv":                           "PRIVATE-INPUT",
		"preprocess/chunk-000.data":                 "PRIVATE-PRE",
		"models/chunk-000/model-000010.safetensors": "PRIVATE-MODEL",
		"models/chunk-000/manifest.json":            `{"PRIVATE":"MODEL"}`,
		"synthetic.csv":                             "synthetic",
		"config.yaml":                               "seed: 1",
	} {
		p := filepath.Join(a, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A file outside every run, and links to it and to the input.
	secret = filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(secret, []byte("root:x:0:0:PRIVATE-OUTSIDE"), 0o644)
	links := map[string]string{
		"a/plots/pw.png":    secret,
		"a/plots/input.png": filepath.Join(a, "input", "trace.csv"),
		"a/plots/rel.png":   "../input/trace.csv",
		"a/plotlink":        filepath.Dir(secret),
		"outside-run":       filepath.Dir(secret),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Skipf("symbolic links: %v", err)
		}
	}
	// A run whose metrics.json is a link to another run's, outside it.
	os.MkdirAll(filepath.Join(root, "c"), 0o755)
	os.Symlink(filepath.Join(a, MetricsFile), filepath.Join(root, "c", MetricsFile))
	return root, secret
}

// The server shows the reports and nothing else of a run directory: not
// the input trace, not pre-processed data, not checkpoints, no listing,
// nothing through a link that leaves the run, whatever the encoding of the
// path.
func TestServerServesOnlyReports(t *testing.T) {
	root, _ := privateRun(t)
	s, err := NewServer(root, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/run/a/", "/run/a/report.html", "/run/a/metrics.json", "/run/a/plots/cdf_byt.png"} {
		if code, _ := get(t, s, p); code != 200 {
			t.Errorf("%s: %d, want 200", p, code)
		}
	}
	refused := []string{
		// the run's own private files, and listings
		"/run/a/input/trace.csv", "/run/a/input/", "/run/a/input", "/run/a/preprocess/chunk-000.data",
		"/run/a/models/chunk-000/model-000010.safetensors", "/run/a/models/chunk-000/manifest.json",
		"/run/a/models/", "/run/a/plots/", "/run/a/plots", "/run/a/synthetic.csv", "/run/a/config.yaml",
		// links out of the run, or to its input under a report file's name
		"/run/a/plots/pw.png", "/run/a/plots/input.png", "/run/a/plots/rel.png", "/run/a/plotlink/passwd",
		"/run/outside-run/passwd", "/run/c/", "/run/c/metrics.json",
		// traversals, plain and encoded
		"/run/a/../../../etc/passwd", "/run/a/%2e%2e/%2e%2e/etc/passwd", "/run/a/%2E%2E%2Finput%2Ftrace.csv",
		"/run/a/plots/..%2f..%2finput%2ftrace.csv", "/run/a/%252e%252e/input/trace.csv", "/run/a/plots/%252e%252e%252finput%252ftrace.csv",
		"/run/a/..%5c..%5cinput%5ctrace.csv", "/run/a/plots%5c..%5cinput%5ctrace.csv", "/run/a/input%5ctrace.csv",
		"/run/a/plots/cdf_byt.png%00.html", "/run/a//input/trace.csv", "/run/a/./input/trace.csv",
	}
	for _, p := range refused {
		code, body := get(t, s, p)
		if strings.Contains(body, "PRIVATE") || (code == 200 && !strings.Contains(body, `id="metrics"`) && !strings.Contains(body, `"kind"`)) {
			t.Errorf("%s served (%d): %.60q", p, code, body)
		}
		if code == 200 && strings.Contains(p, "input") {
			t.Errorf("%s: 200", p)
		}
	}
	// A redirect (the mux cleans dot segments) must not lead anywhere
	// private either.
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, p := range refused {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "PRIVATE") {
			t.Errorf("%s (following redirects): private content served", p)
		}
	}
	code, body := get(t, s, "/")
	if code != 200 || strings.Contains(body, "outside-run") || strings.Contains(body, `href="/run/c/"`) {
		t.Errorf("index lists a linked run: %d", code)
	}
}

// With AllFiles the run's other files are served, still without listings
// and without links out of the run.
func TestServerAllFiles(t *testing.T) {
	root, _ := privateRun(t)
	s, err := NewServer(root, ServerOptions{AllFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s, "/run/a/input/trace.csv"); code != 200 || body != "PRIVATE-INPUT" {
		t.Errorf("input with AllFiles: %d %q", code, body)
	}
	if code, _ := get(t, s, "/run/a/plots/input.png"); code != 200 {
		t.Errorf("link inside the run with AllFiles: %d", code)
	}
	for _, p := range []string{"/run/a/input/", "/run/a/models/", "/run/a/plots/pw.png", "/run/a/plotlink/passwd", "/run/a/%2e%2e/%2e%2e/etc/passwd"} {
		if code, body := get(t, s, p); code == 200 || strings.Contains(body, "OUTSIDE") {
			t.Errorf("%s with AllFiles: %d", p, code)
		}
	}
}

func TestServerHeaders(t *testing.T) {
	root := twoRuns(t)
	s, err := NewServer(root, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/run/a/", "/run/b/", "/run/a/plots/cdf_byt.png", "/run/a/metrics.json", "/run/zzz/"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		h := rec.Result().Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'unsafe-inline'", "img-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP allows scripts: %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", p, h.Get("X-Content-Type-Options"))
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/run/a/metrics.json", nil))
	if ct := rec.Result().Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("metrics.json content type %q", ct)
	}
}

// The comparison page shows each run's references, the metrics' units and
// the date of each evaluation, not the synthetic values alone.
func TestServerIndexShowsReferencesUnitsDates(t *testing.T) {
	root := twoRuns(t)
	when := time.Date(2024, 3, 5, 9, 30, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "b", MetricsFile), when, when)
	s, err := NewServer(root, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, s, "/")
	res := sampleResult(t)
	floor := fmtF(res.Baselines.Bootstrap.MeanJointTVD())
	marg := fmtF(res.Baselines.Marginal.MeanJointTVD())
	half := fmtF(res.Baselines.SplitHalf.MeanJointTVD())
	if !strings.Contains(body, "floor "+floor+" · marginal "+marg+" · split half "+half) {
		t.Errorf("index lacks the references of mean joint TVD (floor %s, marginal %s, split half %s)", floor, marg, half)
	}
	if v := res.Verdict; v == nil || !strings.Contains(body, `<th class="v-`+v.Status+`" title="`+template.HTMLEscapeString(v.Summary)+`">`+v.Status+`</th>`) {
		t.Errorf("index lacks the verdict %+v", v)
	}
	if !strings.Contains(body, `<td class="worse">`) {
		t.Error("index marks no value far above its floor")
	}
	if !strings.Contains(body, "2024-03-05 09:30 UTC") {
		t.Error("index lacks the evaluation date")
	}
	for _, u := range []string{">nats<", ">s<", ">bytes<", ">packets<"} {
		if !strings.Contains(body, u) {
			t.Errorf("index lacks unit %s", u)
		}
	}
}
