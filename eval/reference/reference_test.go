package reference

import (
	"reflect"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func flows(n int) []trace.Flow {
	fs := make([]trace.Flow, n)
	for i := range fs {
		// Every field is a function of i: any independent draw breaks that.
		fs[i] = trace.Flow{Start: int64(i) * 10, Dur: int64(i) * 3, Src: uint32(i), Dst: uint32(i) + 1,
			SrcPort: uint16(i), DstPort: uint16(i + 2), Proto: uint8(i % 7), Packets: uint64(i) + 1,
			Bytes: uint64(i)*40 + 40, Label: string(rune('a' + i%5))}
	}
	return fs
}

func TestBootstrapDrawsWholeRecords(t *testing.T) {
	real := flows(200)
	index := map[trace.Flow]bool{}
	for _, f := range real {
		index[f] = true
	}
	b := BootstrapFlows(real, 300, 1)
	if len(b) != 300 {
		t.Fatalf("len %d", len(b))
	}
	distinct := map[trace.Flow]bool{}
	for i, f := range b {
		if !index[f] {
			t.Fatalf("record %d is not a real record: %+v", i, f)
		}
		if i > 0 && f.Start < b[i-1].Start {
			t.Fatal("output not in time order")
		}
		distinct[f] = true
	}
	// With replacement: some records repeat (P(no repeat) is negligible).
	if len(distinct) == 300 || len(distinct) < 100 {
		t.Errorf("%d distinct records in 300 draws from 200", len(distinct))
	}
	if !reflect.DeepEqual(b, BootstrapFlows(real, 300, 1)) || reflect.DeepEqual(b, BootstrapFlows(real, 300, 2)) {
		t.Error("bootstrap not determined by its seed")
	}
	if BootstrapFlows(nil, 10, 1) != nil || BootstrapPackets(nil, 10, 1) != nil {
		t.Error("empty input should give nil")
	}
}

func TestMarginalKeepsValuesBreaksRecords(t *testing.T) {
	real := flows(500)
	m := MarginalFlows(real, 500, 3)
	whole, consistent := 0, 0
	for i, f := range m {
		k := int(f.Src)
		if k >= 500 || f.Dur%3 != 0 || f.Dur/3 >= 500 || f.Bytes%40 != 0 {
			t.Fatalf("record %d holds a value not drawn from the real field: %+v", i, f)
		}
		if i > 0 && f.Start < m[i-1].Start {
			t.Fatal("starts not in time order")
		}
		if f == real[k] {
			whole++
		}
		if f.Dst == f.Src+1 {
			consistent++
		}
	}
	if whole > 2 || consistent > 10 {
		t.Errorf("%d whole real records and %d consistent src/dst pairs: fields were not drawn independently", whole, consistent)
	}
	if !reflect.DeepEqual(m, MarginalFlows(real, 500, 3)) {
		t.Error("marginal sampler not determined by its seed")
	}
}

func TestPacketGenerators(t *testing.T) {
	real := make([]trace.Packet, 100)
	for i := range real {
		real[i] = trace.Packet{TS: int64(i), Src: uint32(i), Len: uint16(40 + i), TTL: uint8(i)}
	}
	b := BootstrapPackets(real, 150, 1)
	for _, p := range b {
		if p != real[p.Src] {
			t.Fatalf("bootstrap packet %+v is not a real packet", p)
		}
	}
	m := MarginalPackets(real, 150, 1)
	same := 0
	for _, p := range m {
		if p.Len != uint16(40+int(p.Src)) || p.TTL != uint8(p.Src) {
			continue
		}
		same++
	}
	if len(m) != 150 || same > 3 {
		t.Errorf("marginal packets: %d of 150 keep their real fields together", same)
	}
}
