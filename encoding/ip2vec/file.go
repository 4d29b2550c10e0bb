package ip2vec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/netshare-go/netshare/internal/atomicfile"
	"github.com/netshare-go/netshare/trace"
)

// fileMagic opens every model file.
const fileMagic = "NSIP2VEC"

// fileVersion is the format version Save writes and Load reads.
const fileVersion = 1

// headerSize is the size of the fixed header.
const headerSize = 8 + 4 + 4 + 4 + 4 + 8 + 4*4 + 4*8

// maxFileSize bounds what Load reads: the largest valid model (65,536 ports
// and 256 protocols at MaxDim) is about 270 MB.
const maxFileSize = 1 << 29

// Save writes the model to path atomically (a temporary file renamed into
// place). The format, all integers and floats little-endian:
//
//	offset  size  field
//	0       8     magic "NSIP2VEC"
//	8       4     format version, uint32 (1)
//	12      4     vector size D, uint32
//	16      4     number of port tokens P, uint32 (1…65,536)
//	20      4     number of protocol tokens R, uint32 (1…256)
//	24      8     sentences trained on, uint64
//	32      16    window, negative, epochs, min count: uint32 each
//	48      32    alpha, min alpha, sample: float64 each; seed: uint64
//	80      10·P  ports, ascending: value uint16, count uint64
//	…       9·R   protocols, ascending: value uint8, count uint64
//	…       4·D·P port vectors, float32, in port order
//	…       4·D·R protocol vectors, float32, in protocol order
//	…       4     CRC-32 (IEEE) of every preceding byte
//
// The vectors are unit vectors; Load rejects a file whose values are not
// ascending, whose vectors are not finite, whose size is not exactly as
// the header implies, or whose checksum does not match.
func (m *Model) Save(path string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := m.WriteTo(w)
		return err
	})
}

// WriteTo writes the model in the format of [Model.Save].
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	d := m.dim
	le := binary.LittleEndian
	b := make([]byte, 0, headerSize+10*len(m.ports)+9*len(m.protos)+4*d*(len(m.ports)+len(m.protos))+4)
	b = append(b, fileMagic...)
	for _, v := range []uint32{fileVersion, uint32(d), uint32(len(m.ports)), uint32(len(m.protos))} {
		b = le.AppendUint32(b, v)
	}
	b = le.AppendUint64(b, uint64(m.sentences))
	c := m.cfg
	for _, v := range []int{c.Window, c.Negative, c.Epochs, c.MinCount} {
		b = le.AppendUint32(b, uint32(v))
	}
	for _, v := range []float64{c.Alpha, c.MinAlpha, c.Sample} {
		b = le.AppendUint64(b, math.Float64bits(v))
	}
	b = le.AppendUint64(b, c.Seed)
	for i, p := range m.ports {
		b = le.AppendUint16(b, p)
		b = le.AppendUint64(b, m.portCounts[i])
	}
	for i, p := range m.protos {
		b = append(b, p)
		b = le.AppendUint64(b, m.protoCounts[i])
	}
	for _, vecs := range [][]float32{m.portVecs, m.protoVecs} {
		for _, x := range vecs {
			b = le.AppendUint32(b, math.Float32bits(x))
		}
	}
	b = le.AppendUint32(b, crc32.ChecksumIEEE(b))
	n, err := w.Write(b)
	return int64(n), err
}

// ErrCorrupt is wrapped by the errors of [Load] for a file that is not a
// valid model.
var ErrCorrupt = errors.New("not a valid ip2vec model file")

// Load reads a model written by [Model.Save]. Errors name the file and the
// byte offset of the problem.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, &trace.PosError{File: path, Offset: maxFileSize, Err: fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxFileSize)}
	}
	return decodeModel(path, data)
}

// decodeModel parses a model file's bytes.
func decodeModel(path string, data []byte) (*Model, error) {
	fail := func(off int, format string, a ...any) error {
		return &trace.PosError{File: path, Offset: int64(off), Err: fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))}
	}
	if len(data) == 0 {
		return nil, &trace.PosError{File: path, Offset: 0, Err: fmt.Errorf("%w: %w", ErrCorrupt, trace.ErrEmpty)}
	}
	if len(data) < len(fileMagic) || string(data[:len(fileMagic)]) != fileMagic {
		return nil, fail(0, "bad magic (want %q)", fileMagic)
	}
	if len(data) < headerSize {
		return nil, fail(len(data), "truncated header (%d of %d bytes)", len(data), headerSize)
	}
	le := binary.LittleEndian
	u32 := func(off int) uint32 { return le.Uint32(data[off:]) }
	u64 := func(off int) uint64 { return le.Uint64(data[off:]) }
	if v := u32(8); v != fileVersion {
		return nil, fail(8, "format version %d (this build reads %d)", v, fileVersion)
	}
	d, np, nr := int(u32(12)), int(u32(16)), int(u32(20))
	switch {
	case d < 1 || d > MaxDim:
		return nil, fail(12, "vector size %d (want 1…%d)", d, MaxDim)
	case np < 1 || np > 1<<16:
		return nil, fail(16, "%d port tokens (want 1…65536)", np)
	case nr < 1 || nr > 256:
		return nil, fail(20, "%d protocol tokens (want 1…256)", nr)
	}
	want := headerSize + 10*np + 9*nr + 4*d*(np+nr) + 4
	if len(data) < want {
		return nil, fail(len(data), "truncated: %d bytes, the header implies %d", len(data), want)
	}
	if len(data) > want {
		return nil, fail(want, "%d unexpected bytes after the end of the model", len(data)-want)
	}
	if got, sum := crc32.ChecksumIEEE(data[:want-4]), u32(want-4); got != sum {
		return nil, fail(want-4, "checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	m := &Model{dim: d, sentences: int64(u64(24))}
	m.cfg = Config{
		Dim: d, Window: int(u32(32)), Negative: int(u32(36)), Epochs: int(u32(40)), MinCount: int(u32(44)),
		Alpha: math.Float64frombits(u64(48)), MinAlpha: math.Float64frombits(u64(56)),
		Sample: math.Float64frombits(u64(64)), Seed: u64(72),
	}
	off := headerSize
	m.ports = make([]uint16, np)
	m.portCounts = make([]uint64, np)
	for i := range np {
		m.ports[i] = le.Uint16(data[off:])
		m.portCounts[i] = u64(off + 2)
		if i > 0 && m.ports[i] <= m.ports[i-1] {
			return nil, fail(off, "port %d after %d: ports must be ascending and distinct", m.ports[i], m.ports[i-1])
		}
		off += 10
	}
	m.protos = make([]uint8, nr)
	m.protoCounts = make([]uint64, nr)
	for i := range nr {
		m.protos[i] = data[off]
		m.protoCounts[i] = u64(off + 1)
		if i > 0 && m.protos[i] <= m.protos[i-1] {
			return nil, fail(off, "protocol %d after %d: protocols must be ascending and distinct", m.protos[i], m.protos[i-1])
		}
		off += 9
	}
	readVecs := func(n int) ([]float32, error) {
		v := make([]float32, n*d)
		for i := range v {
			x := math.Float32frombits(u32(off))
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fail(off, "non-finite vector component %v", x)
			}
			v[i] = x
			off += 4
		}
		return v, nil
	}
	var err error
	if m.portVecs, err = readVecs(np); err != nil {
		return nil, err
	}
	if m.protoVecs, err = readVecs(nr); err != nil {
		return nil, err
	}
	m.buildIndex()
	return m, nil
}
