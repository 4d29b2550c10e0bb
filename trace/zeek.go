package trace

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Zeek conn.log fields this package reads. duration, history and label are
// optional.
var zeekRequired = []string{"ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
	"orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}

// zeekCols holds the indexes of the fields of a conn log.
type zeekCols struct {
	n                         int
	ts, oh, op, rh, rp, proto int
	opk, oby, rpk, rby        int
	dur, hist, label          int
	unset, empty              string
	labels                    interner
}

func newZeekCols(header []string, unset, empty string) (*zeekCols, error) {
	cols := newColumns(header)
	idx, err := cols.require(zeekRequired...)
	if err != nil {
		return nil, err
	}
	return &zeekCols{
		n:  len(header),
		ts: idx[0], oh: idx[1], op: idx[2], rh: idx[3], rp: idx[4], proto: idx[5],
		opk: idx[6], oby: idx[7], rpk: idx[8], rby: idx[9],
		dur: cols.index("duration"), hist: cols.index("history"), label: cols.index("label"),
		unset: unset, empty: empty,
	}, nil
}

// isUnset reports a Zeek unset value ("-", or empty in the CSV form).
func (z *zeekCols) isUnset(s string) bool { return s == z.unset || s == "" }

// count parses an optional count field (unset = 0).
func (z *zeekCols) count(s string) (uint64, error) {
	if z.isUnset(s) {
		return 0, nil
	}
	return parseUint(s, 64)
}

// conn turns one conn.log row into up to two flow records, orig→resp
// first. It returns the number of records written to out, a skip reason
// for a connection that gives none (not an error), or the column at fault
// with an error.
func (z *zeekCols) conn(row []string, out *[2]Flow) (n int, reason, col string, err error) {
	proto := strings.ToLower(row[z.proto])
	var p uint8
	switch proto {
	case "tcp":
		p = ProtoTCP
	case "udp":
		p = ProtoUDP
	case "icmp":
		p = ProtoICMP
	default:
		if p, err = ParseProto(proto); err != nil {
			return 0, ReasonUnknownProto, "", nil
		}
	}
	oh, rh := row[z.oh], row[z.rh]
	if strings.IndexByte(oh, ':') >= 0 || strings.IndexByte(rh, ':') >= 0 {
		return 0, ReasonIPv6, "", nil
	}
	var src, dst uint32
	if src, err = ParseIPv4(oh); err != nil {
		return 0, "", "id.orig_h", err
	}
	if dst, err = ParseIPv4(rh); err != nil {
		return 0, "", "id.resp_h", err
	}
	var op, rp uint64
	if op, err = parseUint(row[z.op], 16); err != nil {
		return 0, "", "id.orig_p", err
	}
	if rp, err = parseUint(row[z.rp], 16); err != nil {
		return 0, "", "id.resp_p", err
	}
	var ts, dur int64
	if ts, err = parseFixed(row[z.ts], 6); err != nil {
		return 0, "", "ts", err
	}
	if z.dur >= 0 && !z.isUnset(row[z.dur]) {
		if dur, err = parseFixed(row[z.dur], 6); err != nil {
			return 0, "", "duration", err
		}
	}
	var opk, oby, rpk, rby uint64
	if opk, err = z.count(row[z.opk]); err != nil {
		return 0, "", "orig_pkts", err
	}
	if oby, err = z.count(row[z.oby]); err != nil {
		return 0, "", "orig_ip_bytes", err
	}
	if rpk, err = z.count(row[z.rpk]); err != nil {
		return 0, "", "resp_pkts", err
	}
	if rby, err = z.count(row[z.rby]); err != nil {
		return 0, "", "resp_ip_bytes", err
	}
	var oflags, rflags uint8
	if p == ProtoTCP && z.hist >= 0 {
		oflags, rflags = historyFlags(row[z.hist])
	}
	label := ""
	if z.label >= 0 && !z.isUnset(row[z.label]) && row[z.label] != z.empty {
		label = z.labels.get(row[z.label])
	}
	sp, dp := uint16(op), uint16(rp)
	if p == ProtoICMP {
		// Zeek puts the ICMP type in orig_p and the code in resp_p.
		sp, dp = 0, uint16(op&0xff)<<8|uint16(rp&0xff)
	}
	if opk > 0 {
		out[n] = Flow{Start: ts, Dur: dur, Src: src, Dst: dst, SrcPort: sp, DstPort: dp, Proto: p,
			Packets: opk, Bytes: oby, TCPFlags: oflags, Label: label}
		n++
	}
	if rpk > 0 {
		if p != ProtoICMP {
			sp, dp = dp, sp
		}
		out[n] = Flow{Start: ts, Dur: dur, Src: dst, Dst: src, SrcPort: sp, DstPort: dp, Proto: p,
			Packets: rpk, Bytes: rby, TCPFlags: rflags, Label: label}
		n++
	}
	if n == 0 {
		return 0, ReasonNoPackets, "", nil
	}
	return n, "", "", nil
}

// historyFlags approximates the TCP flags each side sent from a Zeek
// history string: S = SYN, H = SYN+ACK, A = ACK, D = PSH+ACK (data),
// F = FIN, R = RST; upper case is the originator, lower case the responder.
func historyFlags(h string) (orig, resp uint8) {
	for i := 0; i < len(h); i++ {
		c := h[i]
		var fl uint8
		switch c | 0x20 {
		case 's':
			fl = TCPSyn
		case 'h':
			fl = TCPSyn | TCPAck
		case 'a':
			fl = TCPAck
		case 'd':
			fl = TCPPsh | TCPAck
		case 'f':
			fl = TCPFin
		case 'r':
			fl = TCPRst
		default:
			continue
		}
		if c >= 'a' {
			resp |= fl
		} else {
			orig |= fl
		}
	}
	return orig, resp
}

// zeekReader reads a Zeek conn log, TSV or CSV.
type zeekReader struct {
	name    string
	next    func() ([]string, int, error) // next data row and its line
	cols    *zeekCols
	skipBad bool
	buf     [2]Flow
	nbuf    int
	ibuf    int
	stats   Stats
	rec     int64 // connections seen
	closer  io.Closer
	err     error
}

func (r *zeekReader) Next(f *Flow) error {
	if r.err != nil {
		return r.err
	}
	for {
		if r.ibuf < r.nbuf {
			*f = r.buf[r.ibuf]
			r.ibuf++
			r.stats.Read++
			return nil
		}
		row, line, err := r.next()
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
				return io.EOF
			}
			r.rec++
			// Only a malformed row can be skipped; a failing input stream
			// cannot (reading on would fail again).
			if r.skipBad {
				switch {
				case errors.Is(err, errWrongColumns):
					r.stats.Skip(ReasonWrongColumns)
					continue
				case errors.Is(err, errLongLine):
					r.stats.Skip(ReasonLongLine)
					continue
				case errors.Is(err, csv.ErrQuote), errors.Is(err, csv.ErrBareQuote):
					r.stats.Skip(ReasonBadCSV)
					continue
				}
			}
			var pe *PosError
			if errors.As(err, &pe) {
				pe.Record = r.rec
			}
			r.err = err
			return err
		}
		r.rec++
		n, reason, col, err := r.cols.conn(row, &r.buf)
		if err != nil {
			if r.skipBad {
				r.stats.Skip(ReasonBadField)
				continue
			}
			r.err = &PosError{File: r.name, Offset: -1, Line: line, Record: r.rec, Column: col, Err: err}
			return r.err
		}
		if reason != "" {
			r.stats.Skip(reason)
			continue
		}
		if n == 1 {
			r.stats.Note(NoteOneDirection)
		}
		r.nbuf, r.ibuf = n, 0
	}
}

