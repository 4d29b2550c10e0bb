package trace

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// ConvertOptions control [Convert].
type ConvertOptions struct {
	// Read says how the input is read (SkipBad, a forced Format).
	Read Options
	// Layout is the layout of a flow CSV output; "" takes
	// [DefaultLayout] of the input's format.
	Layout Layout
	// Aggregate sets the timeouts with which packets become flow records
	// when a capture is written as flow CSV.
	Aggregate AggregateConfig
	// Pcap controls a pcap output.
	Pcap PcapOptions
}

// ConvertResult says what [Convert] read and wrote.
type ConvertResult struct {
	Format  Format // the input's format
	Output  Kind   // what the output holds
	Layout  Layout // the layout of a flow CSV output; "" for pcap
	Written int64  // records (flow records or packets) written
	// Stats is what the input reader read and skipped: packets for a
	// capture (also when it is aggregated into flow records), flow records
	// for a flow trace.
	Stats Stats
}

// ErrOutputExt is returned for an output path whose extension names no
// output [Convert] can write.
var ErrOutputExt = errors.New("unknown extension")

// OutputKind returns what [Convert] writes to path, from its extension
// (case-insensitive): flow records for ".csv", packets for ".pcap".
func OutputKind(path string) (Kind, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return KindFlows, nil
	case ".pcap":
		return KindPackets, nil
	}
	return 0, fmt.Errorf("output %s: %w %q (want .csv for flow records or .pcap for packets)", path, ErrOutputExt, filepath.Ext(path))
}

// Convert reads the trace at in and writes it to out, whose kind comes from
// its extension (see [OutputKind]):
//
//   - .csv: flow records in opt.Layout. A capture's packets are aggregated
//     into unidirectional flow records by 5-tuple (opt.Aggregate); a flow
//     trace's records are copied.
//   - .pcap: a capture's packets as raw-IPv4 pcap (see [PcapWriter]). Flow
//     records cannot become packets: a flow trace is an error.
//
// Both stream: memory does not grow with the trace (beyond the open flows
// of an aggregation). out is replaced atomically, and only on success. An
// error in the input is the reader's (a [*PosError] for malformed input);
// other errors name both files. The result is filled as far as the
// conversion got, also on error.
func Convert(in, out string, opt ConvertOptions) (ConvertResult, error) {
	var res ConvertResult
	kind, err := OutputKind(out)
	if err != nil {
		return res, err
	}
	res.Output = kind
	src, err := Open(in, opt.Read)
	if err != nil {
		return res, err
	}
	defer src.Close()
	res.Format = src.Format
	switch kind {
	case KindPackets:
		err = convertToPcap(src, out, opt, &res)
	default:
		err = convertToFlows(src, out, opt, &res)
	}
	if err != nil {
		var pe *PosError
		if !errors.As(err, &pe) {
			err = fmt.Errorf("convert %s to %s: %w", in, out, err)
		}
		return res, err
	}
	return res, nil
}

func convertToPcap(src *Source, out string, opt ConvertOptions, res *ConvertResult) error {
	if src.Kind() != KindPackets {
		return fmt.Errorf("%s holds flow records (%s), and flow records cannot be turned into packets", src.Name, src.Format)
	}
	pr := src.Packets()
	err := WritePcapFileFunc(out, opt.Pcap, func(w *PcapWriter) error {
		var p Packet
		for {
			if err := pr.Next(&p); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if err := w.Write(&p); err != nil {
				return err
			}
			res.Written++
		}
	})
	res.Stats = pr.Stats()
	return err
}

func convertToFlows(src *Source, out string, opt ConvertOptions, res *ConvertResult) error {
	layout := DefaultLayout(src.Format)
	if opt.Layout != "" {
		var err error
		if layout, err = ParseLayout(string(opt.Layout)); err != nil {
			return err
		}
	}
	res.Layout = layout
	var fr FlowReader
	var pr PacketReader
	if src.Kind() == KindPackets {
		pr = src.Packets()
		fr = AggregateFlows(pr, opt.Aggregate)
	} else {
		fr = src.Flows()
	}
	err := WriteFlowsFileFunc(out, layout, func(w *FlowWriter) error {
		var f Flow
		for {
			if err := fr.Next(&f); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if err := w.Write(&f); err != nil {
				return err
			}
			res.Written++
		}
	})
	if pr != nil {
		res.Stats = pr.Stats()
	} else {
		res.Stats = fr.Stats()
	}
	return err
}
