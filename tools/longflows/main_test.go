package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// TestBuild repeats a capture three times and checks that every flow is
// three times as long under its own 5-tuple, copy after copy in time.
func TestBuild(t *testing.T) {
	in := testutil.Testdata("netshare", "http.cap")
	orig, _, _, err := trace.ReadAllPackets(in, trace.Options{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "long.pcap")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-in", in, "-copies", "3", "-out", out}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	got, _, _, err := trace.ReadAllPackets(out, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*len(orig) {
		t.Fatalf("%d packets, want %d", len(got), 3*len(orig))
	}
	count := func(ps []trace.Packet) map[trace.Key]int {
		m := map[trace.Key]int{}
		for i := range ps {
			m[ps[i].Key()]++
		}
		return m
	}
	want, have := count(orig), count(got)
	longest := 0
	for k, n := range want {
		if have[k] != 3*n {
			t.Errorf("flow %v: %d packets, want %d", k, have[k], 3*n)
		}
		longest = max(longest, 3*n)
	}
	if len(have) != len(want) {
		t.Errorf("%d flows, want %d", len(have), len(want))
	}
	d := shift(orig)
	for i := range orig {
		for k := range 3 {
			if p := got[k*len(orig)+i]; p.TS != orig[i].TS+int64(k)*d || p.Key() != orig[i].Key() || p.Len != orig[i].Len {
				t.Fatalf("copy %d of packet %d: %+v, want %+v shifted by %d", k, i, p, orig[i], int64(k)*d)
			}
		}
	}
	if w := fmt.Sprintf("longest flow %d packets", longest); !strings.Contains(stdout.String(), w) {
		t.Errorf("output %q, want it to say %q", stdout.String(), w)
	}
}

func TestMissingInputIsNotAnError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-in", filepath.Join(t.TempDir(), "none.pcap"), "-out", filepath.Join(t.TempDir(), "x.pcap")}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	if !strings.Contains(stdout.String(), "not found") {
		t.Errorf("output %q", stdout.String())
	}
}
