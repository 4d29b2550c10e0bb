package postgen

import (
	"math"
	"math/bits"

	"github.com/netshare-go/netshare/trace"
)

// Labels given flows. The model generates a record's label beside its
// packets and bytes, and links them, but not to the ports, which are
// attributes and are matched, paired and exchanged after it: regenerated
// from the seventh sweep's models, the synthetic `ctu-normal-40-day1`
// labelled port 23 (all of whose real records are malicious) benign in
// 37% of its records, and a label's share among the records to a
// destination port class was its share in the whole trace. Classifiers
// trained on such records learn the label from the sizes alone and rank
// the simple models first (Spearman −0.38 against the real ranking).
//
// LabelCells is the real trace's records per label in nested cells of a
// record's shape: its protocol, then its destination port's key
// (portKey, tail-class ports apart with PortKeys.TailKeys; heavy ports
// by their range, as pre-processing leaves PortKeys.HeavyFlows unset
// here: keyed by itself, a synthetic probe on a heavy service port took
// the label of that port's few real probes, benign on `ctu-normal-40-
// day1`'s MQTT port, where the range's many probes are malicious, and
// the model makes far more such probes than the real trace holds), its source
// port's, its packet class, its duration class and its bytes per packet
// class. The duration tells a scan probe from a
// service's flow of the same size: on `ctu-normal-40-day1` almost every
// real record of zero duration is malicious, whatever its port, while the
// model gives some flows to port 443 the zero duration and packets of a
// probe. DrawLabels gives each decoded record a label drawn from
// the counts of its cells, each level smoothed towards the coarser one
// (a Dirichlet prior of labelPrior records), so that a cell of few real
// records says little and one of many decides.

// LabelCells counts the real records per label in each cell of each level.
type LabelCells struct {
	// Version is the layout of the cells (labelCellsVersion); counts of
	// another are not used.
	Version int                  `json:"version,omitempty"`
	Names   []string             `json:"names"`
	Cells   map[uint64][]float64 `json:"cells"`
	// TooMany is set once the trace shows more than maxLabels distinct
	// labels: a column of identifiers or free text rather than classes,
	// which nothing is drawn from (and the counts are dropped).
	TooMany bool `json:"too_many_labels,omitempty"`
	PortKeys
	names map[string]int
}

// maxLabels bounds the distinct labels counted: every cell holds a count
// per label.
const maxLabels = 64

// labelLevels is the number of nested cell levels under the trace.
const labelLevels = 6

// labelCellsVersion is the layout of the cells: 2 added the duration
// class.
const labelCellsVersion = 2

// labelPrior is the weight, in records, of a cell's parent in its label
// distribution.
const labelPrior = 5

// NewLabelCells returns counts that hold nothing yet.
func NewLabelCells() *LabelCells {
	return &LabelCells{Version: labelCellsVersion, Cells: map[uint64][]float64{}, names: map[string]int{}}
}

// Missing reports whether lc was not recorded (nil, or read from a run
// pre-processed before it was kept, or before its cells' layout was this
// one).
func (lc *LabelCells) Missing() bool {
	return lc == nil || lc.Cells == nil || lc.Version != labelCellsVersion
}

// Usable reports whether lc holds at least two labels.
func (lc *LabelCells) Usable() bool { return !lc.Missing() && !lc.TooMany && len(lc.Names) > 1 }

// bytesClass is the class of a record's bytes per packet: twice the log2
// of one plus the mean, at most 40.
func bytesClass(f *trace.Flow) uint64 {
	return uint64(min(40, int(2*math.Log2(1+float64(f.Bytes)/float64(max(f.Packets, 1))))))
}

// durationClass is the class of a record's duration: 0 for none, then
// 1 below a millisecond and one more per factor of 4 of milliseconds, at
// most 12 (about 70 minutes and longer).
func durationClass(f *trace.Flow) uint64 {
	if f.Dur <= 0 {
		return 0
	}
	return uint64(1 + min((bits.Len64(uint64(f.Dur)/1000)+1)/2, 11))
}

// labelCells returns the keys of f's cells, coarsest first.
func (lc *LabelCells) labelCells(f *trace.Flow) [labelLevels]uint64 {
	var out [labelLevels]uint64
	parts := [labelLevels]uint64{
		uint64(f.Proto) << 48,
		uint64(lc.keys.key(f.Proto, f.DstPort)) << 36,
		uint64(lc.keys.key(f.Proto, f.SrcPort)) << 24,
		uint64(PacketClass(f.Packets)) << 16,
		durationClass(f) << 8,
		bytesClass(f),
	}
	var k uint64
	for l := range labelLevels {
		k |= parts[l]
		out[l] = uint64(l)<<60 | k
	}
	return out
}

// Add counts one real record.
func (lc *LabelCells) Add(f *trace.Flow) {
	if lc.TooMany {
		return
	}
	if lc.names == nil {
		lc.names = make(map[string]int, len(lc.Names))
		for i, l := range lc.Names {
			lc.names[l] = i
		}
	}
	li, ok := lc.names[f.Label]
	if !ok {
		if len(lc.Names) == maxLabels {
			lc.TooMany, lc.Names, lc.names = true, nil, nil
			clear(lc.Cells)
			return
		}
		li = len(lc.Names)
		lc.names[f.Label] = li
		lc.Names = append(lc.Names, f.Label)
		for k, c := range lc.Cells {
			lc.Cells[k] = append(c, 0)
		}
	}
	for _, k := range lc.labelCells(f) {
		c := lc.Cells[k]
		if c == nil {
			c = make([]float64, len(lc.Names))
			lc.Cells[k] = c
		}
		c[li]++
	}
}

// DrawLabels gives each record of recs a label drawn from lc given its
// cells. One uniform number per 5-tuple, from seed and the key, draws the
// labels of all its records, so a flow's records in the same cells carry
// the same label. It returns how many records changed label.
func DrawLabels(lc *LabelCells, recs []trace.Flow, seed uint64) int {
	if !lc.Usable() {
		return 0
	}
	m := len(lc.Names)
	// The trace's shares: the sum of the first level's cells.
	prior := make([]float64, m)
	for k, c := range lc.Cells {
		if k>>60 == 0 {
			for i, x := range c {
				prior[i] += x
			}
		}
	}
	normalise(prior)
	p := make([]float64, m)
	changed := 0
	for i := range recs {
		f := &recs[i]
		copy(p, prior)
		for _, k := range lc.labelCells(f) {
			c := lc.Cells[k]
			if c == nil {
				continue
			}
			var n float64
			for _, x := range c {
				n += x
			}
			for j := range p {
				p[j] = (c[j] + labelPrior*p[j]) / (n + labelPrior)
			}
		}
		u := f.Key().Uniform(seed ^ 0x6c6162656c73)
		j := 0
		for ; j < m-1; j++ {
			if u -= p[j]; u < 0 {
				break
			}
		}
		if f.Label != lc.Names[j] {
			changed++
			f.Label = lc.Names[j]
		}
	}
	return changed
}

func normalise(p []float64) {
	var s float64
	for _, x := range p {
		s += x
	}
	if s > 0 {
		for i := range p {
			p[i] /= s
		}
	}
}
