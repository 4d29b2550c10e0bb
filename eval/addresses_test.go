package eval

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func nearly(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// Distinct counts and top-k shares, each measure ranking the addresses by
// itself: source 1 has the most flows, source 2 the most bytes.
func TestFlowAddresses(t *testing.T) {
	var fs []trace.Flow
	for i := 0; i < 3; i++ {
		fs = append(fs, trace.Flow{Src: 1, Dst: 10, Packets: 1, Bytes: 100})
	}
	fs = append(fs, trace.Flow{Src: 2, Dst: 11, Packets: 7, Bytes: 2000})
	for s := uint32(100); s < 200; s++ { // 100 sources of one small flow each
		fs = append(fs, trace.Flow{Src: s, Dst: 10, Packets: 1, Bytes: 1})
	}
	a := FlowAddresses(fs, fs[:4])
	r := a.Real
	if r.SrcDistinct != 102 || r.DstDistinct != 2 || a.Synthetic.SrcDistinct != 2 || a.Synthetic.DstDistinct != 2 {
		t.Fatalf("distinct: real %d/%d, synthetic %d/%d", r.SrcDistinct, r.DstDistinct, a.Synthetic.SrcDistinct, a.Synthetic.DstDistinct)
	}
	at := func(c []float64, k int) float64 {
		v, ok := At(a.K, c, k)
		if !ok {
			t.Fatalf("no value at k=%d", k)
		}
		return v
	}
	if v := at(r.Src.Flows, 1); !nearly(v, 3.0/104) {
		t.Errorf("top-1 source share of flows %v, want 3/104", v)
	}
	if v := at(r.Src.Bytes, 1); !nearly(v, 2000.0/2400) {
		t.Errorf("top-1 source share of bytes %v, want 2000/2400", v)
	}
	if v := at(r.Src.Packets, 10); !nearly(v, (7+3+8)/110.0) {
		t.Errorf("top-10 source share of packets %v, want 18/110", v)
	}
	if v := at(r.Src.Flows, 1000); !nearly(v, 1) {
		t.Errorf("top-1000 share %v, want 1", v)
	}
	if v := at(r.Dst.Flows, 1); !nearly(v, 103.0/104) {
		t.Errorf("top-1 destination share of flows %v, want 103/104", v)
	}
	if v := at(a.Synthetic.Src.Flows, 1); !nearly(v, 0.75) {
		t.Errorf("synthetic top-1 source share of flows %v, want 0.75", v)
	}
}

// In a packet trace a flow is a 5-tuple.
func TestPacketAddresses(t *testing.T) {
	ps := []trace.Packet{
		{Src: 1, Dst: 2, SrcPort: 5, Len: 100}, {Src: 1, Dst: 2, SrcPort: 5, Len: 100}, {Src: 1, Dst: 2, SrcPort: 6, Len: 40},
		{Src: 3, Dst: 2, SrcPort: 5, Len: 1500},
	}
	a := PacketAddresses(ps, ps)
	s := a.Real
	if s.SrcDistinct != 2 || s.DstDistinct != 1 {
		t.Fatalf("distinct %d/%d", s.SrcDistinct, s.DstDistinct)
	}
	f1, _ := At(a.K, s.Src.Flows, 1)
	p1, _ := At(a.K, s.Src.Packets, 1)
	b1, _ := At(a.K, s.Src.Bytes, 1)
	if !nearly(f1, 2.0/3) || !nearly(p1, 0.75) || !nearly(b1, 1500.0/1740) {
		t.Errorf("top-1 source shares: flows %v packets %v bytes %v", f1, p1, b1)
	}
	if _, ok := At(a.K, s.Src.Flows, 3); ok {
		t.Error("a value at a k not in the curve")
	}
}

func TestEvaluateReportsAddresses(t *testing.T) {
	real := []trace.Flow{{Src: 1, Dst: 2, Packets: 1, Bytes: 40}, {Src: 3, Dst: 4, Packets: 2, Bytes: 80}, {Src: 3, Dst: 5, Packets: 1, Bytes: 40}}
	syn := []trace.Flow{{Src: 1, Dst: 2, Packets: 1, Bytes: 40}}
	res, err := Flows(real, syn, Options{NoBaselines: true, NoDownstream: true, NoAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Addresses
	if a == nil || a.Real.SrcDistinct != 2 || a.Real.DstDistinct != 3 || a.Synthetic.DstDistinct != 1 {
		t.Fatalf("addresses %+v", a)
	}
}

func TestAddressText(t *testing.T) {
	real := []trace.Flow{{Src: 1, Dst: 2}, {Src: 3, Dst: 2}, {Src: 3, Dst: 5}}
	res := &Result{Addresses: FlowAddresses(real, real[:1])}
	text := strings.Join(strings.Fields(strings.Join(res.textSections(), "")), " ")
	for _, want := range []string{"distinct source IPs 2 1", "share of flows of the top 1 destination IPs 66.7% 100.0%"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}
