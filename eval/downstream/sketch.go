package downstream

import (
	"math"
	"slices"

	"github.com/netshare-go/netshare/eval/internal/hash"
	"github.com/netshare-go/netshare/trace"
)

// CountMin is a Count-Min Sketch of uint64 keys with 64-bit counters.
type CountMin struct {
	depth, width int
	seeds        []uint64
	cells        []uint64
}

// NewCountMin returns a sketch of depth rows and width columns whose row
// hashes derive from seed.
func NewCountMin(depth, width int, seed uint64) *CountMin {
	c := &CountMin{depth: depth, width: max(width, 1), cells: make([]uint64, depth*max(width, 1))}
	c.seed(seed)
	return c
}

// seed derives the row hashes' seeds from seed.
func (c *CountMin) seed(seed uint64) {
	c.seeds = c.seeds[:0]
	s := seed
	for i := 0; i < c.depth; i++ {
		s = hash.Mix(s + 0x9e3779b97f4a7c15)
		c.seeds = append(c.seeds, s)
	}
}

// reset returns c emptied and reseeded as NewCountMin(depth, width, seed)
// would make it, reusing its cells (a new sketch when c is nil or of
// another shape).
func (c *CountMin) reset(depth, width int, seed uint64) *CountMin {
	if c == nil || c.depth != depth || c.width != max(width, 1) {
		return NewCountMin(depth, width, seed)
	}
	clear(c.cells)
	c.seed(seed)
	return c
}

func (c *CountMin) col(row int, key uint64) int {
	h := hash.Mix(key ^ c.seeds[row])
	hi, _ := mulHi(h, uint64(c.width))
	return int(hi)
}

// mulHi returns the high word of a·b: ⌊a·b/2^64⌋, an unbiased map of a
// hash onto [0, b).
func mulHi(a, b uint64) (uint64, uint64) {
	const mask = 1<<32 - 1
	a0, a1 := a&mask, a>>32
	b0, b1 := b&mask, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask + a0*b1
	return a1*b1 + t>>32 + w1>>32, a * b
}

// Add adds n to key's count.
func (c *CountMin) Add(key, n uint64) {
	for r := 0; r < c.depth; r++ {
		c.cells[r*c.width+c.col(r, key)] += n
	}
}

// Estimate returns key's estimated count (never below the true count).
func (c *CountMin) Estimate(key uint64) uint64 {
	est := uint64(math.MaxUint64)
	for r := 0; r < c.depth; r++ {
		est = min(est, c.cells[r*c.width+c.col(r, key)])
	}
	return est
}

// Telemetry is heavy-hitter count estimation with a Count-Min Sketch: for
// each keying, the mean relative error of the sketch's estimates of the
// true top keys, at several sketch widths, on each trace.
type Telemetry struct {
	Skipped     string       `json:"skipped,omitempty"`
	Depth       int          `json:"depth,omitempty"`
	TopFraction float64      `json:"top_fraction,omitempty"`
	Tasks       []SketchTask `json:"tasks,omitempty"`
}

// SketchTask is one keying (e.g. destination IP by packets).
type SketchTask struct {
	Name              string        `json:"name"`
	Skipped           string        `json:"skipped,omitempty"`
	KeysReal          int           `json:"keys_real"`
	KeysSynthetic     int           `json:"keys_synthetic"`
	TopReal           int           `json:"top_real"`
	TopSynthetic      int           `json:"top_synthetic"`
	Widths            []SketchWidth `json:"widths"`
	MeanAbsDifference float64       `json:"mean_abs_difference"`
}

// SketchWidth gives the relative error on both traces for one width
// (a fraction of each trace's number of distinct keys).
type SketchWidth struct {
	Fraction  float64 `json:"fraction"`
	Real      float64 `json:"real"`
	Synthetic float64 `json:"synthetic"`
	// Bootstrap is the error on a bootstrap resample of the real trace
	// (FlowTelemetryReference), the spread a perfect copy shows; nil when
	// not computed.
	Bootstrap *float64 `json:"bootstrap,omitempty"`
}

// sketchTrials returns how many independently seeded sketches each error
// is averaged over for a trace of keys distinct keys: as many as keep the
// work near sketchWork key insertions per width, between minTrials and
// maxTrials. A sketch's error on one trace varies with its hash seeds far
// more than traces of the same count profile differ: with 3 sketches, the
// real trace with its addresses relabelled (the same counts on other keys)
// came out 25-50% off the original at half the widths, so a comparison at
// ±30% measured hash luck. Averaged over enough seeds the error is a
// function of the count profile alone.
func sketchTrials(keys int) int {
	return min(maxTrials, max(minTrials, sketchWork/max(keys, 1)))
}

const (
	minTrials  = 3
	maxTrials  = 1024
	sketchWork = 1 << 20
)

