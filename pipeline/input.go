package pipeline

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/internal/sampledata"
	"github.com/netshare-go/netshare/trace"
)

// sampleFolder holds, in a run directory, the copy of the embedded sample
// the run learns.
const sampleFolder = "input"

// ReadInput reads a run's input trace as trace.ReadAll does, then applies the
// time-outlier rule (trace.TimeOutliers): a record whose time lies far
// outside the rest of the trace is an error naming it, or with
// opt.SkipBad is dropped and counted as skipped (trace.ReasonTimeOutlier).
func ReadInput(path string, opt trace.Options) (*trace.Trace, error) {
	t, err := trace.ReadAll(path, opt)
	if err != nil {
		return nil, err
	}
	if err := dropTimeOutliers(t, opt.SkipBad); err != nil {
		return nil, err
	}
	return t, nil
}

func dropTimeOutliers(t *trace.Trace, skip bool) error {
	times := make([]int64, 0, t.Len())
	for i := range t.Packets {
		times = append(times, t.Packets[i].TS)
	}
	for i := range t.Flows {
		times = append(times, t.Flows[i].Time())
	}
	out := trace.TimeOutliers(times)
	if len(out) == 0 {
		return nil
	}
	if !skip {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for i, ti := range times {
			if _, isOut := slices.BinarySearch(out, i); !isOut {
				lo, hi = min(lo, ti), max(hi, ti)
			}
		}
		more := ""
		if len(out) > 1 {
			more = fmt.Sprintf(" (and %d more such records)", len(out)-1)
		}
		return fmt.Errorf("%s: record %d: time %s lies far outside the rest of the trace (%s to %s)%s; "+
			"it would stretch the time chunks over the gap: correct it, or pass --skip-bad (config key skip_bad) to drop such records",
			t.Name, out[0]+1, fmtTime(times[out[0]]), fmtTime(lo), fmtTime(hi), more)
	}
	keep := func(i int) bool { _, isOut := slices.BinarySearch(out, i); return !isOut }
	if t.Kind == trace.KindPackets {
		t.Packets = filterIndex(t.Packets, keep)
	} else {
		t.Flows = filterIndex(t.Flows, keep)
	}
	if t.Stats.Skipped == nil {
		t.Stats.Skipped = map[string]int64{}
	}
	t.Stats.Skipped[trace.ReasonTimeOutlier] += int64(len(out))
	t.Stats.Read -= int64(len(out))
	return nil
}

func filterIndex[T any](xs []T, keep func(int) bool) []T {
	out := xs[:0]
	for i := range xs {
		if keep(i) {
			out = append(out, xs[i])
		}
	}
	return out
}

func fmtTime(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339Nano) }

// EmbeddedSampleName is the input name recorded for runs on the sample
// embedded in the binary.
const EmbeddedSampleName = "embedded:" + sampledata.Name

// materialiseInput returns the path of the run's input: the given path, or
// for the embedded sample a copy written into the run directory, so that
// every stage (and every worker) reads its input from a file.
func materialiseInput(dir, path string) (string, error) {
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("input: %w", err)
		}
		return abs, nil
	}
	p := filepath.Join(dir, sampleFolder, sampledata.Name)
	if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, sampledata.UGR16Small) {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, atomicfile.WriteFile(p, sampledata.UGR16Small, 0o644)
}

// writeTrace writes records in the input's kind: a pcap for packets, a flow
// CSV for flows in the layout of an input of format f (its own for flow
// CSVs; UGR'16 at microsecond precision otherwise, since rounding Zeek's
// durations to the millisecond would move sub-millisecond flows between
// duration bins).
func writeTrace(path string, t *trace.Trace, f trace.Format) error {
	if t.Kind == trace.KindPackets {
		return trace.WritePcapFile(path, t.Packets, trace.PcapOptions{})
	}
	return trace.WriteFlowsFile(path, trace.DefaultLayout(f), t.Flows)
}
