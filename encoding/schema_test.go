package encoding

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// stubEmbedding gives each known value a random unit vector and decodes by
// exhaustive cosine search: enough to test the schema without word2vec.
type stubEmbedding struct {
	ports  map[uint16][]float32
	protos map[uint8][]float32
}

func newStub(ports []uint16, protos []uint8) *stubEmbedding {
	r := rand.New(rand.NewPCG(9, 9))
	vec := func() []float32 {
		v := make([]float32, 4)
		var n float64
		for i := range v {
			v[i] = float32(r.NormFloat64())
			n += float64(v[i] * v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	s := &stubEmbedding{ports: map[uint16][]float32{}, protos: map[uint8][]float32{}}
	for _, p := range ports {
		s.ports[p] = vec()
	}
	for _, p := range protos {
		s.protos[p] = vec()
	}
	return s
}

func (s *stubEmbedding) Dim() int { return 4 }
func (s *stubEmbedding) EncodePort(p uint16) ([]float32, bool) {
	if v, ok := s.ports[p]; ok {
		return v, true
	}
	return make([]float32, 4), false
}
func (s *stubEmbedding) EncodeProto(p uint8) ([]float32, bool) {
	if v, ok := s.protos[p]; ok {
		return v, true
	}
	return make([]float32, 4), false
}

func nearest[K comparable](m map[K][]float32, q []float32, cand []K) K {
	var best K
	bestDot := math.Inf(-1)
	for k, v := range m {
		if len(cand) > 0 && !slices.Contains(cand, k) {
			continue
		}
		var d float64
		for i := range v {
			d += float64(v[i] * q[i])
		}
		if d > bestDot {
			best, bestDot = k, d
		}
	}
	return best
}

func (s *stubEmbedding) DecodePorts(vecs []float32, cand []uint16) []uint16 {
	out := make([]uint16, len(vecs)/4)
	for i := range out {
		out[i] = nearest(s.ports, vecs[i*4:i*4+4], cand)
	}
	return out
}
func (s *stubEmbedding) DecodeProtos(vecs []float32, cand []uint8) []uint8 {
	out := make([]uint8, len(vecs)/4)
	for i := range out {
		out[i] = nearest(s.protos, vecs[i*4:i*4+4], cand)
	}
	return out
}

func sampleFlows() []trace.Flow {
	r := rand.New(rand.NewPCG(3, 4))
	var out []trace.Flow
	labels := []string{"background", "blacklist", "scan"}
	for i := range 300 {
		key := trace.Key{Src: 0x0a000000 + uint32(r.IntN(20)), Dst: 0x93205100 + uint32(r.IntN(5)), SrcPort: uint16(1024 + r.IntN(8)), DstPort: []uint16{80, 443, 53}[r.IntN(3)], Proto: []uint8{6, 17}[r.IntN(2)]}
		out = append(out, trace.Flow{Start: 1_600_000_000_000_000 + int64(i)*1_234_567 + int64(r.IntN(1000)),
			Src: key.Src, Dst: key.Dst, SrcPort: key.SrcPort, DstPort: key.DstPort, Proto: key.Proto,
			Dur: int64(r.IntN(100_000)) * 1000, Packets: uint64(1 + r.IntN(5000)), Bytes: uint64(40 + r.IntN(1_000_000)),
			TCPFlags: uint8([]int{0x02, 0x12, 0x1b}[r.IntN(3)]), Label: labels[r.IntN(3)]})
	}
	return out
}

func portsProtos(recs []trace.Flow) ([]uint16, []uint8) {
	var ports []uint16
	var protos []uint8
	for _, f := range recs {
		ports = append(ports, f.SrcPort, f.DstPort)
		protos = append(protos, f.Proto)
	}
	slices.Sort(ports)
	slices.Sort(protos)
	return slices.Compact(ports), slices.Compact(protos)
}

// chunkRoundTrip encodes each chunk of sp, checks that encoding changed nothing
// and that the attributes decode to each flow's 5-tuple, tags and length
// (0 without a length attribute), and returns the decoded records in time
// order.
func chunkRoundTrip[R any, P flows.Record[R]](t *testing.T, s *Schema, sp *flows.Split[R],
	encode func(*flows.Chunk[R]) (*Data, EncodeStats, error),
	decode func([]FlowAttr, []float32, []int, ChunkRange) ([]R, error)) []R {
	t.Helper()
	var got []R
	for ci := range sp.Chunks {
		ch := &sp.Chunks[ci]
		d, st, err := encode(ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Changed) != 0 || st.Truncated != 0 {
			t.Errorf("chunk %d: encoding changed values: %+v", ci, st)
		}
		attrs, err := s.DecodeAttributes(d.Attr, d.N)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range attrs {
			f := ch.Flows[i]
			wantLen := 0
			if s.HasLength() {
				wantLen = len(f.Records)
			}
			if a.Len != wantLen {
				t.Fatalf("chunk %d flow %d: length attribute %d, want %d", ci, i, a.Len, wantLen)
			}
			if a.Key != f.Key || a.StartsHere != f.StartsHere || !slices.Equal(a.Present, f.Present) {
				t.Fatalf("chunk %d flow %d: attributes %+v, want key %v starts %v present %v", ci, i, a, f.Key, f.StartsHere, f.Present)
			}
		}
		out, err := decode(attrs, d.Dense(), d.Len, ChunkRange{Index: ci, Start: ch.Start, End: ch.End})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	flows.SortByTime[R, P](got)
	return got
}

// closeTime reports whether a decoded time is within what float32
// quantisation allows of the original in a chunk [start, end): the chunk
// position, and each gap (through float32 outputs; with sparse quantile
// knots in log space the relative error of a gap reaches a few 1e-5).
func closeTime(got, want, start, end int64) bool {
	return math.Abs(float64(got-want)) <= float64(end-start)*2.5e-7+float64(want-start)*3e-5
}

func TestFlowSchemaRoundTrip(t *testing.T) {
	t.Run("minmax", func(t *testing.T) { testFlowSchemaRoundTrip(t, BuildOptions{}) })
	t.Run("quantile", func(t *testing.T) { testFlowSchemaRoundTrip(t, BuildOptions{QuantileKnots: 64}) })
	t.Run("length", func(t *testing.T) { testFlowSchemaRoundTrip(t, BuildOptions{QuantileKnots: 64, LengthAttr: true}) })
	t.Run("length-minmax", func(t *testing.T) { testFlowSchemaRoundTrip(t, BuildOptions{LengthAttr: true}) })
}

func testFlowSchemaRoundTrip(t *testing.T, opt BuildOptions) {
	recs := sampleFlows()
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 3})
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxLen = sp.Stats.MaxFlowLen
	spec, err := BuildFlowSpec(sp, opt)
	if err != nil {
		t.Fatal(err)
	}
	if (len(spec.StartKnots) > 0) != (opt.QuantileKnots > 0) {
		t.Fatalf("start knots %d with quantile knots %d", len(spec.StartKnots), opt.QuantileKnots)
	}
	// The spec survives a save/load round trip.
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := spec.Save(path); err != nil {
		t.Fatal(err)
	}
	spec2, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	ports, protos := portsProtos(recs)
	s, err := NewSchema(spec2, newStub(ports, protos))
	if err != nil {
		t.Fatal(err)
	}
	// 64+64 IP bits, 3×4 embedding dims, flow_start, starts_here, 3 presence tags.
	want := 128 + 12 + 1 + 2 + 6
	if opt.LengthAttr {
		want++
	}
	if s.AttrDim() != want {
		t.Errorf("attribute dim %d, want %d", s.AttrDim(), want)
	}
	if s.HasLength() != opt.LengthAttr {
		t.Fatalf("schema has a length attribute: %v, want %v", s.HasLength(), opt.LengthAttr)
	}
	got := chunkRoundTrip(t, s, sp, s.EncodeFlows, s.DecodeFlows)
	if len(got) != len(recs) {
		t.Fatalf("decoded %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		w, g := recs[i], got[i]
		if g.Key() != w.Key() || g.Label != w.Label || g.TCPFlags != w.TCPFlags {
			t.Fatalf("record %d: %+v, want %+v", i, g, w)
		}
		if !closeTime(g.Start, w.Start, sp.Chunks[0].Start, sp.Chunks[0].End) {
			t.Errorf("record %d: start %d, want %d", i, g.Start, w.Start)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"td", float64(g.Dur), float64(w.Dur)}, {"pkt", float64(g.Packets), float64(w.Packets)}, {"byt", float64(g.Bytes), float64(w.Bytes)}} {
			if math.Abs(c.got-c.want) > 0.5+c.want*3e-6 {
				t.Errorf("record %d: %s %v, want %v", i, c.name, c.got, c.want)
			}
		}
	}
}

func TestEncodeCountsClampedValues(t *testing.T) {
	recs := sampleFlows()
	flows.SortByTime(recs)
	sp, _ := flows.SplitByTime(recs, flows.Options{Chunks: 1})
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen, Fixed: map[string][2]float64{"pkt": {1, 100}}})
	if err != nil {
		t.Fatal(err)
	}
	ports, protos := portsProtos(recs)
	s, err := NewSchema(spec, newStub(ports[:len(ports)-1], protos))
	if err != nil {
		t.Fatal(err)
	}
	_, st, _ := s.EncodeFlows(&sp.Chunks[0])
	over := 0
	for _, f := range recs {
		if f.Packets > 100 {
			over++
		}
	}
	if st.Changed["pkt"] != over || over == 0 {
		t.Errorf("clamped pkt counted %d, want %d", st.Changed["pkt"], over)
	}
	if st.Changed["srcport"]+st.Changed["dstport"] == 0 {
		t.Error("out-of-vocabulary ports not counted")
	}
}

