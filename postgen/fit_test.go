package postgen

import (
	"math"
	"testing"
)

// Iterative proportional fitting reaches both margins when they agree,
// keeps the matrix's zeros, and leaves a row of zeros as it is.
func TestFitMargins(t *testing.T) {
	a := []float64{
		1, 2, 0,
		3, 1, 1,
		0, 0, 0,
	}
	row := []float64{4, 6, 5} // the last row cannot be reached
	col := []float64{5, 3, 2}
	fitMargins(a, row, col, 500, 0)
	for i := range 2 {
		var s float64
		for j := range 3 {
			s += a[i*3+j]
		}
		if math.Abs(s-row[i]) > 1e-6 {
			t.Errorf("row %d sums to %v, want %v", i, s, row[i])
		}
	}
	if a[2] != 0 || a[6] != 0 || a[7] != 0 || a[8] != 0 {
		t.Errorf("zeros moved: %v", a)
	}
	for j := range 3 {
		if s := a[j] + a[3+j]; math.Abs(s-col[j]) > 1e-6 {
			t.Errorf("column %d sums to %v, want %v", j, s, col[j])
		}
	}
	// With a tolerance the fitting stops once the columns barely move,
	// still close to the margins.
	b := []float64{1, 2, 0, 3, 1, 1, 0, 0, 0}
	fitMargins(b, row, col, 500, 1e-3)
	for j := range 3 {
		if s := b[j] + b[3+j]; math.Abs(s-col[j]) > 0.01 {
			t.Errorf("with tolerance, column %d sums to %v, want about %v", j, s, col[j])
		}
	}
}
