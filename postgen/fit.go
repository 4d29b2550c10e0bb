package postgen

import "math"

// fitMargins scales the non-negative len(row) × len(col) matrix a
// (row-major) towards row sums row and column sums col by iterative
// proportional fitting: rounds of scaling every row to its sum, then
// every column to its sum (a row or column that sums to zero stays). It
// stops after rounds rounds, or earlier once no column's factor in a
// round is tol or more away from 1 (tol ≤ 0: never earlier).
func fitMargins(a, row, col []float64, rounds int, tol float64) {
	c := len(col)
	for range rounds {
		scaleRows(a, row, c)
		worst := 0.0
		for j := range c {
			var sum float64
			for i := range row {
				sum += a[i*c+j]
			}
			if sum > 0 {
				f := col[j] / sum
				worst = max(worst, math.Abs(f-1))
				for i := range row {
					a[i*c+j] *= f
				}
			}
		}
		if tol > 0 && worst < tol {
			return
		}
	}
}

// scaleRows scales each row i of the row-major matrix a, c columns wide,
// to sum to row[i] (a row that sums to zero stays).
func scaleRows(a, row []float64, c int) {
	for i := range row {
		r := a[i*c : (i+1)*c]
		var sum float64
		for _, v := range r {
			sum += v
		}
		if sum > 0 {
			f := row[i] / sum
			for k := range r {
				r[k] *= f
			}
		}
	}
}
