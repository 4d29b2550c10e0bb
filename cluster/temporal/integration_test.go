package temporal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/pipeline"
)

// The cluster integration test runs a real Temporal development server
// (the temporal CLI's `server start-dev`), two `netshare worker` processes
// and `netshare run --executor temporal`, kills the worker training the
// base chunk with SIGKILL mid-training, and checks that the run completes
// with the same synthetic trace as a local run and that no chunk was
// trained twice from scratch.

// integrationConfig trains the base chunk for a few seconds with a
// checkpoint every 50 iterations, on one BLAS thread so that the result is
// bit-identical across processes.
const integrationConfig = `extends: quick
n_chunks: 3
train:
  iterations: 600
  checkpoint_every: 50
  threads: 1
`

// cliPackage is the module path of the temporal CLI; its version is pinned
// in .ci/temporal-cli-version.
const cliPackage = "github.com/temporalio/cli/cmd/temporal"

// temporalCLI returns the path of a temporal CLI: $NETSHARE_TEMPORAL_CLI,
// one on PATH or in the Go bin directory, or one installed now from the
// module proxy. It skips the test only when the CLI cannot be installed
// (no network, or no time left before the test's deadline).
func temporalCLI(t *testing.T) string {
	if p := os.Getenv("NETSHARE_TEMPORAL_CLI"); p != "" {
		return p
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	bin := goBinDir(t)
	p := filepath.Join(bin, "temporal")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p
	}
	if marker := os.Getenv("NETSHARE_TEMPORAL_INSTALL"); marker != "" {
		// .ci/run is building the CLI in the background: wait for it.
		t.Logf("waiting for the temporal CLI being installed in the background (%s)", marker)
		start := time.Now()
		for {
			if b, err := os.ReadFile(marker); err == nil {
				if strings.TrimSpace(string(b)) == "ok" {
					t.Logf("the temporal CLI is installed (waited %v)", time.Since(start).Round(time.Second))
					return p
				}
				break // the background install failed: try once more here
			}
			if dl, ok := t.Deadline(); ok && time.Until(dl) < 2*time.Minute {
				t.Skipf("the temporal CLI being installed in the background was not ready within this test's time limit (waited %v; rerun .ci/run, or use a longer -timeout)", time.Since(start).Round(time.Second))
			}
			time.Sleep(2 * time.Second)
		}
	}
	raw, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), ".ci", "temporal-cli-version"))
	if err != nil {
		t.Fatalf("pinned temporal CLI version: %v", err)
	}
	mod := cliPackage + "@" + strings.TrimSpace(string(raw))
	// Is the module proxy reachable? (Quick; the build is the slow part.)
	probe, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(probe, "go", "list", "-m", "-json", strings.Replace(mod, "/cmd/temporal", "", 1)).CombinedOutput(); err != nil {
		t.Skipf("cannot install the temporal CLI (%s): the module proxy is unreachable: %v\n%s", mod, err, out)
	}
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-2*time.Minute))
		defer cancel()
	}
	t.Logf("installing the temporal CLI (%s) into %s; this takes several minutes once", mod, bin)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "install", mod)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Skipf("installing the temporal CLI did not finish within this test's time limit (%v spent; the build cache keeps what was compiled: run .ci/run, rerun, or use a longer -timeout)", time.Since(start).Round(time.Second))
	}
	if err != nil {
		t.Fatalf("go install %s: %v\n%s", mod, err, out)
	}
	t.Logf("installed the temporal CLI in %v", time.Since(start).Round(time.Second))
	return p
}

func goBinDir(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) >= 1 && lines[0] != "" {
		return lines[0]
	}
	if len(lines) < 2 || lines[1] == "" {
		t.Fatal("go env: no GOBIN nor GOPATH")
	}
	return filepath.Join(filepath.SplitList(lines[1])[0], "bin")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process whose output goes to a log file; done is
