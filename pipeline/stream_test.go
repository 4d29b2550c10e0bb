package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// preprocessOnly runs the pre-processing stage into dir.
func preprocessOnly(t *testing.T, opt Options) error {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quietLogger()
	}
	r, err := Open(opt)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Preprocess(context.Background())
}

// preFiles reads every file of a run's pre-processing folder.
func preFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, PreDir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("pre-processing left %s behind", e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, PreDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// A sort buffer of a few records (hundreds of runs, merged in two levels)
// gives byte for byte the pre-processing of an in-memory sort, and leaves
// no temporary file.
func TestPreprocessSpillsChangeNothing(t *testing.T) {
	defer func(n int) { SortBuffer = n }(SortBuffer)
	for _, tc := range []struct {
		input string
		audit bool
	}{
		{testutil.Testdata("netshare", "ugr16-small.csv"), false},
		{testutil.Testdata("netshare", "ugr16-small.csv"), true},
		{testutil.Testdata("netshare", "caida-small.pcapng"), true},
	} {
		t.Run(fmt.Sprintf("%s/audit=%v", filepath.Base(tc.input), tc.audit), func(t *testing.T) {
			var got []map[string][]byte
			for _, buf := range []int{1 << 20, 7} {
				SortBuffer = buf
				dir := t.TempDir()
				if err := preprocessOnly(t, Options{Dir: dir, Input: tc.input, Config: tinyConfig(t, 5), Audit: tc.audit}); err != nil {
					t.Fatal(err)
				}
				got = append(got, preFiles(t, dir))
			}
			if len(got[0]) < 5 {
				t.Fatalf("pre-processing wrote only %d files", len(got[0]))
			}
			for name, b := range got[0] {
				if !bytes.Equal(b, got[1][name]) {
					t.Errorf("%s differs with a sort buffer of 7 records", name)
				}
			}
		})
	}
}

// The audit's split keeps about 20% aside; a packet trace's 5-tuples are
// never on both sides.
func TestPreprocessAuditSplit(t *testing.T) {
	dir := t.TempDir()
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	if err := preprocessOnly(t, Options{Dir: dir, Input: in, Config: tinyConfig(t, 5), Audit: true}); err != nil {
		t.Fatal(err)
	}
	all, err := trace.ReadAll(in, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	train, err := trace.ReadAll(preFile(dir, TrainBase+".pcap"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hold, err := trace.ReadAll(preFile(dir, HoldoutBase+".pcap"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len()+hold.Len() != all.Len() {
		t.Fatalf("%d training and %d held-out packets of %d", train.Len(), hold.Len(), all.Len())
	}
	side := map[trace.Key]bool{}
	for _, p := range train.Packets {
		side[p.Key()] = true
	}
	for _, p := range hold.Packets {
		if side[p.Key()] {
			t.Fatalf("5-tuple %v is on both sides", p.Key())
		}
	}
	split, _ := LoadSplit(dir)
	if split.Holdout != hold.Len() || split.Records != train.Len() {
		t.Errorf("split.json: %d held out, %d records; files %d, %d", split.Holdout, split.Records, hold.Len(), train.Len())
	}
	held := map[trace.Key]bool{}
	for _, p := range hold.Packets {
		held[p.Key()] = true
	}
	if share := float64(len(held)) / float64(len(held)+len(side)); share < 0.12 || share > 0.28 {
		t.Errorf("%.2f of %d 5-tuples held out, want about 0.2", share, len(held)+len(side))
	}
}

func outlierTrace(t *testing.T) (string, int) {
	var fs []trace.Flow
	for i := range 400 {
		fs = append(fs, trace.Flow{Start: 1_700_000_000_000_000 + int64(i%97)*1_000_000, Dur: 1000, Src: uint32(1 + i%13), Dst: 2, SrcPort: uint16(1000 + i%7), DstPort: 80, Proto: trace.ProtoTCP, Packets: 3, Bytes: 180})
	}
	// A record from 1970, 123rd in the file.
	bad := 122
	fs[bad].Start = 5_000_000
	in := filepath.Join(t.TempDir(), "clock.csv")
	if err := trace.WriteFlowsFile(in, trace.LayoutUGR16, fs); err != nil {
		t.Fatal(err)
	}
	return in, len(fs)
}

// A time far outside the trace fails pre-processing with the file and the
// record, or with skip_bad is dropped and counted; either way the temporary
// files go.
func TestPreprocessTimeOutliers(t *testing.T) {
	in, n := outlierTrace(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, PreDir, spillDirPrefix+"stale"), 0o755)
	err := preprocessOnly(t, Options{Dir: dir, Input: in, Config: tinyConfig(t, 5)})
	if err == nil || !strings.Contains(err.Error(), "clock.csv: record 123: time 1970-01-01T00:00:05Z") {
		t.Fatalf("error %v, want one naming the file, the record and its time", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, PreDir))
	for _, e := range ents {
		t.Errorf("a failed pre-processing left %s", e.Name())
	}
	cfg := tinyConfig(t, 5)
	cfg.SkipBad = true
	dir = t.TempDir()
	if err := preprocessOnly(t, Options{Dir: dir, Input: in, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	preFiles(t, dir)
	split, _ := LoadSplit(dir)
	if split.Skipped[trace.ReasonTimeOutlier] != 1 || split.Records != n-1 {
		t.Errorf("skipped %v and kept %d records; want 1 time outlier and %d records", split.Skipped, split.Records, n-1)
	}
	if split.Chunks[0].Start != 1_700_000_000_000_000 {
		t.Errorf("the chunks start at %d, not at the first record kept", split.Chunks[0].Start)
	}
}

// A malformed row deep in the input fails with its file, line and column,
// and the sorted runs already written are removed.
func TestPreprocessBadRowDeepInFile(t *testing.T) {
	defer func(n int) { SortBuffer = n }(SortBuffer)
	SortBuffer = 100
	var b strings.Builder
	b.WriteString("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "2022-06-12 17:%02d:%02d.000,2022-06-12 17:%02d:%02d.100,0.100,10.0.0.%d,10.0.1.1,%d,443,TCP,.A....,0,0,%d,%d,background\n", i/60%60, i%60, i/60%60, i%60, i%5+1, 40000+i, i%4+1, 60*(i%4+1))
	}
	b.WriteString("2022-06-12 17:59:41.000,2022-06-12 17:59:41.000,0.000,1.2.3.4,5.6.7.8,1,2,TCP,......,0,0,many,40,x\n")
	in := filepath.Join(t.TempDir(), "deep.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err := preprocessOnly(t, Options{Dir: dir, Input: in, Config: tinyConfig(t, 5)})
	if err == nil || !strings.Contains(err.Error(), "deep.csv") || !strings.Contains(err.Error(), "3002") {
		t.Fatalf("error %v, want one naming the file and line 3002", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, PreDir))
	for _, e := range ents {
		t.Errorf("a failed pre-processing left %s", e.Name())
	}
}
