package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Skip reasons used by the flow readers (with Options.SkipBad).
const (
	ReasonBadCSV       = "bad-csv"       // a line that is not valid CSV (stray quote)
	ReasonWrongColumns = "wrong-columns" // a row with a different number of fields than the header
	ReasonBadField     = "bad-field"     // a field that cannot be parsed
	ReasonNoPackets    = "no-packets"    // a Zeek connection with no packets in either direction
	ReasonLongLine     = "long-line"     // a Zeek log line longer than 1 MiB
	ReasonUnknownProto = "unknown-transport"
	NoteOneDirection   = "one-direction"
)

// interner keeps one copy of each label, so records do not pin the lines
// they were read from (labels take few distinct values). Past 4,096
// distinct labels it copies instead.
type interner map[string]string

func (in *interner) get(s string) string {
	if v, ok := (*in)[s]; ok {
		return v
	}
	c := strings.Clone(s)
	if *in == nil {
		*in = make(interner)
	}
	if len(*in) < 4096 {
		(*in)[c] = c
	}
	return c
}

// rowParser turns one data row into a flow record; it returns the column at
// fault with an error.
type rowParser func(row []string, f *Flow) (col string, err error)

// csvFlowReader reads flow records from a CSV file one row at a time.
type csvFlowReader struct {
	name    string
	cr      *csvRows
	skipBad bool
	ncols   int
	parse   rowParser
	pending []string // a first row that was data, not a header
	stats   Stats
	rec     int64 // data rows seen
	closer  io.Closer
	err     error
}

// newCSVReader returns a reader of r's CSV records. Its rows point into
// its read buffer (see csvRows).
func newCSVReader(r io.Reader) *csvRows { return newCSVRows(r) }

// normHeader lower-cases and trims header names (and drops a UTF-8 BOM).
func normHeader(row []string) []string {
	h := make([]string, len(row))
	for i, c := range row {
		if i == 0 {
			c = strings.TrimPrefix(c, "\ufeff")
		}
		h[i] = strings.ToLower(strings.TrimSpace(c))
	}
	return h
}

// readHeader reads the first record of a CSV file.
func readHeader(name string, cr *csvRows) ([]string, error) {
	row, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
		}
		return nil, csvPosError(name, 0, err)
	}
	return normHeader(cloneRow(row)), nil
}

func csvPosError(name string, rec int64, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &PosError{File: name, Offset: -1, Line: pe.Line, Record: rec, Err: pe.Err}
	}
	return &PosError{File: name, Offset: -1, Record: rec, Err: err}
}

// missingColumnError is a CSV header's lack of a column its format needs.
type missingColumnError string

func (e missingColumnError) Error() string { return fmt.Sprintf("missing column %q", string(e)) }

// columns maps column names to indexes.
type columns map[string]int

func newColumns(header []string) columns {
	c := make(columns, len(header))
	for i, h := range header {
		if _, dup := c[h]; !dup {
			c[h] = i
		}
	}
	return c
}

// index returns the index of the first of names present, or -1.
func (c columns) index(names ...string) int {
	for _, n := range names {
		if i, ok := c[n]; ok {
			return i
		}
	}
	return -1
}

// require returns the indexes of names, or an error naming the first one
// missing.
func (c columns) require(names ...string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		j, ok := c[n]
		if !ok {
			return nil, missingColumnError(n)
		}
		idx[i] = j
	}
	return idx, nil
}

