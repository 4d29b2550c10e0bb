package encoding

import (
	"math"
	"math/bits"

	"github.com/netshare-go/netshare/trace"
)

// SizeClass holds, for the flow records of one chunk and one packet class
// (PacketClass), the quantile knots of their durations (µs) and of their
// bytes, in log1p space: what generation calibrates a synthetic record's
// duration and bytes to, given its packets (Spec.SizeKnots).
type SizeClass struct {
	Dur   []float64 `json:"duration"`
	Bytes []float64 `json:"bytes"`
}

// PacketClass is the class of a record of p packets: ⌊log2 p⌋ + 1 (0 for
// none), so that 1, 2-3, 4-7, … packets make a class each.
func PacketClass(p uint64) int { return bits.Len64(p) }

// At returns the value at quantile q ∈ [0, 1] of knots (log1p space, as
// SizeClass holds them), interpolated between the knots and rounded, as
// the quantile codec decodes a position.
func At(knots []float64, q float64) float64 {
	switch len(knots) {
	case 0:
		return 0
	case 1:
		return math.Round(math.Expm1(knots[0]))
	}
	return (&Quantile{Knots: knots, Log: true, Round: true}).value(q)
}

// sizeSketches gathers one chunk's durations and bytes per packet class.
type sizeSketches map[int]*[2]*quantileSketch

func (s sizeSketches) add(f *trace.Flow) {
	c := PacketClass(f.Packets)
	sk := s[c]
	if sk == nil {
		sk = &[2]*quantileSketch{newSketch(), newSketch()}
		s[c] = sk
	}
	sk[0].add(float64(max(0, f.Dur)))
	sk[1].add(float64(f.Bytes))
}

func (s sizeSketches) knots(k int) map[int]SizeClass {
	out := make(map[int]SizeClass, len(s))
	for c, sk := range s {
		out[c] = SizeClass{Dur: sk[0].knots(k, true), Bytes: sk[1].knots(k, true)}
	}
	return out
}
