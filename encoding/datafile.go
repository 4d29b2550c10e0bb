package encoding

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/netshare-go/netshare/internal/atomicfile"
)

// A training-set file is sparse: the magic (which carries the format
// version), a little-endian uint32 header length, a JSON header padded with
// spaces to that length, then flow after flow its AttrDim attributes as
// little-endian float32, its length as a little-endian uint32 and its
// length × FeatDim features as little-endian float32. The header's n and
// records (the sum of the lengths) let a reader allocate the final slices
// before it streams the flows into them; a writer that appends flows
// patches them in when it closes.
const (
	dataMagic     = "NSDATA2\n"
	dataVersion   = 2
	dataMagicV1   = "NSDATA1\n" // the dense format: attributes, N × MaxLen × FeatDim features, lengths
	dataHeaderLen = 256         // the padded JSON header's length, fixed so that it can be patched
)

type dataHeader struct {
	Version int `json:"version"`
	N       int `json:"n"`
	Records int `json:"records"`
	AttrDim int `json:"attr_dim"`
	FeatDim int `json:"feat_dim"`
	MaxLen  int `json:"max_len"`
}

// encode returns the magic, the header length and the padded header.
func (h dataHeader) encode() []byte {
	j, _ := json.Marshal(h)
	b := make([]byte, 0, len(dataMagic)+4+dataHeaderLen)
	b = append(b, dataMagic...)
	b = binary.LittleEndian.AppendUint32(b, dataHeaderLen)
	b = append(b, j...)
	for len(b) < cap(b) {
		b = append(b, ' ')
	}
	return b
}

// checkFinite returns an error naming the first NaN or infinite value of
// flow i's attributes or features (feat: its records, featDim wide).
func checkFinite(i int, attr, feat []float32, featDim int) error {
	for j, v := range attr {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("flow %d: attribute %d is %v", i, j, v)
		}
	}
	for j, v := range feat {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("flow %d: step %d feature %d is %v", i, j/featDim, j%featDim, v)
		}
	}
	return nil
}

// Validate checks that the slices match the dimensions and hold finite
// values, and that every length is in [1, MaxLen]. Errors name the flow,
// step and feature.
func (d *Data) Validate() error {
	if d.N < 0 || d.AttrDim < 0 || d.FeatDim < 1 || d.MaxLen < 1 {
		return fmt.Errorf("data: invalid dimensions %d×%d, %d×%d", d.N, d.AttrDim, d.MaxLen, d.FeatDim)
	}
	if len(d.Attr) != d.N*d.AttrDim || len(d.Len) != d.N {
		return fmt.Errorf("data: slice sizes %d, %d do not match %d flows", len(d.Attr), len(d.Len), d.N)
	}
	for i, l := range d.Len {
		if l < 1 || l > d.MaxLen {
			return fmt.Errorf("data: flow %d has length %d outside [1, %d]", i, l, d.MaxLen)
		}
	}
	if r := d.Records(); len(d.Feat) != r*d.FeatDim {
		return fmt.Errorf("data: %d feature values, want %d records × %d", len(d.Feat), r, d.FeatDim)
	}
	pos := 0
	for i, l := range d.Len {
		n := l * d.FeatDim
		if err := checkFinite(i, d.Attr[i*d.AttrDim:(i+1)*d.AttrDim], d.Feat[pos:pos+n], d.FeatDim); err != nil {
			return fmt.Errorf("data: %w", err)
		}
		pos += n
	}
	return nil
}

// Save writes the training set atomically.
func (d *Data) Save(path string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	w, err := CreateData(path, d.AttrDim, d.FeatDim, d.MaxLen)
	if err != nil {
		return err
	}
	pos := 0
	for i, l := range d.Len {
		n := l * d.FeatDim
		if err := w.Append(d.Attr[i*d.AttrDim:(i+1)*d.AttrDim], d.Feat[pos:pos+n]); err != nil {
			w.Abort()
			return err
		}
		pos += n
	}
	return w.Close()
}

// DataWriter writes a training-set file flow by flow, so that a training
// set need not be held whole in memory; Close puts the file in place
// atomically.
type DataWriter struct {
	f    *atomicfile.File
	path string
	h    dataHeader
	buf  []byte
}

// CreateData starts a training-set file with the given dimensions.
func CreateData(path string, attrDim, featDim, maxLen int) (*DataWriter, error) {
	if attrDim < 0 || featDim < 1 || maxLen < 1 {
		return nil, fmt.Errorf("%s: invalid dimensions: %d attributes, %d × %d features", path, attrDim, maxLen, featDim)
	}
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return nil, err
	}
	w := &DataWriter{f: f, path: path, h: dataHeader{Version: dataVersion, AttrDim: attrDim, FeatDim: featDim, MaxLen: maxLen}}
	if _, err := f.Write(w.h.encode()); err != nil {
		f.Abort()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return w, nil
}

