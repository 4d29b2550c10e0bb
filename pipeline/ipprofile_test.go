package pipeline

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// TestGenerateIPProfile runs the embedded sample with generate.ip_profile
// off (pre-processing keeps the profiles either way) and re-generates with
// it on: the records per address, ranked, then come closer to the real
// trace's, in both fields (the destinations' within 0.1 of the real
// shares).
func TestGenerateIPProfile(t *testing.T) {
	cfg := tinyConfig(t, 10)
	cfg.Generate.IPProfile = false
	dir, split, real := runSample(t, cfg)
	ranked := func(fs []trace.Flow, dst bool) []float64 {
		n := map[uint32]float64{}
		for _, f := range fs {
			if dst {
				n[f.Dst]++
			} else {
				n[f.Src]++
			}
		}
		var out []float64
		for _, v := range n {
			out = append(out, v)
		}
		slices.SortFunc(out, func(a, b float64) int { return cmp.Compare(b, a) })
		return out
	}
	// Per chunk, the profiles are those of the chunks up to it: the last
	// one is the trace's (every record once per field, the real ranked
	// weights), and none weighs less than the one before.
	if len(split.AddrProfiles) != len(split.Chunks) {
		t.Fatalf("%d chunks' profiles, %d chunks", len(split.AddrProfiles), len(split.Chunks))
	}
	for fi, dst := range []bool{false, true} {
		want := ranked(real.Flows, dst)
		last := split.AddrProfiles[len(split.Chunks)-1][fi]
		if last == nil || last.Distinct() != len(want) || last.Total != float64(len(real.Flows)) {
			t.Fatalf("field %d: the last chunk's profile %+v, want %d addresses and %d records", fi, last, len(want), len(real.Flows))
		}
		for r := 1; r <= len(want); r++ {
			if d := last.At(r) - want[r-1]; d > 0.05*want[r-1]+0.5 || d < -0.05*want[r-1]-0.5 {
				t.Fatalf("field %d rank %d: %g records, want %g", fi, r, last.At(r), want[r-1])
			}
		}
		for c := 1; c < len(split.Chunks); c++ {
			if a, b := split.AddrProfiles[c-1][fi], split.AddrProfiles[c][fi]; a != nil && (b == nil || b.Total < a.Total || b.Distinct() < a.Distinct()) {
				t.Errorf("field %d: chunk %d's profile %+v lighter than chunk %d's %+v", fi, c, b, c-1, a)
			}
		}
	}
	// The distance between two ranked profiles, as shares of their totals:
	// half the L1 distance over ranks.
	dist := func(a, b []float64) float64 {
		sa, sb := 0.0, 0.0
		for _, x := range a {
			sa += x
		}
		for _, x := range b {
			sb += x
		}
		d := 0.0
		for i := range max(len(a), len(b)) {
			var x, y float64
			if i < len(a) {
				x = a[i] / sa
			}
			if i < len(b) {
				y = b[i] / sb
			}
			d += math.Abs(x - y)
		}
		return d / 2
	}
	var before [2]float64
	syn := syntheticFlows(t, dir)
	for fi, dst := range []bool{false, true} {
		before[fi] = dist(ranked(real.Flows, dst), ranked(syn, dst))
	}
	c := *cfg
	c.Generate.IPProfile = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	syn = syntheticFlows(t, dir)
	for fi, dst := range []bool{false, true} {
		after := dist(ranked(real.Flows, dst), ranked(syn, dst))
		t.Logf("field %d: ranked records per address %.3f from the real trace's without ip_profile, %.3f with", fi, before[fi], after)
		// The tiny model generates far fewer sources than the sample
		// holds (ip_distinct cannot make up for so few flows), so the
		// source profile cannot be reached, only approached.
		limit := []float64{before[fi], 0.1}[fi]
		if after >= before[fi] || after > limit {
			t.Errorf("field %d: with ip_profile %.3f from the real profile, without %.3f", fi, after, before[fi])
		}
	}
}

// addrWeights sums the weights of each address, across its merges.
func TestAddrWeights(t *testing.T) {
	var a addrWeights
	want := map[uint32]float64{}
	x := uint32(7)
	for i := range 50_000 {
		x = x*1664525 + 1013904223
		ip := x % 3000
		w := 1 + i%5
		a.add(ip, w)
		a.add(ip, 0) // no weight: not counted
		want[ip] += float64(w)
	}
	got := a.weights()
	if len(got) != len(want) {
		t.Fatalf("%d addresses, want %d", len(got), len(want))
	}
	sum, wsum := 0.0, 0.0
	for i, x := range a.v {
		ip := uint32(x >> 32)
		if got[i] != want[ip] {
			t.Fatalf("address %d: %g, want %g", ip, got[i], want[ip])
		}
		sum += got[i]
	}
	for _, w := range want {
		wsum += w
	}
	if sum != wsum {
		t.Errorf("total %g, want %g", sum, wsum)
	}
}
