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

// column copies one field of every record, so that random draws from it
// stay in cache.
func column[R, T any](rs []R, get func(*R) T) []T {
	c := make([]T, len(rs))
	for i := range rs {
		c[i] = get(&rs[i])
	}
	return c
}

// pick fills one field of every output record with independent draws.
func pick[R, T any](r *rand.Rand, out, real []R, get func(*R) T, set func(*R, T)) {
	c := column(real, get)
	for i := range out {
		set(&out[i], c[r.IntN(len(c))])
	}
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
	out := make([]trace.Flow, n)
	for i, j := range draw(r, n, len(real)) {
		out[i].Start = real[j].Start
	}
	type F = trace.Flow
	pick(r, out, real, func(f *F) int64 { return f.Dur }, func(f *F, v int64) { f.Dur = v })
	pick(r, out, real, func(f *F) uint32 { return f.Src }, func(f *F, v uint32) { f.Src = v })
	pick(r, out, real, func(f *F) uint32 { return f.Dst }, func(f *F, v uint32) { f.Dst = v })
	pick(r, out, real, func(f *F) uint16 { return f.SrcPort }, func(f *F, v uint16) { f.SrcPort = v })
	pick(r, out, real, func(f *F) uint16 { return f.DstPort }, func(f *F, v uint16) { f.DstPort = v })
	pick(r, out, real, func(f *F) uint8 { return f.Proto }, func(f *F, v uint8) { f.Proto = v })
	pick(r, out, real, func(f *F) uint64 { return f.Packets }, func(f *F, v uint64) { f.Packets = v })
	pick(r, out, real, func(f *F) uint64 { return f.Bytes }, func(f *F, v uint64) { f.Bytes = v })
	pick(r, out, real, func(f *F) uint8 { return f.TCPFlags }, func(f *F, v uint8) { f.TCPFlags = v })
	pick(r, out, real, func(f *F) uint8 { return f.TOS }, func(f *F, v uint8) { f.TOS = v })
	pick(r, out, real, func(f *F) uint8 { return f.Fwd }, func(f *F, v uint8) { f.Fwd = v })
	pick(r, out, real, func(f *F) string { return f.Label }, func(f *F, v string) { f.Label = v })
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
	out := make([]trace.Packet, n)
	for i, j := range draw(r, n, len(real)) {
		out[i].TS = real[j].TS
	}
	type P = trace.Packet
	pick(r, out, real, func(p *P) uint32 { return p.Src }, func(p *P, v uint32) { p.Src = v })
	pick(r, out, real, func(p *P) uint32 { return p.Dst }, func(p *P, v uint32) { p.Dst = v })
	pick(r, out, real, func(p *P) uint16 { return p.SrcPort }, func(p *P, v uint16) { p.SrcPort = v })
	pick(r, out, real, func(p *P) uint16 { return p.DstPort }, func(p *P, v uint16) { p.DstPort = v })
	pick(r, out, real, func(p *P) uint8 { return p.Proto }, func(p *P, v uint8) { p.Proto = v })
	pick(r, out, real, func(p *P) uint16 { return p.Len }, func(p *P, v uint16) { p.Len = v })
	pick(r, out, real, func(p *P) uint8 { return p.TOS }, func(p *P, v uint8) { p.TOS = v })
	pick(r, out, real, func(p *P) uint16 { return p.ID }, func(p *P, v uint16) { p.ID = v })
	pick(r, out, real, func(p *P) uint8 { return p.Flags }, func(p *P, v uint8) { p.Flags = v })
	pick(r, out, real, func(p *P) uint16 { return p.FragOff }, func(p *P, v uint16) { p.FragOff = v })
	pick(r, out, real, func(p *P) uint8 { return p.TTL }, func(p *P, v uint8) { p.TTL = v })
	pick(r, out, real, func(p *P) uint8 { return p.TCPFlags }, func(p *P, v uint8) { p.TCPFlags = v })
	return out
}