// heavyHitterError returns, for each width fraction, the mean relative
// error (est − true)/true of a depth-row sketch over the true top
// ⌈top·distinct⌉ keys, averaged over sketchTrials(keys) seeds; and the number of
// distinct keys and of top keys.
func heavyHitterError(counts map[uint64]uint64, depth int, fracs []float64, top float64, seed int64) (errs []float64, keys, k int) {
	type kv struct{ k, v uint64 }
	all := make([]kv, 0, len(counts))
	for key, v := range counts {
		all = append(all, kv{key, v})
	}
	slices.SortFunc(all, func(a, b kv) int {
		switch {
		case a.v != b.v:
			if a.v > b.v {
				return -1
			}
			return 1
		case a.k < b.k:
			return -1
		case a.k > b.k:
			return 1
		}
		return 0
	})
	keys = len(all)
	if keys == 0 {
		return nil, 0, 0
	}
	k = max(1, int(math.Ceil(top*float64(keys))))
	trials := sketchTrials(keys)
	for _, f := range fracs {
		w := max(1, int(math.Round(f*float64(keys))))
		var tot float64
		var cms *CountMin
		for t := 0; t < trials; t++ {
			cms = cms.reset(depth, w, uint64(seed)*31+uint64(t)+1)
			for _, e := range all {
				cms.Add(e.k, e.v)
			}
			var s float64
			for _, e := range all[:k] {
				s += float64(cms.Estimate(e.k)-e.v) / float64(e.v)
			}
			tot += s / float64(k)
		}
		errs = append(errs, tot/float64(trials))
	}
	return errs, keys, k
}

func sketchTask(name string, real, syn map[uint64]uint64, opt Options) SketchTask {
	re, rk, rt := heavyHitterError(real, opt.SketchDepth, opt.SketchWidths, opt.TopFraction, opt.Seed)
	se, sk, st := heavyHitterError(syn, opt.SketchDepth, opt.SketchWidths, opt.TopFraction, opt.Seed)
	t := SketchTask{Name: name, KeysReal: rk, KeysSynthetic: sk, TopReal: rt, TopSynthetic: st}
	switch {
	case rk == 0:
		t.Skipped = "no key has a non-zero count in the real trace"
		return t
	case sk == 0:
		t.Skipped = "no key has a non-zero count in the synthetic trace"
		return t
	}
	for i, f := range opt.SketchWidths {
		t.Widths = append(t.Widths, SketchWidth{Fraction: f, Real: re[i], Synthetic: se[i]})
		t.MeanAbsDifference += math.Abs(re[i]-se[i]) / float64(len(opt.SketchWidths))
	}
	return t
}

// flowKeyCounts returns the packets and the records per destination
// address of fs (addresses without packets left out of the first).
func flowKeyCounts(fs []trace.Flow) (pk, fl map[uint64]uint64) {
	pk, fl = map[uint64]uint64{}, map[uint64]uint64{}
	for i := range fs {
		pk[uint64(fs[i].Dst)] += fs[i].Packets
		fl[uint64(fs[i].Dst)]++
	}
	return dropZero(pk), fl
}

func flowTelemetry(real, syn []trace.Flow, opt Options) *Telemetry {
	tm := &Telemetry{Depth: opt.SketchDepth, TopFraction: opt.TopFraction}
	rp, rf := flowKeyCounts(real)
	sp, sf := flowKeyCounts(syn)
	tm.Tasks = []SketchTask{
		sketchTask("dstip_packets", rp, sp, opt),
		sketchTask("dstip_flows", rf, sf, opt),
	}
	return tm
}

// FlowTelemetryReference sets each width's Bootstrap in tm (flow telemetry
// from Flows with the same options) to the error on ref, a bootstrap
// resample of the real trace: a synthetic trace's error can be told from
// the real one's no better than a perfect copy's can.
func FlowTelemetryReference(tm *Telemetry, ref []trace.Flow, opt Options) {
	pk, fl := flowKeyCounts(ref)
	telemetryReference(tm, map[string]map[uint64]uint64{"dstip_packets": pk, "dstip_flows": fl}, opt)
}

// PacketTelemetryReference is FlowTelemetryReference for packet traces.
func PacketTelemetryReference(tm *Telemetry, ref []trace.Packet, opt Options) {
	pk, fl := packetKeyCounts(ref)
	telemetryReference(tm, map[string]map[uint64]uint64{"dstip_packets": pk, "dstip_flows": fl}, opt)
}

func telemetryReference(tm *Telemetry, counts map[string]map[uint64]uint64, opt Options) {
	if tm == nil || tm.Skipped != "" {
		return
	}
	opt = opt.withDefaults()
	for i := range tm.Tasks {
		t := &tm.Tasks[i]
		c, ok := counts[t.Name]
		if !ok || t.Skipped != "" || len(t.Widths) != len(opt.SketchWidths) {
			continue
		}
		errs, keys, _ := heavyHitterError(c, opt.SketchDepth, opt.SketchWidths, opt.TopFraction, opt.Seed)
		if keys == 0 {
			continue
		}
		for j := range t.Widths {
			e := errs[j]
			t.Widths[j].Bootstrap = &e
		}
	}
}

func dropZero(m map[uint64]uint64) map[uint64]uint64 {
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	return m
}

// packetKeyCounts returns the packets and the flows (distinct 5-tuples)
// per destination address of ps.
func packetKeyCounts(ps []trace.Packet) (pk, fl map[uint64]uint64) {
	pk, fl = map[uint64]uint64{}, map[uint64]uint64{}
	seen := map[trace.Key]struct{}{}
	for i := range ps {
		pk[uint64(ps[i].Dst)]++
		k := ps[i].Key()
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			fl[uint64(ps[i].Dst)]++
		}
	}
	return pk, fl
}

func packetTelemetry(real, syn []trace.Packet, opt Options) *Telemetry {
	tm := &Telemetry{Depth: opt.SketchDepth, TopFraction: opt.TopFraction}
	rp, rf := packetKeyCounts(real)
	sp, sf := packetKeyCounts(syn)
	tm.Tasks = []SketchTask{
		sketchTask("dstip_packets", rp, sp, opt),
		sketchTask("dstip_flows", rf, sf, opt),
	}
	return tm
}
