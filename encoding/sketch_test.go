package encoding

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSketchKnotsExactWhileFewValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 17, 1000} {
		vals := make([]float64, n)
		sk := newSketch()
		for i := range vals {
			vals[i] = float64(r.IntN(500)) - 20 // ties, negatives and zeros
			sk.add(vals[i])
		}
		for _, log := range []bool{false, true} {
			for _, k := range []int{1, 5, 63} {
				got, want := sk.knots(k, log), QuantileKnots(vals, k, log)
				if !slices.Equal(got, want) {
					t.Errorf("n=%d k=%d log=%v: knots %v, want %v", n, k, log, got, want)
				}
			}
		}
	}
	if got := newSketch().knots(8, true); !slices.Equal(got, []float64{0, 0}) {
		t.Errorf("empty sketch: %v", got)
	}
}

func TestSketchKnotsAccurateWhenBinned(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 200000
	vals := make([]float64, n)
	sk := newSketch()
	for i := range vals {
		switch i % 4 {
		case 0:
			vals[i] = math.Exp(r.NormFloat64()*3 + 8) // heavy-tailed sizes
		case 1:
			vals[i] = float64(r.IntN(40)) // small counts
		case 2:
			vals[i] = r.Float64() // positions in a chunk
		default:
			vals[i] = math.Round(r.ExpFloat64() * 1e6) // gaps in µs
		}
		sk.add(vals[i])
	}
	if sk.exact != nil {
		t.Fatalf("%d distinct values still held exactly", len(sk.exact))
	}
	if len(sk.pos)+len(sk.neg) > 40000 {
		t.Errorf("%d bins", len(sk.pos)+len(sk.neg))
	}
	for _, log := range []bool{false, true} {
		got, want := sk.knots(50, log), QuantileKnots(vals, 50, log)
		if len(got) != len(want) {
			t.Fatalf("%d knots, want %d", len(got), len(want))
		}
		for j := range want {
			x, y := got[j], want[j]
			if log {
				x, y = math.Expm1(x), math.Expm1(y)
			}
			if d := math.Abs(x - y); d > 2*sketchAccuracy*math.Abs(y)+1e-12 {
				t.Errorf("log=%v knot %d: %v, exact %v (relative error %.2g)", log, j, x, y, d/math.Abs(y))
			}
		}
		if got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("log=%v: extreme knots %v, %v; want exact %v, %v", log, got[0], got[len(got)-1], want[0], want[len(want)-1])
		}
	}
}
