package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/netshare-go/netshare/internal/atomicfile"
)

// Tensor is a named float32 array for checkpoints.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

type stEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header read from a file (the format's own
// reference implementation uses 100 MB).
const maxHeader = 100 << 20

// WriteSafetensors writes tensors (float32, little-endian) and string
// metadata to path atomically, in the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping each name to its dtype,
// shape and byte range, then the raw data. Names must be unique.
func WriteSafetensors(path string, tensors []Tensor, meta map[string]string) error {
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var off int64
	for i, t := range sorted {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("write %s: bad tensor name %q", path, t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return fmt.Errorf("write %s: duplicate tensor %q", path, t.Name)
		}
		n := 1
		for _, s := range t.Shape {
			n *= s
		}
		if n != len(t.Data) {
			return fmt.Errorf("write %s: tensor %q has %d values for shape %v", path, t.Name, len(t.Data), t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*int64(n)}}
		off += 4 * int64(n)
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Pad the header with spaces to a multiple of 8 bytes, as the reference
	// writer does, so the data is aligned.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hj); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for _, t := range sorted {
			for _, v := range t.Data {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					if _, err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		_, err := w.Write(buf)
		return err
	})
}

// ReadSafetensors reads a file written by WriteSafetensors (or any
// safetensors file whose tensors are all F32). Errors name the file and what
// is wrong with it.
func ReadSafetensors(path string) (map[string]Tensor, map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...))
	}
	if len(raw) < 8 {
		return nil, nil, fail("truncated: %d bytes, no header length", len(raw))
	}
	hl := binary.LittleEndian.Uint64(raw[:8])
	if hl > maxHeader || 8+hl > uint64(len(raw)) {
		return nil, nil, fail("header length %d does not fit in %d bytes", hl, len(raw))
	}
	var header map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw[8 : 8+hl]))
	if err := dec.Decode(&header); err != nil {
		return nil, nil, fail("bad header: %v", err)
	}
	data := raw[8+hl:]
	var meta map[string]string
	out := map[string]Tensor{}
	for name, msg := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fail("bad metadata: %v", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fail("tensor %q: bad entry: %v", name, err)
		}
		if e.Dtype != "F32" {
			return nil, nil, fail("tensor %q: dtype %s, only F32 is supported", name, e.Dtype)
		}
		n := int64(1)
		for _, s := range e.Shape {
			if s < 0 {
				return nil, nil, fail("tensor %q: negative dimension in shape %v", name, e.Shape)
			}
			n *= int64(s)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi > int64(len(data)) || hi-lo != 4*n {
			return nil, nil, fail("tensor %q: byte range [%d, %d) does not hold shape %v in %d data bytes", name, lo, hi, e.Shape, len(data))
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[lo+4*int64(i):]))
		}
		out[name] = Tensor{Name: name, Shape: e.Shape, Data: vals}
	}
	return out, meta, nil
}
