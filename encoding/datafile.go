package encoding

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/netshare-go/netshare/internal/atomicfile"
)

// dataMagic starts a training-set file: magic, a little-endian uint32
// header length, a JSON header, then the attribute and feature matrices as
// little-endian float32 and the lengths as little-endian int32.
const dataMagic = "NSDATA1\n"

type dataHeader struct {
	N       int `json:"n"`
	AttrDim int `json:"attr_dim"`
	FeatDim int `json:"feat_dim"`
	MaxLen  int `json:"max_len"`
}

// Validate checks that the slices match the dimensions and hold finite
// values, and that every length is in [1, MaxLen].
func (d *Data) Validate() error {
	if d.N < 0 || d.AttrDim < 0 || d.FeatDim < 0 || d.MaxLen < 1 {
		return fmt.Errorf("data: invalid dimensions %d×%d, %d×%d", d.N, d.AttrDim, d.MaxLen, d.FeatDim)
	}
	if len(d.Attr) != d.N*d.AttrDim || len(d.Feat) != d.N*d.MaxLen*d.FeatDim || len(d.Len) != d.N {
		return fmt.Errorf("data: slice sizes %d, %d, %d do not match %d flows", len(d.Attr), len(d.Feat), len(d.Len), d.N)
	}
	for i, l := range d.Len {
		if l < 1 || l > d.MaxLen {
			return fmt.Errorf("data: flow %d has length %d outside [1, %d]", i, l, d.MaxLen)
		}
	}
	for _, m := range [][]float32{d.Attr, d.Feat} {
		for i, v := range m {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("data: non-finite value at index %d", i)
			}
		}
	}
	return nil
}

// Save writes the training set atomically.
func (d *Data) Save(path string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	hdr, _ := json.Marshal(dataHeader{N: d.N, AttrDim: d.AttrDim, FeatDim: d.FeatDim, MaxLen: d.MaxLen})
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, dataMagic); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint32(len(hdr))); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, d.Attr); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, d.Feat); err != nil {
			return err
		}
		lens := make([]int32, len(d.Len))
		for i, l := range d.Len {
			lens[i] = int32(l)
		}
		return binary.Write(w, binary.LittleEndian, lens)
	})
}

// LoadData reads a training set written by Save.
func LoadData(path string) (*Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := readData(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func readData(r io.Reader) (*Data, error) {
	magic := make([]byte, len(dataMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != dataMagic {
		return nil, errors.New("not a netshare training-set file")
	}
	var hl uint32
	if err := binary.Read(r, binary.LittleEndian, &hl); err != nil || hl > 1<<20 {
		return nil, errors.New("corrupt header")
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, errors.New("truncated header")
	}
	var h dataHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("corrupt header: %w", err)
	}
	const limit = 1 << 34
	if h.N < 0 || h.AttrDim < 0 || h.FeatDim < 0 || h.MaxLen < 1 || int64(h.N)*int64(h.MaxLen)*int64(h.FeatDim+1) > limit || int64(h.N)*int64(h.AttrDim) > limit {
		return nil, fmt.Errorf("implausible dimensions in header: %+v", h)
	}
	d := &Data{N: h.N, AttrDim: h.AttrDim, FeatDim: h.FeatDim, MaxLen: h.MaxLen,
		Attr: make([]float32, h.N*h.AttrDim), Feat: make([]float32, h.N*h.MaxLen*h.FeatDim), Len: make([]int, h.N)}
	lens := make([]int32, h.N)
	for _, v := range []any{d.Attr, d.Feat, lens} {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, fmt.Errorf("truncated data: %w", err)
		}
	}
	for i, l := range lens {
		d.Len[i] = int(l)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
