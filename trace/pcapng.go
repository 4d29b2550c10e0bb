package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types.
const (
	ngBlockIDB    = 0x00000001
	ngBlockPB     = 0x00000002 // obsolete packet block
	ngBlockSPB    = 0x00000003
	ngBlockEPB    = 0x00000006
	maxBlockBytes = 16 << 20 // as Wireshark: a larger block is corrupt
)

// NoteNoTimestamp marks a packet from a pcapng simple packet block, which
// carries no timestamp: it gets the previous packet's.
const NoteNoTimestamp = "no-timestamp"

// ngReader reads pcapng. It is its own block parser rather than pcapgo's
// NgReader because that one cannot say where in the file an error is (byte
// offset and record), which every error here names, and copies each block
// out of its input; blocks that fit the read buffer are parsed in place.
type ngReader struct {
	name     string
	br       *bufio.Reader
	off      int64 // file offset of the next block
	be       bool  // current section is big-endian
	inSec    bool
	ifaces   []ngIface
	rec      int64 // packets read so far (returned or skipped)
	lastTS   int64
	buf      []byte // for blocks larger than br's buffer
	stats    Stats
	closer   io.Closer
	err      error
	blockOff int64 // offset of the block being parsed
	skipBad  bool  // end at a block cut short (ReasonTruncatedRecord) instead of failing
}

type ngIface struct {
	lt   uint32
	snap uint32
	ts   tsConv
}

// tsConv converts an interface's timestamp units to microseconds.
type tsConv struct {
	binary bool
	exp    uint   // resolution exponent: 10^-exp or 2^-exp seconds
	offUs  int64  // if_tsoffset, in microseconds
	factor uint64 // decimal: 10^|exp-6|
}

func newTSConv(resol byte, offsetSec int64) (tsConv, error) {
	c := tsConv{binary: resol&0x80 != 0, exp: uint(resol & 0x7f), offUs: offsetSec * 1_000_000}
	if c.binary {
		if c.exp >= 64 {
			return c, fmt.Errorf("unsupported timestamp resolution 2^-%d", c.exp)
		}
		return c, nil
	}
	if c.exp > 18 {
		return c, fmt.Errorf("unsupported timestamp resolution 10^-%d", c.exp)
	}
	if c.exp >= 6 {
		c.factor = uint64(pow10[c.exp-6])
	} else {
		c.factor = uint64(pow10[6-c.exp])
	}
	return c, nil
}

func (c *tsConv) micros(ts uint64) int64 {
	if !c.binary {
		if c.exp >= 6 {
			return int64(ts/c.factor) + c.offUs
		}
		return int64(ts*c.factor) + c.offUs
	}
	if c.exp == 0 {
		return int64(ts*1_000_000) + c.offUs
	}
	sec := ts >> c.exp
	frac := ts & (1<<c.exp - 1)
	hi, lo := bits.Mul64(frac, 1_000_000)
	us := hi<<(64-c.exp) | lo>>c.exp
	return int64(sec*1_000_000+us) + c.offUs
}

