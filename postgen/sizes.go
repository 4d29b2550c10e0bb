package postgen

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// CalibrateSizes maps, in place, the durations and bytes of a block's
// generated flow records to the real ones of their chunk given their
// packets: within each packet class (encoding.PacketClass), the records
// are ranked by the value the model generated (ties in random order), and
// the record of rank r among n takes the class's real value at quantile
// (r + ½)/n (classes holds the chunk's knots, encoding.Spec.SizeKnots).
// The model still decides which records are long and large within their
// class; the class decides the range, so that durations and bytes follow
// the real distribution given the packets, where calibrating each field
// on its own matched each marginal but not the pairs. A class the real
// chunk does not hold is left as generated. It returns how many records
// it changed.
func CalibrateSizes(classes map[int]encoding.SizeClass, fs []trace.Flow, rng *rand.Rand) int {
	if len(classes) == 0 || len(fs) == 0 {
		return 0
	}
	by := map[int][]int{}
	for i := range fs {
		c := encoding.PacketClass(fs[i].Packets)
		if _, ok := classes[c]; ok {
			by[c] = append(by[c], i)
		}
	}
	changed := make([]bool, len(fs))
	// Classes in order, so that the draws do not depend on map order.
	for _, c := range slices.Sorted(maps.Keys(by)) {
		idx := by[c]
		k := classes[c]
		for _, field := range []struct {
			knots []float64
			get   func(*trace.Flow) int64
			set   func(*trace.Flow, int64)
		}{
			{k.Dur, func(f *trace.Flow) int64 { return f.Dur }, func(f *trace.Flow, v int64) { f.Dur = v }},
			{k.Bytes, func(f *trace.Flow) int64 { return int64(min(f.Bytes, 1<<62)) }, func(f *trace.Flow, v int64) { f.Bytes = uint64(max(0, v)) }},
		} {
			if len(field.knots) == 0 {
				continue
			}
			order := slices.Clone(idx)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(field.get(&fs[a]), field.get(&fs[b])) })
			n := float64(len(order))
			for r, i := range order {
				v := int64(encoding.At(field.knots, (float64(r)+0.5)/n))
				if v != field.get(&fs[i]) {
					field.set(&fs[i], v)
					changed[i] = true
				}
			}
		}
	}
	n := 0
	for _, c := range changed {
		if c {
			n++
		}
	}
	return n
}
