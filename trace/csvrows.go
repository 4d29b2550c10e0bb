package trace

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unsafe"
)

// csvRows reads CSV records exactly as an encoding/csv.Reader with
// FieldsPerRecord = -1 does (comma-separated, no comments, no lazy quotes,
// blank lines skipped, "\r\n" read as "\n", the same records, errors and
// line numbers), but faster: a line without a quote, which is every line
// of the flow formats in practice, is split in place without copying,
// and only a line holding a quote is handed to an encoding/csv.Reader,
// fed one line at a time so that it never reads ahead.
//
// The strings of a row returned by Read point into the read buffer: they
// are valid until the next call to Read, and a caller that keeps one must
// copy it (strings.Clone).
type csvRows struct {
	br      *bufio.Reader
	long    []byte // a line longer than br's buffer
	row     []string
	line    int // number of the last line read
	recLine int // line the last record started on

	quoted []byte // the unescaped quoted fields of the last row

	// The slow path: cr reads from feed, which serves whole lines.
	cr   *csv.Reader
	feed lineFeed
	fed  int // lines served to cr
}

func newCSVRows(r io.Reader) *csvRows {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	c := &csvRows{br: br}
	c.feed.c = c
	return c
}

// readLine returns the next line with its line end, as bufio's ReadSlice
// does, collecting one longer than the buffer.
func (c *csvRows) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
	}
	return line, err
}

// Read returns the next record, or io.EOF at the end, a *csv.ParseError
// (with lines numbered from the start of the input) for malformed CSV, or
// the input's error.
func (c *csvRows) Read() ([]string, error) {
	for {
		raw, err := c.readLine()
		if len(raw) == 0 {
			if err == nil {
				continue
			}
			return nil, err
		}
		c.line++
		line := raw
		switch {
		case err == io.EOF:
			err = nil
			if line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		case err == nil:
			line = line[:len(line)-1] // the '\n'
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
		}
		if err == nil && len(line) == 0 {
			continue // a blank line
		}
		c.recLine = c.line
		if err != nil {
			if bytes.IndexByte(raw, '"') >= 0 {
				return c.readSlow(raw, err)
			}
			return nil, err
		}
		// One pass finds the commas and any quote.
		row := c.row[:0]
		start := 0
		for i, b := range line {
			switch b {
			case ',':
				row = append(row, bytesString(line[start:i]))
				start = i + 1
			case '"':
				if row, ok := c.splitQuoted(line); ok {
					c.row = row
					return row, nil
				}
				return c.readSlow(raw, nil)
			}
		}
		row = append(row, bytesString(line[start:]))
		c.row = row
		return row, nil
	}
}

// splitQuoted splits a line that holds quotes when each of its quoted
// fields closes on the line and is followed by a comma or the line's end;
// ok is false otherwise (a quoted line break, a stray quote), and
// encoding/csv then reads the record.
func (c *csvRows) splitQuoted(line []byte) (row []string, ok bool) {
	row = c.row[:0]
	// Unescaped text is never longer than the line: q never grows, so the
	// strings pointing into it stay valid.
	if cap(c.quoted) < len(line) {
		c.quoted = make([]byte, 0, len(line))
	}
	q := c.quoted[:0]
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, ',')
			f := line
			if i >= 0 {
				f = line[:i]
			}
			if bytes.IndexByte(f, '"') >= 0 {
				return nil, false // a quote within an unquoted field
			}
			row = append(row, bytesString(f))
			if i < 0 {
				return row, true
			}
			line = line[i+1:]
			continue
		}
		line = line[1:]
		start := len(q)
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 {
				return nil, false // the field goes on past the line
			}
			q = append(q, line[:i]...)
			line = line[i+1:]
			if len(line) > 0 && line[0] == '"' {
				q = append(q, '"') // a doubled quote
				line = line[1:]
				continue
			}
			break
		}
		row = append(row, bytesString(q[start:]))
		if len(line) == 0 {
			return row, true
		}
		if line[0] != ',' {
			return nil, false // text after the closing quote
		}
		line = line[1:]
	}
}

// readSlow reads the record that starts with raw (a line already read,
// which ends in err) with encoding/csv.
func (c *csvRows) readSlow(raw []byte, err error) ([]string, error) {
	if c.cr == nil {
		c.cr = csv.NewReader(&c.feed)
		c.cr.FieldsPerRecord = -1
		c.cr.ReuseRecord = true
	}
	c.feed.pending, c.feed.err = raw, err
	c.fed++
	// cr's line k is this input's line k+off; lines read from now on count
	// in both.
	off := c.line - c.fed
	row, err := c.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			q := *pe
			q.StartLine += off
			q.Line += off
			return nil, &q
		}
		return nil, err
	}
	c.row = row
	return row, nil
}

// lineFeed serves lines to the slow path's encoding/csv.Reader one at a
// time, so that its buffer never holds more than the record it reads.
type lineFeed struct {
	c       *csvRows
	pending []byte
	err     error
}

func (f *lineFeed) Read(p []byte) (int, error) {
	if len(f.pending) == 0 {
		if f.err != nil {
			err := f.err
			f.err = nil
			return 0, err
		}
		line, err := f.c.readLine()
		if len(line) > 0 {
			f.c.line++
			f.c.fed++
		}
		f.pending, f.err = line, err
		if len(line) == 0 {
			f.err = nil
			return 0, err
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// FieldPos returns the line the last record started on (the column is not
// tracked), as encoding/csv's FieldPos(0) gives it.
func (c *csvRows) FieldPos(int) (int, int) { return c.recLine, 0 }

// bytesString views b as a string without copying; b must not change
// while the string is in use.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// cloneRow copies a row whose strings point into a read buffer.
func cloneRow(row []string) []string {
	out := make([]string, len(row))
	for i, s := range row {
		out[i] = string([]byte(s))
	}
	return out
}