// closed when it has exited, with its Wait error in err.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func start(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(90 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// checkpointIteration reads the iteration of a model folder's checkpoint
// (-1 when there is none).
func checkpointIteration(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, dg.ManifestFile))
	if err != nil {
		return -1
	}
	var m struct {
		Iteration int `json:"iteration"`
	}
	if json.Unmarshal(b, &m) != nil {
		return -1
	}
	return m.Iteration
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestClusterRunSurvivesKilledWorker(t *testing.T) {
	cli := temporalCLI(t)
	work := t.TempDir()
	ns := filepath.Join(work, "netshare")
	build := exec.Command("go", "build", "-o", ns, "./cmd/netshare")
	build.Dir = testutil.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build netshare: %v\n%s", err, out)
	}
	cfg := filepath.Join(work, "config.yaml")
	if err := os.WriteFile(cfg, []byte(integrationConfig), 0o644); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	server := start(t, work, "server", cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--http-port", strconv.Itoa(freePort(t)), "--metrics-port", strconv.Itoa(freePort(t)), "--log-level", "error")

	// The local reference run, while the server starts.
	localDir := filepath.Join(work, "local")
	if out, err := exec.Command(ns, "run", "--config", cfg, "--out", localDir).CombinedOutput(); err != nil {
		t.Fatalf("local run: %v\n%s", err, out)
	}

	// Wait for the server.
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := client.Dial(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(quiet())})
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-server.done:
			t.Fatalf("temporal server exited: %v\n%s", server.err, server.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporal server not reachable at %s: %v\n%s", addr, err, server.output())
		}
		time.Sleep(300 * time.Millisecond)
	}

	queue := "netshare-it"
	workers := map[int]*proc{}
	for i := range 2 {
		w := start(t, work, fmt.Sprintf("worker%d", i+1), ns, "worker", "--temporal", addr, "--task-queue", queue)
		workers[w.cmd.Process.Pid] = w
	}
	runDir := filepath.Join(work, "cluster")
	run := start(t, work, "run", ns, "run", "--executor", "temporal", "--temporal", addr, "--task-queue", queue,
		"--config", cfg, "--out", runDir, "--heartbeat-timeout", "3s")

	// Kill the worker training the base chunk right after a checkpoint
	// (its manifest is written last), well before the chunk ends.
	base := pipeline.ModelDir(runDir, 0)
	var (
		victim    *proc
		killedAt  int
		lastCheck = -1
	)
	deadline = time.Now().Add(3 * time.Minute)
	for victim == nil {
		select {
		case <-run.done:
			t.Fatalf("run ended before a worker could be killed: %v\n%s", run.err, run.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the base chunk's training was not seen\nrun:\n%s", run.output())
		}
		it := checkpointIteration(base)
		if it != lastCheck && it >= 100 {
			att, _ := ReadAttempts(base)
			if len(att) == 1 {
				pid, _ := strconv.Atoi(strings.SplitN(att[0].Worker, "@", 2)[0])
				if w := workers[pid]; w != nil {
					if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					victim, killedAt = w, it
					<-w.done
				}
			}
		}
		lastCheck = it
		time.Sleep(5 * time.Millisecond)
	}
	if killedAt >= 600 {
		t.Fatalf("the base chunk had finished (iteration %d) before its worker was killed", killedAt)
	}
	// The checkpoint may have moved on between the read and the kill.
	killedAt = checkpointIteration(base)
	t.Logf("killed %s (pid %d) with the base chunk's checkpoint at iteration %d", victim.name, victim.cmd.Process.Pid, killedAt)

	select {
	case <-run.done:
		if run.err != nil {
			t.Fatalf("cluster run: %v\n%s", run.err, run.output())
		}
	case <-time.After(4 * time.Minute):
		t.Fatalf("cluster run did not finish\nrun:\n%s", run.output())
	}
	if !strings.Contains(run.output(), "synthetic trace, metrics and report written to "+runDir) {
		t.Errorf("run output does not say where the outputs are:\n%s", run.output())
	}

	// The killed attempt is followed by one on the other worker that
	// resumed from the checkpoint the killed one left.
	att, err := ReadAttempts(base)
	if err != nil {
		t.Fatal(err)
	}
	victimID := fmt.Sprintf("%d@", victim.cmd.Process.Pid)
	if len(att) != 2 || !strings.HasPrefix(att[0].Worker, victimID) || att[0].First != 0 || !att[0].Ended.IsZero() ||
		strings.HasPrefix(att[1].Worker, victimID) || att[1].First != killedAt || att[1].Outcome != "done" || att[1].Reached != 600 {
		t.Errorf("base chunk's attempts %+v: want the killed one from 0, then one elsewhere resuming at %d", att, killedAt)
	}
	// No chunk trained twice from scratch.
	for c := range 3 {
		att, err := ReadAttempts(pipeline.ModelDir(runDir, c))
		if err != nil {
			t.Fatal(err)
		}
		fromScratch := 0
		for _, a := range att {
			if a.First == 0 {
				fromScratch++
			}
		}
		if len(att) == 0 || fromScratch != 1 {
			t.Errorf("chunk %d: %d attempts from iteration 0 (%+v), want exactly one", c, fromScratch, att)
		}
	}
	for pid, w := range workers {
		if w != victim && !strings.Contains(w.output(), "chunk training resumed") {
			t.Errorf("worker %d's log does not show the resumed chunk:\n%s", pid, w.output())
		}
	}

	// The same synthetic trace as the local run: the resumed training
	// continues the killed one's exact sequence from its checkpoint.
	local, cluster := filepath.Join(localDir, "synthetic.csv"), filepath.Join(runDir, "synthetic.csv")
	if n, m := countLines(t, local), countLines(t, cluster); n != m {
		t.Errorf("synthetic records: local %d, cluster %d", n, m)
	}
	a, _ := os.ReadFile(local)
	b, _ := os.ReadFile(cluster)
	if !bytes.Equal(a, b) {
		t.Errorf("the cluster run's synthetic trace differs from the local run's")
	}
	r, err := pipeline.Reopen(runDir, false, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"preprocess", "train/chunk-000", "train/chunk-001", "train/chunk-002", "generate", "evaluate"} {
		if r.Man.Stage(s) == nil {
			t.Errorf("manifest lacks stage %s", s)
		}
	}
	r.Close()

	// Submitting the finished run again attaches to nothing running: it
	// starts a workflow that skips every stage.
	out, err := exec.Command(ns, "run", "--executor", "temporal", "--temporal", addr, "--task-queue", queue,
		"--config", cfg, "--out", runDir).CombinedOutput()
	if err != nil {
		t.Fatalf("re-submission: %v\n%s", err, out)
	}
	att2, _ := ReadAttempts(base)
	if len(att2) != len(att) {
		t.Errorf("re-submission trained the base chunk again: %+v", att2)
	}
}
