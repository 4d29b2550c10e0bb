package encoding

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// tailData is a body of small counts (1 to 10) with six records three
// orders of magnitude larger: the shape of an IoT trace whose few long
// connections carry most of its packets.
func tailData(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(1 + r.IntN(10))
	}
	copy(out, []float64{4485, 4702, 5895, 6147, 6793, 7129})
	return out
}

func sketchOf(vals []float64) *quantileSketch {
	sk := newSketch()
	for _, v := range vals {
		sk.add(v)
	}
	return sk
}

// decodeEven decodes n evenly spread positions, as calibration hands them
// to the codec.
func decodeEven(q *Quantile, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = q.value((float64(i) + 0.5) / float64(n))
	}
	return out
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// Evenly spaced knots spread the six large records over the top interval
// in log space and lose most of their total; knots at the gap's sides keep
// it, and keep every decoded value off the gap.
func TestGapKnotsKeepTheTail(t *testing.T) {
	vals := tailData(4828, 1)
	sk := sketchOf(vals)
	even := &Quantile{Knots: sk.knots(512, true), Log: true, Round: true}
	knots, probs := sk.gapKnots(512)
	if probs == nil {
		t.Fatal("no gap knots for a trace with a gap of 10 → 4,485")
	}
	gapped := &Quantile{Knots: knots, Probs: probs, Log: true, Round: true}
	if err := checkProbs(probs, len(knots)); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(knots) {
		t.Fatal("knots not sorted")
	}
	real := sum(vals)
	tailSum := func(q *Quantile) float64 {
		d := decodeEven(q, len(vals))
		s := 0.0
		for _, v := range d {
			if v > 10 {
				s += v
			}
		}
		return s
	}
	realTail := real - sum(vals[6:])
	e, g := tailSum(even), tailSum(gapped)
	t.Logf("tail total: real %.0f, even knots %.0f, gap knots %.0f", realTail, e, g)
	if math.Abs(g-realTail) > 0.1*realTail {
		t.Errorf("gap knots decode a tail of %.0f packets, real %.0f", g, realTail)
	}
	if e > 0.6*realTail {
		t.Errorf("even knots keep %.0f of %.0f: the case this test is for no longer arises", e, realTail)
	}
	// No decoded value falls in the gap but for the one position step the
	// data's own interpolation gives it.
	inGap := 0
	for _, v := range decodeEven(gapped, len(vals)) {
		if v > 10 && v < 4485 {
			inGap++
		}
	}
	if inGap > 1 {
		t.Errorf("%d decoded values inside the gap (10, 4485)", inGap)
	}
}

// Data without gaps keeps evenly spaced knots (and so old schemas).
func TestGapKnotsNoneWithoutGaps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	vals := make([]float64, 5000)
	for i := range vals {
		vals[i] = math.Round(math.Exp(r.NormFloat64()*2 + 5))
	}
	sk := sketchOf(vals)
	knots, probs := sk.gapKnots(256)
	if probs != nil {
		t.Fatalf("gap knots on log-normal data: %d knots", len(knots))
	}
	if !slices.Equal(knots, sk.knots(256, true)) {
		t.Fatal("knots differ from knots(256)")
	}
}

// With gap knots, every real value still encodes and decodes to itself,
// and the encoded marginal stays uniform.
func TestGapKnotsRoundTripAndUniform(t *testing.T) {
	vals := tailData(6000, 4)
	knots, probs := sketchOf(vals).gapKnots(128)
	if probs == nil {
		t.Fatal("no gap knots")
	}
	q := &Quantile{Field: "pkt", Knots: knots, Probs: probs, Log: true, Round: true}
	out, changed := roundTrip(t, q, vals)
	if changed != 0 {
		t.Errorf("%d in-range values reported changed", changed)
	}
	for i, v := range vals {
		if math.Abs(out[i]-v) > 0.5+v*1e-5 {
			t.Fatalf("%v decoded as %v", v, out[i])
		}
	}
	enc := make([]float64, len(vals))
	dst := make([]float32, 1)
	for i, v := range vals {
		q.Encode(v, dst)
		enc[i] = float64(dst[0])
	}
	slices.Sort(enc)
	ks := 0.0
	for i, u := range enc {
		ks = math.Max(ks, math.Max(math.Abs(u-float64(i)/float64(len(enc))), math.Abs(u-float64(i+1)/float64(len(enc)))))
	}
	if ks > 0.02 {
		t.Errorf("encoded marginal KS distance to uniform %.4f", ks)
	}
}

