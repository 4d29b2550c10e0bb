package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/pcapgo"
)

// maxCaptureLen bounds a record's captured length, as Wireshark does
// (262,144 bytes): a larger value is taken as a corrupt record, and the
// read buffer is never sized from an untrusted header.
const maxCaptureLen = 262144

// pcapReader reads a libpcap file with gopacket's pcapgo reader (its
// allocation-free path) and decodes the headers itself.
type pcapReader struct {
	name   string
	r      *pcapgo.Reader
	br     *bufio.Reader // what r reads from, unbuffered by it
	buf    []byte        // data of a record read past r
	lt     uint32
	off    int64 // offset of the next record
	rec    int64 // records read so far
	stats  Stats
	closer io.Closer
	err    error // sticky error
	// skipBad ends the capture at a record cut short (counted under
	// ReasonTruncatedRecord) instead of failing.
	skipBad bool
}

func newPcapReader(name string, br *bufio.Reader, opt Options, closer io.Closer) (*pcapReader, error) {
	// pcapgo wraps its input in a bufio.Reader of 4096 bytes, which is the
	// input itself when that is already buffered as much: br stays in
	// step with pcapgo, so a record can be read past it (see Next).
	if br.Size() < 4096 {
		br = bufio.NewReaderSize(br, 4096)
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("file header: %w", ErrTruncated)
		}
		return nil, &PosError{File: name, Offset: 0, Err: err}
	}
	// pcapgo bounds each record's length by the larger of the header's
	// snapshot length and 262,144 bytes; fix the bound at the latter, as
	// Wireshark does (files with records longer than their stated snaplen
	// exist, and a header's snaplen is as untrusted as a record's length).
	pr.SetSnaplen(maxCaptureLen)
	// The link type is the header's 16-bit LINKTYPE value; the upper bits
	// (whether frames end in an FCS) are dropped.
	return &pcapReader{name: name, r: pr, br: br, lt: uint32(pr.LinkType()), off: 24, closer: closer, skipBad: opt.SkipBad}, nil
}

// LinkType returns the file's link-layer header type.
func (r *pcapReader) LinkType() uint32 { return r.lt }

func (r *pcapReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	for {
		data, ci, err := r.r.ZeroCopyReadPacketData()
		if err != nil && ci.CaptureLength > ci.Length && ci.CaptureLength <= maxCaptureLen {
			// pcapgo refuses a record that claims more captured bytes
			// than the packet had, having read only its header. libpcap
			// reads such records, and the decoder takes lengths from the
			// IP header, so read its bytes here.
			data, err = r.readData(ci.CaptureLength)
		}
		if err != nil {
			// pcapgo reports io.EOF both at a clean end and when a record
			// header is followed by nothing; only the first leaves ci empty.
			if err == io.EOF && ci.CaptureLength == 0 && ci.Length == 0 {
				r.err = io.EOF
				return io.EOF
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = ErrTruncated
			}
			if r.skipBad && errors.Is(err, ErrTruncated) {
				r.stats.Skip(ReasonTruncatedRecord)
				r.err = io.EOF
				return io.EOF
			}
			r.err = &PosError{File: r.name, Offset: r.off, Record: r.rec + 1, Err: err}
			return r.err
		}
		r.rec++
		r.off += 16 + int64(ci.CaptureLength)
		reason, frag := decodeFrame(r.lt, data, p)
		if reason != "" {
			r.stats.Skip(reason)
			continue
		}
		if frag {
			r.stats.Note(NoteFragment)
		}
		p.TS = ci.Timestamp.UnixMicro()
		r.stats.Read++
		return nil
	}
}

// readData reads the n bytes of a record whose header pcapgo has read.
func (r *pcapReader) readData(n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	_, err := io.ReadFull(r.br, r.buf[:n])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // a record header followed by nothing
	}
	return r.buf[:n], err
}

func (r *pcapReader) Stats() Stats { return r.stats.Clone() }

func (r *pcapReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}
