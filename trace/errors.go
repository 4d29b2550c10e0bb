package trace

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrIPv6 reports an IPv6 address where netshare expects IPv4.
var ErrIPv6 = errors.New("IPv6 address where IPv4 is expected")

// ErrUnknownFormat is returned when a file's content matches no supported
// trace format.
var ErrUnknownFormat = errors.New("unknown trace format")

// ErrEmpty is returned for a file that holds no bytes at all.
var ErrEmpty = errors.New("empty file")

// ErrTruncated is wrapped by the [PosError] reported when a file ends in the
// middle of a record or block.
var ErrTruncated = errors.New("file ends in the middle of a record")

// ErrWrongKind is returned when packets are asked of a flow trace or flow
// records of a packet trace.
var ErrWrongKind = errors.New("trace holds the other kind of record")

// PosError is an error at a position in an input file. Exactly one of
// Offset (bytes, for binary formats) and Line (1-based, for text formats) is
// meaningful; Record is the 1-based record number when known.
type PosError struct {
	File   string
	Offset int64  // byte offset, -1 when not applicable
	Line   int    // 1-based line number, 0 when not applicable
	Record int64  // 1-based record number, 0 when unknown
	Column string // column name for text formats, "" when not applicable
	Err    error
}

func (e *PosError) Error() string {
	var pos string
	switch {
	case e.Line > 0:
		pos = fmt.Sprintf("line %d", e.Line)
	case e.Offset >= 0:
		pos = fmt.Sprintf("byte offset %d", e.Offset)
	}
	if e.Record > 0 {
		if pos != "" {
			pos += ", "
		}
		pos += fmt.Sprintf("record %d", e.Record)
	}
	if e.Column != "" {
		if pos != "" {
			pos += ", "
		}
		pos += fmt.Sprintf("column %q", e.Column)
	}
	if pos == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, pos, e.Err)
}

func (e *PosError) Unwrap() error { return e.Err }

// Stats counts what a reader has read and skipped. Skipped records are
// counted by reason ("ipv6", "arp", "non-ip", "bad-row", ...); a reader never
// drops a record without counting it here.
type Stats struct {
	Read    int64            // records returned to the caller
	Skipped map[string]int64 // records skipped, by reason
	// Notes counts records that were returned but carry a caveat, by note:
	// "fragment" (a non-first IPv4 fragment, returned with ports 0),
	// "no-timestamp" (a pcapng simple packet block, given the previous
	// packet's time), "one-direction" (a Zeek connection that gave one record
	// because the other direction had no packets).
	Notes map[string]int64
}

// Note counts one returned record under note.
func (s *Stats) Note(note string) {
	if s.Notes == nil {
		s.Notes = make(map[string]int64)
	}
	s.Notes[note]++
}

// Clone returns a deep copy of s, so a caller can keep it while the reader
// goes on counting.
func (s Stats) Clone() Stats {
	c := Stats{Read: s.Read}
	if s.Skipped != nil {
		c.Skipped = make(map[string]int64, len(s.Skipped))
		for k, v := range s.Skipped {
			c.Skipped[k] = v
		}
	}
	if s.Notes != nil {
		c.Notes = make(map[string]int64, len(s.Notes))
		for k, v := range s.Notes {
			c.Notes[k] = v
		}
	}
	return c
}

// Skip counts one skipped record under reason.
func (s *Stats) Skip(reason string) {
	if s.Skipped == nil {
		s.Skipped = make(map[string]int64)
	}
	s.Skipped[reason]++
}

// TotalSkipped returns the number of skipped records over all reasons.
func (s *Stats) TotalSkipped() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// SkippedText describes the skipped records for a message: "none skipped",
// or their number and reasons ("3 skipped: arp 1, ipv6 2").
func (s Stats) SkippedText() string {
	if s.TotalSkipped() == 0 {
		return "none skipped"
	}
	var parts []string
	for r, n := range s.Skipped {
		parts = append(parts, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d skipped: %s", s.TotalSkipped(), strings.Join(parts, ", "))
}
