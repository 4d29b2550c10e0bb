package ip2vec

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 42
	cfg.MinCount = 2
	m, err := Train(serviceCorpus(3000, 2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ports.ip2vec")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dim() != m.Dim() || l.Config() != m.Config() || l.Sentences() != 3000 {
		t.Errorf("loaded dim %d config %+v sentences %d; saved dim %d config %+v", l.Dim(), l.Config(), l.Sentences(), m.Dim(), m.Config())
	}
	if !slices.Equal(l.Ports(), m.Ports()) || !slices.Equal(l.Protos(), m.Protos()) {
		t.Error("vocabulary differs after load")
	}
	if !slices.Equal(l.portVecs, m.portVecs) || !slices.Equal(l.protoVecs, m.protoVecs) {
		t.Error("vectors differ after load")
	}
	if !slices.Equal(l.portCounts, m.portCounts) || l.Count(Proto(17)) != m.Count(Proto(17)) {
		t.Error("counts differ after load")
	}
	// The loaded model encodes and decodes like the original.
	vecs := make([]float32, len(m.ports)*m.dim)
	if _, err := l.EncodePorts(m.ports, vecs); err != nil {
		t.Fatal(err)
	}
	if got := l.DecodePorts(vecs, nil); !slices.Equal(got, m.ports) {
		t.Error("loaded model does not round-trip its ports")
	}
	// Saving again overwrites atomically and leaves no temporary file.
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("%d files in the directory after two saves", len(ents))
	}
}

// writeByHand builds a model file from the documented layout, independently
// of WriteTo.
func writeByHand(ports []uint16, protos []uint8, dim int, vec func(i int) float32, fix func(b []byte) []byte) []byte {
	le := binary.LittleEndian
	b := []byte("NSIP2VEC")
	b = le.AppendUint32(b, 1)
	b = le.AppendUint32(b, uint32(dim))
	b = le.AppendUint32(b, uint32(len(ports)))
	b = le.AppendUint32(b, uint32(len(protos)))
	b = le.AppendUint64(b, 99)                      // sentences
	b = append(b, make([]byte, 16)...)              // window … min count
	b = le.AppendUint64(b, math.Float64bits(0.025)) // alpha
	b = le.AppendUint64(b, math.Float64bits(1e-4))  // min alpha
	b = le.AppendUint64(b, math.Float64bits(1e-3))  // sample
	b = le.AppendUint64(b, 7)                       // seed
	for _, p := range ports {
		b = le.AppendUint16(b, p)
		b = le.AppendUint64(b, 3)
	}
	for _, p := range protos {
		b = append(b, p)
		b = le.AppendUint64(b, 5)
	}
	for i := 0; i < (len(ports)+len(protos))*dim; i++ {
		b = le.AppendUint32(b, math.Float32bits(vec(i)))
	}
	if fix != nil {
		b = fix(b)
	}
	return le.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func TestLoadHandWrittenFile(t *testing.T) {
	// Ports 53, 80; protocol 17; two dimensions: 53=(1,0), 80=(0,1), UDP=(0.6,0.8).
	vals := []float32{1, 0, 0, 1, 0.6, 0.8}
	data := writeByHand([]uint16{53, 80}, []uint8{17}, 2, func(i int) float32 { return vals[i] }, nil)
	path := filepath.Join(t.TempDir(), "hand.ip2vec")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Dim() != 2 || m.Sentences() != 99 || m.Config().Seed != 7 || m.Count(Port(80)) != 3 || m.Count(Proto(17)) != 5 {
		t.Errorf("header or counts misread: dim %d sentences %d config %+v", m.Dim(), m.Sentences(), m.Config())
	}
	if got := m.DecodePorts([]float32{0.1, 0.9, 0.9, 0.1}, nil); !slices.Equal(got, []uint16{80, 53}) {
		t.Errorf("decoded %v, want [80 53]", got)
	}
	if s := m.Similarity(Port(53), Proto(17)); math.Abs(s-0.6) > 1e-6 {
		t.Errorf("cos(53, UDP) = %v, want 0.6", s)
	}
}

func TestLoadCorruptFiles(t *testing.T) {
	one := func(i int) float32 { return 0.5 }
	good := writeByHand([]uint16{1, 2}, []uint8{6}, 4, one, nil)
	le := binary.LittleEndian
	recrc := func(b []byte) []byte { // fix the checksum after an edit
		b = slices.Clone(b[:len(b)-4])
		return le.AppendUint32(b, crc32.ChecksumIEEE(b))
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"bad magic", append([]byte("NOTAMODL"), good[8:]...), "magic"},
		{"short header", good[:40], "truncated header"},
		{"version", recrc(append(append(slices.Clone(good[:8]), 2, 0, 0, 0), good[12:]...)), "version 2"},
		{"zero dim", recrc(append(append(slices.Clone(good[:12]), 0, 0, 0, 0), good[16:]...)), "vector size 0"},
		{"no protocols", recrc(append(append(slices.Clone(good[:20]), 0, 0, 0, 0), good[24:]...)), "0 protocol"},
		{"truncated body", good[:len(good)-9], "truncated"},
		{"trailing bytes", append(slices.Clone(good), 0), "unexpected bytes"},
		{"flipped bit", func() []byte { b := slices.Clone(good); b[len(b)-10] ^= 1; return b }(), "checksum"},
		{"ports not ascending", writeByHand([]uint16{2, 1}, []uint8{6}, 4, one, nil), "ascending"},
		{"duplicate protocol", writeByHand([]uint16{1}, []uint8{6, 6}, 4, one, nil), "ascending"},
		{"NaN component", writeByHand([]uint16{1}, []uint8{6}, 4, func(i int) float32 {
			if i == 5 {
				return float32(math.NaN())
			}
			return 0.5
		}, nil), "non-finite"},
	} {
		path := filepath.Join(t.TempDir(), "m.ip2vec")
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "byte offset") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q; want ErrCorrupt naming the file, the offset and %q", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.ip2vec")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
