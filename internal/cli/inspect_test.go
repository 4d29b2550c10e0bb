package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
)

// runCLI runs the CLI with args and returns stdout, stderr and the error.
func runTraceCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func TestInspectEmbeddedSample(t *testing.T) {
	out, _, err := runTraceCLI(t, "inspect")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ugr16-small.csv (embedded sample)", "netshare-csv (flows)", "records:         1000",
		"skipped:         0", "5-tuples:        989", "source IPs:      535", "destination IPs: 80",
		"first:           2016-03-18T10:47:52.364000Z", "TCP 437, ICMP 267, UDP 231, GRE 30, ESP 29, IPIP 5, IPv6 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestInspectJSON(t *testing.T) {
	out, _, err := runTraceCLI(t, "inspect", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"dst_ips", "end", "flows", "format", "ipv4_records", "protocols", "records", "skipped", "skipped_reasons", "src_ips", "start"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if m["format"] != "netshare-csv" || m["records"] != 1000.0 || m["src_ips"] != 535.0 || m["dst_ips"] != 80.0 ||
		m["flows"] != 989.0 || m["start"] != "2016-03-18T10:47:52.364000Z" || m["end"] != "2016-03-18T10:50:55.140000Z" {
		t.Errorf("summary %v", m)
	}
	protos := m["protocols"].(map[string]any)
	if protos["TCP"] != 437.0 || protos["IPv6"] != 1.0 || len(protos) != 7 {
		t.Errorf("protocols %v", protos)
	}

	out, _, err = runTraceCLI(t, "inspect", "--json", testutil.Testdata("gopacket", "gopacket-test_loopback.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Format         string           `json:"format"`
		Records        int              `json:"records"`
		Skipped        int              `json:"skipped"`
		SkippedReasons map[string]int   `json:"skipped_reasons"`
		IPv4           int              `json:"ipv4_records"`
		Start          *string          `json:"start"`
		Protocols      map[string]int64 `json:"protocols"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Format != "pcap" || s.Records != 24 || s.Skipped != 24 || s.SkippedReasons["ipv6"] != 24 || s.IPv4 != 0 || s.Start != nil {
		t.Errorf("loopback summary %+v", s)
	}
}

func TestInspectCapture(t *testing.T) {
	out, _, err := runTraceCLI(t, "inspect", "--json", testutil.Testdata("netshare", "caida-small.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"pcapng","records":1000,"skipped":0,"skipped_reasons":{},"ipv4_records":1000,"flows":444,"src_ips":416,"dst_ips":351,"start":"2018-03-15T12:59:33.289502Z","end":"2018-03-15T12:59:33.292094Z","protocols":{"TCP":843,"UDP":157}}`
	if strings.TrimSpace(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, nil, 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n1,2,3,4,TCP,5,1,1,1,x\n1,2,3\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", filepath.Join(dir, "missing.pcap")}, "no such file"},
		{[]string{"inspect", empty}, "empty.csv: empty file"},
		{[]string{"inspect", bad}, "bad.csv: line 3, record 2: row has 3 columns, want 10"},
		{[]string{"inspect", "--format", "nope", bad}, "unknown format"},
		{[]string{"inspect", testutil.Testdata("pcapng", "le-test901.pcapng")}, "unsupported pcapng version 2.0"},
	} {
		_, _, err := runTraceCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	// With --skip-bad the bad row is counted.
	out, _, err := runTraceCLI(t, "inspect", "--skip-bad", "--json", bad)
	if err != nil || !strings.Contains(out, `"skipped_reasons":{"wrong-columns":1}`) || !strings.Contains(out, `"records":2`) {
		t.Errorf("--skip-bad: %v %s", err, out)
	}
}
