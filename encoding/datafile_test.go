package encoding

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// sampleData encodes chunk 1 of the sample flows, whose flows have several
// records (so that padding matters).
func sampleData(t *testing.T) (*Schema, *flows.Chunk[trace.Flow], *Data) {
	t.Helper()
	recs := sampleFlows()
	flows.SortByTime(recs)
	sp, _ := flows.SplitByTime(recs, flows.Options{Chunks: 2})
	spec, _ := BuildFlowSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen})
	ports, protos := portsProtos(recs)
	s, err := NewSchema(spec, newStub(ports, protos))
	if err != nil {
		t.Fatal(err)
	}
	ch := &sp.Chunks[1]
	d, _, err := s.EncodeFlows(ch)
	if err != nil {
		t.Fatal(err)
	}
	if d.MaxLen < 2 || d.Records() == d.N {
		t.Fatalf("sample chunk has max length %d and %d records for %d flows: padding untested", d.MaxLen, d.Records(), d.N)
	}
	return s, ch, d
}

// The sparse training set holds exactly each flow's records: padded, they
// are the dense layout, built here flow by flow (each flow encoded alone
// in a chunk of the same range, its records at rows i×MaxLen.., zeros
// after), and a save/load round trip keeps them.
func TestSparseDataMatchesDensePadding(t *testing.T) {
	s, ch, d := sampleData(t)
	L, F := d.MaxLen, d.FeatDim
	want := make([]float32, d.N*L*F)
	for i := range ch.Flows {
		one := *ch
		one.Flows = ch.Flows[i : i+1]
		od, _, err := s.EncodeFlows(&one)
		if err != nil {
			t.Fatal(err)
		}
		if od.N != 1 || od.Len[0] != min(len(ch.Flows[i].Records), L) || len(od.Feat) != od.Len[0]*F {
			t.Fatalf("flow %d alone: %d flows, length %d, %d values", i, od.N, od.Len[0], len(od.Feat))
		}
		copy(want[i*L*F:], od.Feat)
	}
	if len(d.Feat) != d.Records()*F {
		t.Fatalf("%d feature values for %d records", len(d.Feat), d.Records())
	}
	if !slices.Equal(d.Dense(), want) {
		t.Fatal("padded sparse features differ from the dense layout")
	}
	path := filepath.Join(t.TempDir(), "chunk.data")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	d2, err := LoadData(path)
	if err != nil {
		t.Fatal(err)
	}
	if d2.N != d.N || d2.MaxLen != L || d2.FeatDim != F || d2.AttrDim != d.AttrDim || !slices.Equal(d2.Attr, d.Attr) || !slices.Equal(d2.Len, d.Len) || !slices.Equal(d2.Dense(), want) {
		t.Fatal("training set changed in a save/load round trip")
	}
	st, _ := os.Stat(path)
	if dense := int64(4 * (d.N*d.AttrDim + d.N*L*F + d.N)); st.Size() >= dense {
		t.Errorf("file is %d bytes, no smaller than the dense layout's %d", st.Size(), dense)
	}
}

// A DataWriter fed flow by flow writes the file Save writes.
func TestDataWriterMatchesSave(t *testing.T) {
	_, _, d := sampleData(t)
	dir := t.TempDir()
	saved, appended := filepath.Join(dir, "a.data"), filepath.Join(dir, "b.data")
	if err := d.Save(saved); err != nil {
		t.Fatal(err)
	}
	w, err := CreateData(appended, d.AttrDim, d.FeatDim, d.MaxLen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(appended); err == nil {
		t.Fatal("file in place before Close")
	}
	pos := 0
	for i, l := range d.Len {
		if err := w.Append(d.Attr[i*d.AttrDim:(i+1)*d.AttrDim], d.Feat[pos*d.FeatDim:(pos+l)*d.FeatDim]); err != nil {
			t.Fatal(err)
		}
		pos += l
	}
	if w.Flows() != d.N {
		t.Fatalf("Flows() = %d, want %d", w.Flows(), d.N)
	}
	bad := make([]float32, d.FeatDim*(d.MaxLen+1))
	if err := w.Append(d.Attr[:d.AttrDim], bad); err == nil {
		t.Error("a flow longer than MaxLen accepted")
	}
	nan := slices.Clone(d.Feat[:2*d.FeatDim])
	nan[d.FeatDim+1] = float32(math.NaN())
	if err := w.Append(d.Attr[:d.AttrDim], nan); err == nil || !strings.Contains(err.Error(), "flow "+strconv.Itoa(d.N)+": step 1 feature 1 is NaN") || !strings.Contains(err.Error(), appended) {
		t.Errorf("NaN feature: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(saved)
	b, _ := os.ReadFile(appended)
	if !bytes.Equal(a, b) {
		t.Fatal("incrementally written file differs from Save's")
	}
	// Abort leaves no file.
	w, _ = CreateData(filepath.Join(dir, "c.data"), 1, 1, 1)
	w.Append([]float32{1}, []float32{2})
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("aborted file left behind: %v", ents)
	}
}

func TestDataFileErrors(t *testing.T) {
	_, _, d := sampleData(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "chunk.data")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	load := func(b []byte) error {
		os.WriteFile(path, b, 0o644)
		_, err := LoadData(path)
		if err != nil && !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("error does not name the file: %v", err)
		}
		return err
	}
	for _, cut := range []int{0, 5, 12, 100, len(good) / 2, len(good) - 1} {
		if load(good[:cut]) == nil {
			t.Errorf("file cut at %d bytes loaded without error", cut)
		}
	}
	if load(append(slices.Clone(good), 0)) == nil {
		t.Error("trailing byte accepted")
	}
	// Flow 0's length, then a feature of flow 0, made invalid.
	hdr := len(dataMagic) + 4 + dataHeaderLen
	lenAt := hdr + 4*d.AttrDim
	b := slices.Clone(good)
	binary.LittleEndian.PutUint32(b[lenAt:], uint32(d.MaxLen+1))
	if err := load(b); err == nil || !strings.Contains(err.Error(), "flow 0 has length") {
		t.Errorf("bad length: %v", err)
	}
	b = slices.Clone(good)
	binary.LittleEndian.PutUint32(b[lenAt+4+4*2:], math.Float32bits(float32(math.Inf(1))))
	if err := load(b); err == nil || !strings.Contains(err.Error(), "flow 0: step 0 feature 2 is +Inf") {
		t.Errorf("infinite feature: %v", err)
	}
	// The dense format of before is named as such.
	b = slices.Clone(good)
	copy(b, dataMagicV1)
	if err := load(b); err == nil || !strings.Contains(err.Error(), "dense format") || !strings.Contains(err.Error(), "pre-process the run again") {
		t.Errorf("old format: %v", err)
	}
	// Another version in the header.
	b = slices.Clone(good)
	i := bytes.Index(b, []byte(`"version":2`))
	b[i+len(`"version":`)] = '3'
	if err := load(b); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("future version: %v", err)
	}
	// Validate names the flow, step and feature.
	bad := *d
	bad.Feat = slices.Clone(d.Feat)
	row := d.Len[0] + d.Len[1] // flow 2's first record
	bad.Feat[(row+0)*d.FeatDim+1] = float32(math.NaN())
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "flow 2: step 0 feature 1 is NaN") {
		t.Errorf("Validate: %v", err)
	}
	bad.Feat = d.Feat[1:]
	if bad.Validate() == nil {
		t.Error("short features accepted")
	}
}
