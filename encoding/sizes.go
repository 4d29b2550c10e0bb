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
	// Packets, under PacketsOne, PacketsMany and PacketsAll alone, are the
	// knots of the packets of the chunk's records of that group.
	Packets []float64 `json:"packets,omitempty"`
}

// PacketClass is the class of a record of p packets: ⌊log2 p⌋ + 1 (0 for
// none), so that 1, 2-3, 4-7, … packets make a class each.
func PacketClass(p uint64) int { return bits.Len64(p) }

// SizeKey is the key in Spec.SizeKnots of the records of one protocol
// and packet class: the class above 255, the protocol above that. A
// packet class alone (below 256) holds the records of every protocol.
// Bytes per packet depend on the protocol (an ICMP echo or a UDP query is
// not a TCP segment), so generation calibrates a record to its
// protocol's class where the chunk holds enough of them
// (SizeProtoMin), and to the class of every protocol elsewhere.
func SizeKey(proto uint8, p uint64) int { return (int(proto)+1)<<8 | PacketClass(p) }

// Records by their flow's length. A chunk's records of one protocol and
// packet class are also kept apart by whether their flow holds one
// record in the chunk or more (SizeLenKey): a scan's probe is one record,
// while the records of a client's long-lived connection are many of one
// flow. Their durations differ (on `ctu-normal-40-day1`, 98% of the TCP
// records of two or three packets in 5-tuples of one record last no time
// at all, the probes, and 37% of those in 5-tuples of several records),
// and calibrating the records of a packet class together gave a
// long-lived flow the probes' zero durations.
const (
	sizeSingle = 1 << 16
	sizeMulti  = 1 << 17
)

// SizeLenKey is SizeKey for the records of a flow of one record in its
// chunk (multi false) or of several.
func SizeLenKey(proto uint8, p uint64, multi bool) int {
	if multi {
		return SizeKey(proto, p) | sizeMulti
	}
	return SizeKey(proto, p) | sizeSingle
}

// Keys in Spec.SizeKnots of the packets of a chunk's records
// (SizeClass.Packets): those in 5-tuples of one record in the chunk, those
// in 5-tuples of several, and all of them. A scan's probes are one record
// of two packets each, a long-lived connection many records of a few
// more: on `ctu-normal-40-day1` 36% of the records of 5-tuples of several
// records hold 4 to 7 packets and 55% hold 2 or 3, where the model gave
// its own such records 13% and 76%, the packets being calibrated over all
// the records together.
const (
	PacketsOne = 1<<18 + iota
	PacketsMany
	PacketsAll
)

// SizeProtoMin is the fewest records of a protocol and packet class a
// chunk must hold for their own knots (SizeKey): with fewer, the
// synthetic records of the class would share a handful of real values.
const SizeProtoMin = 16

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

// PacketSizes holds the quantile knots of one chunk's packet lengths (IP
// total length, log1p space, as SizeClass holds its values): of all its
// packets, and of each protocol's of at least SizeProtoMin packets.
type PacketSizes struct {
	All     []float64           `json:"all"`
	ByProto map[uint8][]float64 `json:"by_proto,omitempty"`
}

// sizeSketches gathers one chunk's durations and bytes per packet class.
type sizeSketches map[int]*[2]*quantileSketch

func (s sizeSketches) add(f *trace.Flow, multi bool) {
	for _, c := range []int{PacketClass(f.Packets), SizeKey(f.Proto, f.Packets), SizeLenKey(f.Proto, f.Packets, multi)} {
		sk := s[c]
		if sk == nil {
			sk = &[2]*quantileSketch{newSketch(), newSketch()}
			s[c] = sk
		}
		sk[0].add(float64(max(0, f.Dur)))
		sk[1].add(float64(f.Bytes))
	}
}

// knots returns the knots of every packet class, and of every protocol's
// class (and its records by flow length) that holds at least SizeProtoMin
// records.
func (s sizeSketches) knots(k int) map[int]SizeClass {
	out := make(map[int]SizeClass, len(s))
	for c, sk := range s {
		if c > 255 && sk[0].n < SizeProtoMin {
			continue
		}
		out[c] = SizeClass{Dur: sk[0].knots(k, true), Bytes: sk[1].knots(k, true)}
	}
	return out
}