// A schema file naming an unknown kind is refused with an error naming the
// file and the kind.
func TestLoadSpecUnknownKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(path, []byte(`{"kind": "frames", "chunks": 1, "max_len": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSpec(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"frames"`) {
		t.Errorf("LoadSpec: %v", err)
	}
}

func TestNewSchemaRejectsBadSpecs(t *testing.T) {
	good := Spec{Kind: trace.KindFlows, Chunks: 1, MaxLen: 1, Attr: attrSpecs(1, BuildOptions{}, keyCounts{}), Feat: []FieldSpec{{Name: "gap", Type: TypeContinuous, Hi: 1}}}
	emb := newStub([]uint16{1}, []uint8{6})
	if _, err := NewSchema(good, emb); err != nil {
		t.Fatalf("good spec rejected: %v", err)
	}
	bad := []func(s *Spec){
		func(s *Spec) { s.Kind = 0 },
		func(s *Spec) { s.MaxLen = 0 },
		func(s *Spec) { s.Feat = nil },
		func(s *Spec) { s.Attr = s.Attr[1:] },
		func(s *Spec) {
			s.Feat = append(s.Feat, FieldSpec{Name: "x", Type: TypeContinuous, Lo: -1, Hi: 1, Log: true})
		},
		func(s *Spec) { s.Feat = append(s.Feat, FieldSpec{Name: "x", Type: "wavelet"}) },
		func(s *Spec) { s.Feat = append(s.Feat, FieldSpec{Name: "x", Type: TypeCategorical}) },
		func(s *Spec) { s.Feat = append(s.Feat, FieldSpec{Name: "gap", Type: TypeContinuous}) },
	}
	for i, mut := range bad {
		s := good
		s.Attr = slices.Clone(good.Attr)
		s.Feat = slices.Clone(good.Feat)
		mut(&s)
		if _, err := NewSchema(s, emb); err == nil {
			t.Errorf("bad spec %d accepted", i)
		}
	}
	if _, err := NewSchema(good, nil); err == nil {
		t.Error("port fields without an embedding accepted")
	}
}

