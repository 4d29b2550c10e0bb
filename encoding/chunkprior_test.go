package encoding

import (
	"slices"
	"testing"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// The port fields' priors hold each chunk's records per value, overall and
// per protocol, beside the trace's: the first chunk's flows go to port 80,
// the second's to 443. The protocol field has none.
func TestBuildChunkRecordPrior(t *testing.T) {
	var recs []trace.Flow
	add := func(t0 int64, n int, sp, dp uint16, proto uint8) {
		for i := range n {
			recs = append(recs, trace.Flow{Start: t0 + int64(i), Src: 1, Dst: 2, SrcPort: sp, DstPort: dp, Proto: proto, Packets: 1, Bytes: 60})
		}
	}
	add(0, 3, 40000, 80, trace.ProtoTCP)     // one flow of 3 records
	add(10, 1, 40001, 80, trace.ProtoTCP)    // and one of 1
	add(1000, 2, 40002, 443, trace.ProtoTCP) // second half: 443
	add(1010, 1, 40003, 53, trace.ProtoUDP)  // and a UDP flow
	add(1020, 1, 40004, 443, trace.ProtoTCP) //
	flows.SortByTime(recs)
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: 4, PosteriorKappa: 5, PosteriorTopK: 8})
	if err != nil {
		t.Fatal(err)
	}
	var dst, proto FieldSpec
	for _, f := range spec.Attr {
		switch f.Name {
		case "dstport":
			dst = f
		case "proto":
			proto = f
		}
	}
	at := func(cands []int, row []float64, v int) float64 { return row[slices.Index(cands, v)] }
	if len(dst.ChunkRecordPrior) != 2 {
		t.Fatalf("dstport chunk priors %v, want 2 chunks", dst.ChunkRecordPrior)
	}
	for _, c := range []struct {
		chunk, port int
		want        float64
	}{{0, 80, 4}, {0, 443, 0}, {1, 80, 0}, {1, 443, 3}, {1, 53, 1}} {
		if got := at(dst.Candidates, dst.ChunkRecordPrior[c.chunk], c.port); got != c.want {
			t.Errorf("chunk %d, port %d: %v records, want %v", c.chunk, c.port, got, c.want)
		}
	}
	udp := dst.ByProto["17"]
	if len(udp.ChunkRecordPrior) != 2 || at(dst.Candidates, udp.ChunkRecordPrior[1], 53) != 1 || at(dst.Candidates, udp.ChunkRecordPrior[1], 443) != 0 {
		t.Errorf("UDP's chunk priors %v", udp.ChunkRecordPrior)
	}
	if proto.ChunkRecordPrior != nil {
		t.Errorf("the protocol field has chunk priors %v", proto.ChunkRecordPrior)
	}
	// The schema takes them, and rejects a chunk of the wrong width.
	s, err := NewSchema(spec, newStub([]uint16{40000, 40001, 40002, 40003, 40004, 80, 443, 53}, []uint8{6, 17}))
	if err != nil {
		t.Fatal(err)
	}
	if e := s.Embedded("dstport"); e == nil || len(e.Post.ChunkRecordPrior) != 2 {
		t.Fatalf("schema's dstport codec without chunk priors")
	}
	// A public run's spec under DP drops them: its chunks are not the
	// private trace's.
	dropped := spec
	dropped.Attr = slices.Clone(spec.Attr)
	for i := range dropped.Attr {
		bp := map[string]ProtoPrior{}
		for k, v := range dropped.Attr[i].ByProto {
			bp[k] = v
		}
		dropped.Attr[i].ByProto = bp
	}
	dropped.DropChunkPriors()
	for _, f := range dropped.Attr {
		if f.ChunkRecordPrior != nil || f.ByProto["17"].ChunkRecordPrior != nil {
			t.Errorf("%s keeps chunk priors after DropChunkPriors", f.Name)
		}
	}
	if dst.ChunkRecordPrior == nil {
		t.Error("DropChunkPriors changed the spec it was copied from")
	}
	bad := spec
	bad.Attr = slices.Clone(spec.Attr)
	for i := range bad.Attr {
		if bad.Attr[i].Name == "dstport" {
			bad.Attr[i].ChunkRecordPrior = [][]float64{{1}}
		}
	}
	if _, err := NewSchema(bad, newStub([]uint16{40000, 40001, 40002, 40003, 40004, 80, 443, 53}, []uint8{6, 17})); err == nil {
		t.Error("a chunk prior of one weight for several candidates was accepted")
	}
}
