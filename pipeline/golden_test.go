package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/nn/blas"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden hashes under testdata/golden/pipeline")

// goldenMetrics are the metrics.json sections the pipeline determines (the
// records it wrote and how they compare with the real ones); the other
// sections (downstream tasks, reference generators) are eval's own and
// tested there.
var goldenMetrics = []string{"kind", "real_records", "synthetic_records", "jsd", "emd", "emd_normalized", "joint", "mean_jsd", "mean_emd_normalized", "privacy"}

// runHashes hashes the deterministic outputs of a finished run directory:
// the saved configuration, everything pre-processing wrote, the models (with
// their job keys), the synthetic trace, and the metrics named by
// goldenMetrics. The manifest (timestamps, absolute paths), the report and
// the plots are left out; so are files that name the run directory (dp: the
// job keys and model manifests of chunks started from a public run).
func runHashes(t *testing.T, dir string, skip func(rel string) bool) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		top, _, _ := strings.Cut(rel, "/")
		switch {
		case rel == ManifestName, rel == LockFile, rel == "report.html", top == "plots", top == "input",
			filepath.Base(rel) == "losses.json": // it holds training times
			return nil
		case skip != nil && skip(rel):
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "metrics.json" {
			var all map[string]json.RawMessage
			if err := json.Unmarshal(b, &all); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			kept := map[string]json.RawMessage{}
			for _, k := range goldenMetrics {
				if v, ok := all[k]; ok {
					kept[k] = v
				}
			}
			if b, err = json.Marshal(kept); err != nil {
				return err
			}
		}
		s := sha256.Sum256(b)
		out = append(out, hex.EncodeToString(s[:])+"  "+rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return out
}

func checkGolden(t *testing.T, name string, got []string) {
	t.Helper()
	path := testutil.Testdata("golden", "pipeline", name+".sha256")
	text := strings.Join(got, "\n") + "\n"
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline -run TestGolden -update to record it)", err)
	}
	if string(want) == text {
		return
	}
	wl := strings.Split(strings.TrimSpace(string(want)), "\n")
	wantBy := map[string]string{}
	for _, l := range wl {
		if len(l) > 66 {
			wantBy[l[66:]] = l[:64]
		}
	}
	for _, l := range got {
		f := l[66:]
		w, ok := wantBy[f]
		switch {
		case !ok:
			t.Errorf("%s: not in the golden list", f)
		case w != l[:64]:
			t.Errorf("%s: SHA-256 %s, golden %s", f, l[:12], w[:12])
		}
		delete(wantBy, f)
	}
	for f := range wantBy {
		t.Errorf("%s: in the golden list, not written", f)
	}
}

// useGonum runs the test on gonum's pure-Go BLAS: the golden hashes fix
// every bit of the output, and another backend (OpenBLAS, an assembly
// kernel) rounds the products' sums differently. They depend on nothing
// else of the machine: training, generation and evaluation are
// deterministic for a seed, whatever the thread count.
func useGonum(t *testing.T) {
	prev, err := blas.Use(blas.Gonum)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blas.Use(prev) })
}

// TestGoldenOutputs runs the whole pipeline on a flow trace, a capture and
// a differentially private run over fixed seeds, and compares every
// deterministic output, byte for byte, with the hashes recorded under
// testdata/golden/pipeline: a change to how the pipeline is organised must
// not change what it writes. A deliberate change of output re-records them
// with -update.
func TestGoldenOutputs(t *testing.T) {
	useGonum(t)
	flowsDir := t.TempDir()
	t.Run("flows", func(t *testing.T) {
		runAll(t, Options{Dir: flowsDir, Input: testutil.Testdata("netshare", "ugr16-small.csv"), Config: tinyConfig(t, 30)})
		checkGolden(t, "flows", runHashes(t, flowsDir, nil))
	})
	t.Run("packets", func(t *testing.T) {
		dir := t.TempDir()
		runAll(t, Options{Dir: dir, Input: testutil.Testdata("netshare", "caida-small.pcapng"), Config: tinyConfig(t, 30)})
		checkGolden(t, "packets", runHashes(t, dir, nil))
	})
	t.Run("dp", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(flowsDir, "synthetic.csv")); err != nil {
			t.Skip("needs the flows run as its public run")
		}
		dir := t.TempDir()
		cfg := tinyConfig(t, 20)
		cfg.DP = config.DP{Enabled: true, Epsilon: 5, Clip: 1, Pretrained: flowsDir, Init: "public", CountNoise: 20, PublicSchema: true}
		cfg.LongFlows = "truncate"
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		runAll(t, Options{Dir: dir, Input: testutil.Testdata("netshare", "ugr16-small.csv"), Config: cfg})
		// A job started from the public run names its folder: the key and
		// the split record where the embedding came from.
		named := func(rel string) bool {
			return strings.HasSuffix(rel, "/job.key") || rel == "config.yaml" || rel == "preprocess/split.json"
		}
		checkGolden(t, "dp", runHashes(t, dir, named))
		// The real trace's protocol pass shares are recorded for the
		// repair, but not under DP.
		if _, err := os.Stat(filepath.Join(flowsDir, PreDir, ProtocolFile)); err != nil {
			t.Errorf("the public run has no %s: %v", ProtocolFile, err)
		}
		if _, err := os.Stat(filepath.Join(dir, PreDir, ProtocolFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a DP run recorded %s (%v)", ProtocolFile, err)
		}
	})
}
