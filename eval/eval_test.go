package eval

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

const sec = 1_000_000 // µs

func tinyFlows() (real, syn []trace.Flow) {
	real = []trace.Flow{
		{Start: 0, Dur: 1 * sec, Src: 1, Dst: 10, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: 1, Bytes: 100},
		{Start: 2 * sec, Dur: 0, Src: 1, Dst: 11, SrcPort: 1001, DstPort: 53, Proto: 17, Packets: 3, Bytes: 300},
	}
	syn = []trace.Flow{
		{Start: 10 * sec, Dur: 1 * sec, Src: 5, Dst: 20, SrcPort: 1000, DstPort: 80, Proto: 6, Packets: 1, Bytes: 100},
		{Start: 14 * sec, Dur: 3 * sec, Src: 6, Dst: 20, SrcPort: 2000, DstPort: 53, Proto: 17, Packets: 7, Bytes: 300},
	}
	return
}

// TestFlowsGolden checks every metric against values worked out by hand
// for two tiny traces.
func TestFlowsGolden(t *testing.T) {
	real, syn := tinyFlows()
	res, err := Flows(real, syn, Options{NoBaselines: true})
	if err != nil {
		t.Fatal(err)
	}
	ln := math.Log
	// Ranks [2] vs [1,1] (and the reverse): p=(1,0), q=(½,½), m=(¾,¼).
	half := 0.5 * (ln(4.0/3) + 0.5*ln(2.0/3) + 0.5*ln(2))
	want := map[string]float64{
		"srcip": half, "dstip": half,
		// {1000,1001} vs {1000,2000}: m = (½,¼,¼) → ½ln 2.
		"srcport": 0.5 * ln(2), "dstport": 0, "proto": 0,
	}
	for k, w := range want {
		near(t, "jsd "+k, res.JSD[k], w)
	}
	near(t, "mean_jsd", res.MeanJSD, (2*half+0.5*ln(2))/5)
	// ts offsets [0,2] vs [0,4] s; td [0,1] vs [1,3] s; pkt [1,3] vs [1,7].
	for k, w := range map[string]float64{"ts": 1, "td": 1.5, "pkt": 2, "byt": 0} {
		near(t, "emd "+k, res.EMD[k], w)
	}
	// ts: 1/2 (range 2); td: log1p gives [0,ln2] vs [ln2,ln4], EMD ln2,
	// range ln2; pkt: [ln2,ln4] vs [ln2,ln8], EMD ½ln2, range ln2.
	for k, w := range map[string]float64{"ts": 0.5, "td": 1, "pkt": 0.5, "byt": 0} {
		near(t, "emd_normalized "+k, res.EMDNormalized[k], w)
	}
	near(t, "mean_emd_normalized", res.MeanEMDNormalized, 0.5)
	// pkt bins 1,2 vs 1,3 (byt bins 6,8 both): half the mass moves.
	// td ms bins: 1000→9, 0→0 vs 1000→9, 3000→11.
	for k, w := range map[string]float64{"dstport_proto": 0, "pkt_byt": 0.5, "td_pkt": 0.5, MeanJointKey: 1.0 / 3} {
		near(t, "joint "+k, res.Joint[k], w)
	}
	if res.Kind != "flows" || res.RealRecords != 2 || res.SyntheticRecords != 2 {
		t.Errorf("header %+v", res.Fidelity)
	}
	// Protocol validity: the first record of each trace has one packet and
	// a nonzero duration; every address is in 0/8.
	pr := res.Protocol
	if pr == nil || pr.Kind != "flows" || pr.Real.Flows != 2 || pr.Synthetic.Flows != 2 || pr.All.Real.Flows != 0 {
		t.Fatalf("protocol %+v", pr)
	}
	for _, c := range pr.Checks {
		want := map[string]float64{"flow_duration": 0.5, "src_addr": 0, "dst_addr": 0}[c.Name]
		if _, ok := map[string]bool{"flow_duration": true, "src_addr": true, "dst_addr": true}[c.Name]; !ok {
			want = 1
		}
		if c.Real.Flows != want || c.Synthetic.Flows != want {
			t.Errorf("protocol check %s: real %v synthetic %v, want %v", c.Name, c.Real.Flows, c.Synthetic.Flows, want)
		}
	}
}

