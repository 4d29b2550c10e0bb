package eval

import (
	"cmp"
	"math"
	"slices"

	"github.com/netshare-go/netshare/trace"
)

// A profile holds everything one side of a comparison contributes to the
// fidelity metrics, computed once so that the real side can be compared
// with the synthetic trace and with both reference generators.
type profile struct {
	kind             trace.Kind
	n                int
	srcRank, dstRank []uint64 // popularity-rank counts, descending
	sport, dport     []uint64 // 65,536 counts
	proto            []uint64 // 256 counts
	// svcPort counts destination ports below 1024 of records other than
	// ICMP and ICMPv6 (whose port field carries type and code).
	svcPort []uint64
	t0      int64 // earliest start or timestamp, µs
	// Sorted numeric samples, in the record model's integer units (µs for
	// times). Flows: ts, td, pkt, byt. Packets: ts, pkt_len, flow_size.
	num map[string][]uint64
	// The numeric samples after log1p (ts: in seconds, not transformed),
	// computed once by finish.
	log map[string][]float64
	// The 2-way histograms, by joint-metric name.
	joint map[string]*jointHist
}

// jointHist is a 2-way histogram: dense counts over small keys, or the
// sorted keys of every observation.
type jointHist struct {
	n      int
	dense  []uint64
	sorted []uint64
}

// denseKeys is the size of a dense joint histogram: two bins of at most 7
// bits (log2 bins are at most 64) or a log2 bin and a protocol number.
const denseKeys = 1 << 15

func denseHist(n int, key func(i int) uint64) *jointHist {
	h := &jointHist{n: n, dense: make([]uint64, denseKeys)}
	for i := 0; i < n; i++ {
		h.dense[key(i)]++
	}
	return h
}

func tvdHist(a, b *jointHist) float64 {
	if a.dense != nil {
		return tvdDense(a.dense, b.dense, a.n, b.n)
	}
	return TVD(a.sorted, b.sorted)
}

// sorter sorts integer samples of one trace, reusing its scratch space.
type sorter struct{ tmp []uint64 }

func (s *sorter) sorted(n int, f func(i int) uint64) []uint64 {
	a := make([]uint64, n)
	for i := range a {
		a[i] = f(i)
	}
	if len(s.tmp) < n {
		s.tmp = make([]uint64, n)
	}
	radixSort(a, s.tmp[:n])
	return a
}

func (s *sorter) rankFrequency(n int, f func(i int) uint64) []uint64 {
	c := runCounts(s.sorted(n, f))
	radixSort(c, s.tmp[:len(c)])
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
	return c
}

// finish computes the log views of the numeric samples.
func (p *profile) finish() *profile {
	p.log = map[string][]float64{}
	for field, a := range p.num {
		sc := scale(field)
		if field == "ts" {
			p.log[field] = mapSorted(a, func(v uint64) float64 { return float64(v) * sc })
		} else {
			p.log[field] = mapSorted(a, func(v uint64) float64 { return math.Log1p(float64(v) * sc) })
		}
	}
	return p
}

// Field lists, in report order.
var (
	jsdFields        = []string{"srcip", "dstip", "srcport", "dstport", "proto"}
	flowEMDFields    = []string{"ts", "td", "pkt", "byt"}
	packetEMDFields  = []string{"ts", "pkt_len", "flow_size"}
	flowJointNames   = []string{"dstport_proto", "pkt_byt", "td_pkt"}
	flowExtraJoint   = []string{"td_byt", "dstport_pkt", "proto_bpp"}
	packetJointNames = []string{"pkt_len_proto", "flow_size_dstport"}
	packetExtraJoint = []string{"dstport_pkt_len"}
)

// scale converts a numeric field from its integer unit to the unit its EMD
// is reported in (seconds for times).
func scale(field string) float64 {
	switch field {
	case "ts", "td", "flow_iat":
		return 1e-6
	}
	return 1
}

func portCounts(n int, f func(i int) uint16) []uint64 {
	c := make([]uint64, 65536)
	for i := 0; i < n; i++ {
		c[f(i)]++
	}
	return c
}

func protoCounts(n int, f func(i int) uint8) []uint64 {
	c := make([]uint64, 256)
	for i := 0; i < n; i++ {
		c[f(i)]++
	}
	return c
}

// serviceCounts counts the destination ports below 1024 of every record
// that is not ICMP (1) or ICMPv6 (58).
func serviceCounts(n int, f func(i int) (uint16, uint8)) []uint64 {
	c := make([]uint64, 1024)
	for i := 0; i < n; i++ {
		if port, proto := f(i); port < 1024 && proto != 1 && proto != 58 {
			c[port]++
		}
	}
	return c
}

