package eval

import "github.com/netshare-go/netshare/eval/internal/radix"

func radixSort(a, tmp []uint64) { radix.Sort(a, tmp) }

// sortedU64 returns a sorted copy of the values f(i) for i in [0, n).
func sortedU64(n int, f func(i int) uint64) []uint64 {
	a := make([]uint64, n)
	for i := range a {
		a[i] = f(i)
	}
	radixSort(a, make([]uint64, n))
	return a
}

// runCounts returns the lengths of the runs of equal values in sorted a.
func runCounts(a []uint64) []uint64 {
	d := 0
	for i := range a {
		if i == 0 || a[i] != a[i-1] {
			d++
		}
	}
	out := make([]uint64, 0, d)
	for i := 0; i < len(a); {
		j := i + 1
		for j < len(a) && a[j] == a[i] {
			j++
		}
		out = append(out, uint64(j-i))
		i = j
	}
	return out
}

// rankFrequency returns the counts of the distinct values of a (any order),
// sorted in descending order.
func rankFrequency(n int, f func(i int) uint64) []uint64 {
	c := runCounts(sortedU64(n, f))
	radixSort(c, make([]uint64, len(c)))
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
	return c
}
