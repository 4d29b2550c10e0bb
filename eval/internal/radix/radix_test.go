package radix

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortMatchesSlicesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5, 255, 256, 1000, 70000} {
		for _, mask := range []uint64{0, 0xff, 0xffff00, ^uint64(0)} {
			a := make([]uint64, n)
			for i := range a {
				a[i] = r.Uint64() & mask
			}
			want := slices.Clone(a)
			slices.Sort(want)
			Sort(a, make([]uint64, n))
			if !slices.Equal(a, want) {
				t.Fatalf("n=%d mask=%x: radix sort differs", n, mask)
			}
		}
	}
}
