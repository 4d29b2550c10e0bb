package reference_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/eval"
	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/trace"
)

const (
	t0   = int64(1_600_000_000_000_000)
	span = int64(3600 * 1_000_000)
)

// realistic returns n single-record flows with skewed, correlated fields:
// a few busy subnets and service ports, ephemeral source ports, TCP and
// UDP with different sizes.
func realistic(n int, seed uint64) []trace.Flow {
	r := rand.New(rand.NewPCG(seed, 1))
	subnets := []uint32{0x0a000000, 0x0a010000, 0xc0a80000, 0x93200000, 0x08080000}
	services := []uint16{80, 443, 53, 22, 25, 123}
	fs := make([]trace.Flow, n)
	for i := range fs {
		f := &fs[i]
		f.Start = t0 + int64(float64(span)*math.Pow(r.Float64(), 2))
		f.Src = subnets[min(r.IntN(8), 4)] | uint32(r.IntN(200))
		f.Dst = subnets[r.IntN(5)] | uint32(r.IntN(50))<<8 | uint32(r.IntN(4))
		f.SrcPort = uint16(32768 + r.IntN(28000))
		f.DstPort = services[min(r.IntN(9), 5)]
		if f.DstPort == 53 || f.DstPort == 123 {
			f.Proto = 17
			f.Packets = 1 + uint64(r.IntN(2))
			f.Bytes = f.Packets * uint64(60+r.IntN(100))
			f.Dur = int64(r.IntN(1000))
		} else {
			f.Proto = 6
			f.Packets = uint64(math.Exp(1 + 1.5*math.Abs(r.NormFloat64())))
			f.Bytes = f.Packets * uint64(40+r.IntN(1400))
			f.Dur = int64(f.Packets) * int64(1000+r.IntN(100_000))
		}
	}
	slices.SortFunc(fs, func(a, b trace.Flow) int { return int(a.Start - b.Start) })
	return fs
}

func options(eps float64) reference.DPOptions {
	return reference.DPOptions{Epsilon: eps, Delta: 1e-5, Domain: reference.DPDomain{Start: t0, End: t0 + span}}
}

func TestDPMarginalSpendsItsBudgetAndIsSeeded(t *testing.T) {
	real := realistic(3000, 1)
	for _, eps := range []float64{0.5, 2, 8} {
		a, m, err := reference.DPMarginalFlows(real, 2000, 7, options(eps))
		if err != nil {
			t.Fatal(err)
		}
		if g := m.Guarantee.Epsilon; g > eps || g < 0.999*eps {
			t.Errorf("ε = %v: the histograms composed spend %v", eps, g)
		}
		// The ports have a coarse histogram too.
		if len(m.Fields) != len(reference.DefaultDPFields()) || len(m.Mechanisms()) != len(m.Fields)+2 {
			t.Fatalf("%d fields released in %d histograms", len(m.Fields), len(m.Mechanisms()))
		}
		for _, f := range m.Fields {
			if f.Epsilon >= eps || f.Noise <= 0 || f.Std != f.Noise*m.Bound {
				t.Errorf("field %s: standalone ε %v, σ %v, std %v", f.Name, f.Epsilon, f.Noise, f.Std)
			}
		}
		if len(a) != 2000 {
			t.Fatalf("%d records", len(a))
		}
		for i := range a {
			if a[i].Start < t0 || a[i].Start >= t0+span || (i > 0 && a[i].Start < a[i-1].Start) {
				t.Fatalf("record %d starts at %d: outside the domain or out of order", i, a[i].Start)
			}
			if a[i].Label != "" || a[i].TOS != 0 {
				t.Fatalf("record %d has fields that were not released: %+v", i, a[i])
			}
		}
		b, _, _ := reference.DPMarginalFlows(real, 2000, 7, options(eps))
		c, _, _ := reference.DPMarginalFlows(real, 2000, 8, options(eps))
		if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
			t.Errorf("ε = %v: sampler not determined by its seed", eps)
		}
	}
}

