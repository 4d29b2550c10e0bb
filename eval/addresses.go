package eval

import (
	"slices"

	"github.com/netshare-go/netshare/trace"
)

// ConcentrationK are the address counts k at which the concentration
// curves are taken: the share of the trace held by its k busiest
// addresses. The report's table shows k = 1, 10 and 100.
var ConcentrationK = []int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}

// Addresses compares the IP addresses of both traces: how many distinct
// sources and destinations each has and how concentrated the traffic is
// on the busiest of them.
type Addresses struct {
	// K lists the k of the concentration curves (ConcentrationK).
	K         []int       `json:"k"`
	Real      AddressSide `json:"real"`
	Synthetic AddressSide `json:"synthetic"`
}

// AddressSide is one trace's address statistics.
type AddressSide struct {
	SrcDistinct int           `json:"src_distinct"`
	DstDistinct int           `json:"dst_distinct"`
	Src         Concentration `json:"src"`
	Dst         Concentration `json:"dst"`
}

// Concentration holds, for each k of [Addresses.K], the share of flows,
// of packets and of bytes that the k addresses with the most flows (the
// most packets, the most bytes) account for. A flow of a flow trace is a
// record; of a packet trace, a 5-tuple.
type Concentration struct {
	Flows   []float64 `json:"flows"`
	Packets []float64 `json:"packets"`
	Bytes   []float64 `json:"bytes"`
}

// At returns a curve's value at k, and false when k is not in ks.
func At(ks []int, curve []float64, k int) (float64, bool) {
	for i, v := range ks {
		if v == k && i < len(curve) {
			return curve[i], true
		}
	}
	return 0, false
}

// ipLoad is one address's traffic.
type ipLoad struct{ flows, packets, bytes uint64 }

// addressSide computes one side's statistics from the traffic per source
// and per destination address.
func addressSide(src, dst map[uint32]*ipLoad) AddressSide {
	return AddressSide{SrcDistinct: len(src), DstDistinct: len(dst), Src: concentration(src), Dst: concentration(dst)}
}

func concentration(m map[uint32]*ipLoad) Concentration {
	vals := func(get func(*ipLoad) uint64) []float64 {
		a := make([]uint64, 0, len(m))
		var total uint64
		for _, l := range m {
			v := get(l)
			a = append(a, v)
			total += v
		}
		slices.Sort(a)
		slices.Reverse(a)
		out := make([]float64, len(ConcentrationK))
		var sum uint64
		j := 0
		for i, k := range ConcentrationK {
			for ; j < k && j < len(a); j++ {
				sum += a[j]
			}
			if total > 0 {
				out[i] = float64(sum) / float64(total)
			}
		}
		return out
	}
	return Concentration{
		Flows:   vals(func(l *ipLoad) uint64 { return l.flows }),
		Packets: vals(func(l *ipLoad) uint64 { return l.packets }),
		Bytes:   vals(func(l *ipLoad) uint64 { return l.bytes }),
	}
}

func load(m map[uint32]*ipLoad, ip uint32) *ipLoad {
	l := m[ip]
	if l == nil {
		l = &ipLoad{}
		m[ip] = l
	}
	return l
}

func flowAddresses(fs []trace.Flow) AddressSide {
	src, dst := map[uint32]*ipLoad{}, map[uint32]*ipLoad{}
	for i := range fs {
		f := &fs[i]
		for _, l := range []*ipLoad{load(src, uint32(f.Src)), load(dst, uint32(f.Dst))} {
			l.flows++
			l.packets += f.Packets
			l.bytes += f.Bytes
		}
	}
	return addressSide(src, dst)
}

func packetAddresses(ps []trace.Packet) AddressSide {
	src, dst := map[uint32]*ipLoad{}, map[uint32]*ipLoad{}
	flows := map[trace.Key]bool{}
	for i := range ps {
		p := &ps[i]
		k := p.Key()
		first := !flows[k]
		flows[k] = true
		for _, l := range []*ipLoad{load(src, uint32(p.Src)), load(dst, uint32(p.Dst))} {
			if first {
				l.flows++
			}
			l.packets++
			l.bytes += uint64(p.Len)
		}
	}
	return addressSide(src, dst)
}

// FlowAddresses compares the addresses of two flow traces.
func FlowAddresses(real, syn []trace.Flow) *Addresses {
	return &Addresses{K: append([]int(nil), ConcentrationK...), Real: flowAddresses(real), Synthetic: flowAddresses(syn)}
}

// PacketAddresses compares the addresses of two packet traces.
func PacketAddresses(real, syn []trace.Packet) *Addresses {
	return &Addresses{K: append([]int(nil), ConcentrationK...), Real: packetAddresses(real), Synthetic: packetAddresses(syn)}
}
