package pipeline

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// TestGenerateDuration re-generates finished runs (flow records and a
// capture) for 2.3 times the input's span, and checks that the trace
// covers that span, in time order, about 2.3 times as large, that its
// first period is the trace generated without a duration, record for
// record, and that the other periods are not copies of it.
func TestGenerateDuration(t *testing.T) {
	for _, tc := range []struct {
		name, input string
	}{{"flows", ""}, {"packets", testutil.Testdata("netshare", "caida-small.pcapng")}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tinyConfig(t, 10)
			r := runAll(t, Options{Dir: dir, Input: tc.input, Config: cfg})
			split, err := LoadSplit(dir)
			if err != nil {
				t.Fatal(err)
			}
			start, span := split.Chunks[0].Start, split.Chunks[len(split.Chunks)-1].End-split.Chunks[0].Start
			path := r.Synthetic()
			base := times(t, path)

			c := *cfg
			c.Generate.Duration = (time.Duration(span*23/10) * time.Microsecond).String()
			regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
			long := times(t, path)
			if !slices.IsSorted(long) {
				t.Error("the longer trace is not in time order")
			}
			end := start + span*23/10
			if long[0] < start || long[len(long)-1] >= end || long[len(long)-1] < start+2*span {
				t.Errorf("times [%d, %d], want within [%d, %d) and past %d", long[0], long[len(long)-1], start, end, start+2*span)
			}
			if n, want := float64(len(long)), 2.3*float64(len(base)); n < 0.7*want || n > 1.3*want {
				t.Errorf("%d records, want about %.0f", len(long), want)
			}
			first := long[:len(base)]
			if !slices.Equal(first, base) || (len(long) > len(base) && long[len(base)] < start+span) {
				t.Error("the first period is not the trace generated without a duration")
			}
			second := []int64{}
			for _, v := range long[len(base):] {
				if v < start+2*span {
					second = append(second, v-span)
				}
			}
			if slices.Equal(second, base) {
				t.Error("the second period repeats the first")
			}
			man, err := LoadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			var st GenStats
			if err := man.Stage("generate").DecodeInfo(&st); err != nil || st.Periods != 3 || st.CutAtEnd == 0 || st.Records != len(long) {
				t.Errorf("generation figures %+v (%v): want 3 periods, records cut at the end, %d records", st, err, len(long))
			}
		})
	}
}

// times reads a trace's record times.
func times(t *testing.T, path string) []int64 {
	t.Helper()
	tr, err := trace.ReadAll(path, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ts []int64
	for i := range tr.Flows {
		ts = append(ts, tr.Flows[i].Start)
	}
	for i := range tr.Packets {
		ts = append(ts, tr.Packets[i].TS)
	}
	if len(ts) == 0 {
		t.Fatalf("%s: no records", filepath.Base(path))
	}
	return ts
}