func flowProfile(fs []trace.Flow) *profile {
	n := len(fs)
	p := &profile{kind: trace.KindFlows, n: n, num: map[string][]uint64{}, joint: map[string]*jointHist{}}
	if n == 0 {
		return p
	}
	t0 := fs[0].Start
	for i := range fs {
		t0 = min(t0, fs[i].Start)
	}
	var so sorter
	p.srcRank = so.rankFrequency(n, func(i int) uint64 { return uint64(fs[i].Src) })
	p.dstRank = so.rankFrequency(n, func(i int) uint64 { return uint64(fs[i].Dst) })
	p.sport = portCounts(n, func(i int) uint16 { return fs[i].SrcPort })
	p.dport = portCounts(n, func(i int) uint16 { return fs[i].DstPort })
	p.proto = protoCounts(n, func(i int) uint8 { return fs[i].Proto })
	p.svcPort = serviceCounts(n, func(i int) (uint16, uint8) { return fs[i].DstPort, fs[i].Proto })
	p.t0 = t0
	p.num["ts"] = so.sorted(n, func(i int) uint64 { return uint64(fs[i].Start - t0) })
	p.num["td"] = so.sorted(n, func(i int) uint64 { return uint64(max(fs[i].Dur, 0)) })
	p.num["pkt"] = so.sorted(n, func(i int) uint64 { return fs[i].Packets })
	p.num["byt"] = so.sorted(n, func(i int) uint64 { return fs[i].Bytes })
	p.joint["dstport_proto"] = &jointHist{n: n, sorted: so.sorted(n, func(i int) uint64 {
		return uint64(fs[i].DstPort)<<8 | uint64(fs[i].Proto)
	})}
	pktBin := make([]uint8, n)
	for i := range fs {
		pktBin[i] = uint8(log2BinU(fs[i].Packets))
	}
	p.joint["pkt_byt"] = denseHist(n, func(i int) uint64 {
		return uint64(pktBin[i])<<8 | log2BinU(fs[i].Bytes)
	})
	p.joint["td_pkt"] = denseHist(n, func(i int) uint64 {
		return durBin(fs[i].Dur)<<8 | uint64(pktBin[i])
	})
	p.joint["td_byt"] = denseHist(n, func(i int) uint64 {
		return durBin(fs[i].Dur)<<8 | log2BinU(fs[i].Bytes)
	})
	p.joint["dstport_pkt"] = &jointHist{n: n, sorted: so.sorted(n, func(i int) uint64 {
		return uint64(fs[i].DstPort)<<8 | uint64(pktBin[i])
	})}
	p.joint["proto_bpp"] = denseHist(n, func(i int) uint64 {
		return uint64(fs[i].Proto)<<7 | bppBin(fs[i].Bytes, fs[i].Packets)
	})
	return p.finish()
}

// packetFlows groups packets by 5-tuple and returns the number of packets
// of each group, in no particular order, with each group's key.
func packetFlows(ps []trace.Packet) (keys []trace.Key, sizes []uint64) {
	idx := make(map[trace.Key]int, len(ps)/4+16)
	for i := range ps {
		k := ps[i].Key()
		j, ok := idx[k]
		if !ok {
			j = len(keys)
			idx[k] = j
			keys = append(keys, k)
			sizes = append(sizes, 0)
		}
		sizes[j]++
	}
	return keys, sizes
}

// flowGaps returns the time between each packet and the one before it of
// its 5-tuple, packets taken in time order.
func flowGaps(ps []trace.Packet) []uint64 {
	order := make([]int32, len(ps))
	for i := range order {
		order[i] = int32(i)
	}
	if !slices.IsSortedFunc(ps, func(a, b trace.Packet) int { return cmp.Compare(a.TS, b.TS) }) {
		slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(ps[a].TS, ps[b].TS) })
	}
	last := make(map[trace.Key]int64, len(ps)/4+16)
	var out []uint64
	for _, i := range order {
		k := ps[i].Key()
		if t, ok := last[k]; ok {
			out = append(out, uint64(ps[i].TS-t))
		}
		last[k] = ps[i].TS
	}
	return out
}

