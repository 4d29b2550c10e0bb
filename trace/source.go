package trace

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// Options control how a trace is read.
type Options struct {
	// SkipBad skips malformed rows of text formats (bad CSV, a wrong number
	// of columns, an unparsable field, an IPv6 address), counting them by
	// reason in Stats, instead of failing with a *PosError. For a capture
	// it salvages a file cut in the middle of a record or block: the
	// records before the cut are read, and the cut one is counted under
	// ReasonTruncatedRecord. Other corruption of a capture (an impossible
	// length, a bad block) is an error either way.
	SkipBad bool
	// Format forces the input format; "" detects it from the content.
	Format Format
}

// readBufSize is the read buffer of every source; pcapng blocks up to this
// size are parsed in place.
const readBufSize = 1 << 20

// Source is an open trace: its format and a streaming reader of its
// records. Exactly one of Packets and Flows gives records, as Kind says.
type Source struct {
	Name   string // the file name (or the name given to NewSource)
	Format Format
	Gzip   bool // the content was gzip-compressed

	pr     PacketReader
	fr     FlowReader
	closer io.Closer
}

// Kind says whether the source holds packets or flow records.
func (s *Source) Kind() Kind { return s.Format.Kind() }

// Packets returns the packet reader of a packet trace. For a flow trace it
// returns a reader whose Next fails with ErrWrongKind.
func (s *Source) Packets() PacketReader {
	if s.pr == nil {
		return wrongKindPackets{wrongKindReader{name: s.Name, format: s.Format}}
	}
	return s.pr
}

// Flows returns the flow reader of a flow trace. For a packet trace it
// returns a reader whose Next fails with ErrWrongKind (aggregate packets
// into flows with [NewFlowAggregator] or [AggregateFlows]).
func (s *Source) Flows() FlowReader {
	if s.fr == nil {
		return wrongKindReader{name: s.Name, format: s.Format}
	}
	return s.fr
}

// Stats returns what the source's reader has read and skipped so far.
func (s *Source) Stats() Stats {
	if s.pr != nil {
		return s.pr.Stats()
	}
	if s.fr != nil {
		return s.fr.Stats()
	}
	return Stats{}
}

// Close closes the underlying file (when the source opened one).
func (s *Source) Close() error {
	var err error
	if s.pr != nil {
		err = s.pr.Close()
	}
	if s.fr != nil {
		err = s.fr.Close()
	}
	if s.closer != nil {
		if e := s.closer.Close(); err == nil {
			err = e
		}
		s.closer = nil
	}
	return err
}

type wrongKindReader struct {
	name   string
	format Format
}

func (w wrongKindReader) err() error {
	return fmt.Errorf("%s: %w: it is a %s trace (%s)", w.name, ErrWrongKind, w.format.Kind(), w.format)
}
func (w wrongKindReader) Next(*Flow) error { return w.err() }
func (w wrongKindReader) Stats() Stats     { return Stats{} }
func (w wrongKindReader) Close() error     { return nil }

// wrongKindReader serves both interfaces; this adapter gives it the
// PacketReader signature.
type wrongKindPackets struct{ wrongKindReader }

func (w wrongKindPackets) Next(*Packet) error { return w.err() }

// Open opens the trace file at path and detects its format from its content
// (unless opt.Format is set). A gzip-compressed file is decompressed on the
// fly.
func Open(path string, opt Options) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := newSource(path, f, opt, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// NewSource reads a trace from r (for example a sample embedded in the
// binary). name is used in error messages. Closing the source does not
// close r.
func NewSource(name string, r io.Reader, opt Options) (*Source, error) {
	return newSource(name, r, opt, nil)
}

func newSource(name string, r io.Reader, opt Options, closer io.Closer) (*Source, error) {
	br := bufio.NewReaderSize(r, readBufSize)
	s := &Source{Name: name, closer: closer}
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &PosError{File: name, Offset: 0, Err: fmt.Errorf("gzip header: %w", err)}
		}
		s.Gzip = true
		br = bufio.NewReaderSize(gzipReader{zr, name}, readBufSize)
		head, err = br.Peek(sniffLen)
		// A stream cut short within the first 64 KiB still opens: the
		// reader meets the cut (the gzip reader repeats its error) after
		// the records before it, and says where it is.
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull && (len(head) == 0 || !errors.Is(err, ErrTruncated)) {
			return nil, err
		}
	}
	f := opt.Format
	if f == "" {
		if f, err = Detect(name, head); err != nil {
			return nil, err
		}
	} else if len(head) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	s.Format = f
	switch f {
	case FormatPcap:
		s.pr, err = newPcapReader(name, br, opt, nil)
	case FormatPcapNG:
		s.pr, err = newNgReader(name, br, opt, nil)
	case FormatNetShareCSV:
		s.fr, err = newNetShareReader(name, br, opt, nil)
	case FormatUGR16CSV:
		s.fr, err = newUGR16Reader(name, br, opt, nil)
	case FormatZeekConn:
		s.fr, err = newZeekTSVReader(name, br, opt, nil)
	case FormatZeekCSV:
		s.fr, err = newZeekCSVReader(name, br, opt, nil)
	default:
		return nil, fmt.Errorf("%s: %w %q", name, ErrUnknownFormat, string(f))
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// gzipReader turns a corrupt gzip stream into a positioned error.
type gzipReader struct {
	zr   *gzip.Reader
	name string
}

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = ErrTruncated
		}
		err = &PosError{File: g.name, Offset: -1, Err: fmt.Errorf("gzip: %w", err)}
	}
	return n, err
}

// ReadAllPackets reads every packet of the capture at path.
func ReadAllPackets(path string, opt Options) ([]Packet, Stats, Format, error) {
	s, err := Open(path, opt)
	if err != nil {
		return nil, Stats{}, "", err
	}
	defer s.Close()
	pr := s.Packets()
	out, err := collect(pr.Next)
	return out, pr.Stats(), s.Format, err
}

// ReadAllFlows reads every flow record of the flow trace at path.
func ReadAllFlows(path string, opt Options) ([]Flow, Stats, Format, error) {
	s, err := Open(path, opt)
	if err != nil {
		return nil, Stats{}, "", err
	}
	defer s.Close()
	fr := s.Flows()
	out, err := collect(fr.Next)
	return out, fr.Stats(), s.Format, err
}

// collect reads records with next until io.EOF. On any other error it
// returns the records read before it, and the error.
func collect[T any](next func(*T) error) ([]T, error) {
	var out []T
	for {
		var v T
		if err := next(&v); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, v)
	}
}
