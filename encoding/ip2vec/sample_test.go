package ip2vec

import (
	"encoding/csv"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// ugr16Sentences reads the sentences of the UGR'16 sample shipped with the
// repository (columns srcport, dstport, proto).
func ugr16Sentences(t *testing.T) []Sentence {
	t.Helper()
	f, err := os.Open(testutil.Testdata("netshare", "ugr16-small.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var s []Sentence
	for _, r := range rows[1:] {
		sp, err1 := strconv.ParseUint(r[col["srcport"]], 10, 16)
		dp, err2 := strconv.ParseUint(r[col["dstport"]], 10, 16)
		pr, err3 := trace.ParseProto(r[col["proto"]])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad row %v", r)
		}
		s = append(s, Sentence{uint16(sp), uint16(dp), pr})
	}
	return s
}

// On real NetFlow records every port and protocol of the trace round-trips
// through its embedding, and the vocabulary is exactly the trace's values.
func TestUGR16SampleRoundTrip(t *testing.T) {
	sents := ugr16Sentences(t)
	m, err := Train(sents, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var ports []uint16
	var protos []uint8
	for _, s := range sents {
		ports = append(ports, s.SrcPort, s.DstPort)
		protos = append(protos, s.Proto)
	}
	slices.Sort(ports)
	slices.Sort(protos)
	if !slices.Equal(m.Ports(), slices.Compact(ports)) || !slices.Equal(m.Protos(), slices.Compact(protos)) {
		t.Fatalf("vocabulary: %d ports, %v protocols; trace: %d ports, %v", len(m.Ports()), m.Protos(), len(ports), protos)
	}
	src := make([]uint16, len(sents))
	pr := make([]uint8, len(sents))
	for i, s := range sents {
		src[i], pr[i] = s.SrcPort, s.Proto
	}
	vecs := make([]float32, len(src)*m.Dim())
	if _, err := m.EncodePorts(src, vecs); err != nil {
		t.Fatal(err)
	}
	if got := m.DecodePorts(vecs, nil); !slices.Equal(got, src) {
		t.Errorf("%d of %d source ports do not round-trip", countDiff(got, src), len(src))
	}
	pv := make([]float32, len(pr)*m.Dim())
	if _, err := m.EncodeProtos(pr, pv); err != nil {
		t.Fatal(err)
	}
	if got := m.DecodeProtos(pv, nil); !slices.Equal(got, pr) {
		t.Errorf("%d of %d protocols do not round-trip", countDiff(got, pr), len(pr))
	}
}
