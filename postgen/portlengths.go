package postgen

import (
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// SetPortLengthTargets sets, per chunk and per port class
// (encoding.PortClass), the distributions of positions the lengths of a
// chunk's flows of that class are calibrated to, each chunk's real lengths
// in the class (encoding.Schema.ChunkPortLengthPositions), with the real
// flows of each class (encoding.Schema.ChunkPortLengthFlows). A chunk
// without any keeps the chunk's length target for its flows. With them,
// the length calibrations rank a chunk's flows within their port class: a
// flow the model sent to a rare port takes a length of the real flows to
// rare ports, which are mostly one record or packet long, rather than any
// length the chunk has (calibrateLength).
func (g *Stream) SetPortLengthTargets(pos [][][]float64, flows [][]int) {
	g.portLenTo = make([]portTargets, len(pos))
	for c, classes := range pos {
		if classes == nil || c >= len(flows) || len(flows[c]) != len(classes) {
			continue
		}
		pt := portTargets{to: make([]Target, len(classes)), flows: make([]float64, len(classes))}
		for k, p := range classes {
			if len(p) > 0 && flows[c][k] > 0 {
				pt.to[k] = Target{q: slices.Sorted(slices.Values(p))}
				pt.flows[k] = float64(flows[c][k])
			}
		}
		g.portLenTo[c] = pt
	}
}

// portTargets are one chunk's length targets per port class and the real
// flows of each.
type portTargets struct {
	to    []Target
	flows []float64
}

// portClass is the port class of a generated flow's key, whether its tail
// ports are still their class's token or already drawn as exact ports.
func (g *Stream) portClass(k trace.Key) int { return g.s.PortClass(g.s.TailPorts.CanonKey(k)) }

// portLengths reports whether chunk c's lengths are calibrated per port
// class.
func (g *Stream) portLengths(c int) bool {
	return c < len(g.portLenTo) && g.portLenTo[c].to != nil
}

// calibrateLength calibrates the length attribute of the rows keep
// accepts to chunk c's length target; with targets per port class
// (SetPortLengthTargets), per class, from the rows' ports as they are now
// decoded, the rows of a class without a target counted with the class
// the model gave the most rows.
//
// Each class takes the lengths of fitTargets: its real lengths where the
// model gave the classes their real shares of flows, and otherwise as
// close to them as the chunk's real lengths allow. A model that gives a
// class of long flows more flows than the real chunk has would otherwise
// make the trace larger than the real one, and one that gives a class of
// short flows fewer, the same.
func (g *Stream) calibrateLength(c int, rows []Row, keep func(Row) bool, rng *rand.Rand) {
	if !g.portLengths(c) {
		calibrateAttr(g.s, [][]Row{rows}, "length", keep, g.lenTarget(c), rng)
		return
	}
	pt := g.portLenTo[c]
	k := len(pt.to)
	groups := make([][]int, k+1) // the last: classes without a target
	for i, r := range rows {
		if !keep(r) {
			continue
		}
		j := g.portClass(r.Attr.Key)
		if j >= k || pt.flows[j] == 0 {
			j = k
		}
		groups[j] = append(groups[j], i)
	}
	most := -1
	for j := range k {
		if pt.flows[j] > 0 && (most < 0 || len(groups[j]) > len(groups[most])) {
			most = j
		}
	}
	groups[most] = append(groups[most], groups[k]...)
	groups = groups[:k]
	share := make([]float64, k)
	n := 0
	for _, grp := range groups {
		n += len(grp)
	}
	if n == 0 {
		return
	}
	for j, grp := range groups {
		share[j] = float64(len(grp)) / float64(n)
	}
	to := pt.fitTargets(share)
	all := func(Row) bool { return true }
	for j, idx := range groups {
		if len(idx) == 0 {
			continue
		}
		grp := make([]Row, len(idx))
		for m, i := range idx {
			grp[m] = rows[i]
		}
		// The copies share the rows' vectors; the decoded lengths are
		// copied back.
		calibrateAttr(g.s, [][]Row{grp}, "length", all, to[j], rng)
		for m, i := range idx {
			rows[i].Attr.Len = grp[m].Attr.Len
		}
	}
}

// fitBins is the resolution, over positions in [0, 1], of fitTargets,
// fitRounds the rounds of its fitting, and fitFloor the share of the
// chunk's lengths each class starts with besides its own.
const (
	fitBins   = 1024
	fitRounds = 200
	fitFloor  = 1e-3
)

// fitTargets returns a length target per class for rows whose classes
// have the given shares. The real chunk is a joint distribution of class
// and length (each class's lengths at its real share of flows); the
// targets are the conditionals of the joint distribution closest to it
// (iterative proportional fitting, over histograms of positions) whose
// class shares are the rows' and whose lengths are the real chunk's.
// With the rows' shares the real ones, each class takes its own real
// lengths; otherwise the chunk keeps its real lengths, and the classes
// their real lengths as far as that allows.
func (pt portTargets) fitTargets(share []float64) []Target {
	k := len(pt.to)
	var total float64
	for _, f := range pt.flows {
		total += f
	}
	q := make([]float64, k*fitBins) // row j: class j's lengths
	col := make([]float64, fitBins) // the chunk's real lengths
	for j, t := range pt.to {
		if len(t.q) == 0 {
			continue
		}
		w := pt.flows[j] / total / float64(len(t.q))
		for _, p := range t.q {
			b := min(fitBins-1, max(0, int(p*fitBins)))
			q[j*fitBins+b] += w
			col[b] += w
		}
	}
	// Every class with rows may take any length the chunk has, a little
	// to start with: the fitting moves mass only where there is some.
	for j := range k {
		for b := range fitBins {
			if share[j] == 0 {
				q[j*fitBins+b] = 0
			} else {
				q[j*fitBins+b] += fitFloor * col[b]
			}
		}
	}
	fitMargins(q, share, col, fitRounds, 0)
	scaleRows(q, share, fitBins)
	out := make([]Target, k)
	for j := range k {
		if share[j] > 0 {
			out[j] = quantilesOf(q[j*fitBins:(j+1)*fitBins], max(len(pt.to[j].q), fitBins))
		}
	}
	return out
}

// quantilesOf returns m evenly spaced quantiles of the histogram h over
// fitBins bins of [0, 1], positions spread evenly within a bin.
func quantilesOf(h []float64, m int) Target {
	var sum float64
	for _, v := range h {
		sum += v
	}
	if !(sum > 0) {
		return Target{}
	}
	q := make([]float64, 0, m)
	var cum float64
	b := 0
	for i := range m {
		u := (float64(i) + 0.5) / float64(m) * sum
		for b < len(h)-1 && cum+h[b] < u {
			cum += h[b]
			b++
		}
		f := 0.5
		if h[b] > 0 {
			f = min(1, max(0, (u-cum)/h[b]))
		}
		q = append(q, (float64(b)+f)/float64(len(h)))
	}
	return Target{q: q}
}

// rareLength returns, for chunk c with lengths given ports, the mean real
// length of the flows of a rare source port (field "srcport") and of a
// rare destination port ("dstport"), from the chunk's knots of those
// classes (encoding.Spec.PortLengthKnots; 1 for a class without them),
// for matching (matchKeys); nil without lengths given ports.
func (g *Stream) rareLength(c int) func(field string) float64 {
	if !g.portLengths(c) || c >= len(g.s.PortLengthKnots) || g.s.PortLengthKnots[c] == nil {
		return nil
	}
	mean := func(k int) float64 {
		kn := g.s.PortLengthKnots[c]
		if k >= len(kn) || len(kn[k]) == 0 {
			return 1
		}
		var s float64
		for _, x := range kn[k] {
			s += x
		}
		return max(1, s/float64(len(kn[k])))
	}
	src, dst := mean(encoding.PortsSrcRare), mean(encoding.PortsDstRare)
	return func(field string) float64 {
		if field == "dstport" {
			return dst
		}
		return src
	}
}