func samplePackets() []trace.Packet {
	r := rand.New(rand.NewPCG(5, 6))
	var out []trace.Packet
	for i := range 400 {
		out = append(out, trace.Packet{TS: 1_600_000_000_000_000 + int64(i)*987_654 + int64(r.IntN(1000)),
			Src: 0x0a000000 + uint32(r.IntN(10)), Dst: 0x93205100 + uint32(r.IntN(4)), SrcPort: uint16(1024 + r.IntN(6)), DstPort: []uint16{80, 443, 53}[r.IntN(3)], Proto: []uint8{6, 17}[r.IntN(2)],
			Len: uint16(40 + r.IntN(1400)), TOS: uint8(r.IntN(3)) * 4, ID: uint16(r.IntN(65536)), Flags: uint8(r.IntN(2)) * 2, FragOff: uint16(r.IntN(2)) * 185,
			TTL: uint8(50 + r.IntN(20)), TCPFlags: uint8([]int{0x02, 0x12, 0x10}[r.IntN(3)])})
	}
	return out
}

// TestPacketSchemaRoundTrip encodes packets and decodes them back: every
// header field comes back exactly, and a feature the spec leaves out
// decodes as zero while the others are unaffected.
func TestPacketSchemaRoundTrip(t *testing.T) {
	for _, drop := range []string{"", "ttl", "id"} {
		t.Run("drop="+drop, func(t *testing.T) {
			recs := samplePackets()
			flows.SortByTime(recs)
			sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 2})
			if err != nil {
				t.Fatal(err)
			}
			spec, err := BuildPacketSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range spec.Feat {
				names = append(names, f.Name)
			}
			if want := []string{"gap", "pkt_len", "tos", "id", "ip_flags", "frag_off", "ttl", "tcp_flags"}; !slices.Equal(names, want) {
				t.Fatalf("features %v, want %v", names, want)
			}
			if drop != "" {
				spec.Feat = slices.DeleteFunc(spec.Feat, func(f FieldSpec) bool { return f.Name == drop })
			}
			var ports []uint16
			var protos []uint8
			for _, p := range recs {
				ports = append(ports, p.SrcPort, p.DstPort)
				protos = append(protos, p.Proto)
			}
			s, err := NewSchema(spec, newStub(ports, protos))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.EncodeFlows(&flows.Chunk[trace.Flow]{}); err == nil {
				t.Error("a packet schema encoded flows")
			}
			got := chunkRoundTrip(t, s, sp, s.EncodePackets, s.DecodePackets)
			if len(got) != len(recs) {
				t.Fatalf("decoded %d packets, want %d", len(got), len(recs))
			}
			for i := range recs {
				w, g := recs[i], got[i]
				switch drop {
				case "ttl":
					w.TTL = 0
				case "id":
					w.ID = 0
				}
				if !closeTime(g.TS, w.TS, sp.Chunks[0].Start, sp.Chunks[0].End) {
					t.Errorf("packet %d: time %d, want %d", i, g.TS, w.TS)
				}
				g.TS = w.TS
				if g != w {
					t.Fatalf("packet %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