// clusterData draws from a few clusters orders of magnitude apart, with
// point masses among them: many gaps of different sizes.
func clusterData(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	centres := []float64{0, 1, 30, 2000, 1e5, 3e7}
	out := make([]float64, n)
	for i := range out {
		c := centres[r.IntN(len(centres))]
		if r.IntN(2) == 0 {
			out[i] = c
		} else {
			out[i] = math.Round(c * (1 + 0.2*r.Float64()))
		}
	}
	return out
}

// Knots stay sorted, probabilities valid, and values round-trip, whatever
// the gaps and however few the knots.
func TestGapKnotsInvariants(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		for _, k := range []int{2, 7, 64, 512} {
			vals := clusterData(50+int(seed)*97, seed)
			knots, probs := sketchOf(vals).gapKnots(k)
			if !slices.IsSorted(knots) {
				t.Fatalf("seed %d k %d: knots not sorted", seed, k)
			}
			if err := checkProbs(probs, len(knots)); err != nil {
				t.Fatalf("seed %d k %d: %v", seed, k, err)
			}
			if probs == nil {
				continue
			}
			q := &Quantile{Field: "x", Knots: knots, Probs: probs, Log: true, Round: true}
			enc := make([]float32, 1)
			for _, v := range vals {
				q.Encode(v, enc)
				if d := q.value(float64(enc[0])); math.Abs(d-v) > 0.5+v*1e-5 && k == 512 {
					t.Fatalf("seed %d: %v decoded as %v", seed, v, d)
				}
			}
		}
	}
}

// The binned sketch (past sketchExactMax distinct values) finds the same
// gaps, within its accuracy.
func TestGapKnotsBinned(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	vals := make([]float64, 60000)
	for i := range vals {
		vals[i] = 1 + r.Float64()*1000 // continuous body, many distinct values
	}
	copy(vals, []float64{2e6, 2.5e6, 3e6, 3.1e6})
	sk := sketchOf(vals)
	if sk.exact != nil {
		t.Fatal("sketch not binned")
	}
	knots, probs := sk.gapKnots(64)
	if probs == nil {
		t.Fatal("no gap knots")
	}
	// A knot at each side of the gap (1001, 2e6), within the sketch's
	// accuracy.
	near := func(v float64) bool {
		for _, k := range knots {
			if math.Abs(math.Expm1(k)-v) <= 2*sketchAccuracy*v+1 {
				return true
			}
		}
		return false
	}
	if !near(2e6) {
		t.Errorf("no knot at the gap's upper side 2e6: top knots %v", knots[len(knots)-4:])
	}
	top := vals[4:]
	if !near(slices.Max(top)) {
		t.Errorf("no knot at the gap's lower side %.1f", slices.Max(top))
	}
}

func TestCheckProbs(t *testing.T) {
	for _, c := range []struct {
		p  []float64
		ok bool
	}{
		{nil, true},
		{[]float64{0, 0.5, 1}, true},
		{[]float64{0, 1}, false}, // length
		{[]float64{0.1, 0.5, 1}, false},
		{[]float64{0, 0.5, 0.9}, false},
		{[]float64{0, 0.5, 0.5}, false},
		{[]float64{0, math.NaN(), 1}, false},
	} {
		if err := checkProbs(c.p, 3); (err == nil) != c.ok {
			t.Errorf("checkProbs(%v): %v", c.p, err)
		}
	}
}