func tinyPackets() (real, syn []trace.Packet) {
	a := trace.Packet{Src: 1, Dst: 2, SrcPort: 10, DstPort: 80, Proto: 6}
	b := trace.Packet{Src: 3, Dst: 2, SrcPort: 11, DstPort: 53, Proto: 17}
	c := trace.Packet{Src: 1, Dst: 2, SrcPort: 10, DstPort: 80, Proto: 6}
	d := trace.Packet{Src: 4, Dst: 2, SrcPort: 12, DstPort: 53, Proto: 17}
	e := trace.Packet{Src: 5, Dst: 7, SrcPort: 13, DstPort: 53, Proto: 17}
	at := func(p trace.Packet, ts int64, l uint16) trace.Packet { p.TS, p.Len = ts, l; return p }
	real = []trace.Packet{at(a, 0, 40), at(a, 1*sec, 1500), at(b, 3*sec, 100)}
	syn = []trace.Packet{at(c, 5*sec, 40), at(d, 6*sec, 100), at(e, 8*sec, 100)}
	return
}

func TestPacketsGolden(t *testing.T) {
	real, syn := tinyPackets()
	res, err := Packets(real, syn, Options{NoBaselines: true})
	if err != nil {
		t.Fatal(err)
	}
	ln := math.Log
	want := map[string]float64{
		// ranks [2,1] vs [1,1,1]: m = (½,⅓,⅙).
		"srcip": 0.5 * (2.0/3*ln(4.0/3) + 1.0/3*ln(2.0/3) + 1.0/3*ln(2)),
		// ranks [3] vs [2,1]: m = (5/6, 1/6).
		"dstip": 0.5 * (ln(6.0/5) + 2.0/3*ln(4.0/5) + 1.0/3*ln(2)),
		// {10:2,11:1} vs {10,12,13}: m = (½,⅙,⅙,⅙).
		"srcport": 0.5 * (2.0/3*ln(4.0/3) + 1.0/3*ln(2) + 1.0/3*ln(2.0/3) + 2.0/3*ln(2)),
		// (⅔,⅓) vs (⅓,⅔), m = (½,½).
		"dstport": 2.0/3*ln(4.0/3) + 1.0/3*ln(2.0/3),
		"proto":   2.0/3*ln(4.0/3) + 1.0/3*ln(2.0/3),
	}
	for k, w := range want {
		near(t, "jsd "+k, res.JSD[k], w)
	}
	// ts offsets identical; lengths [40,100,1500] vs [40,100,100];
	// flow sizes [1,2] vs [1,1,1].
	for k, w := range map[string]float64{"ts": 0, "pkt_len": 1400.0 / 3, "flow_size": 0.5} {
		near(t, "emd "+k, res.EMD[k], w)
	}
	for k, w := range map[string]float64{
		"ts":        0,
		"pkt_len":   (ln(1501) - ln(101)) / (3 * (ln(1501) - ln(41))),
		"flow_size": 0.5,
	} {
		near(t, "emd_normalized "+k, res.EMDNormalized[k], w)
	}
	// length bins (5,TCP),(10,TCP),(6,UDP) vs (5,TCP),(6,UDP)×2;
	// flows (bin 1, port 80),(1,53) vs (1,80),(1,53)×2.
	for k, w := range map[string]float64{"pkt_len_proto": 1.0 / 3, "flow_size_dstport": 1.0 / 6, MeanJointKey: 0.25} {
		near(t, "joint "+k, res.Joint[k], w)
	}
}

