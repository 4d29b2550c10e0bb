package eval

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

const tol = 1e-12

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol*max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g", name, got, want)
	}
}

func TestJSDHandComputed(t *testing.T) {
	ln := math.Log
	near(t, "disjoint", JSD([]float64{1, 0}, []float64{0, 1}), ln(2))
	near(t, "identical", JSD([]float64{3, 1}, []float64{6, 2}), 0)
	// p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4):
	// KL(p‖m) = ½ln(2/3) + ½ln 2, KL(q‖m) = ln(4/3).
	near(t, "half", JSD([]float64{1, 1}, []float64{1}), 0.5*(0.5*ln(2.0/3)+0.5*ln(2)+ln(4.0/3)))
	if !math.IsNaN(JSD(nil, []float64{1})) {
		t.Error("JSD of an empty side should be NaN")
	}
}

func TestEMDHandComputed(t *testing.T) {
	// F_u steps at 0, 1, 3 (by 1/3); F_v at 1, 2 (by 1/2):
	// |F_u−F_v| = 1/3 on [0,1), 1/6 on [1,2), 1/3 on [2,3).
	near(t, "uneven", EMD([]float64{0, 1, 3}, []float64{1, 2}), 1.0/3+1.0/6+1.0/3)
	near(t, "shift", EMD([]float64{0, 1, 2}, []float64{5, 6, 7}), 5)
	near(t, "same", EMD([]float64{1, 1, 4}, []float64{1, 1, 4}), 0)
	near(t, "point", EMD([]float64{2}, []float64{0, 0, 0, 4}), 2*0.75+2*0.25)
}

func TestTVDHandComputed(t *testing.T) {
	// p: 1→2/3, 2→1/3; q: 2→1/2, 3→1/2.
	near(t, "tvd", TVD([]uint64{1, 1, 2}, []uint64{2, 3}), 0.5*(2.0/3+1.0/6+0.5))
	near(t, "same proportions", TVD([]uint64{4, 5, 5}, []uint64{4, 4, 5, 5, 5, 5}), 0)
	near(t, "sixth", TVD([]uint64{4, 5, 5}, []uint64{4, 5}), 1.0/6)
	near(t, "disjoint", TVD([]uint64{1}, []uint64{2}), 1)
}

func TestLog2Bin(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want uint64
	}{{0, 0}, {0.9, 0}, {1, 1}, {2, 1}, {3, 2}, {7, 3}, {100, 6}, {1500, 10}, {-3, 0}} {
		if got := log2Bin(c.x); got != c.want {
			t.Errorf("log2Bin(%v) = %d, want %d", c.x, got, c.want)
		}
	}
}

// log2Bin is the definition of a joint-histogram bin, in floating point:
// floor(log2(1+x)); the profiles compute it in integers.
func log2Bin(x float64) uint64 {
	if !(x > 0) {
		return 0
	}
	return uint64(math.Floor(math.Log2(1 + x)))
}

func durMillis(us int64) float64 { return float64(max(us, 0)) / 1000 }

// emdBrute integrates |F_u − F_v| on a fine grid of all sample points.
func emdBrute(u, v []float64) float64 {
	pts := slices.Concat(u, v)
	slices.Sort(pts)
	cdf := func(a []float64, x float64) float64 {
		n := 0
		for _, y := range a {
			if y <= x {
				n++
			}
		}
		return float64(n) / float64(len(a))
	}
	var s float64
	for i := 0; i+1 < len(pts); i++ {
		s += math.Abs(cdf(u, pts[i])-cdf(v, pts[i])) * (pts[i+1] - pts[i])
	}
	return s
}

func TestMetricProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n, m := 1+r.IntN(30), 1+r.IntN(30)
		u, v := make([]float64, n), make([]float64, m)
		for i := range u {
			u[i] = float64(r.IntN(10))
		}
		for i := range v {
			v[i] = float64(r.IntN(12)) * 0.5
		}
		slices.Sort(u)
		slices.Sort(v)
		e := EMD(u, v)
		near(t, "EMD symmetric", EMD(v, u), e)
		near(t, "EMD vs brute force", e, emdBrute(u, v))
		near(t, "EMD identity", EMD(u, u), 0)
		if e < 0 {
			t.Fatalf("negative EMD %v", e)
		}
		p, q := make([]float64, 1+r.IntN(8)), make([]float64, 1+r.IntN(8))
		for i := range p {
			p[i] = float64(r.IntN(5))
		}
		for i := range q {
			q[i] = float64(r.IntN(5))
		}
		p[0]++
		q[len(q)-1]++
		j := JSD(p, q)
		near(t, "JSD symmetric", JSD(q, p), j)
		near(t, "JSD identity", JSD(p, p), 0)
		if j < 0 || j > math.Ln2+1e-12 {
			t.Fatalf("JSD %v outside [0, ln 2]", j)
		}
		a, b := make([]uint64, n), make([]uint64, m)
		for i := range a {
			a[i] = uint64(r.IntN(6))
		}
		for i := range b {
			b[i] = uint64(r.IntN(6))
		}
		slices.Sort(a)
		slices.Sort(b)
		d := TVD(a, b)
		near(t, "TVD symmetric", TVD(b, a), d)
		near(t, "TVD identity", TVD(a, a), 0)
		if d < 0 || d > 1+1e-12 {
			t.Fatalf("TVD %v outside [0, 1]", d)
		}
	}
}

func TestRankFrequency(t *testing.T) {
	vals := []uint64{7, 3, 7, 9, 7, 3}
	var so sorter
	got := so.rankFrequency(len(vals), func(i int) uint64 { return vals[i] })
	if !slices.Equal(got, []uint64{3, 2, 1}) {
		t.Fatalf("rank frequency %v, want [3 2 1]", got)
	}
}

// The integer bins used by the profiles equal the floating-point
// definition floor(log2(1+x)), with durations in milliseconds.
func TestIntegerBinsMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	vals := []uint64{0, 1, 2, 3, 4, 7, 8, 1023, 1024, 1 << 40, 1<<40 - 1}
	for i := 0; i < 2000; i++ {
		vals = append(vals, uint64(r.ExpFloat64()*1e6))
	}
	for _, v := range vals {
		if got, want := log2BinU(v), log2Bin(float64(v)); got != want {
			t.Errorf("log2BinU(%d) = %d, want %d", v, got, want)
		}
	}
	for _, us := range []int64{0, 1, 999, 1000, 1999, 2000, 2999, 3000, 7000, 1023000, 1024000, -5} {
		if got, want := durBin(us), log2Bin(durMillis(us)); got != want {
			t.Errorf("durBin(%d µs) = %d, want %d", us, got, want)
		}
	}
	for i := 0; i < 5000; i++ {
		us := int64(r.ExpFloat64() * 1e7)
		if got, want := durBin(us), log2Bin(durMillis(us)); got != want {
			t.Fatalf("durBin(%d µs) = %d, want %d", us, got, want)
		}
	}
}
