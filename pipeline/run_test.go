package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/dg"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// tinyConfig is the quick preset shrunk to train in a second or two.
func tinyConfig(t testing.TB, iterations int) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(testutil.TinyConfig(2, iterations, 10, "workers: 2")), "quick")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(devNull(), nil)) }

func devNull() *os.File {
	f, _ := os.Open(os.DevNull)
	return f
}

// syntheticFlows reads the flow records of the run's synthetic trace.
func syntheticFlows(t *testing.T, dir string) []trace.Flow {
	t.Helper()
	tr, err := trace.ReadAll(filepath.Join(dir, "synthetic.csv"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Flows
}

func runAll(t *testing.T, opt Options) *Run {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quietLogger()
	}
	r, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.RunAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func timeRange[R any](recs []R, ts func(*R) int64) (lo, hi int64) {
	lo, hi = ts(&recs[0]), ts(&recs[0])
	for i := range recs {
		lo, hi = min(lo, ts(&recs[i])), max(hi, ts(&recs[i]))
	}
	return lo, hi
}

func checkReport(t *testing.T, dir, kind string) {
	t.Helper()
	var m struct {
		Kind    string  `json:"kind"`
		MeanJSD float64 `json:"mean_jsd"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Kind != kind || !(m.MeanJSD >= 0) {
		t.Errorf("metrics.json: kind %q mean_jsd %v (%v)", m.Kind, m.MeanJSD, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || st.Size() == 0 {
		t.Errorf("report.html missing: %v", err)
	}
}

func TestRunFlowsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	r := runAll(t, Options{Dir: dir, Config: tinyConfig(t, 30)})
	real, err := trace.ReadAll(r.InputPath, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	syn, err := trace.ReadAll(filepath.Join(dir, "synthetic.csv"), trace.Options{})
	if err != nil {
		t.Fatalf("synthetic trace unreadable: %v", err)
	}
	if syn.Format != trace.FormatNetShareCSV {
		t.Errorf("synthetic trace written as %s, want the input's layout", syn.Format)
	}
	if n, want := syn.Len(), real.Len(); n < want/2 || n > want*2 {
		t.Errorf("%d synthetic records for %d real ones", n, want)
	}
	rlo, rhi := timeRange(real.Flows, func(f *trace.Flow) int64 { return f.Start })
	slo, shi := timeRange(syn.Flows, func(f *trace.Flow) int64 { return f.Start })
	if slo < rlo || shi > rhi {
		t.Errorf("synthetic time range [%d, %d] outside the real one [%d, %d]", slo, shi, rlo, rhi)
	}
	checkReport(t, dir, "flows")
	// The manifest keeps every figure of the generation.
	var st GenStats
	if err := r.Man.Stage("generate").DecodeInfo(&st); err != nil {
		t.Fatal(err)
	}
	perChunk := 0
	for _, n := range st.PerChunkFlows {
		perChunk += n
	}
	if st.Records != syn.Len() || len(st.PerChunkFlows) != 2 || perChunk != st.Flows || st.Flows == 0 {
		t.Errorf("generation figures %+v for %d synthetic records", st, syn.Len())
	}
	// A generated flow that would run past its chunk is fitted into it,
	// not cut.
	if st.OutOfRange != 0 {
		t.Errorf("%d records outside their chunk", st.OutOfRange)
	}
	// Each stage records the records it handled and, where the system
	// tells, the process's peak memory, never less than a stage's before.
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	var prev int64
	for _, c := range []struct {
		stage   string
		records int
	}{{"preprocess", real.Len()}, {"train/chunk-000", split.Chunks[0].Records}, {"generate", syn.Len()}, {"evaluate", real.Len() + syn.Len()}} {
		rec := r.Man.Stage(c.stage)
		if rec.Records != c.records || c.records == 0 {
			t.Errorf("%s: %d records recorded, want %d", c.stage, rec.Records, c.records)
		}
		if runtime.GOOS == "linux" && (rec.PeakRSS < 1<<20 || rec.PeakRSS < prev) {
			t.Errorf("%s: peak RSS %d bytes recorded (the stage before: %d)", c.stage, rec.PeakRSS, prev)
		}
		prev = rec.PeakRSS
	}

	// A second run finds every stage done and changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	runAll(t, Options{Dir: dir, Config: tinyConfig(t, 30)})
	after, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	if string(before) != string(after) {
		t.Error("re-running a finished run redid stages")
	}
	// More iterations retrain (resuming) and regenerate, once asked to.
	runAll(t, Options{Dir: dir, Config: tinyConfig(t, 40), Force: true})
	m, err := dg.Load(ModelDir(dir, 0))
	if err != nil || m.Iteration() != 40 {
		t.Errorf("after raising iterations the model is at %v (%v), want 40", m.Iteration(), err)
	}
}

func TestRunPacketsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	runAll(t, Options{Dir: dir, Input: in, Config: tinyConfig(t, 200)})
	real, _ := trace.ReadAll(in, trace.Options{})
	out := filepath.Join(dir, "synthetic.pcap")
	syn, err := trace.ReadAll(out, trace.Options{})
	if err != nil {
		t.Fatalf("synthetic capture unreadable: %v", err)
	}
	if n, want := syn.Len(), real.Len(); n < want/3 || n > want*3 {
		t.Errorf("%d synthetic packets for %d real ones", n, want)
	}
	rlo, rhi := timeRange(real.Packets, func(p *trace.Packet) int64 { return p.TS })
	slo, shi := timeRange(syn.Packets, func(p *trace.Packet) int64 { return p.TS })
	if slo < rlo || shi > rhi {
		t.Errorf("synthetic time range [%d, %d] outside the real one [%d, %d]", slo, shi, rlo, rhi)
	}
	checkReport(t, dir, "packets")
	if _, err := exec.LookPath("tshark"); err == nil {
		cmd := exec.Command("tshark", "-r", out, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", "-e", "_ws.expert.message")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, b)
		}
		for _, line := range strings.Split(string(b), "\n") {
			l := strings.ToLower(line)
			if strings.Contains(l, "malformed") || strings.Contains(l, "bad checksum") || strings.Contains(l, "incorrect") {
				t.Errorf("tshark: %s", line)
				break
			}
		}
	}
}

// The child process of TestKilledRunResumes: it runs the pipeline until the
// parent kills it.
func TestMain(m *testing.M) {
	if dir := os.Getenv("NETSHARE_TEST_CHILD_RUN"); dir != "" {
		c, err := config.Parse([]byte(os.Getenv("NETSHARE_TEST_CHILD_CONFIG")), "quick")
		if err == nil {
			var r *Run
			if r, err = Open(Options{Dir: dir, Config: c, Logger: quietLogger()}); err == nil {
				err = r.RunAll(context.Background())
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A run killed (SIGKILL) in the middle of training resumes from its last
// checkpoint when run again, and finishes with readable outputs.
func TestKilledRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, 5000)
	text, _ := cfg.YAML()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "NETSHARE_TEST_CHILD_RUN="+dir, "NETSHARE_TEST_CHILD_CONFIG="+string(text))
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for a checkpoint of chunk 0 past iteration 20, then kill.
	deadline := time.Now().Add(60 * time.Second)
	var at int
	for time.Now().Before(deadline) {
		if m, err := dg.Load(ModelDir(dir, 0)); err == nil && m.Iteration() >= 20 {
			at = m.Iteration()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	child.Process.Kill()
	child.Wait()
	if at == 0 {
		t.Fatal("no checkpoint written within a minute")
	}
	var mu sync.Mutex
	first := -1
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	r, err := Open(Options{Dir: dir, Config: cfg, Logger: log, Progress: func(p Progress) {
		mu.Lock()
		if p.Chunk == 0 && first < 0 {
			first = p.First
		}
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.RunAll(context.Background()); err != nil {
		t.Fatalf("resumed run failed: %v", err)
	}
	if first < at {
		t.Errorf("chunk 0 resumed at iteration %d, before the checkpoint at %d (or trained from scratch)", first, at)
	}
	if want := fmt.Sprintf(`msg="chunk training resumed from checkpoint" chunk=0 iteration=%d`, first); !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %s:\n%s", want, logs.String())
	}
	if _, err := trace.ReadAll(filepath.Join(dir, "synthetic.csv"), trace.Options{}); err != nil {
		t.Errorf("synthetic trace after resume: %v", err)
	}
	checkReport(t, dir, "flows")
}

// A DP run takes its schema and embedding from the public run, trains with
// DP-SGD from the public weights, and reports the ε it spent.
func TestRunDifferentiallyPrivate(t *testing.T) {
	pub := t.TempDir()
	runAll(t, Options{Dir: pub, Config: tinyConfig(t, 20)})
	priv := t.TempDir()
	cfg := tinyConfig(t, 20)
	cfg.DP = config.DP{Enabled: true, Epsilon: 5, Clip: 1, Pretrained: pub, Init: "public", CountNoise: 20, PublicSchema: true}
	cfg.LongFlows = "truncate"
	// Checkpoint selection would read the private flows outside the
	// accounting: DP turns it off.
	cfg.Train.SelectBest = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in := testutil.Testdata("netshare", "ugr16-small.csv")
	r := runAll(t, Options{Dir: priv, Input: in, Config: cfg})
	// The public schema, but for the public chunks' lengths, sizes and
	// records per port, which are not the private trace's.
	pubSpec, err := encoding.LoadSpec(filepath.Join(pub, PreDir, SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	privSpec, err := encoding.LoadSpec(filepath.Join(priv, PreDir, SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(pubSpec.LengthKnots) == 0 || len(privSpec.LengthKnots) != 0 || len(pubSpec.SizeKnots) == 0 || len(privSpec.SizeKnots) != 0 {
		t.Errorf("%d/%d length/size knot sets in the public schema, %d/%d in the private one; want some, then none",
			len(pubSpec.LengthKnots), len(pubSpec.SizeKnots), len(privSpec.LengthKnots), len(privSpec.SizeKnots))
	}
	if len(pubSpec.PortLengthKnots) == 0 || len(privSpec.PortLengthKnots)+len(privSpec.PortLengthFlows) != 0 {
		t.Errorf("%d port-length knot sets in the public schema, %d in the private one; want some, then none", len(pubSpec.PortLengthKnots), len(privSpec.PortLengthKnots))
	}
	pubSpec.LengthKnots, pubSpec.SizeKnots = nil, nil
	pubSpec.PortLengthKnots, pubSpec.PortLengthFlows = nil, nil
	pubSpec.DropChunkPriors() // nor its chunks' records per port
	if !reflect.DeepEqual(pubSpec, privSpec) {
		t.Error("the private run's schema differs from the public run's: it was derived from private data")
	}
	split, _ := LoadSplit(priv)
	if len(split.NoisyFlows) != len(split.Chunks) {
		t.Fatalf("noisy flow counts %v", split.NoisyFlows)
	}
	var m struct {
		Privacy *struct {
			Epsilon, Delta, Noise, Clip float64
			Steps                       int64
		} `json:"privacy"`
		Baselines map[string]json.RawMessage `json:"baselines"`
	}
	b, _ := os.ReadFile(filepath.Join(priv, "metrics.json"))
	if err := json.Unmarshal(b, &m); err != nil || m.Privacy == nil {
		t.Fatalf("metrics.json has no privacy section: %v", err)
	}
	p := m.Privacy
	if p.Epsilon > 5+1e-6 || p.Epsilon < 4.9 || p.Noise <= 0 || p.Clip != 1 || p.Delta != 1e-5 {
		t.Errorf("privacy %+v: want ε just under 5 with δ 1e-5", *p)
	}
	// Every chunk, each of its iterations with d_rounds critic steps.
	var want int64
	for _, ci := range split.Chunks {
		if ci.Flows > 0 {
			want += int64(cfg.Train.Iterations * cfg.Model.DRounds)
		}
	}
	if p.Steps != want {
		t.Errorf("accounted steps %d, want %d", p.Steps, want)
	}
	if m.Baselines["dp_marginal"] == nil {
		t.Error("metrics.json has no DP marginal baseline")
	}
	if r.Man.Privacy == nil || r.Man.Privacy.Epsilon != p.Epsilon {
		t.Errorf("manifest privacy %+v, metrics ε %v", r.Man.Privacy, p.Epsilon)
	}
	if _, err := trace.ReadAll(filepath.Join(priv, "synthetic.csv"), trace.Options{}); err != nil {
		t.Error(err)
	}
	plan, err := r.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range plan.Jobs() {
		if j.SelectBest {
			t.Errorf("chunk %d selects its checkpoint under DP", j.Chunk)
		}
		for _, f := range []string{SelectionFile, BestDir} {
			if _, err := os.Stat(filepath.Join(ModelDir(priv, j.Chunk), f)); err == nil {
				t.Errorf("chunk %d has %s under DP", j.Chunk, f)
			}
		}
	}
	if strings.Contains(string(b), "checkpoint_selection") {
		t.Error("metrics.json has checkpoint scores under DP")
	}
}

// Stage by stage over one directory, as the stage commands do: later
// stages find the configuration and the audit split saved by the first, and
// a forced stage runs again with the stages after it.
func TestStagesSeparatelyWithAudit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	r, err := Open(Options{Dir: dir, Config: tinyConfig(t, 20), Audit: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Preprocess(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	for _, stage := range []func(*Run, context.Context) error{(*Run).Train, (*Run).Generate, (*Run).Evaluate} {
		r, err := Open(Options{Dir: dir, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Audit {
			t.Fatal("a later stage lost the run's audit setting")
		}
		if err := stage(r, ctx); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	var m struct {
		Audit map[string]any `json:"privacy_audit"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err := json.Unmarshal(b, &m); err != nil || len(m.Audit) == 0 {
		t.Fatalf("metrics.json has no audit: %v", err)
	}
	if r, err = Open(Options{Dir: dir, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := r.Man.Stage("generate").Finished
	if err := r.Force("generate"); err != nil {
		t.Fatal(err)
	}
	if err := r.RunAll(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.Man.Stage("generate").Finished.After(before) || r.Man.Stage("evaluate").Finished.Before(r.Man.Stage("generate").Finished) {
		t.Error("forced generation did not run again, or its evaluation was not redone")
	}
	if err := r.Force("bogus"); err == nil {
		t.Error("unknown stage accepted")
	}
}
