package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netshare-go/netshare/internal/testutil"
)

func runNetshare(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRoot(&out, &errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestEvalSelfIsZero(t *testing.T) {
	ugr := testutil.Testdata("netshare", "ugr16-small.csv")
	out, err := runNetshare(t, context.Background(), "eval", "--real", ugr, "--synthetic", ugr, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Kind              string             `json:"kind"`
		Real              int                `json:"real_records"`
		Syn               int                `json:"synthetic_records"`
		JSD               map[string]float64 `json:"jsd"`
		EMDNorm           map[string]float64 `json:"emd_normalized"`
		MeanJSD           *float64           `json:"mean_jsd"`
		MeanEMDNormalized *float64           `json:"mean_emd_normalized"`
		Joint             map[string]float64 `json:"joint"`
		Downstream        map[string]any     `json:"downstream"`
		Baselines         map[string]any     `json:"baselines"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if m.Kind != "flows" || m.Real != 1000 || m.Syn != 1000 || m.MeanJSD == nil || *m.MeanJSD != 0 || *m.MeanEMDNormalized != 0 || m.Joint["mean_joint_tvd"] != 0 {
		t.Errorf("self comparison: %+v", m)
	}
	for _, k := range []string{"srcip", "dstip", "srcport", "dstport", "proto"} {
		if v, ok := m.JSD[k]; !ok || v != 0 {
			t.Errorf("jsd %s = %v, %v", k, v, ok)
		}
	}
	if m.Downstream["traffic_type"] == nil || m.Baselines["bootstrap"] == nil {
		t.Errorf("downstream or baselines missing")
	}
}

func TestEvalPacketsTextAndReport(t *testing.T) {
	pc := testutil.Testdata("netshare", "caida-small.pcapng")
	dir := filepath.Join(t.TempDir(), "run")
	out, err := runNetshare(t, context.Background(), "eval", "--real", pc, "--synthetic", pc, "--report", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"kind: packets", "EMD pkt_len", "joint TVD flow_size_dstport", "traffic-type prediction: skipped"} {
		if !strings.Contains(out, s) {
			t.Errorf("text output lacks %q:\n%s", s, out)
		}
	}
	for _, f := range []string{"metrics.json", "report.html", "plots/cdf_pkt_len.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("report file %s: %v", f, err)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	ugr := testutil.Testdata("netshare", "ugr16-small.csv")
	pc := testutil.Testdata("netshare", "caida-small.pcapng")
	empty := filepath.Join(t.TempDir(), "empty.csv")
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--real", ugr}, "required"},
		{[]string{"eval", "--real", ugr, "--synthetic", pc}, "same kind"},
		{[]string{"eval", "--real", ugr, "--synthetic", empty}, "empty.csv"},
		{[]string{"eval", "--real", filepath.Join(t.TempDir(), "missing.csv"), "--synthetic", ugr}, "missing.csv"},
	} {
		_, err := runNetshare(t, context.Background(), c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to mention %q", c.args, err, c.want)
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestServeCommand(t *testing.T) {
	ugr := testutil.Testdata("netshare", "ugr16-small.csv")
	root := t.TempDir()
	if _, err := runNetshare(t, context.Background(), "eval", "--real", ugr, "--synthetic", ugr, "--no-downstream", "--report", filepath.Join(root, "r1")); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runNetshare(t, ctx, "serve", root, "--addr", addr)
		done <- err
	}()
	var body string
	for i := 0; i < 100; i++ {
		resp, err := http.Get(fmt.Sprintf("http://%s/", addr))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(body, `href="/run/r1/"`) {
		t.Errorf("index page: %q", body)
	}
	if _, err := runNetshare(t, context.Background(), "serve", t.TempDir()); err == nil || !strings.Contains(err.Error(), "metrics.json") {
		t.Errorf("serve of an empty directory: %v", err)
	}
}

func TestEvalHoldoutAudit(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata("netshare", "ugr16-small.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	dir := t.TempDir()
	train, hold := filepath.Join(dir, "train.csv"), filepath.Join(dir, "holdout.csv")
	os.WriteFile(train, []byte(strings.Join(lines[:801], "\n")+"\n"), 0o644)
	os.WriteFile(hold, []byte(lines[0]+"\n"+strings.Join(lines[801:], "\n")+"\n"), 0o644)
	// The "synthetic" trace is the training file itself: a pure copy.
	out, err := runNetshare(t, context.Background(), "eval", "--real", train, "--synthetic", train, "--holdout", hold, "--no-downstream", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Audit struct {
			ExactCopy struct {
				Rate        float64  `json:"rate"`
				HoldoutRate *float64 `json:"holdout_rate"`
			} `json:"exact_copy"`
			Membership *struct {
				AUC float64 `json:"auc"`
			} `json:"membership_inference"`
			DCR *struct {
				SyntheticMedian float64 `json:"synthetic_median"`
			} `json:"distance_to_closest_record"`
		} `json:"privacy_audit"`
		Targets []struct {
			Name string `json:"name"`
			Pass *bool  `json:"pass"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	a := m.Audit
	if a.ExactCopy.Rate != 1 || a.ExactCopy.HoldoutRate == nil || a.Membership == nil || a.Membership.AUC < 0.9 || a.DCR == nil {
		t.Errorf("audit of a copy: %s", out)
	}
	failed := map[string]bool{}
	for _, tg := range m.Targets {
		if tg.Pass != nil && !*tg.Pass {
			failed[tg.Name] = true
		}
	}
	if !failed["exact_copy_rate"] || !failed["membership_auc"] {
		t.Errorf("a copy should fail the privacy targets: %+v", m.Targets)
	}
	if _, err := runNetshare(t, context.Background(), "eval", "--real", train, "--synthetic", train, "--holdout", testutil.Testdata("netshare", "caida-small.pcapng")); err == nil {
		t.Error("a packet holdout for a flow trace should be refused")
	}
}

func TestEvalSubsampleLimit(t *testing.T) {
	ugr := testutil.Testdata("netshare", "ugr16-small.csv")
	out, err := runNetshare(t, context.Background(), "eval", "--real", ugr, "--synthetic", ugr, "--subsample-limit", "300", "--no-baselines")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "seeded random subsample"); n != 2 {
		t.Errorf("text output names the subsample %d times, want 2:\n%s", n, out)
	}
	out, err = runNetshare(t, context.Background(), "eval", "--real", ugr, "--synthetic", ugr, "--json", "--no-baselines")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, `"subsample"`) {
		t.Error("subsample record with the default limit on 1,000 records")
	}
}