func randomFlows(r *rand.Rand, n int) []trace.Flow {
	fs := make([]trace.Flow, n)
	for i := range fs {
		pkt := 1 + uint64(r.ExpFloat64()*20)
		fs[i] = trace.Flow{
			Start: int64(i) * 1000, Dur: int64(r.ExpFloat64() * 1e6),
			Src: uint32(r.IntN(50)), Dst: uint32(r.IntN(20)),
			SrcPort: uint16(1024 + r.IntN(2000)), DstPort: []uint16{80, 443, 53}[r.IntN(3)],
			Proto: []uint8{6, 17}[r.IntN(2)], Packets: pkt, Bytes: pkt * uint64(40+r.IntN(1400)),
		}
	}
	return fs
}

func TestIdentityAndSymmetry(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a, b := randomFlows(r, 500), randomFlows(r, 300)
	self, err := Flows(a, a, Options{NoBaselines: true})
	if err != nil {
		t.Fatal(err)
	}
	all := func(f *Fidelity, each func(string, float64)) {
		for _, m := range []map[string]float64{f.JSD, f.EMD, f.EMDNormalized, f.Joint, f.JointExtra} {
			for k, v := range m {
				each(k, v)
			}
		}
	}
	all(&self.Fidelity, func(k string, v float64) {
		if v != 0 {
			t.Errorf("trace against itself: %s = %v, want 0", k, v)
		}
	})
	ab, _ := Flows(a, b, Options{NoBaselines: true})
	ba, _ := Flows(b, a, Options{NoBaselines: true})
	for _, k := range jsdFields {
		near(t, "JSD symmetric "+k, ab.JSD[k], ba.JSD[k])
		if v := ab.JSD[k]; v < 0 || v > math.Ln2 {
			t.Errorf("JSD %s = %v out of bounds", k, v)
		}
	}
	for k, v := range ab.EMD {
		near(t, "EMD symmetric "+k, v, ba.EMD[k])
	}
	for k, v := range ab.Joint {
		near(t, "TVD symmetric "+k, v, ba.Joint[k])
		if v < 0 || v > 1 {
			t.Errorf("TVD %s = %v out of bounds", k, v)
		}
	}
	pr, ps := tinyPackets()
	pself, _ := Packets(pr, pr, Options{NoBaselines: true})
	all(&pself.Fidelity, func(k string, v float64) {
		if v != 0 {
			t.Errorf("packets against themselves: %s = %v", k, v)
		}
	})
	_ = ps
}

func TestEmptyTraces(t *testing.T) {
	real, _ := tinyFlows()
	_, err := Flows(real, nil, Options{})
	var se *SideError
	if !errors.Is(err, ErrEmpty) || !errors.As(err, &se) || se.Side != "synthetic" {
		t.Fatalf("err = %v, want an empty-synthetic error", err)
	}
	if _, err := Packets(nil, nil, Options{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("err = %v", err)
	}
}

func TestJSONShape(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	a, b := randomFlows(r, 400), randomFlows(r, 400)
	res, err := Flows(a, b, Options{Seed: 3, Privacy: &PrivacyInfo{Epsilon: 2, Delta: 1e-5, Noise: 1.1, Clip: 1, Steps: 100}})
	if err != nil {
		t.Fatal(err)
	}
	js, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "real_records", "synthetic_records", "jsd", "emd", "emd_normalized", "mean_jsd", "mean_emd_normalized", "joint", "downstream", "baselines", "privacy", "protocol"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if _, ok := m["joint"].(map[string]any)["mean_joint_tvd"]; !ok {
		t.Error("joint lacks mean_joint_tvd")
	}
	if p := m["privacy"].(map[string]any); p["epsilon"] != 2.0 || p["steps"] != 100.0 {
		t.Errorf("privacy = %v", p)
	}
	bl := m["baselines"].(map[string]any)
	if _, ok := bl["bootstrap"].(map[string]any)["mean_jsd"]; !ok {
		t.Error("baselines.bootstrap lacks mean_jsd")
	}
	var back Result
	if err := json.Unmarshal(js, &back); err != nil || back.MeanJSD != res.MeanJSD || back.MeanJointTVD() != res.MeanJointTVD() {
		t.Fatalf("round trip: %v %v", err, back.MeanJSD)
	}
	var sb strings.Builder
	if err := res.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"JSD srcip", "normalised EMD byt", "joint TVD pkt_byt", "bootstrap", "epsilon 2", "Count-Min Sketch", "traffic-type prediction: skipped", "protocol validity", "flow_bytes"} {
		if !strings.Contains(sb.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, sb.String())
		}
	}
}

func TestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	a, b := randomFlows(r, 300), randomFlows(r, 300)
	x, _ := Flows(a, b, Options{Seed: 11})
	y, _ := Flows(a, b, Options{Seed: 11})
	jx, _ := x.JSON()
	jy, _ := y.JSON()
	if string(jx) != string(jy) {
		t.Fatal("two evaluations with the same seed differ")
	}
}

// TestFlowIAT checks the within-flow inter-arrival metric: zero for the
// same gaps, in whatever order the packets come, positive for other gaps,
// and absent when a side has no flow of two packets.
func TestFlowIAT(t *testing.T) {
	mk := func(gaps ...int64) []trace.Packet {
		var ps []trace.Packet
		ts := int64(1_000_000)
		for i, g := range gaps {
			ts += g
			// Two flows interleaved: packets i and i+1 of one flow are not
			// neighbours in the trace.
			ps = append(ps, trace.Packet{TS: ts, Src: 1 + uint32(i%2), Dst: 9, SrcPort: 1000, DstPort: 80, Proto: 6, Len: 60})
		}
		return ps
	}
	real := mk(0, 10, 1000, 20, 500_000, 30)
	same := slices.Clone(real)
	slices.Reverse(same)
	f, err := FastPackets(real, same)
	if err != nil {
		t.Fatal(err)
	}
	if f.FlowIAT == nil || *f.FlowIAT != 0 {
		t.Fatalf("the same packets: flow IAT %v, want 0", f.FlowIAT)
	}
	f, err = FastPackets(real, mk(0, 10, 1, 20, 2, 30))
	if err != nil {
		t.Fatal(err)
	}
	if f.FlowIAT == nil || *f.FlowIAT <= 0.1 {
		t.Fatalf("shorter gaps within flows: flow IAT %v, want well above 0", f.FlowIAT)
	}
	single := []trace.Packet{{TS: 1, Src: 1, Dst: 2, Proto: 6}, {TS: 2, Src: 3, Dst: 2, Proto: 6}}
	if f, err = FastPackets(real, single); err != nil || f.FlowIAT != nil {
		t.Fatalf("no flow of two packets: flow IAT %v (%v), want none", f.FlowIAT, err)
	}
}

