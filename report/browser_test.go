package report

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// saveArtefact keeps a file a person may want to look at: under
// $NETSHARE_ARTEFACTS when set, else in the test's temporary directory.
func saveArtefact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("NETSHARE_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artefact %s (%d bytes)", p, len(b))
}

func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary installed")
	return ""
}

// TestBrowserLoadsServedReport opens the served comparison page and a
// run's report in headless Chromium and checks what a person would see:
// the plots and the metric table, and no error in the page's console.
func TestBrowserLoadsServedReport(t *testing.T) {
	bin := chromium(t)
	root := twoRuns(t)
	s, err := NewServer(root, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s) // listens on 127.0.0.1
	defer srv.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	var mu sync.Mutex
	var problems []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console."+string(e.Type))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	}))
	defer bcancel()

	eval := func(expr string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return n
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("compare"))); err != nil {
		t.Fatalf("comparison page: %v", err)
	}
	ncompare := eval(`document.querySelectorAll("#compare tbody tr").length`)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/run/a/"), chromedp.WaitVisible(chromedp.ID("metrics"))); err != nil {
		t.Fatalf("run page: %v", err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	nsvg := eval(`Array.from(document.querySelectorAll("figure.plot svg")).filter(s => s.getBoundingClientRect().width > 100 && s.querySelectorAll("path").length > 0).length`)
	nrows := eval(`document.querySelectorAll("#metrics tbody tr").length`)
	// The audit's three targets, the joint TVD's and protocol validity.
	if n := eval(`document.querySelectorAll("#targets-table tbody tr").length`); n != 5 {
		t.Errorf("targets table has %d rows, want 5", n)
	}
	verdict, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("verdict")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(verdict), "Verdict: ") {
		t.Errorf("verdict line %q", verdict)
	}
	if n := eval(`document.querySelectorAll("#audit-table tbody tr").length`); n < 5 {
		t.Errorf("audit table has %d rows, want at least 5", n)
	}
	firstMetric, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#metrics tbody tr:first-child td:nth-child(2)")))
	if err != nil {
		t.Fatal(err)
	}
	// The run section: its tables, the loss curves drawn, the configuration
	// folded away until opened.
	if n := eval(`document.querySelectorAll("#chunks-table tbody tr").length`); n != 2 {
		t.Errorf("chunks table has %d rows, want 2", n)
	}
	if n := eval(`document.querySelectorAll("#stages-table tbody tr").length`); n != 3 {
		t.Errorf("stages table has %d rows, want 3", n)
	}
	if n := eval(`Array.from(document.querySelectorAll("#loss-figs figure svg")).filter(s => s.getBoundingClientRect().width > 100 && s.querySelectorAll("path").length > 0).length`); n != 3 {
		t.Errorf("%d loss figures drawn, want 3", n)
	}
	if n := eval(`document.querySelector("#config pre").checkVisibility() ? 1 : 0`); n != 0 {
		t.Error("configuration shown before it is opened")
	}
	if n := eval(`(document.querySelector("#config").open = true, document.querySelector("#config pre").checkVisibility() ? Math.round(document.querySelector("#config pre").getBoundingClientRect().height) : 0)`); n < 20 {
		t.Errorf("configuration %d px high once opened", n)
	}
	if n := eval(`document.querySelectorAll("#worst li").length`); n < 1 {
		t.Error("no field listed against its floor")
	}
	if n := eval(`document.querySelectorAll("#fig-timeline svg path").length`); n < 2 {
		t.Error("no records-over-time figure")
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	saveArtefact(t, "report-screenshot.png", shot)
	// A run without report.html is rendered from metrics.json.
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/run/b/"), chromedp.WaitVisible(chromedp.ID("metrics")), chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatalf("run b: %v", err)
	}
	if title != "run a" {
		t.Errorf("title %q", title)
	}
	if nsvg < 9 {
		t.Errorf("%d visible plots with drawn paths, want at least 9", nsvg)
	}
	want := len(Rows(sampleResult(t)))
	if nrows != want || ncompare != want {
		t.Errorf("metric table has %d rows, comparison %d, want %d", nrows, ncompare, want)
	}
	if strings.TrimSpace(firstMetric) != "mean JSD" {
		t.Errorf("first metric %q", firstMetric)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged problems:\n%s", strings.Join(problems, "\n"))
	}
}
