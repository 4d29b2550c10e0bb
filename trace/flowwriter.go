package trace

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/netshare-go/netshare/internal/atomicfile"
)

// Layout is a flow CSV column layout.
type Layout string

const (
	// LayoutNetShare is NetShare's NetFlow CSV:
	// srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type with IPs as uint32
	// decimals, ts as integer microseconds since the epoch, td in seconds
	// (shortest exact decimal), proto by name and the label in "type".
	LayoutNetShare Layout = "netshare"
	// LayoutUGR16 is the UGR'16 / nfdump layout:
	// ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label with UTC times
	// "YYYY-MM-DD hh:mm:ss.fff" (truncated to the millisecond), te = the end
	// (ts+td, truncated), td in seconds with 3 decimals (rounded), flags as
	// nfdump's "UAPRSF" and proto by name.
	LayoutUGR16 Layout = "ugr16"
	// LayoutUGR16Micro is the UGR'16 layout at microsecond precision:
	// times "YYYY-MM-DD hh:mm:ss.ffffff" and td with 6 decimals, exact. It
	// reads back as UGR'16 CSV; netshare writes it for inputs whose times
	// have microseconds (Zeek logs, captures), whose sub-millisecond
	// durations the millisecond layout would round away.
	LayoutUGR16Micro Layout = "ugr16-us"
)

// ParseLayout returns the layout named s ("netshare", "ugr16" or
// "ugr16-us").
func ParseLayout(s string) (Layout, error) {
	switch l := Layout(strings.ToLower(strings.TrimSpace(s))); l {
	case LayoutNetShare, LayoutUGR16, LayoutUGR16Micro:
		return l, nil
	}
	return "", fmt.Errorf("unknown flow layout %q (want netshare, ugr16 or ugr16-us)", s)
}

// DefaultLayout is the layout flow records read from a trace of format f
// are written in: NetShare's for NetShare CSV, UGR'16 for UGR'16 CSV (both
// keep the input's precision), and UGR'16 at microsecond precision for
// Zeek logs and packet captures.
func DefaultLayout(f Format) Layout {
	switch f {
	case FormatNetShareCSV:
		return LayoutNetShare
	case FormatUGR16CSV:
		return LayoutUGR16
	}
	return LayoutUGR16Micro
}

// Format returns the input format a file in this layout is read as.
func (l Layout) Format() Format {
	if l == LayoutNetShare {
		return FormatNetShareCSV
	}
	return FormatUGR16CSV
}

const (
	headerNetShare = "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n"
	headerUGR16    = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n"
)

// FlowWriter writes flow records as CSV in one layout, one row per Write.
// It buffers nothing itself beyond one row; give it a buffered writer.
type FlowWriter struct {
	w      io.Writer
	layout Layout
	buf    []byte
	n      int64
}

// NewFlowWriter writes the header of layout to w and returns a writer for
// the rows.
func NewFlowWriter(w io.Writer, layout Layout) (*FlowWriter, error) {
	fw := &FlowWriter{w: w, layout: layout, buf: make([]byte, 0, 256)}
	var h string
	switch layout {
	case LayoutNetShare:
		h = headerNetShare
	case LayoutUGR16, LayoutUGR16Micro:
		h = headerUGR16
	default:
		return nil, fmt.Errorf("unknown flow layout %q", string(layout))
	}
	if _, err := io.WriteString(w, h); err != nil {
		return nil, err
	}
	return fw, nil
}

// Count returns the number of rows written.
func (w *FlowWriter) Count() int64 { return w.n }

// Write writes one flow record.
func (w *FlowWriter) Write(f *Flow) error {
	if f.Dur < 0 {
		return fmt.Errorf("flow %s: negative duration %d µs", f.Key(), f.Dur)
	}
	b := w.buf[:0]
	switch w.layout {
	case LayoutNetShare:
		b = AppendNetShareRow(b, f)
	case LayoutUGR16Micro:
		b = appendUGR16Row(b, f, true)
	default:
		b = appendUGR16Row(b, f, false)
	}
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	w.n++
	return nil
}