func (r *csvFlowReader) Next(f *Flow) error {
	if r.err != nil {
		return r.err
	}
	for {
		var row []string
		var err error
		if r.pending != nil {
			row, r.pending = r.pending, nil
		} else {
			row, err = r.cr.Read()
		}
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
				return io.EOF
			}
			r.rec++
			var pe *csv.ParseError
			if errors.As(err, &pe) && r.skipBad {
				r.stats.Skip(ReasonBadCSV)
				continue
			}
			r.err = csvPosError(r.name, r.rec, err)
			return r.err
		}
		r.rec++
		line, _ := r.cr.FieldPos(0)
		if len(row) != r.ncols {
			if r.skipBad {
				r.stats.Skip(ReasonWrongColumns)
				continue
			}
			r.err = &PosError{File: r.name, Offset: -1, Line: line, Record: r.rec,
				Err: fmt.Errorf("row has %d columns, want %d", len(row), r.ncols)}
			return r.err
		}
		*f = Flow{}
		col, err := r.parse(row, f)
		if err != nil {
			reason := ReasonBadField
			if errors.Is(err, ErrIPv6) {
				reason = ReasonIPv6
			}
			if r.skipBad {
				r.stats.Skip(reason)
				continue
			}
			r.err = &PosError{File: r.name, Offset: -1, Line: line, Record: r.rec, Column: col, Err: err}
			return r.err
		}
		r.stats.Read++
		return nil
	}
}

func (r *csvFlowReader) Stats() Stats { return r.stats.Clone() }

func (r *csvFlowReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

// netshareColumns are the columns NetShare's NetFlow CSV must have.
var netshareColumns = []string{"srcip", "dstip", "srcport", "dstport", "proto", "ts", "td", "pkt", "byt"}

// newNetShareReader reads NetShare's NetFlow CSV. Columns are found by
// name, so their order does not matter and extra columns are ignored. The
// label comes from "type" (NetShare's name) or else "label".
func newNetShareReader(name string, r io.Reader, opt Options, closer io.Closer) (*csvFlowReader, error) {
	cr := newCSVReader(r)
	header, err := readHeader(name, cr)
	if err != nil {
		return nil, err
	}
	cols := newColumns(header)
	idx, err := cols.require(netshareColumns...)
	if err != nil {
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: err}
	}
	src, dst, sp, dp, pr, ts, td, pkt, byt := idx[0], idx[1], idx[2], idx[3], idx[4], idx[5], idx[6], idx[7], idx[8]
	lbl := cols.index("type", "label")
	var labels interner
	parse := func(row []string, f *Flow) (string, error) {
		var err error
		var v uint64
		if f.Src, err = parseIPv4Field(row[src]); err != nil {
			return "srcip", err
		}
		if f.Dst, err = parseIPv4Field(row[dst]); err != nil {
			return "dstip", err
		}
		if v, err = parseUint(row[sp], 16); err != nil {
			return "srcport", err
		}
		f.SrcPort = uint16(v)
		if v, err = parseUint(row[dp], 16); err != nil {
			return "dstport", err
		}
		f.DstPort = uint16(v)
		if f.Proto, err = ParseProto(row[pr]); err != nil {
			return "proto", err
		}
		if f.Start, err = parseFixed(row[ts], 0); err != nil {
			return "ts", err
		}
		if f.Dur, err = parseFixed(row[td], 6); err != nil {
			return "td", err
		}
		if f.Packets, err = parseUint(row[pkt], 64); err != nil {
			return "pkt", err
		}
		if f.Bytes, err = parseUint(row[byt], 64); err != nil {
			return "byt", err
		}
		if lbl >= 0 {
			f.Label = labels.get(row[lbl])
		}
		return "", nil
	}
	return &csvFlowReader{name: name, cr: cr, skipBad: opt.SkipBad, ncols: len(header), parse: parse, closer: closer}, nil
}

// ugr16Columns are the UGR'16 columns in their usual order; a file with a
// header may order them differently. The real UGR'16 files have no header
// and no ts column (their first column is the flow end): ugr16Columns13.
var (
	ugr16Columns   = []string{"ts", "te", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "pkt", "byt", "label"}
	ugr16Columns13 = []string{"te", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "pkt", "byt", "label"}
)

