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

// A trace of one flow record still runs end to end (most chunks empty),
// and one long flow is split, not lost.
func TestRunTinyTraces(t *testing.T) {
	one := []trace.Flow{{Start: 1_700_000_000_000_000, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: trace.ProtoTCP, Packets: 3, Bytes: 180}}
	var long []trace.Flow
	for i := range 70 {
		long = append(long, trace.Flow{Start: 1_700_000_000_000_000 + int64(i)*1_000_000, Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: trace.ProtoTCP, Packets: uint64(1 + i), Bytes: uint64(40 * (1 + i))})
	}
	for name, fs := range map[string][]trace.Flow{"one-record": one, "one-long-flow": long} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "in.csv")
			if err := trace.WriteFlowsFile(in, trace.LayoutUGR16, fs); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			r := runAll(t, Options{Dir: dir, Input: in, Config: tinyConfig(t, 10)})
			split, _ := LoadSplit(dir)
			kept := 0
			for _, c := range split.Chunks {
				kept += c.Records
			}
			if kept != len(fs) {
				t.Errorf("chunks hold %d records of %d", kept, len(fs))
			}
			if _, err := trace.ReadAll(r.SyntheticPath(trace.KindFlows), trace.Options{}); err != nil {
				t.Error(err)
			}
		})
	}
}

// Inputs that cannot be learned give errors that name the file.
func TestRunBadInputs(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"empty.csv":   "",
		"garbage.bin": "\x00\x01\x02 not a trace",
		"ipv6.csv":    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n2022-06-12 17:53:36.228,2022-06-12 17:53:36.228,0.000,2001:db8::1,2001:db8::2,1,2,TCP,......,0,0,1,40,x\n",
		"badrow.csv":  "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n2022-06-12 17:53:36.228,2022-06-12 17:53:36.228,0.000,1.2.3.4,5.6.7.8,1,2,TCP,......,0,0,many,40,x\n",
	}
	for name, content := range cases {
		in := filepath.Join(dir, name)
		os.WriteFile(in, []byte(content), 0o644)
		r, err := Open(Options{Dir: filepath.Join(dir, "run-"+name), Input: in, Config: tinyConfig(t, 5), Logger: quietLogger()})
		if err == nil {
			err = r.RunAll(context.Background())
			r.Close()
		}
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
		// The failed run leaves no run directory behind.
		if _, err := os.Stat(filepath.Join(dir, "run-"+name)); err == nil {
			t.Errorf("%s: the failed run left its directory", name)
		}
	}
	// A directory that was there before stays, even if the run fails in it.
	keep := filepath.Join(dir, "existing")
	os.Mkdir(keep, 0o755)
	if r, err := Open(Options{Dir: keep, Input: filepath.Join(dir, "ipv6.csv"), Config: tinyConfig(t, 5), Logger: quietLogger()}); err == nil {
		r.RunAll(context.Background())
		r.Close()
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a failed run removed the directory it was given: %v", err)
	}
}

// With skip_bad, malformed rows are skipped and counted by reason instead of
// failing the run; the records around them are all learned.
func TestRunSkipBadCountsRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n")
	for i := range 30 {
		fmt.Fprintf(&b, "2022-06-12 17:53:%02d.000,2022-06-12 17:53:%02d.100,0.100,10.0.0.%d,10.0.1.1,%d,443,TCP,.A....,0,0,%d,%d,background\n", i, i, i%5+1, 40000+i, i%4+1, 60*(i%4+1))
		if i%10 == 3 {
			b.WriteString("2022-06-12 17:53:40.000,2022-06-12 17:53:40.000,0.000,2001:db8::1,2001:db8::2,1,2,TCP,......,0,0,1,40,x\n")
		}
	}
	b.WriteString("2022-06-12 17:53:41.000,2022-06-12 17:53:41.000,0.000,1.2.3.4,5.6.7.8,1,2,TCP,......,0,0,many,40,x\n")
	in := filepath.Join(t.TempDir(), "mixed.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, 5)
	r, err := Open(Options{Dir: t.TempDir(), Input: in, Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunAll(context.Background()); err == nil || !strings.Contains(err.Error(), "mixed.csv") {
		t.Fatalf("without skip_bad: error %v, want one naming the file", err)
	}
	r.Close()
	cfg.SkipBad = true
	dir := t.TempDir()
	runAll(t, Options{Dir: dir, Input: in, Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if split.Skipped[trace.ReasonIPv6] != 3 || split.Skipped[trace.ReasonBadField] != 1 {
		t.Errorf("skipped %v, want 3 %s and 1 %s", split.Skipped, trace.ReasonIPv6, trace.ReasonBadField)
	}
	kept := 0
	for _, c := range split.Chunks {
		kept += c.Records
	}
	if kept != 30 {
		t.Errorf("chunks hold %d records, want 30", kept)
	}
}
