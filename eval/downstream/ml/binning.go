package ml

import (
	"slices"
	"sort"
)

// maxBins is the most histogram bins a tree learner uses per feature.
const maxBins = 64

// binner maps each feature to at most maxBins ordered bins, cut at the
// midpoints between distinct training values (all of them when there are
// few, quantiles otherwise).
type binner struct{ cuts [][]float64 }

func fitBinner(X [][]float64) *binner {
	d := len(X[0])
	b := &binner{cuts: make([][]float64, d)}
	col := make([]float64, len(X))
	for j := 0; j < d; j++ {
		for i, r := range X {
			col[i] = r[j]
		}
		s := slices.Clone(col)
		slices.Sort(s)
		u := slices.Compact(s)
		var cuts []float64
		if len(u) <= maxBins {
			for i := 1; i < len(u); i++ {
				cuts = append(cuts, (u[i-1]+u[i])/2)
			}
		} else {
			for q := 1; q < maxBins; q++ {
				i := q * len(u) / maxBins
				c := (u[i-1] + u[i]) / 2
				if len(cuts) == 0 || c > cuts[len(cuts)-1] {
					cuts = append(cuts, c)
				}
			}
		}
		b.cuts[j] = cuts
	}
	return b
}

func (b *binner) nbins(j int) int { return len(b.cuts[j]) + 1 }

// bin returns the bin of value v of feature j: the number of cuts below v.
func (b *binner) bin(j int, v float64) uint8 {
	return uint8(sort.SearchFloat64s(b.cuts[j], v))
}

// transform returns the bins of every row, column-major ([feature][row]).
func (b *binner) transform(X [][]float64) [][]uint8 {
	out := make([][]uint8, len(b.cuts))
	for j := range out {
		c := make([]uint8, len(X))
		for i, r := range X {
			c[i] = b.bin(j, r[j])
		}
		out[j] = c
	}
	return out
}
