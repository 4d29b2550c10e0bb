package encoding

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// heavyData has point masses (1 and 2, like packet counts of scans) and a
// heavy continuous tail.
func heavyData(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		switch u := r.Float64(); {
		case u < 0.6:
			out[i] = 1
		case u < 0.7:
			out[i] = 2
		default:
			out[i] = math.Round(math.Exp(r.Float64()*12) + 2)
		}
	}
	return out
}

func TestQuantileRoundTrip(t *testing.T) {
	vals := heavyData(5000, 1)
	for _, log := range []bool{false, true} {
		q := &Quantile{Field: "pkt", Knots: QuantileKnots(vals, 256, log), Log: log, Round: true}
		out, changed := roundTrip(t, q, vals)
		if changed != 0 {
			t.Errorf("log=%v: %d in-range values reported changed", log, changed)
		}
		for i, v := range vals {
			if math.Abs(out[i]-v) > 0.5+v*1e-5 {
				t.Fatalf("log=%v: %v decoded as %v", log, v, out[i])
			}
		}
	}
}

// Encoded values are uniform on [0, 1] even with point masses, and a point
// mass decodes exactly from anywhere in its span.
func TestQuantileEncodedMarginalIsUniform(t *testing.T) {
	vals := heavyData(20000, 2)
	q := &Quantile{Field: "pkt", Knots: QuantileKnots(vals, 512, true), Log: true, Round: true}
	enc := make([]float64, len(vals))
	dst := make([]float32, 1)
	for i, v := range vals {
		q.Encode(v, dst)
		enc[i] = float64(dst[0])
	}
	slices.Sort(enc)
	// Kolmogorov–Smirnov distance to U(0,1).
	ks := 0.0
	for i, u := range enc {
		ks = math.Max(ks, math.Max(math.Abs(u-float64(i)/float64(len(enc))), math.Abs(u-float64(i+1)/float64(len(enc)))))
	}
	if ks > 0.02 {
		t.Errorf("encoded marginal KS distance to uniform %.4f", ks)
	}
	out := make([]float64, 1)
	for _, u := range []float32{0, 0.1, 0.3, 0.59} {
		q.Decode([]float32{u}, 1, 0, out)
		if out[0] != 1 {
			t.Errorf("position %v decodes to %v, want the point mass 1", u, out[0])
		}
	}
	// Decoding uniform positions reproduces the distribution.
	r := rand.New(rand.NewPCG(3, 3))
	n1 := 0
	for range 10000 {
		q.Decode([]float32{float32(r.Float64())}, 1, 0, out)
		if out[0] == 1 {
			n1++
		}
	}
	if math.Abs(float64(n1)/10000-0.6) > 0.02 {
		t.Errorf("share of ones after decoding uniform draws %.3f, want 0.6", float64(n1)/10000)
	}
}

func TestQuantileClampsAndConstant(t *testing.T) {
	q := &Quantile{Field: "x", Knots: QuantileKnots([]float64{5, 6, 7}, 10, false)}
	dst := make([]float32, 1)
	if !q.Encode(100, dst) || dst[0] != 1 || !q.Encode(-3, dst) || dst[0] != 0 || !q.Encode(math.NaN(), dst) {
		t.Error("out-of-range values not clamped and reported")
	}
	c := &Quantile{Field: "c", Knots: QuantileKnots([]float64{4, 4, 4}, 8, true), Log: true, Round: true}
	out := make([]float64, 1)
	c.Encode(4, dst)
	c.Decode(dst, 1, 0, out)
	if out[0] != 4 {
		t.Errorf("constant field decoded as %v", out[0])
	}
	if k := QuantileKnots(nil, 8, false); len(k) != 2 {
		t.Errorf("knots of no data: %v", k)
	}
}
