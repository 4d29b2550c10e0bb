package reference

import (
	"math"
	"testing"
)

func TestSpreadCoarse(t *testing.T) {
	fine := []float64{0, 5, 0, 0, 0, 0, 0, 0, 2, 3}
	coarse := []float64{9, 4, 1}
	got := spreadCoarse(fine, coarse, 4)
	// Range 0: 9 − 5 spread over its three empty ports; range 1: all 4
	// spread; range 2 (two ports): its fine mass 5 exceeds 1, unchanged.
	want := []float64{4.0 / 3, 5, 4.0 / 3, 4.0 / 3, 1, 1, 1, 1, 2, 3}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("spread %v, want %v", got, want)
		}
	}
	if fine[0] != 0 {
		t.Error("the fine histogram was modified")
	}
}