func newNgReader(name string, br *bufio.Reader, opt Options, closer io.Closer) (*ngReader, error) {
	r := &ngReader{name: name, br: br, closer: closer, skipBad: opt.SkipBad}
	// The file must start with a section header block; reading it here
	// reports an unsupported version before any record is asked for.
	typ, body, err := r.readBlock()
	if err != nil {
		if err == io.EOF {
			err = r.errAt(0, fmt.Errorf("section header: %w", ErrTruncated))
		}
		return nil, err
	}
	if typ != ngBlockSHB {
		return nil, r.errAt(0, errors.New("file does not start with a section header block"))
	}
	if err := r.section(body); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *ngReader) u16(b []byte) uint16 {
	if r.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *ngReader) u32(b []byte) uint32 {
	if r.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *ngReader) u64(b []byte) uint64 {
	if r.be {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *ngReader) errAt(off int64, err error) error {
	return &PosError{File: r.name, Offset: off, Record: r.rec + 1, Err: err}
}

// readBlock reads the next block and returns its type and body (the bytes
// between the 8-byte header and the trailing length). The body is valid
// until the next call. It returns io.EOF only at a block boundary.
func (r *ngReader) readBlock() (uint32, []byte, error) {
	start := r.off
	r.blockOff = start
	hdr, err := r.br.Peek(8)
	if len(hdr) == 0 && err == io.EOF {
		return 0, nil, io.EOF
	}
	if len(hdr) < 8 {
		return 0, nil, r.errAt(start, fmt.Errorf("block header: %w", r.shortErr(err)))
	}
	typ := r.u32(hdr)
	if typ == ngBlockSHB {
		// The section header sets the byte order for what follows.
		h, err := r.br.Peek(12)
		if len(h) < 12 {
			return 0, nil, r.errAt(start, fmt.Errorf("section header: %w", r.shortErr(err)))
		}
		switch {
		case binary.LittleEndian.Uint32(h[8:]) == ngByteOrderMagic:
			r.be = false
		case binary.BigEndian.Uint32(h[8:]) == ngByteOrderMagic:
			r.be = true
		default:
			return 0, nil, r.errAt(start, errors.New("section header with a bad byte-order magic"))
		}
		hdr = h
	}
	tl := r.u32(hdr[4:])
	if tl < 12 || tl%4 != 0 || tl > maxBlockBytes {
		return 0, nil, r.errAt(start, fmt.Errorf("block type 0x%08x with invalid length %d", typ, tl))
	}
	n := int(tl)
	var blk []byte
	if n <= r.br.Size() {
		blk, err = r.br.Peek(n)
		if len(blk) < n {
			return 0, nil, r.errAt(start, fmt.Errorf("block type 0x%08x of %d bytes: %w", typ, n, r.shortErr(err)))
		}
		// Discarding buffered bytes does not refill the buffer, so blk stays
		// valid until the next Peek.
		if _, err := r.br.Discard(n); err != nil {
			return 0, nil, r.errAt(start, err)
		}
	} else {
		if cap(r.buf) < n {
			r.buf = make([]byte, n)
		}
		blk = r.buf[:n]
		if k, err := io.ReadFull(r.br, blk); err != nil {
			if k == 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, r.errAt(start, fmt.Errorf("block type 0x%08x of %d bytes: %w", typ, n, r.shortErr(err)))
		}
	}
	r.off += int64(n)
	if r.u32(blk[n-4:]) != tl {
		return 0, nil, r.errAt(start, fmt.Errorf("block type 0x%08x: trailing length %d differs from leading length %d", typ, r.u32(blk[n-4:]), tl))
	}
	return typ, blk[8 : n-4], nil
}

func (r *ngReader) shortErr(err error) error {
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}

// section handles a section header block body.
func (r *ngReader) section(body []byte) error {
	if len(body) < 16 {
		return r.errAt(r.blockOff, errors.New("section header block too short"))
	}
	major, minor := r.u16(body[4:]), r.u16(body[6:])
	if major != 1 {
		return r.errAt(r.blockOff, fmt.Errorf("unsupported pcapng version %d.%d", major, minor))
	}
	r.ifaces = r.ifaces[:0]
	r.inSec = true
	return nil
}

// iface handles an interface description block body.
func (r *ngReader) iface(body []byte) error {
	if len(body) < 8 {
		return r.errAt(r.blockOff, errors.New("interface description block too short"))
	}
	ifc := ngIface{lt: uint32(r.u16(body)), snap: r.u32(body[4:])}
	resol, offset := byte(6), int64(0)
	opts := body[8:]
	for len(opts) >= 4 {
		code, l := r.u16(opts), int(r.u16(opts[2:]))
		if code == 0 { // opt_endofopt
			break
		}
		padded := (l + 3) &^ 3
		if 4+padded > len(opts) {
			return r.errAt(r.blockOff, fmt.Errorf("interface option %d overruns its block", code))
		}
		v := opts[4 : 4+l]
		switch code {
		case 9: // if_tsresol
			if l < 1 {
				return r.errAt(r.blockOff, errors.New("empty if_tsresol option"))
			}
			resol = v[0]
		case 14: // if_tsoffset, seconds
			if l < 8 {
				return r.errAt(r.blockOff, errors.New("short if_tsoffset option"))
			}
			offset = int64(r.u64(v))
		}
		opts = opts[4+padded:]
	}
	c, err := newTSConv(resol, offset)
	if err != nil {
		return r.errAt(r.blockOff, err)
	}
	ifc.ts = c
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

func (r *ngReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	err := r.next(p)
	if err != nil && err != io.EOF && r.skipBad && errors.Is(err, ErrTruncated) {
		r.stats.Skip(ReasonTruncatedRecord)
		err = io.EOF
	}
	if err != nil {
		r.err = err
	}
	return err
}

func (r *ngReader) next(p *Packet) error {
	for {
		typ, body, err := r.readBlock()
		if err != nil {
			return err
		}
		var (
			ifc  int
			tsv  uint64
			data []byte
			noTS bool
		)
		switch typ {
		case ngBlockEPB, ngBlockPB:
			if len(body) < 20 {
				return r.errAt(r.blockOff, errors.New("packet block too short"))
			}
			if typ == ngBlockEPB {
				ifc = int(r.u32(body))
			} else {
				ifc = int(r.u16(body))
			}
			tsv = uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
			capLen := r.u32(body[12:])
			if uint64(capLen) > uint64(len(body)-20) {
				return r.errAt(r.blockOff, fmt.Errorf("packet block captured length %d exceeds its block", capLen))
			}
			data = body[20 : 20+capLen]
		case ngBlockSPB:
			if len(body) < 4 {
				return r.errAt(r.blockOff, errors.New("simple packet block too short"))
			}
			capLen := uint64(r.u32(body))
			if n := uint64(len(body) - 4); capLen > n {
				capLen = n
			}
			if len(r.ifaces) > 0 && r.ifaces[0].snap != 0 && capLen > uint64(r.ifaces[0].snap) {
				capLen = uint64(r.ifaces[0].snap)
			}
			data = body[4 : 4+capLen]
			noTS = true
		case ngBlockIDB:
			if err := r.iface(body); err != nil {
				return err
			}
			continue
		case ngBlockSHB:
			if err := r.section(body); err != nil {
				return err
			}
			continue
		default:
			continue // statistics, name resolution, custom and unknown blocks
		}
		if ifc >= len(r.ifaces) {
			return r.errAt(r.blockOff, fmt.Errorf("packet refers to interface %d, section has %d", ifc, len(r.ifaces)))
		}
		r.rec++
		in := &r.ifaces[ifc]
		if !noTS {
			r.lastTS = in.ts.micros(tsv)
		}
		reason, frag := decodeFrame(in.lt, data, p)
		if reason != "" {
			r.stats.Skip(reason)
			continue
		}
		p.TS = r.lastTS
		if noTS {
			r.stats.Note(NoteNoTimestamp)
		}
		if frag {
			r.stats.Note(NoteFragment)
		}
		r.stats.Read++
		return nil
	}
}

func (r *ngReader) Stats() Stats { return r.stats.Clone() }

func (r *ngReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}
