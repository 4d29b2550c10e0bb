package privacy

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func sqDist(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return s
}

func nonIncreasing(v []float64) bool {
	for i := 1; i < len(v); i++ {
		if v[i] > v[i-1]+1e-9 {
			return false
		}
	}
	return true
}

func TestDecreasingFitExamples(t *testing.T) {
	for _, c := range []struct{ y, want []float64 }{
		{nil, []float64{}},
		{[]float64{5}, []float64{5}},
		{[]float64{3, 2, 1}, []float64{3, 2, 1}},
		{[]float64{1, 3, 2}, []float64{2, 2, 2}},
		{[]float64{3, 1, 2}, []float64{3, 1.5, 1.5}},
		{[]float64{1, 2, 3, 4}, []float64{2.5, 2.5, 2.5, 2.5}},
		{[]float64{4, 5, 1, 0, 2}, []float64{4.5, 4.5, 1, 1, 1}},
	} {
		got := DecreasingFit(c.y)
		if len(got) != len(c.want) {
			t.Fatalf("DecreasingFit(%v) = %v, want %v", c.y, got, c.want)
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Fatalf("DecreasingFit(%v) = %v, want %v", c.y, got, c.want)
			}
		}
	}
}

// The fit is non-increasing and no non-increasing sequence near it is
// nearer to y.
func TestDecreasingFitOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + rng.IntN(12)
		y := make([]float64, n)
		for i := range y {
			y[i] = math.Round(rng.NormFloat64()*5 + float64(n-i))
		}
		fit := DecreasingFit(y)
		if !nonIncreasing(fit) {
			t.Fatalf("trial %d: fit %v of %v increases", trial, fit, y)
		}
		best := sqDist(fit, y)
		for range 50 {
			z := slices.Clone(fit)
			for i := range z {
				z[i] += rng.NormFloat64() * 0.3
			}
			slices.Sort(z)
			slices.Reverse(z)
			if d := sqDist(z, y); d < best-1e-9 {
				t.Fatalf("trial %d: %v is nearer to %v (%.6f) than the fit %v (%.6f)", trial, z, y, d, fit, best)
			}
		}
	}
}

func TestSortedCountsExact(t *testing.T) {
	exact := []float64{50, 20, 20, 7, 3, 1, 1, 1}
	got := SortedCounts(append(slices.Clone(exact), 0, 0, 0), len(exact), 103, 1)
	for i := range exact {
		if math.Abs(got[i]-exact[i]) > 1e-6 {
			t.Fatalf("noiseless counts with their own total and length: got %v, want %v", got, exact)
		}
	}
}

func TestSortedCountsConstraints(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 100 {
		n := 1 + rng.IntN(40)
		noisy := make([]float64, rng.IntN(50))
		for i := range noisy {
			noisy[i] = rng.NormFloat64()*20 + float64(60-i)
		}
		total := float64(n) * (1 + rng.Float64()*30)
		got := SortedCounts(noisy, n, total, 1)
		if len(got) != n || !nonIncreasing(got) {
			t.Fatalf("trial %d: %v: want %d non-increasing values", trial, got, n)
		}
		var s float64
		for _, v := range got {
			if v < 1 {
				t.Fatalf("trial %d: %v below the floor", trial, got)
			}
			s += v
		}
		if math.Abs(s-total) > 1e-6*total {
			t.Fatalf("trial %d: sum %.6f, want %.6f", trial, s, total)
		}
	}
	// A total the ranks cannot go below: every value at the floor.
	for _, v := range SortedCounts([]float64{10, 5}, 3, 2, 1) {
		if v != 1 {
			t.Fatalf("total below n·floor: got %v", v)
		}
	}
	if SortedCounts([]float64{1}, 0, 5, 1) != nil {
		t.Fatal("n = 0: want nil")
	}
}

// On a rank-frequency profile like a trace's (a few busy addresses, a
// long tail of addresses seen once), the post-processed release is much
// nearer to the exact counts than the noisy one: the tail's noise
// averages away.
func TestSortedCountsReducesError(t *testing.T) {
	var exact []float64
	for r := 1; r <= 2000; r++ {
		exact = append(exact, math.Max(1, math.Round(1200/math.Pow(float64(r), 1.5))))
	}
	var total float64
	for _, v := range exact {
		total += v
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var raw, post float64
	for range 20 {
		noisy := make([]float64, 4000) // released past the distinct ranks
		for i := range noisy {
			if i < len(exact) {
				noisy[i] = exact[i]
			}
			noisy[i] += rng.NormFloat64() * 50
		}
		got := SortedCounts(noisy, len(exact), total+rng.NormFloat64()*50, 1)
		raw += sqDist(noisy[:len(exact)], exact)
		post += sqDist(got, exact)
	}
	if post > raw/100 {
		t.Fatalf("squared error after post-processing %.0f, want at most 1%% of the noisy release's %.0f", post, raw)
	}
}
