package eval

import (
	"math"
	"math/bits"
)

// JSD returns the Jensen–Shannon divergence, natural log, between the
// distributions proportional to the non-negative weights p and q (aligned
// by index; the shorter is padded with zeros). It is 0 for identical
// distributions and at most ln 2. Either side summing to zero gives NaN.
func JSD(p, q []float64) float64 {
	var sp, sq float64
	for _, v := range p {
		sp += v
	}
	for _, v := range q {
		sq += v
	}
	if !(sp > 0) || !(sq > 0) {
		return math.NaN()
	}
	n := max(len(p), len(q))
	var s float64
	for i := 0; i < n; i++ {
		var a, b float64
		if i < len(p) {
			a = p[i] / sp
		}
		if i < len(q) {
			b = q[i] / sq
		}
		m := (a + b) / 2
		if a > 0 {
			s += a * math.Log(a/m)
		}
		if b > 0 {
			s += b * math.Log(b/m)
		}
	}
	s /= 2
	if s < 0 { // rounding
		s = 0
	}
	return s
}

// jsdCounts is JSD over integer counts.
func jsdCounts(p, q []uint64) float64 {
	return JSD(u64f(p), u64f(q))
}

func u64f(a []uint64) []float64 {
	f := make([]float64, len(a))
	for i, v := range a {
		f[i] = float64(v)
	}
	return f
}

// RankJSD returns the JSD between two popularity-rank distributions: the
// counts of each distinct value, each list sorted in descending order and
// aligned by rank (identities are ignored).
func RankJSD(countsP, countsQ []uint64) float64 {
	return jsdCounts(countsP, countsQ)
}

// EMD returns the 1-D Wasserstein-1 distance between the empirical
// distributions of two samples given in ascending order: the integral of
// |F_u(x) − F_v(x)| over x. Either sample empty gives NaN.
func EMD(u, v []float64) float64 { return emd(u, v) }

// emd is EMD for any ascending numeric samples.
func emd[T uint64 | float64](u, v []T) float64 {
	n, m := len(u), len(v)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	fn, fm := float64(n), float64(m)
	i, j := 0, 0
	var s float64
	x := min(u[0], v[0])
	for i < n || j < m {
		// Advance past every value equal to x on both sides.
		for i < n && u[i] <= x {
			i++
		}
		for j < m && v[j] <= x {
			j++
		}
		if i == n && j == m {
			break
		}
		var next T
		switch {
		case i == n:
			next = v[j]
		case j == m:
			next = u[i]
		default:
			next = min(u[i], v[j])
		}
		s += math.Abs(float64(i)/fn-float64(j)/fm) * float64(next-x)
		x = next
	}
	return s
}

// TVD returns the total variation distance ½·Σ|p_k − q_k| between the
// empirical distributions of two samples of keys given in ascending order.
func TVD(a, b []uint64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	fn, fm := float64(n), float64(m)
	i, j := 0, 0
	var s float64
	for i < n || j < m {
		var k uint64
		switch {
		case i == n:
			k = b[j]
		case j == m:
			k = a[i]
		default:
			k = min(a[i], b[j])
		}
		ci, cj := 0, 0
		for i < n && a[i] == k {
			i++
			ci++
		}
		for j < m && b[j] == k {
			j++
			cj++
		}
		s += math.Abs(float64(ci)/fn - float64(cj)/fm)
	}
	return s / 2
}

// log2BinU is the joint-histogram bin of a count: floor(log2(1+x)),
// exactly.
func log2BinU(x uint64) uint64 {
	if x == math.MaxUint64 {
		return 64
	}
	return uint64(bits.Len64(x+1) - 1)
}

// bppBin is the joint-histogram bin of a record's mean bytes per packet:
// 4-byte bins below 256 bytes (where headers differ by protocol: 28 for
// an ICMP echo or a bare UDP datagram, 40 for a bare TCP segment), 32-byte
// bins up to 1,536, and one bin above; 105 bins in all (0 for a record
// of no packets).
func bppBin(bytes, packets uint64) uint64 {
	if packets == 0 {
		return 0
	}
	switch b := bytes / packets; {
	case b < 256:
		return b / 4
	case b < 1536:
		return 64 + (b-256)/32
	default:
		return 104
	}
}

// durBin is the joint-histogram bin of a duration of us microseconds taken
// in milliseconds: floor(log2(1 + us/1000)) = floor(log2(floor((1000+us)/1000))),
// since 2^k ≤ y ⇔ 2^k ≤ floor(y) for y ≥ 1.
func durBin(us int64) uint64 {
	if us <= 0 {
		return 0
	}
	return uint64(bits.Len64((1000+uint64(us))/1000) - 1)
}

// tvdDense is the total variation distance between two histograms over
// the same dense bins, with na and nb observations.
func tvdDense(a, b []uint64, na, nb int) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i])/float64(na) - float64(b[i])/float64(nb))
	}
	return s / 2
}

// mapSorted returns f applied to each element of the ascending slice a;
// f must be non-decreasing so the result stays ascending.
// Runs of equal values (common in counts) are mapped once.
func mapSorted(a []uint64, f func(uint64) float64) []float64 {
	out := make([]float64, len(a))
	var last uint64
	var fl float64
	for i, v := range a {
		if i == 0 || v != last {
			last, fl = v, f(v)
		}
		out[i] = fl
	}
	return out
}

func mean(vals ...float64) float64 {
	if len(vals) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range vals {
		s += v
	}
	return s / float64(len(vals))
}
