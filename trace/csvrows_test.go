package trace

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// csvOutcome is what reading one record gives: the record, the line it
// starts on, or the error.
type csvOutcome struct {
	row  []string
	line int
	err  string
}

func readAllStd(data []byte, bufSize int) []csvOutcome {
	cr := csv.NewReader(iotest.OneByteReader(bytes.NewReader(data)))
	cr.FieldsPerRecord = -1
	var out []csvOutcome
	for i := 0; i < 1000; i++ {
		row, err := cr.Read()
		if err != nil {
			out = append(out, csvOutcome{err: errString(err)})
			if err == io.EOF || !isParseError(err) {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		out = append(out, csvOutcome{row: row, line: line})
	}
	return out
}

func readAllFast(data []byte, bufSize int) []csvOutcome {
	c := newCSVRows(bufioSized(bytes.NewReader(data), bufSize))
	var out []csvOutcome
	for i := 0; i < 1000; i++ {
		row, err := c.Read()
		if err != nil {
			out = append(out, csvOutcome{err: errString(err)})
			if err == io.EOF || !isParseError(err) {
				break
			}
			continue
		}
		line, _ := c.FieldPos(0)
		out = append(out, csvOutcome{row: cloneRow(row), line: line})
	}
	return out
}

func isParseError(err error) bool {
	var pe *csv.ParseError
	return errors.As(err, &pe)
}

// errString renders an error with the lines a *csv.ParseError names (its
// column is not compared: the fast path does not track columns).
func errString(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("parse error: start line %d, line %d: %v", pe.StartLine, pe.Line, pe.Err)
	}
	return err.Error()
}

var csvRowsSeeds = []string{
	"a,b,c\n1,2,3\n",
	"a,b,c\r\n1,2,3\r\n",
	"a,b\n\n\n1,2\n\r\n3,4",
	"a,b\n1,2\r",
	"a,b\n1,2\r\r\n3\r\r",
	"a,\"b,c\",d\n1,2,3\n",
	"a,\"b\nc\",d\n1,2,3\n",
	"a,\"b\r\nc\"\"x\",d\r\n1,2,3\r\n",
	"a,b\"c,d\n1,2\n",
	"a,\"b\"c,d\n1,2\n",
	"a,\"unterminated\n1,2\n3,4\n",
	"1,2\n\"\"\n,\n,,\n x , y \n",
	"\ufeffts,te\n1,2,3,4\n5\n",
	"x\ny\"\nz\n\"q\"\n\"r\ns\"\n",
	"",
	"\n\n",
	"a\rb,c\n",
	"\"a\"\n\"b\"",
	"\"a\"\r",
}

func checkCSVRows(t *testing.T, data []byte) {
	for _, size := range []int{16, 64 << 10} {
		want, got := readAllStd(data, size), readAllFast(data, size)
		if fmt.Sprintf("%#v", want) != fmt.Sprintf("%#v", got) {
			t.Fatalf("input %q (buffer %d):\nencoding/csv: %#v\ncsvRows:      %#v", data, size, want, got)
		}
	}
}

// TestCSVRowsMatchesEncodingCSV checks the fast CSV splitter against
// encoding/csv: quoted fields (with commas, quotes and line breaks), CRLF
// and CR line ends, blank lines, a missing final line end, bare and
// unterminated quotes, rows of any length.
func TestCSVRowsMatchesEncodingCSV(t *testing.T) {
	for _, s := range csvRowsSeeds {
		checkCSVRows(t, []byte(s))
	}
	// A line longer than the read buffer.
	long := strings.Repeat("x", 100<<10)
	checkCSVRows(t, []byte("a,b\n"+long+","+long+"\n\""+long+"\n\",1\n"))
}

// FuzzCSVRows compares the fast splitter with encoding/csv on any input.
func FuzzCSVRows(f *testing.F) {
	for _, s := range csvRowsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkCSVRows)
}

// A read error in the middle of the input ends reading with that error,
// as encoding/csv does, whether or not the cut line holds a quote.
func TestCSVRowsReadError(t *testing.T) {
	for _, s := range []string{"a,b\n1,2\n3,4", "a,b\n1,2\n\"3,4"} {
		boom := errors.New("boom")
		r := io.MultiReader(strings.NewReader(s), iotest.ErrReader(boom))
		cr := csv.NewReader(io.MultiReader(strings.NewReader(s), iotest.ErrReader(boom)))
		cr.FieldsPerRecord = -1
		c := newCSVRows(r)
		for i := 0; i < 4; i++ {
			row1, err1 := cr.Read()
			row2, err2 := c.Read()
			if (err1 == nil) != (err2 == nil) || (err1 == nil && strings.Join(row1, "|") != strings.Join(row2, "|")) {
				t.Fatalf("%q record %d: encoding/csv %q, %v; csvRows %q, %v", s, i, row1, err1, row2, err2)
			}
			if err1 != nil {
				if !errors.Is(err2, boom) && !isParseError(err2) {
					t.Fatalf("%q: csvRows error %v, want the read error", s, err2)
				}
				break
			}
		}
	}
}

func bufioSized(r io.Reader, size int) io.Reader { return bufio.NewReaderSize(r, size) }
