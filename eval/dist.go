package eval

import (
	"math"
	"slices"

	"github.com/netshare-go/netshare/eval/internal/hash"
	"github.com/netshare-go/netshare/trace"
)

// CDFPoints is the number of quantiles kept per CDF.
const CDFPoints = 201

// Distributions summarises both traces for plotting: the report draws its
// figures from these, so a metrics.json file is enough to redraw them.
type Distributions struct {
	CDFs      []CDF   `json:"cdfs"`
	Protocols []Share `json:"protocols"`
	// TopPorts are the top-5 destination ports below 1024 by real
	// frequency, ICMP left out (its port field holds type and code).
	TopPorts []Share     `json:"top_ports"`
	RankFreq []RankCurve `json:"rank_frequency"`
	Timeline *Timeline   `json:"timeline,omitempty"`
}

// TimelineBins is the number of time bins of a [Timeline].
const TimelineBins = 60

// Timeline counts each trace's records over time: bin i covers
// [i·BinSeconds, (i+1)·BinSeconds) seconds after the earlier of the two
// traces' first records.
type Timeline struct {
	BinSeconds float64   `json:"bin_seconds"`
	Real       []float64 `json:"real"`
	Synthetic  []float64 `json:"synthetic"`
	// RealOffset and SyntheticOffset are each trace's first record, in
	// seconds after the earlier of the two.
	RealOffset      float64 `json:"real_offset"`
	SyntheticOffset float64 `json:"synthetic_offset"`
}

// timeline bins both traces' start times over their common span.
func timeline(r, s *profile) *Timeline {
	rt, st := r.num["ts"], s.num["ts"]
	if len(rt) == 0 || len(st) == 0 {
		return nil
	}
	t0 := min(r.t0, s.t0)
	ro, so := uint64(r.t0-t0), uint64(s.t0-t0)
	span := max(ro+rt[len(rt)-1], so+st[len(st)-1]) + 1
	bin := (span + TimelineBins - 1) / TimelineBins
	count := func(ts []uint64, off uint64) []float64 {
		c := make([]float64, TimelineBins)
		for _, v := range ts {
			c[min((v+off)/bin, TimelineBins-1)]++
		}
		return c
	}
	return &Timeline{BinSeconds: float64(bin) * 1e-6, Real: count(rt, ro), Synthetic: count(st, so),
		RealOffset: float64(ro) * 1e-6, SyntheticOffset: float64(so) * 1e-6}
}

// CDF holds the quantiles of one field on both sides: element i is the
// value at cumulative probability i/(len−1).
type CDF struct {
	Name      string    `json:"name"`
	Label     string    `json:"label"`
	LogX      bool      `json:"log_x"`
	Real      []float64 `json:"real"`
	Synthetic []float64 `json:"synthetic"`
}

// Share is one bar of a bar chart: the fraction of records with a value.
type Share struct {
	Name      string  `json:"name"`
	Real      float64 `json:"real"`
	Synthetic float64 `json:"synthetic"`
}

// RankCurve is a popularity-rank curve: pairs (rank, relative frequency)
// sampled at roughly log-spaced ranks, for both sides.
type RankCurve struct {
	Name      string       `json:"name"`
	Real      [][2]float64 `json:"real"`
	Synthetic [][2]float64 `json:"synthetic"`
}

// quantiles returns CDFPoints quantiles of an ascending sample, each
// multiplied by sc.
func quantiles(a []uint64, sc float64) []float64 {
	if len(a) == 0 {
		return nil
	}
	q := make([]float64, CDFPoints)
	for i := range q {
		j := int(math.Round(float64(i) / float64(CDFPoints-1) * float64(len(a)-1)))
		q[i] = float64(a[j]) * sc
	}
	return q
}

func diffs(sorted []uint64) []uint64 {
	if len(sorted) < 2 {
		return []uint64{0}
	}
	d := make([]uint64, len(sorted)-1)
	for i := 1; i < len(sorted); i++ {
		d[i-1] = sorted[i] - sorted[i-1]
	}
	radixSort(d, make([]uint64, len(d)))
	return d
}

func rankCurve(counts []uint64) [][2]float64 {
	var tot float64
	for _, c := range counts {
		tot += float64(c)
	}
	var out [][2]float64
	last := -1
	for x := 1.0; ; x *= 1.08 {
		r := int(math.Round(x))
		if r > len(counts) {
			break
		}
		if r != last {
			out = append(out, [2]float64{float64(r), float64(counts[r-1]) / tot})
			last = r
		}
	}
	if n := len(counts); n > 0 && last != n {
		out = append(out, [2]float64{float64(n), float64(counts[n-1]) / tot})
	}
	return out
}

