package pipeline

import (
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/trace"
)

// TestGenerateIPDistinct runs the embedded sample with
// generate.ip_distinct off (pre-processing counts each chunk's distinct
// addresses, and those of the chunks up to it, either way), and
// re-generates with it on: the synthetic trace then has no more distinct
// sources and destinations than the real trace, where the same models
// without it give more.
func TestGenerateIPDistinct(t *testing.T) {
	cfg := tinyConfig(t, 10)
	cfg.Generate.IPDistinct = false
	dir, split, real := runSample(t, cfg)
	distinct := func(fs []trace.Flow) (int, int) {
		src, dst := map[uint32]bool{}, map[uint32]bool{}
		for _, f := range fs {
			src[f.Src], dst[f.Dst] = true, true
		}
		return len(src), len(dst)
	}
	rs, rd := distinct(real.Flows)
	var sumSrc, sumDst, upSrc, upDst int
	for _, c := range split.Chunks {
		if c.SrcAddrs <= 0 || c.DstAddrs <= 0 || c.SrcAddrs > rs || c.DstAddrs > rd {
			t.Fatalf("chunk %d: %d sources and %d destinations counted (the trace has %d and %d)", c.Index, c.SrcAddrs, c.DstAddrs, rs, rd)
		}
		if c.SrcAddrsUpTo < max(upSrc, c.SrcAddrs) || c.DstAddrsUpTo < max(upDst, c.DstAddrs) || c.SrcAddrsUpTo > upSrc+c.SrcAddrs || c.DstAddrsUpTo > upDst+c.DstAddrs {
			t.Fatalf("chunk %d: %d/%d sources/destinations up to it, after %d/%d up to the one before, with %d/%d of its own", c.Index, c.SrcAddrsUpTo, c.DstAddrsUpTo, upSrc, upDst, c.SrcAddrs, c.DstAddrs)
		}
		upSrc, upDst = c.SrcAddrsUpTo, c.DstAddrsUpTo
		sumSrc += c.SrcAddrs
		sumDst += c.DstAddrs
	}
	if upSrc != rs || upDst != rd {
		t.Fatalf("the last chunk counts %d/%d sources/destinations up to it, the trace has %d/%d", upSrc, upDst, rs, rd)
	}
	synth := func() (int, int) {
		return distinct(syntheticFlows(t, dir))
	}
	s0, d0 := synth()
	c := *cfg
	c.Generate.IPDistinct = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	s1, d1 := synth()
	t.Logf("real %d/%d sources/destinations (chunks together %d/%d); synthetic %d/%d, with ip_distinct %d/%d", rs, rd, sumSrc, sumDst, s0, d0, s1, d1)
	if s1 > rs+rs/10 || d1 > rd+rd/10 {
		t.Errorf("with ip_distinct: %d sources and %d destinations, the trace has %d and %d", s1, d1, rs, rd)
	}
	if s0 <= s1 && d0 <= d1 {
		t.Errorf("ip_distinct changed nothing: %d/%d distinct before, %d/%d after", s0, d0, s1, d1)
	}
}

// The exact distinct counter agrees with a set, across its compactions.
func TestDistinctCounter(t *testing.T) {
	var d distinctCounter
	set := map[uint32]bool{}
	x := uint32(1)
	for i := range 100_000 {
		x = x*1664525 + 1013904223
		v := x % 20_000 // many repeats
		if i%7 == 0 {
			v = x // and many values seen once
		}
		d.add(v)
		set[v] = true
		if i == 50_000 && d.count() != len(set) {
			t.Fatalf("after %d values: %d distinct, want %d", i+1, d.count(), len(set))
		}
	}
	if d.count() != len(set) {
		t.Errorf("%d distinct, want %d", d.count(), len(set))
	}
	if cap(d.v) > 4*len(set)+8192 {
		t.Errorf("holds room for %d values for %d distinct", cap(d.v), len(set))
	}
}

// runSample runs the embedded sample with cfg in a new directory and
// returns the directory, the split's statistics and the real trace.
func runSample(t *testing.T, cfg *config.Config) (string, *SplitInfo, *trace.Trace) {
	t.Helper()
	dir := t.TempDir()
	r := runAll(t, Options{Dir: dir, Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	real, err := trace.ReadAll(r.InputPath, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, split, real
}