func packetProfile(ps []trace.Packet) *profile {
	n := len(ps)
	p := &profile{kind: trace.KindPackets, n: n, num: map[string][]uint64{}, joint: map[string]*jointHist{}}
	if n == 0 {
		return p
	}
	t0 := ps[0].TS
	for i := range ps {
		t0 = min(t0, ps[i].TS)
	}
	var so sorter
	p.srcRank = so.rankFrequency(n, func(i int) uint64 { return uint64(ps[i].Src) })
	p.dstRank = so.rankFrequency(n, func(i int) uint64 { return uint64(ps[i].Dst) })
	p.sport = portCounts(n, func(i int) uint16 { return ps[i].SrcPort })
	p.dport = portCounts(n, func(i int) uint16 { return ps[i].DstPort })
	p.proto = protoCounts(n, func(i int) uint8 { return ps[i].Proto })
	p.svcPort = serviceCounts(n, func(i int) (uint16, uint8) { return ps[i].DstPort, ps[i].Proto })
	p.t0 = t0
	p.num["ts"] = so.sorted(n, func(i int) uint64 { return uint64(ps[i].TS - t0) })
	p.num["pkt_len"] = so.sorted(n, func(i int) uint64 { return uint64(ps[i].Len) })
	keys, sizes := packetFlows(ps)
	p.num["flow_size"] = so.sorted(len(sizes), func(i int) uint64 { return sizes[i] })
	if gaps := flowGaps(ps); len(gaps) > 0 {
		p.num["flow_iat"] = so.sorted(len(gaps), func(i int) uint64 { return gaps[i] })
	}
	p.joint["pkt_len_proto"] = denseHist(n, func(i int) uint64 {
		return log2BinU(uint64(ps[i].Len))<<8 | uint64(ps[i].Proto)
	})
	p.joint["flow_size_dstport"] = &jointHist{n: len(keys), sorted: so.sorted(len(keys), func(i int) uint64 {
		return log2BinU(sizes[i])<<16 | uint64(keys[i].DstPort)
	})}
	p.joint["dstport_pkt_len"] = &jointHist{n: n, sorted: so.sorted(n, func(i int) uint64 {
		return log2BinU(uint64(ps[i].Len))<<16 | uint64(ps[i].DstPort)
	})}
	return p.finish()
}

// compare computes the fidelity metrics of syn against real.
func compare(real, syn *profile) *Fidelity {
	f := &Fidelity{
		Kind:             real.kind.String(),
		RealRecords:      real.n,
		SyntheticRecords: syn.n,
		JSD:              map[string]float64{},
		EMD:              map[string]float64{},
		EMDNormalized:    map[string]float64{},
		Joint:            map[string]float64{},
	}
	f.JSD["srcip"] = RankJSD(real.srcRank, syn.srcRank)
	f.JSD["dstip"] = RankJSD(real.dstRank, syn.dstRank)
	f.JSD["srcport"] = jsdCounts(real.sport, syn.sport)
	f.JSD["dstport"] = jsdCounts(real.dport, syn.dport)
	f.JSD["proto"] = jsdCounts(real.proto, syn.proto)
	var js []float64
	for _, k := range jsdFields {
		js = append(js, f.JSD[k])
	}
	f.MeanJSD = mean(js...)

	var ens []float64
	for _, field := range emdFields(real.kind) {
		f.EMD[field] = emd(real.num[field], syn.num[field]) * scale(field)
		rt, st := real.log[field], syn.log[field]
		var en float64
		if lo, hi := rt[0], rt[len(rt)-1]; hi > lo {
			en = EMD(rt, st) / (hi - lo)
		}
		f.EMDNormalized[field] = en
		ens = append(ens, en)
	}
	f.MeanEMDNormalized = mean(ens...)
	if rt, st := real.log["flow_iat"], syn.log["flow_iat"]; len(rt) > 0 && len(st) > 0 {
		var en float64
		if lo, hi := rt[0], rt[len(rt)-1]; hi > lo {
			en = EMD(rt, st) / (hi - lo)
		}
		f.FlowIAT = &en
	}

	var jt []float64
	for _, name := range jointNames(real.kind) {
		v := tvdHist(real.joint[name], syn.joint[name])
		f.Joint[name] = v
		jt = append(jt, v)
	}
	f.Joint[MeanJointKey] = mean(jt...)
	f.JointExtra = map[string]float64{}
	for _, name := range extraJointNames(real.kind) {
		f.JointExtra[name] = tvdHist(real.joint[name], syn.joint[name])
	}
	return f
}

func emdFields(k trace.Kind) []string {
	if k == trace.KindPackets {
		return packetEMDFields
	}
	return flowEMDFields
}

func extraJointNames(k trace.Kind) []string {
	if k == trace.KindPackets {
		return packetExtraJoint
	}
	return flowExtraJoint
}

func jointNames(k trace.Kind) []string {
	if k == trace.KindPackets {
		return packetJointNames
	}
	return flowJointNames
}