func protocolShares(r, s *profile) []Share {
	var out []Share
	var otherR, otherS float64
	for p := 0; p < 256; p++ {
		fr := float64(r.proto[p]) / float64(r.n)
		fs := float64(s.proto[p]) / float64(s.n)
		if fr == 0 && fs == 0 {
			continue
		}
		if fr >= 0.001 || fs >= 0.001 {
			out = append(out, Share{Name: trace.ProtoName(uint8(p)), Real: fr, Synthetic: fs})
		} else {
			otherR += fr
			otherS += fs
		}
	}
	slices.SortStableFunc(out, func(a, b Share) int {
		switch {
		case a.Real > b.Real:
			return -1
		case a.Real < b.Real:
			return 1
		}
		return 0
	})
	if otherR > 0 || otherS > 0 {
		out = append(out, Share{Name: "Other", Real: otherR, Synthetic: otherS})
	}
	return out
}

func topServicePorts(r, s *profile, k int) []Share {
	ports := make([]int, 1024)
	for i := range ports {
		ports[i] = i
	}
	slices.SortStableFunc(ports, func(a, b int) int {
		switch {
		case r.svcPort[a] > r.svcPort[b]:
			return -1
		case r.svcPort[a] < r.svcPort[b]:
			return 1
		}
		return 0
	})
	var out []Share
	for _, p := range ports[:k] {
		if r.svcPort[p] == 0 {
			break
		}
		out = append(out, Share{
			Name:      itoa(p),
			Real:      float64(r.svcPort[p]) / float64(r.n),
			Synthetic: float64(s.svcPort[p]) / float64(s.n),
		})
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// flowSizes returns the sorted number of records per 5-tuple. 5-tuples
// are told apart by a 64-bit hash (a collision, which would merge two
// groups, has probability about n²/2^65: negligible for plotting).
func flowSizes(fs []trace.Flow) []uint64 {
	var so sorter
	out := runCounts(so.sorted(len(fs), func(i int) uint64 { return hash.Key(fs[i].Key()) }))
	radixSort(out, so.tmp[:len(out)])
	return out
}

func distributions(r, s *profile, real, syn []trace.Flow) *Distributions {
	d := &Distributions{
		Protocols: protocolShares(r, s),
		TopPorts:  topServicePorts(r, s, 5),
		RankFreq: []RankCurve{
			{Name: "srcip", Real: rankCurve(r.srcRank), Synthetic: rankCurve(s.srcRank)},
			{Name: "dstip", Real: rankCurve(r.dstRank), Synthetic: rankCurve(s.dstRank)},
		},
		Timeline: timeline(r, s),
	}
	cdf := func(name, label string, logx bool, a, b []uint64, sc float64) {
		d.CDFs = append(d.CDFs, CDF{Name: name, Label: label, LogX: logx, Real: quantiles(a, sc), Synthetic: quantiles(b, sc)})
	}
	if r.kind == trace.KindFlows {
		cdf("byt", "bytes per flow record", true, r.num["byt"], s.num["byt"], 1)
		cdf("pkt", "packets per flow record", true, r.num["pkt"], s.num["pkt"], 1)
		cdf("td", "flow duration (s)", true, r.num["td"], s.num["td"], 1e-6)
		if real != nil && syn != nil {
			cdf("flow_size", "records per 5-tuple", true, flowSizes(real), flowSizes(syn), 1)
		}
		cdf("iat", "inter-arrival of flow starts (s)", true, diffs(r.num["ts"]), diffs(s.num["ts"]), 1e-6)
	} else {
		cdf("pkt_len", "packet length (bytes)", false, r.num["pkt_len"], s.num["pkt_len"], 1)
		cdf("flow_size", "packets per 5-tuple", true, r.num["flow_size"], s.num["flow_size"], 1)
		cdf("iat", "packet inter-arrival (s)", true, diffs(r.num["ts"]), diffs(s.num["ts"]), 1e-6)
		if len(r.num["flow_iat"]) > 0 && len(s.num["flow_iat"]) > 0 {
			cdf("flow_iat", "inter-arrival within a 5-tuple (s)", true, r.num["flow_iat"], s.num["flow_iat"], 1e-6)
		}
	}
	return d
}
