package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/internal/sampledata"
	"github.com/netshare-go/netshare/trace"
)

// sampleFolder holds, in a run directory, the copy of the embedded sample
// the run learns.
const sampleFolder = "input"

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
