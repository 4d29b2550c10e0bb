package cli

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func TestConvertPacketsToFlows(t *testing.T) {
	out := filepath.Join(t.TempDir(), "caida.csv")
	_, stderr, err := runTraceCLI(t, "convert", testutil.Testdata("netshare", "caida-small.pcapng"), out)
	if err != nil {
		t.Fatal(err)
	}
	flows, _, f, err := trace.ReadAllFlows(out, trace.Options{})
	if err != nil || f != trace.FormatUGR16CSV || len(flows) != 444 {
		t.Fatalf("%s: %d records, format %s, %v", out, len(flows), f, err)
	}
	var pkts uint64
	for _, fl := range flows {
		pkts += fl.Packets
	}
	if pkts != 1000 {
		t.Errorf("records hold %d packets, want 1000", pkts)
	}
	if !strings.Contains(stderr, "read=1000") || !strings.Contains(stderr, "note_fragment=1") || !strings.Contains(stderr, "records=444") {
		t.Errorf("stderr does not report the counts:\n%s", stderr)
	}
}

func TestConvertFlowLayouts(t *testing.T) {
	dir := t.TempDir()
	in := testutil.Testdata("netshare", "ugr16-small.csv")
	want, _, _, err := trace.ReadAllFlows(in, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// NetShare input stays NetShare by default; --layout ugr16 changes it.
	ns, ugr := filepath.Join(dir, "ns.csv"), filepath.Join(dir, "ugr.csv")
	if _, _, err := runTraceCLI(t, "convert", in, ns); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runTraceCLI(t, "convert", "--layout", "ugr16", in, ugr); err != nil {
		t.Fatal(err)
	}
	got, _, f, err := trace.ReadAllFlows(ns, trace.Options{})
	if err != nil || f != trace.FormatNetShareCSV || !reflect.DeepEqual(got, want) {
		t.Errorf("netshare → netshare: format %s, %v, equal %v", f, err, reflect.DeepEqual(got, want))
	}
	got, _, f, err = trace.ReadAllFlows(ugr, trace.Options{})
	if err != nil || f != trace.FormatUGR16CSV || len(got) != len(want) {
		t.Fatalf("netshare → ugr16: format %s, %d records, %v", f, len(got), err)
	}
	for i := range want {
		if got[i].Key() != want[i].Key() || got[i].Start != want[i].Start/1000*1000 || got[i].Packets != want[i].Packets {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// And back: a UGR'16 file converts to NetShare's layout.
	back := filepath.Join(dir, "back.csv")
	if _, _, err := runTraceCLI(t, "convert", "--layout", "netshare", ugr, back); err != nil {
		t.Fatal(err)
	}
	if _, _, f, err := trace.ReadAllFlows(back, trace.Options{}); err != nil || f != trace.FormatNetShareCSV {
		t.Errorf("ugr16 → netshare: %s, %v", f, err)
	}
}

func TestConvertToPcap(t *testing.T) {
	out := filepath.Join(t.TempDir(), "caida.pcap")
	if _, _, err := runTraceCLI(t, "convert", testutil.Testdata("netshare", "caida-small.pcapng"), out); err != nil {
		t.Fatal(err)
	}
	pkts, st, f, err := trace.ReadAllPackets(out, trace.Options{})
	if err != nil || f != trace.FormatPcap || len(pkts) != 1000 || st.TotalSkipped() != 0 {
		t.Fatalf("%d packets, format %s, %v", len(pkts), f, err)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	flows := testutil.Testdata("netshare", "ugr16-small.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", flows, filepath.Join(dir, "x.pcap")}, "flow records cannot be turned into packets"},
		{[]string{"convert", flows, filepath.Join(dir, "x.txt")}, `unknown extension ".txt"`},
		{[]string{"convert", "--layout", "csv", flows, filepath.Join(dir, "x.csv")}, "unknown flow layout"},
		{[]string{"convert", filepath.Join(dir, "none.csv"), filepath.Join(dir, "y.csv")}, "no such file"},
		{[]string{"convert", flows}, "accepts 2 arg"},
	} {
		_, _, err := runTraceCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed conversions left files: %v", entries)
	}
}

func TestConvertSkipBad(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte("srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n"+
		"1,2,3,4,TCP,5,1,1,1,x\n2001:db8::1,2,3,4,TCP,5,1,1,1,x\n1,2,3,4,TCP,6,1,1,1,x\n"), 0o644)
	out := filepath.Join(dir, "out.csv")
	_, _, err := runTraceCLI(t, "convert", in, out)
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "IPv6") {
		t.Errorf("IPv6 row: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed conversion wrote %s", out)
	}
	_, stderr, err := runTraceCLI(t, "convert", "--skip-bad", in, out)
	if err != nil || !strings.Contains(stderr, "skipped_ipv6=1") {
		t.Errorf("--skip-bad: %v\n%s", err, stderr)
	}
	got, _, _, err := trace.ReadAllFlows(out, trace.Options{})
	if err != nil || len(got) != 2 {
		t.Errorf("%d records, %v", len(got), err)
	}
}

func TestConvertUsageOnArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	flows := testutil.Testdata("netshare", "ugr16-small.csv")
	for _, c := range []struct {
		args  []string
		usage bool
	}{
		{[]string{"convert"}, true},
		{[]string{"convert", flows}, true},
		{[]string{"convert", flows, filepath.Join(dir, "a.csv"), "extra"}, true},
		{[]string{"convert", "--no-such-flag", flows, filepath.Join(dir, "a.csv")}, true},
		{[]string{"convert", "--layout", "csv", flows, filepath.Join(dir, "a.csv")}, true},
		{[]string{"convert", "--format", "xml", flows, filepath.Join(dir, "a.csv")}, true},
		{[]string{"convert", flows, filepath.Join(dir, "a.txt")}, true},
		// Errors in what is read are not about how convert was called.
		{[]string{"convert", filepath.Join(dir, "none.csv"), filepath.Join(dir, "a.csv")}, false},
		{[]string{"convert", flows, filepath.Join(dir, "a.pcap")}, false},
	} {
		code, stderr := runMain(t, c.args...)
		want := 1
		if c.usage {
			want = 2
		}
		if got := strings.Contains(stderr, "usage: netshare convert IN OUT [flags]\n"); got != c.usage || code != want {
			t.Errorf("%v: status %d, usage line %v; want status %d, usage line %v; stderr:\n%s", c.args, code, got, want, c.usage, stderr)
		}
	}
}

// A capture cut in the middle of a record converts with --skip-bad (the
// records before the cut, the cut one counted); without it the error names
// the file, the record's byte offset and its number.
func TestConvertSkipBadTruncatedCapture(t *testing.T) {
	data, err := os.ReadFile(testutil.Testdata("netshare", "http.cap"))
	if err != nil {
		t.Fatal(err)
	}
	// Walk the little-endian record headers to the 10th record.
	off := 24
	for i := 0; i < 9; i++ {
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "cut.cap")
	if err := os.WriteFile(in, data[:off+16+4], 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pcap")
	_, _, err = runTraceCLI(t, "convert", in, out)
	if err == nil || !strings.Contains(err.Error(), in) || !strings.Contains(err.Error(), fmt.Sprintf("byte offset %d, record 10", off)) {
		t.Errorf("without --skip-bad: %v", err)
	}
	_, stderr, err := runTraceCLI(t, "convert", "--skip-bad", in, out)
	if err != nil || !strings.Contains(stderr, "skipped_truncated-record=1") {
		t.Fatalf("--skip-bad: %v\n%s", err, stderr)
	}
	pkts, _, _, err := trace.ReadAllPackets(out, trace.Options{})
	want, _, _, _ := trace.ReadAllPackets(in, trace.Options{}) // the packets before the error
	if err != nil || len(pkts) != len(want) || len(pkts) == 0 {
		t.Errorf("--skip-bad wrote %d packets (%v), want %d", len(pkts), err, len(want))
	}
}