// AppendNetShareRow appends f as one NetShare CSV row (with its newline).
func AppendNetShareRow(b []byte, f *Flow) []byte {
	b = strconv.AppendUint(b, uint64(f.Src), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.Dst), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.SrcPort), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.DstPort), 10)
	b = append(b, ',')
	b = append(b, ProtoName(f.Proto)...)
	b = append(b, ',')
	b = strconv.AppendInt(b, f.Start, 10)
	b = append(b, ',')
	b = appendMicrosAsSeconds(b, f.Dur)
	b = append(b, ',')
	b = strconv.AppendUint(b, f.Packets, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, f.Bytes, 10)
	b = append(b, ',')
	b = appendCSVField(b, f.Label)
	return append(b, '\n')
}

// appendMicrosFixed appends us/1e6 (us ≥ 0) with exactly 6 decimals.
func appendMicrosFixed(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us/1_000_000, 10)
	b = append(b, '.')
	return appendPad(b, int(us%1_000_000), 6)
}

// appendMicrosAsSeconds appends us/1e6 as the shortest exact decimal.
func appendMicrosAsSeconds(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1_000_000, 10)
	frac := us % 1_000_000
	if frac == 0 {
		return b
	}
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for n > 0 && d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}

// AppendUGR16Row appends f as one UGR'16 CSV row (with its newline).
func AppendUGR16Row(b []byte, f *Flow) []byte { return appendUGR16Row(b, f, false) }

// appendUGR16Row appends f as one UGR'16 CSV row, its times to the
// millisecond or, when micro, to the microsecond.
func appendUGR16Row(b []byte, f *Flow, micro bool) []byte {
	if micro {
		b = appendDateTimeUs(b, f.Start)
		b = append(b, ',')
		b = appendDateTimeUs(b, f.Start+f.Dur)
		b = append(b, ',')
		b = appendMicrosFixed(b, f.Dur)
	} else {
		startMs, _ := floorDiv(f.Start, 1000)
		endMs, _ := floorDiv(f.Start+f.Dur, 1000)
		b = appendDateTimeMs(b, startMs)
		b = append(b, ',')
		b = appendDateTimeMs(b, endMs)
		b = append(b, ',')
		// Formatting the float rounds exactly as nfdump and Python's "%.3f" do.
		b = strconv.AppendFloat(b, float64(f.Dur)/1e6, 'f', 3, 64)
	}
	b = append(b, ',')
	b = appendIP(b, f.Src)
	b = append(b, ',')
	b = appendIP(b, f.Dst)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.SrcPort), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.DstPort), 10)
	b = append(b, ',')
	b = append(b, ProtoName(f.Proto)...)
	b = append(b, ',')
	b = appendFlagsUAPRSF(b, f.TCPFlags)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.Fwd), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.TOS), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, f.Packets, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, f.Bytes, 10)
	b = append(b, ',')
	b = appendCSVField(b, f.Label)
	return append(b, '\n')
}

// appendIP appends a dotted-quad IPv4 address.
func appendIP(b []byte, a uint32) []byte {
	b = strconv.AppendUint(b, uint64(a>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(a>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(a>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(a&0xff), 10)
}

// WriteFlowsFile atomically writes flows to path in layout.
func WriteFlowsFile(path string, layout Layout, flows []Flow) error {
	return WriteFlowsFileFunc(path, layout, func(w *FlowWriter) error {
		for i := range flows {
			if err := w.Write(&flows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteFlowsFileFunc atomically writes a flow CSV to path with whatever
// fill writes, streaming: path is replaced only when fill returns nil.
func WriteFlowsFileFunc(path string, layout Layout, fill func(w *FlowWriter) error) error {
	return atomicfile.Write(path, 0o644, func(out io.Writer) error {
		fw, err := NewFlowWriter(out, layout)
		if err != nil {
			return err
		}
		return fill(fw)
	})
}
