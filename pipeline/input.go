package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/internal/sampledata"
	"github.com/netshare-go/netshare/trace"
)

// Trace is a whole input trace in memory.
type Trace struct {
	Name    string
	Format  trace.Format
	Kind    trace.Kind
	Flows   []trace.Flow
	Packets []trace.Packet
	Stats   trace.Stats
}

// Len is the number of records.
func (t *Trace) Len() int {
	if t.Kind == trace.KindPackets {
		return len(t.Packets)
	}
	return len(t.Flows)
}

// ReadTrace reads every record of the trace at path.
func ReadTrace(path string, opt trace.Options) (*Trace, error) {
	src, err := trace.Open(path, opt)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return readSource(src)
}

func readSource(src *trace.Source) (*Trace, error) {
	t := &Trace{Name: src.Name, Format: src.Format, Kind: src.Kind()}
	switch t.Kind {
	case trace.KindPackets:
		r := src.Packets()
		for {
			var p trace.Packet
			if err := r.Next(&p); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			t.Packets = append(t.Packets, p)
		}
		t.Stats = r.Stats()
	default:
		r := src.Flows()
		for {
			var f trace.Flow
			if err := r.Next(&f); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			t.Flows = append(t.Flows, f)
		}
		t.Stats = r.Stats()
	}
	if t.Len() == 0 {
		return nil, fmt.Errorf("%s: no usable records (%s)", src.Name, t.Stats.SkippedText())
	}
	return t, nil
}

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
	p := filepath.Join(dir, "input", sampledata.Name)
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
func writeTrace(path string, t *Trace, f trace.Format) error {
	if t.Kind == trace.KindPackets {
		return trace.WritePcapFile(path, t.Packets, trace.PcapOptions{})
	}
	return trace.WriteFlowsFile(path, trace.DefaultLayout(f), t.Flows)
}
