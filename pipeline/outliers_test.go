package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// A record whose time lies far outside the rest of the trace stops the run
// with an error naming the file, the record and its time; with skip_bad it
// is dropped and counted in split.json, and the chunks cover the rest.
func TestRunTimeOutlier(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n")
	for i := range 30 {
		ts := fmt.Sprintf("2022-06-12 17:53:%02d.000", i)
		if i == 17 {
			ts = "2200-01-01 00:00:00.000"
		}
		fmt.Fprintf(&b, "%s,%s,0.100,10.0.0.%d,10.0.1.1,%d,443,TCP,.A....,0,0,%d,%d,background\n", ts, ts, i%5+1, 40000+i, i%4+1, 60*(i%4+1))
	}
	in := filepath.Join(t.TempDir(), "future.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, 5)
	r, err := Open(Options{Dir: t.TempDir(), Input: in, Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	err = r.RunAll(context.Background())
	for _, want := range []string{"future.csv: record 18: time 2200-01-01T00:00:00Z lies far outside the rest of the trace (2022-06-12T17:53:00Z to 2022-06-12T17:53:29Z)", "--skip-bad"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("without skip_bad: error %v, want one saying %q", err, want)
		}
	}
	cfg.SkipBad = true
	dir := t.TempDir()
	runAll(t, Options{Dir: dir, Input: in, Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if split.Skipped[trace.ReasonTimeOutlier] != 1 {
		t.Errorf("skipped %v, want 1 %s", split.Skipped, trace.ReasonTimeOutlier)
	}
	kept := 0
	for _, c := range split.Chunks {
		kept += c.Records
	}
	last := split.Chunks[len(split.Chunks)-1]
	if kept != 29 || last.End-split.Chunks[0].Start > 60_000_000 {
		t.Errorf("chunks hold %d records over %d µs, want 29 within a minute", kept, last.End-split.Chunks[0].Start)
	}
}