func (r *zeekReader) Stats() Stats { return r.stats.Clone() }

func (r *zeekReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

var (
	errWrongColumns = errors.New("wrong number of fields")
	errLongLine     = fmt.Errorf("line longer than %d bytes", maxLineBytes)
)

// zeekUnescape decodes the \xNN escapes Zeek uses in header values.
func zeekUnescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// maxLineBytes bounds one line of a text format.
const maxLineBytes = 1 << 20

// newZeekTSVReader reads a Zeek conn.log in its native TSV form.
func newZeekTSVReader(name string, br *bufio.Reader, opt Options, closer io.Closer) (*zeekReader, error) {
	sep, unset, empty := "\t", "-", "(empty)"
	line := 0
	var row []string
	readLine := func() (string, error) {
		for {
			s, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// A line longer than the buffer: collect it.
				var b []byte
				b = append(b, s...)
				for err == bufio.ErrBufferFull {
					if len(b) > maxLineBytes {
						// Drop the rest of the line, so reading can go on
						// with the next one.
						for err == bufio.ErrBufferFull {
							_, err = br.ReadSlice('\n')
						}
						line++
						if err != nil && err != io.EOF {
							return "", &PosError{File: name, Offset: -1, Line: line, Err: err}
						}
						return "", &PosError{File: name, Offset: -1, Line: line, Err: errLongLine}
					}
					s, err = br.ReadSlice('\n')
					b = append(b, s...)
				}
				s = b
			}
			if len(s) == 0 && err != nil {
				if err == io.EOF {
					return "", io.EOF
				}
				return "", &PosError{File: name, Offset: -1, Line: line + 1, Err: err}
			}
			if err != nil && err != io.EOF {
				return "", &PosError{File: name, Offset: -1, Line: line + 1, Err: err}
			}
			line++
			// A view of the buffer, valid until the next read: the fields
			// parsed from it are copied where they are kept.
			t := bytesString(bytes.TrimRight(s, "\r\n"))
			if t == "" {
				continue
			}
			return t, nil
		}
	}
	// Header lines.
	var fields []string
	var first string
	for {
		s, err := readLine()
		if err == io.EOF {
			if fields == nil {
				return nil, &PosError{File: name, Offset: -1, Line: line, Err: errors.New("Zeek log without a #fields line")}
			}
			break
		}
		if err != nil {
			return nil, err
		}
		s = strings.Clone(s) // header values are kept
		if !strings.HasPrefix(s, "#") {
			first = s
			break
		}
		key, val, _ := strings.Cut(s, " ")
		if strings.HasPrefix(s, "#separator") {
			sep = zeekUnescape(strings.TrimSpace(val))
			if sep == "" {
				return nil, &PosError{File: name, Offset: -1, Line: line, Err: errors.New("empty #separator")}
			}
			continue
		}
		key, val, _ = strings.Cut(s, sep)
		switch key {
		case "#unset_field":
			unset = val
		case "#empty_field":
			empty = val
		case "#fields":
			fields = strings.Split(val, sep)
		}
	}
	if fields == nil {
		return nil, &PosError{File: name, Offset: -1, Line: line, Err: errors.New("data before the #fields line")}
	}
	cols, err := newZeekCols(fields, unset, empty)
	if err != nil {
		return nil, &PosError{File: name, Offset: -1, Line: line, Err: fmt.Errorf("#fields: %w", err)}
	}
	pendingFirst := first != ""
	next := func() ([]string, int, error) {
		var s string
		if pendingFirst {
			s, pendingFirst = first, false
		} else {
			for {
				var err error
				s, err = readLine()
				if err != nil {
					return nil, line, err
				}
				if !strings.HasPrefix(s, "#") {
					break
				}
			}
		}
		row = splitInto(row[:0], s, sep)
		if len(row) != cols.n {
			return nil, line, &PosError{File: name, Offset: -1, Line: line,
				Err: fmt.Errorf("%w: row has %d fields, #fields names %d", errWrongColumns, len(row), cols.n)}
		}
		return row, line, nil
	}
	return &zeekReader{name: name, next: next, cols: cols, skipBad: opt.SkipBad, closer: closer}, nil
}