// newUGR16Reader reads UGR'16-style CSV, with or without a header row.
func newUGR16Reader(name string, r io.Reader, opt Options, closer io.Closer) (*csvFlowReader, error) {
	cr := newCSVReader(r)
	first, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
		}
		return nil, csvPosError(name, 0, err)
	}
	var header []string
	var pending []string
	if len(first) > 0 && isDateTime(strings.TrimPrefix(first[0], "\ufeff")) {
		switch len(first) {
		case 14:
			header = ugr16Columns
		case 13:
			header = ugr16Columns13
		default:
			return nil, &PosError{File: name, Offset: -1, Line: 1,
				Err: fmt.Errorf("header-less UGR'16 row has %d columns, want 13 (te,td,...) or 14 (ts,te,td,...)", len(first))}
		}
		pending = cloneRow(first)
		pending[0] = strings.TrimPrefix(pending[0], "\ufeff")
	} else {
		header = normHeader(cloneRow(first))
	}
	cols := newColumns(header)
	idx, err := cols.require("sa", "da", "sp", "dp", "pr")
	if err != nil {
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: err}
	}
	sa, da, sp, dp, pr := idx[0], idx[1], idx[2], idx[3], idx[4]
	pkt, byt := cols.index("pkt", "ipkt"), cols.index("byt", "ibyt")
	ts, te, td := cols.index("ts"), cols.index("te"), cols.index("td")
	switch {
	case pkt < 0:
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: missingColumnError("pkt")}
	case byt < 0:
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: missingColumnError("byt")}
	case ts < 0 && te < 0:
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: missingColumnError("ts")}
	case td < 0 && (ts < 0 || te < 0):
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: missingColumnError("td")}
	}
	flg, fwd, stos, lbl := cols.index("flg"), cols.index("fwd"), cols.index("stos"), cols.index("label", "type")
	var labels interner
	parse := func(row []string, f *Flow) (string, error) {
		var err error
		var v uint64
		if td >= 0 {
			if f.Dur, err = parseFixed(row[td], 6); err != nil {
				return "td", err
			}
		}
		var end int64
		if te >= 0 {
			if end, err = parseDateTime(row[te]); err != nil {
				return "te", err
			}
		}
		if ts >= 0 {
			if f.Start, err = parseDateTime(row[ts]); err != nil {
				return "ts", err
			}
			if td < 0 {
				if end < f.Start {
					return "te", fmt.Errorf("flow ends (%s) before it starts", row[te])
				}
				f.Dur = end - f.Start
			}
		} else {
			f.Start = end - f.Dur
		}
		if f.Src, err = parseIPv4Field(row[sa]); err != nil {
			return "sa", err
		}
		if f.Dst, err = parseIPv4Field(row[da]); err != nil {
			return "da", err
		}
		if f.Proto, err = ParseProto(row[pr]); err != nil {
			return "pr", err
		}
		if v, err = parseUint(row[sp], 16); err != nil {
			return "sp", err
		}
		f.SrcPort = uint16(v)
		if f.DstPort, err = parseDstPort(row[dp], f.Proto); err != nil {
			return "dp", err
		}
		if flg >= 0 {
			if f.TCPFlags, err = parseTCPFlags(row[flg]); err != nil {
				return "flg", err
			}
		}
		if fwd >= 0 && row[fwd] != "" {
			if v, err = parseUint(row[fwd], 8); err != nil {
				return "fwd", err
			}
			f.Fwd = uint8(v)
		}
		if stos >= 0 && row[stos] != "" {
			if v, err = parseUint(row[stos], 8); err != nil {
				return "stos", err
			}
			f.TOS = uint8(v)
		}
		if f.Packets, err = parseUint(row[pkt], 64); err != nil {
			return header[pkt], err
		}
		if f.Bytes, err = parseUint(row[byt], 64); err != nil {
			return header[byt], err
		}
		if lbl >= 0 {
			f.Label = labels.get(row[lbl])
		}
		return "", nil
	}
	return &csvFlowReader{name: name, cr: cr, skipBad: opt.SkipBad, ncols: len(header), parse: parse,
		pending: pending, closer: closer}, nil
}

// parseDstPort parses a destination port; for ICMP it also accepts nfdump's
// "type.code" form and returns type*256+code.
func parseDstPort(s string, proto uint8) (uint16, error) {
	if proto == ProtoICMP {
		if i := strings.IndexByte(s, '.'); i > 0 {
			t, err1 := parseUint(s[:i], 8)
			c, err2 := parseUint(s[i+1:], 8)
			if err1 == nil && err2 == nil {
				return uint16(t<<8 | c), nil
			}
		}
	}
	v, err := parseUint(s, 16)
	return uint16(v), err
}
