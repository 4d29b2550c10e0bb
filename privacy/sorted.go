package privacy

import "math"

// Sorted counts. A rank-frequency profile (how many flows the busiest
// address holds, the second busiest, and so on) is a vector of counts
// sorted in decreasing order. Sorting is non-expansive, so adding or
// removing one flow moves the sorted vector by no more than it moves the
// unsorted one, and the Gaussian mechanism applies to it directly. Its
// noisy release is far from sorted, and most of its ranks hold equal small
// counts: the least-squares fit by a non-increasing sequence pools such
// runs and averages their noise away (Hay, Rastogi, Miklau and Suciu,
// "Boosting the accuracy of differentially private histograms through
// consistency", VLDB 2010). SortedCounts adds what else is known from
// other releases: how many ranks there are and what they sum to.

// DecreasingFit returns the non-increasing sequence nearest to y in the
// least-squares sense (pool adjacent violators).
func DecreasingFit(y []float64) []float64 {
	// Blocks of pooled values: their mean and size, in order.
	means := make([]float64, 0, len(y))
	sizes := make([]int, 0, len(y))
	for _, v := range y {
		m, n := v, 1
		for k := len(means) - 1; k >= 0 && means[k] < m; k-- {
			m = (means[k]*float64(sizes[k]) + m*float64(n)) / float64(sizes[k]+n)
			n += sizes[k]
			means, sizes = means[:k], sizes[:k]
		}
		means, sizes = append(means, m), append(sizes, n)
	}
	out := make([]float64, 0, len(y))
	for k, m := range means {
		for range sizes[k] {
			out = append(out, m)
		}
	}
	return out
}

// SortedCounts post-processes a noisy release of counts sorted in
// decreasing order: it returns the non-increasing sequence of n values,
// each at least floor, that sums to total and is nearest to the first n
// noisy values in the least-squares sense (ranks past the release are
// taken as floor). n and total come from other releases (a noisy number of
// distinct keys, a noisy number of flows); it is post-processing and costs
// no privacy. With total below n·floor every value is floor.
//
// The solution is max(DecreasingFit(noisy) − λ, floor) for the λ that
// meets the total: shifting y shifts its fit, and clipping a
// non-increasing fit from below keeps it the nearest bounded one.
func SortedCounts(noisy []float64, n int, total, floor float64) []float64 {
	if n <= 0 {
		return nil
	}
	y := make([]float64, n)
	for i := range y {
		y[i] = floor
		if i < len(noisy) {
			y[i] = noisy[i]
		}
	}
	fit := DecreasingFit(y)
	out := make([]float64, n)
	sum := func(l float64) float64 {
		var s float64
		for _, v := range fit {
			s += math.Max(v-l, floor)
		}
		return s
	}
	if total <= float64(n)*floor {
		for i := range out {
			out[i] = floor
		}
		return out
	}
	// sum is continuous and non-increasing in λ: at hi every value is
	// floor (sum n·floor < total), at lo it is at least Σfit − n·lo = total.
	var s float64
	for _, v := range fit {
		s += v
	}
	lo, hi := (s-total)/float64(n), fit[0]-floor
	lo = math.Min(lo, hi)
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if sum(mid) > total {
			lo = mid
		} else {
			hi = mid
		}
	}
	for i, v := range fit {
		out[i] = math.Max(v-lo, floor)
	}
	return out
}