// Append adds one flow: its attributes and its records' features (1 to
// MaxLen records, FeatDim values each).
func (w *DataWriter) Append(attr, feat []float32) error {
	h := &w.h
	if len(attr) != h.AttrDim || len(feat)%h.FeatDim != 0 || len(feat) < h.FeatDim || len(feat) > h.MaxLen*h.FeatDim {
		return fmt.Errorf("%s: flow %d: %d attributes and %d feature values, want %d and 1..%d records × %d", w.path, h.N, len(attr), len(feat), h.AttrDim, h.MaxLen, h.FeatDim)
	}
	if err := checkFinite(h.N, attr, feat, h.FeatDim); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	b := w.buf[:0]
	for _, v := range attr {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(feat)/h.FeatDim))
	for _, v := range feat {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	w.buf = b
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	h.N++
	h.Records += len(feat) / h.FeatDim
	return nil
}

// Flows is the number of flows appended so far.
func (w *DataWriter) Flows() int { return w.h.N }

// Close completes the header and puts the file in place.
func (w *DataWriter) Close() error {
	if _, err := w.f.WriteAt(w.h.encode(), 0); err != nil {
		w.f.Abort()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return w.f.Commit()
}

// Abort drops the file; the destination is left as it was.
func (w *DataWriter) Abort() { w.f.Abort() }

// LoadData reads a training set written by Save or a DataWriter, streaming
// the flows into their final slices.
func LoadData(path string) (*Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	d, err := readData(bufio.NewReaderSize(f, 1<<20), size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// readData reads a training set from r; size, when not negative, is the
// whole stream's length, checked against the header before allocating.
func readData(r *bufio.Reader, size int64) (*Data, error) {
	magic := make([]byte, len(dataMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, errors.New("not a netshare training-set file")
	}
	switch string(magic) {
	case dataMagic:
	case dataMagicV1:
		return nil, errors.New("a training set in the dense format of an older netshare (version 1): pre-process the run again")
	default:
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
	if err := json.Unmarshal(bytes.TrimRight(hb, " "), &h); err != nil {
		return nil, fmt.Errorf("corrupt header: %w", err)
	}
	if h.Version != dataVersion {
		return nil, fmt.Errorf("training-set format version %d, this netshare reads version %d", h.Version, dataVersion)
	}
	const limit = 1 << 34
	if h.N < 0 || h.AttrDim < 0 || h.FeatDim < 1 || h.MaxLen < 1 || h.Records < h.N || int64(h.Records) > int64(h.N)*int64(h.MaxLen) ||
		int64(h.Records)*int64(h.FeatDim) > limit || int64(h.N)*int64(h.AttrDim+1) > limit {
		return nil, fmt.Errorf("implausible dimensions in header: %+v", h)
	}
	if want := int64(len(dataMagic)+4) + int64(hl) + 4*(int64(h.N)*int64(h.AttrDim+1)+int64(h.Records)*int64(h.FeatDim)); size >= 0 && size != want {
		return nil, fmt.Errorf("%d bytes, the header's %d flows and %d records need %d", size, h.N, h.Records, want)
	}
	d := &Data{N: h.N, AttrDim: h.AttrDim, FeatDim: h.FeatDim, MaxLen: h.MaxLen,
		Attr: make([]float32, h.N*h.AttrDim), Feat: make([]float32, h.Records*h.FeatDim), Len: make([]int, h.N)}
	buf := make([]byte, 4*max(h.AttrDim+1, h.MaxLen*h.FeatDim))
	pos := 0 // the next record's row
	for i := 0; i < h.N; i++ {
		b := buf[:4*(h.AttrDim+1)]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("flow %d: truncated data", i)
		}
		attr := d.Attr[i*h.AttrDim : (i+1)*h.AttrDim]
		for j := range attr {
			attr[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		l := int(binary.LittleEndian.Uint32(b[4*h.AttrDim:]))
		if l < 1 || l > h.MaxLen {
			return nil, fmt.Errorf("flow %d has length %d outside [1, %d]", i, l, h.MaxLen)
		}
		if pos+l > h.Records {
			return nil, fmt.Errorf("flow %d: more records than the header's %d", i, h.Records)
		}
		d.Len[i] = l
		feat := d.Feat[pos*h.FeatDim : (pos+l)*h.FeatDim]
		b = buf[:4*len(feat)]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("flow %d: truncated data", i)
		}
		for j := range feat {
			feat[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		if err := checkFinite(i, attr, feat, h.FeatDim); err != nil {
			return nil, err
		}
		pos += l
	}
	if pos != h.Records {
		return nil, fmt.Errorf("%d records, the header says %d", pos, h.Records)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, errors.New("data after the last flow")
	}
	return d, nil
}
