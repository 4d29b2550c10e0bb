package encoding

import (
	"math"
	"math/rand/v2"
	"testing"
)

// roundTrip encodes vals with c into a matrix with padding columns around
// the codec's slice and decodes them back.
func roundTrip(t *testing.T, c Codec, vals []float64) ([]float64, int) {
	t.Helper()
	const pad = 3
	stride := c.Dim() + 2*pad
	m := make([]float32, len(vals)*stride)
	for i := range m {
		m[i] = 7 // garbage outside the codec's slice must not matter
	}
	changed := 0
	for i, v := range vals {
		if c.Encode(v, m[i*stride+pad:i*stride+pad+c.Dim()]) {
			changed++
		}
	}
	out := make([]float64, len(vals))
	c.Decode(m, stride, pad, out)
	return out, changed
}

func TestBitsRoundTripExact(t *testing.T) {
	c := Bits{Field: "srcip", Width: 32}
	if c.Dim() != 64 || len(c.Outputs()) != 32 || dimOf(c.Outputs()) != 64 {
		t.Fatalf("dims: %d, %d outputs", c.Dim(), len(c.Outputs()))
	}
	r := rand.New(rand.NewPCG(1, 1))
	vals := []float64{0, 1, math.MaxUint32, 0x80000000, 0x93205167}
	for range 1000 {
		vals = append(vals, float64(r.Uint32()))
	}
	out, changed := roundTrip(t, c, vals)
	if changed != 0 {
		t.Errorf("%d values reported changed", changed)
	}
	for i := range vals {
		if out[i] != vals[i] {
			t.Fatalf("value %v decoded as %v", vals[i], out[i])
		}
	}
}

func TestBitsLayoutMSBFirst(t *testing.T) {
	c := Bits{Field: "x", Width: 4}
	dst := make([]float32, 8)
	c.Encode(0b1010, dst)
	want := []float32{0, 1, 1, 0, 0, 1, 1, 0}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("encoding of 0b1010 = %v, want %v", dst, want)
		}
	}
	// Soft outputs decode by comparing each pair; ties decode to 0.
	soft := []float32{0.4, 0.6, 0.5, 0.5, 0.9, 0.1, 0.2, 0.8}
	out := make([]float64, 1)
	c.Decode(soft, 8, 0, out)
	if out[0] != 0b1001 {
		t.Errorf("soft decode = %b, want 1001", int(out[0]))
	}
	if !c.Encode(16, dst) || !c.Encode(-1, dst) {
		t.Error("out-of-range values must be reported as changed")
	}
}

func TestContinuousRoundTripWithinFloat32(t *testing.T) {
	for _, c := range []Continuous{
		{Field: "td", Lo: 0, Hi: 86400, Log: true},
		{Field: "pkt_len", Lo: 20, Hi: 1500},
		{Field: "byt", Lo: 20, Hi: 1.5e9, Log: true, Round: true},
	} {
		r := rand.New(rand.NewPCG(2, 2))
		vals := []float64{c.Lo, c.Hi}
		for range 500 {
			v := c.Lo + r.Float64()*(c.Hi-c.Lo)
			if c.Round {
				v = math.Round(v)
			}
			vals = append(vals, v)
		}
		out, changed := roundTrip(t, c, vals)
		if changed != 0 {
			t.Errorf("%s: %d in-range values reported changed", c.Field, changed)
		}
		lo, hi := c.f(c.Lo), c.f(c.Hi)
		for i, v := range vals {
			// One float32 ulp of the normalised value, mapped back.
			tol := (hi - lo) * 1.2e-7
			if c.Log {
				tol *= 1 + v
			}
			if c.Round {
				tol = math.Max(tol, 0.5)
			}
			if math.Abs(out[i]-v) > tol+1e-9 {
				t.Errorf("%s: %v decoded as %v (tolerance %g)", c.Field, v, out[i], tol)
			}
		}
	}
}

func TestContinuousClampsAndCounts(t *testing.T) {
	c := Continuous{Field: "ttl", Lo: 0, Hi: 255}
	dst := make([]float32, 1)
	for _, v := range []float64{-1, 256, math.NaN()} {
		if !c.Encode(v, dst) {
			t.Errorf("%v: not reported as clamped", v)
		}
		if dst[0] < 0 || dst[0] > 1 {
			t.Errorf("%v: encoded outside [0,1]: %v", v, dst[0])
		}
	}
	// Generated values outside [0,1] decode inside the range.
	out := make([]float64, 2)
	c.Decode([]float32{-0.5, 1.5}, 1, 0, out)
	if out[0] != 0 || out[1] != 255 {
		t.Errorf("decode of out-of-range outputs: %v", out)
	}
	flat := Continuous{Field: "k", Lo: 5, Hi: 5}
	flat.Encode(5, dst)
	flat.Decode(dst, 1, 0, out[:1])
	if out[0] != 5 {
		t.Errorf("constant field decoded as %v", out[0])
	}
}

func TestCategoricalRoundTripAndNearest(t *testing.T) {
	c := NewCategorical("flag", []float64{2, 0, 1, 2, 0})
	if c.Dim() != 3 {
		t.Fatalf("dim %d, want 3", c.Dim())
	}
	out, changed := roundTrip(t, c, []float64{0, 1, 2, 2, 1})
	if changed != 0 || out[0] != 0 || out[1] != 1 || out[2] != 2 || out[3] != 2 || out[4] != 1 {
		t.Errorf("round trip gave %v (changed %d)", out, changed)
	}
	out, changed = roundTrip(t, c, []float64{7, -3, 1.4})
	if changed != 3 || out[0] != 2 || out[1] != 0 || out[2] != 1 {
		t.Errorf("unseen values gave %v (changed %d)", out, changed)
	}
}