// splitInto splits s by sep, appending to dst.
func splitInto(dst []string, s, sep string) []string {
	for {
		i := strings.Index(s, sep)
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+len(sep):]
	}
}

// newZeekCSVReader reads Zeek conn fields written as CSV with a header, as
// in IoT-23's CSV release, where unset fields are empty (or "-").
func newZeekCSVReader(name string, r io.Reader, opt Options, closer io.Closer) (*zeekReader, error) {
	cr := newCSVReader(r)
	header, err := readHeader(name, cr)
	if err != nil {
		return nil, err
	}
	cols, err := newZeekCols(header, "-", "(empty)")
	if err != nil {
		return nil, &PosError{File: name, Offset: -1, Line: 1, Err: err}
	}
	next := func() ([]string, int, error) {
		row, err := cr.Read()
		if err != nil {
			if err == io.EOF {
				return nil, 0, io.EOF
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, pe.Line, &PosError{File: name, Offset: -1, Line: pe.Line, Err: pe.Err}
			}
			return nil, 0, &PosError{File: name, Offset: -1, Err: err}
		}
		line, _ := cr.FieldPos(0)
		if len(row) != cols.n {
			return nil, line, &PosError{File: name, Offset: -1, Line: line,
				Err: fmt.Errorf("%w: row has %d columns, header has %d", errWrongColumns, len(row), cols.n)}
		}
		return row, line, nil
	}
	return &zeekReader{name: name, next: next, cols: cols, skipBad: opt.SkipBad, closer: closer}, nil
}
