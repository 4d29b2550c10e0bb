package reference

import (
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/trace"
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x6a09e667f3bcc908^stream))
}

// draw returns n indices in [0, m) drawn uniformly with replacement, in
// ascending order, so that a trace kept in time order yields records in
// time order.
func draw(r *rand.Rand, n, m int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = r.IntN(m)
	}
	slices.Sort(idx)
	return idx
}

// BootstrapFlows returns n records drawn with replacement from real (a
// bootstrap resample), in real's order. It returns nil when real is empty.
func BootstrapFlows(real []trace.Flow, n int, seed int64) []trace.Flow {
	if len(real) == 0 || n <= 0 {
		return nil
	}
	out := make([]trace.Flow, n)
	for i, j := range draw(newRand(seed, 1), n, len(real)) {
		out[i] = real[j]
	}
	return out
}

// MarginalFlows returns n records whose every field is drawn independently
// from that field's values in real (an independent-marginal sampler). The
// start times are drawn in ascending index order, so the output is in time
// order when real is. It returns nil when real is empty.
func MarginalFlows(real []trace.Flow, n int, seed int64) []trace.Flow {
	if len(real) == 0 || n <= 0 {
		return nil
	}
	r := newRand(seed, 2)
	m := len(real)
	out := make([]trace.Flow, n)
	for i, j := range draw(r, n, m) {
		out[i].Start = real[j].Start
	}
	for i := range out {
		f := &out[i]
		f.Dur = real[r.IntN(m)].Dur
		f.Src = real[r.IntN(m)].Src
		f.Dst = real[r.IntN(m)].Dst
		f.SrcPort = real[r.IntN(m)].SrcPort
		f.DstPort = real[r.IntN(m)].DstPort
		f.Proto = real[r.IntN(m)].Proto
		f.Packets = real[r.IntN(m)].Packets
		f.Bytes = real[r.IntN(m)].Bytes
		f.TCPFlags = real[r.IntN(m)].TCPFlags
		f.TOS = real[r.IntN(m)].TOS
		f.Fwd = real[r.IntN(m)].Fwd
		f.Label = real[r.IntN(m)].Label
	}
	return out
}

// BootstrapPackets returns n packets drawn with replacement from real, in
// real's order (a record-level bootstrap: packets, not whole flows, are
// resampled). It returns nil when real is empty.
func BootstrapPackets(real []trace.Packet, n int, seed int64) []trace.Packet {
	if len(real) == 0 || n <= 0 {
		return nil
	}
	out := make([]trace.Packet, n)
	for i, j := range draw(newRand(seed, 3), n, len(real)) {
		out[i] = real[j]
	}
	return out
}

// MarginalPackets returns n packets whose every header field is drawn
// independently from that field's values in real. Timestamps are drawn in
// ascending index order. It returns nil when real is empty.
func MarginalPackets(real []trace.Packet, n int, seed int64) []trace.Packet {
	if len(real) == 0 || n <= 0 {
		return nil
	}
	r := newRand(seed, 4)
	m := len(real)
	out := make([]trace.Packet, n)
	for i, j := range draw(r, n, m) {
		out[i].TS = real[j].TS
	}
	for i := range out {
		p := &out[i]
		p.Src = real[r.IntN(m)].Src
		p.Dst = real[r.IntN(m)].Dst
		p.SrcPort = real[r.IntN(m)].SrcPort
		p.DstPort = real[r.IntN(m)].DstPort
		p.Proto = real[r.IntN(m)].Proto
		p.Len = real[r.IntN(m)].Len
		p.TOS = real[r.IntN(m)].TOS
		p.ID = real[r.IntN(m)].ID
		p.Flags = real[r.IntN(m)].Flags
		p.FragOff = real[r.IntN(m)].FragOff
		p.TTL = real[r.IntN(m)].TTL
		p.TCPFlags = real[r.IntN(m)].TCPFlags
	}
	return out
}
