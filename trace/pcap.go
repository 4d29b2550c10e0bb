package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/gopacket/pcapgo"
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
	lt     uint32
	off    int64 // offset of the next record
	rec    int64 // records read so far
	stats  Stats
	closer io.Closer
	err    error // sticky error
}

func newPcapReader(name string, br *bufio.Reader, closer io.Closer) (*pcapReader, error) {
	// pcapgo (v1.1.19) keeps the link type as a uint8, which turns e.g.
	// LINKTYPE_LINUX_SLL2 (276) into 20; read it from the header here.
	var lt uint32
	if hdr, _ := br.Peek(24); len(hdr) == 24 {
		if binary.LittleEndian.Uint32(hdr) == pcapMagicMicroLE || binary.LittleEndian.Uint32(hdr) == pcapMagicNanoLE {
			lt = binary.LittleEndian.Uint32(hdr[20:])
		} else {
			lt = binary.BigEndian.Uint32(hdr[20:])
		}
		lt &= 0xffff // the upper bits may say whether frames end in an FCS
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("file header: %w", ErrTruncated)
		}
		return nil, &PosError{File: name, Offset: 0, Err: err}
	}
	// pcapgo checks each record's length against the snapshot length and
	// sizes its buffer from it; use a fixed bound instead of the header's
	// value, as other readers do (files with records longer than their
	// stated snaplen exist).
	pr.SetSnaplen(maxCaptureLen)
	return &pcapReader{name: name, r: pr, lt: lt, off: 24, closer: closer}, nil
}

// LinkType returns the file's link-layer header type.
func (r *pcapReader) LinkType() uint32 { return r.lt }

func (r *pcapReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	for {
		data, ci, err := r.r.ZeroCopyReadPacketData()
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

func (r *pcapReader) Stats() Stats { return r.stats.Clone() }

func (r *pcapReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}