// A change to the private trace reaches the output only through the noisy
// histograms: a record changed within its bins leaves the output exactly
// as it was, and a record moved to other bins changes only those bins.
func TestDPMarginalReadsOnlyTheHistograms(t *testing.T) {
	real := realistic(2000, 2)
	opt := options(4)
	ma, err := reference.NoisyFlowMarginals(real, 3, opt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ma.Flows(1500, 3)
	if err != nil {
		t.Fatal(err)
	}

	// Same bins: new host bits within the /16 prefixes, a start within the
	// same time bin (bins of span/256), same ports, protocol and sizes.
	same := slices.Clone(real)
	f := &same[100]
	f.Src ^= 0x00000f0f
	f.Dst ^= 0x000000f0
	f.Start++
	mb, err := reference.NoisyFlowMarginals(same, 3, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mb.Flows(1500, 3)
	if !reflect.DeepEqual(a, b) {
		t.Error("a record changed within its bins changed the output")
	}
	// The non-DP marginal sampler copies the changed values themselves.
	if reflect.DeepEqual(reference.MarginalFlows(real, 5000, 3), reference.MarginalFlows(same, 5000, 3)) {
		t.Error("the non-DP sampler did not see the change either: the test proves nothing")
	}

	// Other bins: a different destination port and protocol. Only the
	// histograms of those fields change, in the record's old and new bins
	// (and the port ranges that hold them).
	moved := slices.Clone(real)
	g := &moved[200]
	oldPort, oldProto := int(g.DstPort), int(g.Proto)
	g.DstPort, g.Proto = 4444, 132
	mc, err := reference.NoisyFlowMarginals(moved, 3, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, fa := range ma.Fields {
		fc := mc.Fields[i]
		for k := range fa.Noisy {
			if fa.Noisy[k] == fc.Noisy[k] {
				continue
			}
			ok := (fa.Name == "dstport" && (k == oldPort || k == 4444)) || (fa.Name == "proto" && (k == oldProto || k == 132))
			if !ok {
				t.Errorf("field %s bin %d changed (%v → %v)", fa.Name, k, fa.Noisy[k], fc.Noisy[k])
			}
		}
		for k := range fa.Coarse {
			if fa.Coarse[k] != fc.Coarse[k] && (fa.Name != "dstport" || (k != oldPort/fa.Group && k != 4444/fa.Group)) {
				t.Errorf("field %s range %d changed (%v → %v)", fa.Name, k, fa.Coarse[k], fc.Coarse[k])
			}
		}
	}
	// The sample is a function of the histograms alone: given the first
	// trace's histograms, the second release samples the first's output.
	for i := range mc.Fields {
		mc.Fields[i].Weights = ma.Fields[i].Weights
	}
	if c, _ := mc.Flows(1500, 3); !reflect.DeepEqual(a, c) {
		t.Error("same histograms, different output")
	}
}

type fidelity struct{ ports, joint, emd float64 }

func measure(t *testing.T, real, syn []trace.Flow) fidelity {
	t.Helper()
	res, err := eval.Flows(real, syn, eval.Options{NoBaselines: true, NoDownstream: true, NoDistributions: true, NoAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	return fidelity{
		ports: (res.JSD["srcport"] + res.JSD["dstport"] + res.JSD["proto"]) / 3,
		joint: res.MeanJointTVD(),
		emd:   res.MeanEMDNormalized,
	}
}

// With ε → ∞ the DP sampler is the non-DP marginal sampler up to its
// binning; at small ε it is noisier.
func TestDPMarginalFidelityAgainstEpsilon(t *testing.T) {
	real := realistic(6000, 3)
	marg := measure(t, real, reference.MarginalFlows(real, len(real), 4))
	at := func(eps float64) fidelity {
		syn, _, err := reference.DPMarginalFlows(real, len(real), 4, options(eps))
		if err != nil {
			t.Fatal(err)
		}
		return measure(t, real, syn)
	}
	inf, small := at(1e4), at(0.3)
	t.Logf("marginal %+v, ε=1e4 %+v, ε=0.3 %+v", marg, inf, small)
	if math.Abs(inf.ports-marg.ports) > 0.03 || math.Abs(inf.joint-marg.joint) > 0.05 || math.Abs(inf.emd-marg.emd) > 0.03 {
		t.Errorf("ε = 1e4: %+v, want close to the non-DP marginal sampler's %+v", inf, marg)
	}
	// (The joint TVD of an independent sampler is dominated by the
	// structure it destroys, so noise need not raise it.)
	if !(small.ports > inf.ports+0.02) || !(small.emd > inf.emd+0.01) {
		t.Errorf("ε = 0.3 (%+v) is not noisier than ε = 1e4 (%+v)", small, inf)
	}
}

func TestDPMarginalLabelsAndErrors(t *testing.T) {
	real := realistic(1000, 4)
	for i := range real {
		real[i].Label = []string{"background", "background", "attack", "unlisted"}[i%4]
	}
	opt := options(1e3)
	opt.Domain.Labels = []string{"background", "attack", "scan"}
	opt.Fields = []string{"start", "label"}
	syn, m, err := reference.DPMarginalFlows(real, 3000, 1, opt)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, f := range syn {
		count[f.Label]++
		if f.DstPort != 0 || f.Src != 0 {
			t.Fatal("fields not released were set")
		}
	}
	if count["unlisted"] != 0 || count["scan"] != 0 || count["background"] < 1700 || count["attack"] < 800 {
		t.Errorf("labels drawn %v, want background about twice attack and nothing else", count)
	}
	if m.Guarantee.Epsilon > 1e3 {
		t.Errorf("spent %v", m.Guarantee.Epsilon)
	}

	bad := map[string]reference.DPOptions{
		"time range": {Epsilon: 1, Delta: 1e-5},
		"ε":          {Epsilon: 0, Delta: 1e-5, Domain: opt.Domain},
		"δ":          {Epsilon: 1, Delta: 1, Domain: opt.Domain},
		"vocabulary": {Epsilon: 1, Delta: 1e-5, Domain: reference.DPDomain{Start: t0, End: t0 + 1}, Fields: []string{"label"}},
		"unknown":    {Epsilon: 1, Delta: 1e-5, Domain: opt.Domain, Fields: []string{"ttl"}},
		"twice":      {Epsilon: 1, Delta: 1e-5, Domain: opt.Domain, Fields: []string{"proto", "proto"}},
		"prefix":     {Epsilon: 1, Delta: 1e-5, Domain: reference.DPDomain{Start: t0, End: t0 + 1, PrefixLen: 30}},
	}
	for what, o := range bad {
		if _, _, err := reference.DPMarginalFlows(real, 10, 1, o); err == nil {
			t.Errorf("%s: bad options accepted", what)
		} else if what == "vocabulary" && !strings.Contains(err.Error(), "vocabulary") {
			t.Errorf("label without vocabulary: %v", err)
		}
	}
}

// packets returns about 3n packets in n flows of one to five packets.
func packets(n int, seed uint64) []trace.Packet {
	var ps []trace.Packet
	for _, f := range realistic(n, seed) {
		r := rand.New(rand.NewPCG(uint64(f.Start), seed))
		ttl := uint8(64 << r.IntN(2))
		for k := 0; k < 1+r.IntN(5); k++ {
			ps = append(ps, trace.Packet{TS: min(f.Start+int64(k)*1000, t0+span-1), Src: f.Src, Dst: f.Dst, SrcPort: f.SrcPort, DstPort: f.DstPort,
				Proto: f.Proto, Len: uint16(40 + r.IntN(3)*700), TTL: ttl, ID: uint16(r.IntN(65536))})
		}
	}
	slices.SortFunc(ps, func(a, b trace.Packet) int { return int(a.TS - b.TS) })
	return ps
}

func TestDPMarginalPackets(t *testing.T) {
	real := packets(2000, 5)
	a, m, err := reference.DPMarginalPackets(real, 3000, 2, options(2))
	if err != nil {
		t.Fatal(err)
	}
	if g := m.Guarantee.Epsilon; g > 2 || g < 1.998 || len(m.Fields) != len(reference.DefaultDPPacketFields()) {
		t.Errorf("spent %v over %d fields", g, len(m.Fields))
	}
	for i, p := range a {
		if p.TS < t0 || p.TS >= t0+span || (i > 0 && p.TS < a[i-1].TS) {
			t.Fatalf("packet %d at %d: outside the domain or out of order", i, p.TS)
		}
		if p.TTL != 0 || p.ID != 0 {
			t.Fatalf("packet %d has fields that were not released: %+v", i, p)
		}
	}
	b, _, _ := reference.DPMarginalPackets(real, 3000, 2, options(2))
	if !reflect.DeepEqual(a, b) {
		t.Error("packet sampler not determined by its seed")
	}
	if _, err := m.Flows(10, 1); err == nil {
		t.Error("packet marginals drawn as flows")
	}
	if _, err := (&reference.Marginals{Kind: trace.KindFlows}).Packets(10, 1); err == nil {
		t.Error("flow marginals drawn as packets")
	}

	// A packet changed within its bins (its flow keeps its other packets'
	// 5-tuple: only the ID, not released, and the TS within a bin) leaves
	// the output unchanged.
	same := slices.Clone(real)
	same[10].ID++
	same[10].TS = max(same[10].TS-1, t0)
	if same[10].TS/(span/256) == real[10].TS/(span/256) {
		c, _, _ := reference.DPMarginalPackets(same, 3000, 2, options(2))
		if !reflect.DeepEqual(a, c) {
			t.Error("a packet changed within its bins changed the output")
		}
	}

	// All fields released, at ε → ∞: close to the non-DP packet sampler on
	// the fields the binning keeps exactly.
	all := options(1e4)
	all.Fields = reference.DPPacketFieldNames()
	inf, _, err := reference.DPMarginalPackets(real, len(real), 3, all)
	if err != nil {
		t.Fatal(err)
	}
	o := eval.Options{NoBaselines: true, NoDownstream: true, NoDistributions: true, NoAudit: true}
	dres, _ := eval.Packets(real, inf, o)
	mres, _ := eval.Packets(real, reference.MarginalPackets(real, len(real), 3), o)
	for _, k := range []string{"dstport", "proto"} {
		if math.Abs(dres.JSD[k]-mres.JSD[k]) > 0.03 {
			t.Errorf("ε = 1e4: JSD %s %v, non-DP sampler %v", k, dres.JSD[k], mres.JSD[k])
		}
	}
	if math.Abs(dres.EMDNormalized["pkt_len"]-mres.EMDNormalized["pkt_len"]) > 0.05 {
		t.Errorf("ε = 1e4: pkt_len EMD %v, non-DP sampler %v", dres.EMDNormalized["pkt_len"], mres.EMDNormalized["pkt_len"])
	}
	ttls := map[uint8]int{}
	for _, p := range inf {
		ttls[p.TTL]++
	}
	// Thresholding at p = 1/bins leaves about one spurious bin per field,
	// with a tiny noisy count: it is all but never drawn.
	if other := len(inf) - ttls[64] - ttls[128]; ttls[64] < len(inf)/3 || ttls[128] < len(inf)/3 || other > len(inf)/1000 {
		t.Errorf("TTLs drawn %v, want 64 and 128 (and next to nothing else)", ttls)
	}
}
