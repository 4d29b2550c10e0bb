package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/nn/blas"
)

// A finished stage whose recorded outputs are missing or changed is not
// skipped: deleting the synthetic trace, truncating the metrics or
// removing a pre-processing file makes the next run redo that stage (and
// gives the same synthetic trace again).
func TestChangedOutputsAreRedone(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, 10)
	runAll(t, Options{Dir: dir, Config: cfg})
	syn := filepath.Join(dir, "synthetic.csv")
	want, err := os.ReadFile(syn)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(syn); err != nil {
		t.Fatal(err)
	}
	r := runAll(t, Options{Dir: dir, Config: cfg})
	got, err := os.ReadFile(syn)
	if err != nil {
		t.Fatalf("the deleted synthetic trace was not written again: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the synthetic trace written again differs")
	}

	metrics := filepath.Join(dir, "metrics.json")
	b, _ := os.ReadFile(metrics)
	os.WriteFile(metrics, b[:len(b)/2], 0o644)
	evaluated := r.Man.Stage("evaluate").Finished
	r = runAll(t, Options{Dir: dir, Config: cfg})
	if !r.Man.Stage("evaluate").Finished.After(evaluated) {
		t.Error("truncated metrics.json: the evaluation was skipped")
	}

	schema := filepath.Join(dir, PreDir, SchemaFile)
	b, _ = os.ReadFile(schema)
	os.WriteFile(schema, bytes.Replace(b, []byte(`"flows"`), []byte(`"flowz"`), 1), 0o644) // same size
	pre := r.Man.Stage("preprocess").Finished
	r = runAll(t, Options{Dir: dir, Config: cfg})
	if !r.Man.Stage("preprocess").Finished.After(pre) {
		t.Error("changed schema.json: pre-processing was skipped")
	}
	if b2, _ := os.ReadFile(schema); !bytes.Equal(b2, b) {
		t.Error("schema.json was not written again")
	}

	model := filepath.Join(ModelDir(dir, 1), "job.key")
	os.Remove(model)
	trained := r.Man.Stage("train/chunk-001").Finished
	r = runAll(t, Options{Dir: dir, Config: cfg})
	if !r.Man.Stage("train/chunk-001").Finished.After(trained) {
		t.Error("a chunk whose model folder lost a file was not trained again")
	}
	if got, _ := os.ReadFile(syn); !bytes.Equal(got, want) {
		t.Error("after retraining, the synthetic trace differs")
	}
}

// A run directory with results is not silently re-used for another input
// or configuration: Open refuses, and leaves it as it was; with Force the
// stages run again and the outputs of the old input (its synthetic trace
// and the copy of the embedded sample) go.
func TestChangedInputOrConfigRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, 10)
	runAll(t, Options{Dir: dir, Config: cfg})
	before, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	capture := testutil.Testdata("netshare", "caida-small.pcapng")
	for name, opt := range map[string]Options{
		"input":  {Dir: dir, Input: capture, Config: cfg},
		"config": {Dir: dir, Config: tinyConfig(t, 20)},
		"audit":  {Dir: dir, Config: cfg, Audit: true},
	} {
		opt.Logger = quietLogger()
		r, err := Open(opt)
		if err == nil {
			r.Close()
			t.Errorf("changed %s accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), dir) {
			t.Errorf("changed %s: error %q does not name the directory and --force", name, err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, ManifestName)); !bytes.Equal(after, before) {
			t.Errorf("changed %s: the refused Open changed the manifest", name)
		}
	}
	// The same input and configuration open as before.
	runAll(t, Options{Dir: dir, Config: cfg})

	runAll(t, Options{Dir: dir, Input: capture, Config: cfg, Force: true})
	if _, err := os.Stat(filepath.Join(dir, "synthetic.pcap")); err != nil {
		t.Error(err)
	}
	for _, stale := range []string{"synthetic.csv", "input"} {
		if _, err := os.Stat(filepath.Join(dir, stale)); err == nil {
			t.Errorf("%s of the old input is still there", stale)
		}
	}
}

// A chunk whose latest checkpoint is truncated resumes from the one before
// it (with a warning) instead of failing, and training finishes.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, 30) // checkpoints every 10 iterations
	runAll(t, Options{Dir: dir, Config: cfg})
	mdir := ModelDir(dir, 0)
	w := filepath.Join(mdir, "model-000030.safetensors")
	raw, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(w, raw[:len(raw)/2], 0o644)
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))
	defer slog.SetDefault(prev)
	first := -1
	r, err := Open(Options{Dir: dir, Config: cfg, Logger: quietLogger(), Progress: func(p Progress) {
		if p.Chunk == 0 && first < 0 {
			first = p.First
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.RunAll(context.Background()); err != nil {
		t.Fatalf("run with a damaged checkpoint: %v", err)
	}
	if first != 20 {
		t.Errorf("chunk 0 resumed at iteration %d, want 20 (the checkpoint before the damaged one)", first)
	}
	if !strings.Contains(logs.String(), "resuming from the one before") {
		t.Errorf("no warning about the damaged checkpoint:\n%s", logs.String())
	}
}

// Generation runs at the BLAS thread count the configuration sets, not at
// the one earlier work in the process left (BLAS products may differ in
// their last bits with it), and leaves the process's count as it was.
func TestGenerationThreadsFixedByConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, 10)
	cfg.Train.Threads = 2
	runAll(t, Options{Dir: dir, Config: cfg})
	prev := blas.Threads()
	defer blas.SetThreads(prev)
	for _, left := range []int{1, 3} {
		blas.SetThreads(left) // what a training job before would leave
		var logs bytes.Buffer
		regenerate(t, Options{Dir: dir, Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if !strings.Contains(logs.String(), "msg=generating chunks=2 blas_threads=2") {
			t.Errorf("after a job left %d threads, generation did not run at train.threads (2):\n%s", left, logs.String())
		}
		if got := blas.Threads(); got != left {
			t.Errorf("generation left %d BLAS threads, want %d as before", got, left)
		}
	}
}

// The synthetic trace is the same bytes whatever the process did before
// and whatever BLAS thread count generation runs at: netshare's own
// kernels give bit-identical products for any split of the work (nn/blas
// tests that), so a generation in a fresh process, after an interrupted
// one, or on a machine with another core count writes the same trace.
func TestGenerationBytesIndependentOfThreads(t *testing.T) {
	if blas.Info().Backend != blas.Own {
		t.Skipf("checks the default backend (netshare's own kernels); this process uses %s", blas.Info().Name())
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, 10)
	runAll(t, Options{Dir: dir, Config: cfg})
	path := filepath.Join(dir, SyntheticBase+".csv")
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prev := blas.Threads()
	defer blas.SetThreads(prev)
	for _, threads := range []int{1, 3} {
		blas.SetThreads(threads)
		c := *cfg
		c.Train.Threads = threads
		regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("generation at %d BLAS threads wrote another trace (%d bytes, want %d)", threads, len(got), len(want))
		}
	}
}

// regenerate opens a finished run with opt and runs its generation again.
func regenerate(t *testing.T, opt Options) {
	t.Helper()
	r, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Force("generate"); err != nil {
		t.Fatal(err)
	}
	if err := r.Generate(context.Background()); err != nil {
		t.Fatal(err)
	}
}
