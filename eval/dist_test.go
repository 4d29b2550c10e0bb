package eval

import (
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// ICMP records carry type·256+code in the port field: an echo reply is
// port 0. The service-port chart leaves them out.
func TestTopPortsLeaveICMPOut(t *testing.T) {
	var fs []trace.Flow
	for i := 0; i < 100; i++ {
		fs = append(fs, trace.Flow{Start: int64(i), Src: 1, Dst: 2, DstPort: 0, Proto: 1, Packets: 1, Bytes: 84})
	}
	for i := 0; i < 30; i++ {
		fs = append(fs, trace.Flow{Start: int64(i), Src: 1, Dst: 2, SrcPort: 4000, DstPort: 443, Proto: 6, Packets: 1, Bytes: 60})
	}
	fs = append(fs, trace.Flow{Start: 5, Src: 1, Dst: 2, SrcPort: 4000, DstPort: 0, Proto: 17, Packets: 1, Bytes: 60})
	res, err := Flows(fs, fs, Options{NoDownstream: true, NoBaselines: true, NoAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	tp := res.Distributions.TopPorts
	if len(tp) != 2 || tp[0].Name != "443" || tp[1].Name != "0" || tp[1].Real != 1.0/131 {
		t.Errorf("top ports %+v: want 443, then port 0 of UDP only", tp)
	}
}

// The timeline counts every record of each trace, on a common time axis.
func TestTimeline(t *testing.T) {
	var real, syn []trace.Flow
	for i := 0; i < 600; i++ {
		real = append(real, trace.Flow{Start: 1_000_000_000 + int64(i)*100_000, Packets: 1, Proto: 6})
	}
	for i := 0; i < 300; i++ { // the second half of the real span only
		syn = append(syn, trace.Flow{Start: 1_030_000_000 + int64(i)*100_000, Packets: 1, Proto: 6})
	}
	res, err := Flows(real, syn, Options{NoDownstream: true, NoBaselines: true, NoAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Distributions.Timeline
	if tl == nil || len(tl.Real) != TimelineBins || len(tl.Synthetic) != TimelineBins {
		t.Fatalf("timeline %+v", tl)
	}
	var nr, ns, early float64
	for i := range tl.Real {
		nr += tl.Real[i]
		ns += tl.Synthetic[i]
		if i < TimelineBins/2-1 {
			early += tl.Synthetic[i]
		}
	}
	if nr != 600 || ns != 300 || early != 0 || tl.SyntheticOffset != 30 || tl.RealOffset != 0 || tl.BinSeconds < 0.99 || tl.BinSeconds > 1.01 {
		t.Errorf("timeline: %v real, %v synthetic, %v synthetic in the first half, offsets %v %v, bin %v s", nr, ns, early, tl.RealOffset, tl.SyntheticOffset, tl.BinSeconds)
	}
}
