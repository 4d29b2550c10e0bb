package postgen

import (
	"math/rand/v2"
	"slices"
)

// SetPortLengthTargets sets, per chunk and per port class
// (encoding.PortClass), the distributions of positions the lengths of a
// chunk's flows of that class are calibrated to, each chunk's real lengths
// in the class (encoding.Schema.ChunkPortLengthPositions), with the real
// flows of each class (encoding.Schema.ChunkPortLengthFlows). A chunk
// without any keeps the chunk's length target for its flows. With them,
// the length calibrations rank a chunk's flows within their port class: a
// flow the model sent to a one-off port takes a length of the real flows
// to one-off ports, which are mostly one record or packet long, rather
// than any length the chunk has (calibrateLength).
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

// portLengths reports whether chunk c's lengths are calibrated per port
// class.
func (g *Stream) portLengths(c int) bool {
	return g.s.TailPorts != nil && c < len(g.portLenTo) && g.portLenTo[c].to != nil
}

// portClasses returns the port class of each row, from its ports as
// decoded (tail ports as their class's token).
func (g *Stream) portClasses(rows []Row) []int8 {
	out := make([]int8, len(rows))
	for i := range rows {
		out[i] = int8(g.s.TailPorts.PortClass(rows[i].Attr.Key))
	}
	return out
}

// calibrateLength calibrates the length attribute of the rows keep
// accepts to chunk c's length target; with targets per port class
// (SetPortLengthTargets), per class, classes (one per row) saying which
// (nil: from the rows' ports as they are).
//
// Every class but one takes its own real lengths, ranked among its rows.
// The class the model gave the most rows (with the rows of classes
// without a target) takes what the chunk's real lengths leave once the
// other classes have taken theirs at the shares the model gave them
// (residualTarget): a model that gives a class of short flows fewer flows
// than the real chunk has would otherwise make the chunk's flows longer,
// and the trace larger, than the real one.
func (g *Stream) calibrateLength(c int, rows []Row, keep func(Row) bool, classes []int8, rng *rand.Rand) {
	if !g.portLengths(c) {
		calibrateAttr(g.s, [][]Row{rows}, "length", keep, g.lenTarget(c), rng)
		return
	}
	if classes == nil {
		classes = g.portClasses(rows)
	}
	pt := g.portLenTo[c]
	k := len(pt.to)
	groups := make([][]int, k+1) // the last: classes without a target
	for i, r := range rows {
		if !keep(r) {
			continue
		}
		j := int(classes[i])
		if j >= k || pt.flows[j] == 0 {
			j = k
		}
		groups[j] = append(groups[j], i)
	}
	rest := -1
	for j := range k {
		if pt.flows[j] > 0 && (rest < 0 || len(groups[j]) > len(groups[rest])) {
			rest = j
		}
	}
	groups[rest] = append(groups[rest], groups[k]...)
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
	all := func(Row) bool { return true }
	for j, idx := range groups {
		if len(idx) == 0 {
			continue
		}
		t := pt.to[j]
		if j == rest {
			t = pt.residual(rest, share)
		}
		grp := make([]Row, len(idx))
		for m, i := range idx {
			grp[m] = rows[i]
		}
		// The copies share the rows' vectors; the decoded lengths are
		// copied back.
		calibrateAttr(g.s, [][]Row{grp}, "length", all, t, rng)
		for m, i := range idx {
			rows[i].Attr.Len = grp[m].Attr.Len
		}
	}
}

// residualBins is the resolution, over positions in [0, 1], of
// residualTarget.
const residualBins = 1024

// residual returns the target of class rest: the real chunk's lengths
// (every class's, at its real share of flows) less those of the other
// classes at the shares share the generated rows give them, where that
// leaves anything; else class rest's own lengths.
func (pt portTargets) residual(rest int, share []float64) Target {
	var total float64
	for _, f := range pt.flows {
		total += f
	}
	h := make([]float64, residualBins)
	add := func(t Target, w float64) {
		if w == 0 || len(t.q) == 0 {
			return
		}
		w /= float64(len(t.q))
		for _, p := range t.q {
			h[min(residualBins-1, max(0, int(p*residualBins)))] += w
		}
	}
	for j, t := range pt.to {
		add(t, pt.flows[j]/total)
		if j != rest {
			add(t, -share[j])
		}
	}
	var sum float64
	for b := range h {
		h[b] = max(0, h[b])
		sum += h[b]
	}
	if !(sum > 1e-9) {
		return pt.to[rest]
	}
	// The quantiles of the residual, positions spread evenly within a bin.
	m := max(len(pt.to[rest].q), residualBins)
	q := make([]float64, 0, m)
	var cum float64
	b := 0
	for i := range m {
		u := (float64(i) + 0.5) / float64(m) * sum
		for b < residualBins-1 && cum+h[b] < u {
			cum += h[b]
			b++
		}
		f := 0.5
		if h[b] > 0 {
			f = min(1, max(0, (u-cum)/h[b]))
		}
		q = append(q, (float64(b)+f)/residualBins)
	}
	return Target{q: q}
}
