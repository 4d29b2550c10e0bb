package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func TestBuild(t *testing.T) {
	in := testutil.Testdata("flows", "ugr16-header.csv")
	orig, _, _, err := trace.ReadAllFlows(in, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "big.csv")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-in", in, "-copies", "3", "-out", out}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	got, _, format, err := trace.ReadAllFlows(out, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if format != trace.FormatUGR16CSV || len(got) != 3*len(orig) {
		t.Fatalf("got %d %s records, want %d UGR'16 ones", len(got), format, 3*len(orig))
	}
	d := shift(orig)
	if d%1_000_000 != 0 || d <= 0 {
		t.Fatalf("shift %d µs, want a positive whole number of seconds", d)
	}
	// Copies do not overlap in time.
	var lastEnd int64
	for i := range orig {
		lastEnd = max(lastEnd, orig[i].End())
	}
	for k := 0; k < 3; k++ {
		for i, o := range orig {
			g := got[k*len(orig)+i]
			want := o
			want.Start += int64(k) * d
			want.Src = o.Src&0xff00ffff | (o.Src>>16+uint32(k))&0xff<<16
			if g != want {
				t.Fatalf("copy %d record %d: got %+v, want %+v", k, i, g, want)
			}
			if k > 0 && g.Start <= lastEnd {
				t.Fatalf("copy %d record %d starts at %d, before copy 0 ends (%d)", k, i, g.Start, lastEnd)
			}
		}
	}
	if !strings.Contains(stdout.String(), "records (3 copies") {
		t.Errorf("stdout %q does not report the records", stdout.String())
	}
}

func TestCopySrcWraps(t *testing.T) {
	if got := copySrc(0x0aff0102, 2); got != 0x0a010102 {
		t.Errorf("copySrc(10.255.1.2, 2) = %s, want 10.1.1.2", trace.IPString(got))
	}
	if got := copySrc(0x0a000102, 0); got != 0x0a000102 {
		t.Errorf("copy 0 changed the address: %s", trace.IPString(got))
	}
}

// Without the input (the optional shared data set), the tool says so and
// exits 0.
func TestMissingInputSkips(t *testing.T) {
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "big.csv")
	rc := run([]string{"-in", filepath.Join(t.TempDir(), "absent.csv"), "-out", out}, &stdout, &stderr)
	if rc != 0 || !strings.Contains(stdout.String(), "nothing built") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and a message", rc, stdout.String(), stderr.String())
	}
}

func TestBadArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-copies", "0", "-out", "x.csv"}, &stdout, &stderr); rc != 2 {
		t.Errorf("-copies 0: exit %d, want 2", rc)
	}
	if rc := run([]string{"-copies", "2"}, &stdout, &stderr); rc != 2 {
		t.Errorf("no -out: exit %d, want 2", rc)
	}
}
