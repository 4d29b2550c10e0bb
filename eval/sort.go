package eval

import "github.com/netshare-go/netshare/eval/internal/radix"

func radixSort(a, tmp []uint64) { radix.Sort(a, tmp) }

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