// The extra joint histograms see what the mean's pairs do not: traces
// with the same (port, protocol), (packets, bytes) and (duration, packets)
// histograms, but durations paired with other bytes, ports with other
// packet counts, or protocols with other sizes, differ in td_byt,
// dstport_pkt or proto_bpp alone.
func TestJointExtra(t *testing.T) {
	mk := func(port uint16, pkts, bytes uint64, dur int64) trace.Flow {
		return trace.Flow{Start: 1, Dur: dur, Src: 1, Dst: 2, SrcPort: 5000, DstPort: port, Proto: trace.ProtoTCP, Packets: pkts, Bytes: bytes}
	}
	icmp := func(bytes uint64) trace.Flow {
		return trace.Flow{Start: 1, Src: 1, Dst: 2, Proto: trace.ProtoICMP, SrcPort: 0, DstPort: 0x0800, Packets: 1, Bytes: bytes}
	}
	tcp := func(bytes uint64) trace.Flow { return mk(0x0800, 1, bytes, 0) }
	for _, c := range []struct {
		name            string
		a, b            [4]trace.Flow
		tdByt, dpP, bpp float64
	}{
		{"durations with other bytes",
			[4]trace.Flow{mk(80, 1, 100, 0), mk(443, 1, 10_000, 1_000_000), mk(80, 20, 50_000, 0), mk(443, 20, 500_000, 1_000_000)},
			[4]trace.Flow{mk(443, 1, 10_000, 0), mk(80, 1, 100, 1_000_000), mk(443, 20, 500_000, 0), mk(80, 20, 50_000, 1_000_000)},
			1, 0, 0},
		{"ports with other packet counts",
			[4]trace.Flow{mk(80, 1, 100, 0), mk(80, 1, 100, 0), mk(443, 20, 50_000, 0), mk(443, 20, 50_000, 0)},
			[4]trace.Flow{mk(443, 1, 100, 0), mk(443, 1, 100, 0), mk(80, 20, 50_000, 0), mk(80, 20, 50_000, 0)},
			0, 1, 0},
		{"protocols with other sizes",
			[4]trace.Flow{icmp(28), icmp(28), tcp(44), tcp(44)},
			[4]trace.Flow{icmp(44), icmp(44), tcp(28), tcp(28)},
			0, 0, 1},
	} {
		var a, b []trace.Flow
		for range 50 {
			a = append(a, c.a[:]...)
			b = append(b, c.b[:]...)
		}
		res, err := Flows(a, b, Options{NoBaselines: true})
		if err != nil {
			t.Fatal(err)
		}
		if v := res.MeanJointTVD(); v != 0 {
			t.Errorf("%s: mean joint TVD %v, want 0", c.name, v)
		}
		if v := res.JointExtra["td_byt"]; v != c.tdByt {
			t.Errorf("%s: td_byt %v, want %v", c.name, v, c.tdByt)
		}
		if v := res.JointExtra["dstport_pkt"]; v != c.dpP {
			t.Errorf("%s: dstport_pkt %v, want %v", c.name, v, c.dpP)
		}
		if v := res.JointExtra["proto_bpp"]; v != c.bpp {
			t.Errorf("%s: proto_bpp %v, want %v", c.name, v, c.bpp)
		}
	}
}

// The heavy-hitter table carries the bootstrap resample's errors beside
// the synthetic trace's when the references are drawn, and not otherwise.
func TestTelemetryBootstrapColumn(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 7))
	var real []trace.Flow
	for i := range 3000 {
		real = append(real, trace.Flow{Start: int64(i) * 1000, Src: 1, Dst: uint32(1 + int(r.ExpFloat64()*30)), SrcPort: 40000, DstPort: 80, Proto: 6, Packets: uint64(1 + r.IntN(9)), Bytes: 500})
	}
	for _, nb := range []bool{false, true} {
		res, err := Flows(real, real, Options{NoBaselines: nb, NoAudit: true, NoDistributions: true})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, task := range res.Downstream.Telemetry.Tasks {
			for _, w := range task.Widths {
				if w.Bootstrap != nil {
					n++
				}
			}
		}
		if nb && n != 0 || !nb && n != 12 {
			t.Errorf("references off %v: %d widths with a bootstrap error, want %d", nb, n, map[bool]int{false: 12, true: 0}[nb])
		}
	}
}

// In a capture, dstport_pkt_len sees ports paired with other packet
// lengths, which the mean's pairs do not: each flow's packets take the
// other port's lengths, the protocols and flow sizes staying.
func TestJointExtraPackets(t *testing.T) {
	mk := func(port, length uint16, ts int64) trace.Packet {
		return trace.Packet{TS: ts, Src: 1, Dst: 2, SrcPort: 5000, DstPort: port, Proto: trace.ProtoTCP, Len: length, TTL: 64}
	}
	var a, b []trace.Packet
	for i := range 50 {
		ts := int64(i) * 1000
		a = append(a, mk(22, 1400, ts), mk(80, 60, ts+1))
		b = append(b, mk(22, 60, ts), mk(80, 1400, ts+1))
	}
	res, err := Packets(a, b, Options{NoBaselines: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.MeanJointTVD(); v != 0 {
		t.Errorf("mean joint TVD %v, want 0", v)
	}
	if v := res.JointExtra["dstport_pkt_len"]; v != 1 {
		t.Errorf("dstport_pkt_len %v, want 1", v)
	}
	same, err := Packets(a, a, Options{NoBaselines: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := same.JointExtra["dstport_pkt_len"]; !ok || v != 0 {
		t.Errorf("the trace against itself: dstport_pkt_len %v (%v), want 0", v, ok)
	}
}
