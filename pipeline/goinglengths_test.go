package pipeline

import (
	"slices"
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// A flow going on into chunk 1 in two split segments counts once there,
// with its first segment's length; the segment after it, a flow starting
// in chunk 1 and chunk 0's flows count as the chunks' own; a chained
// flow's later segments do not count at all.
func TestGoingLengthsSketch(t *testing.T) {
	a := trace.Key{Src: 1, Dst: 2, SrcPort: 1000, DstPort: 22, Proto: trace.ProtoTCP}
	b := trace.Key{Src: 3, Dst: 2, SrcPort: 1001, DstPort: 22, Proto: trace.ProtoTCP}
	c := trace.Key{Src: 4, Dst: 2, SrcPort: 1002, DstPort: 22, Proto: trace.ProtoTCP}
	g := newGoingLengths(2)
	g.add(0, a, true, false, 20) // a starts in chunk 0
	g.add(1, a, false, false, 20)
	g.add(1, a, false, false, 7) // a's second segment in chunk 1
	g.add(1, b, true, false, 3)
	g.add(0, c, true, false, 50) // a chained flow of 50 records
	g.add(0, c, true, true, 99)  // its later segment (counted, it would show)
	going, own := g.knots(16)
	span := func(k []float64) []float64 {
		if len(k) == 0 {
			return nil
		}
		return []float64{k[0], k[len(k)-1]}
	}
	if going[0] != nil || !slices.Equal(span(going[1]), []float64{20, 20}) {
		t.Errorf("going knots %v: want none in chunk 0 and a's first segment (20) in chunk 1", going)
	}
	if !slices.Equal(span(own[0]), []float64{20, 50}) || !slices.Equal(span(own[1]), []float64{3, 7}) {
		t.Errorf("own knots %v: want chunk 0's from 20 to 50, chunk 1's from 3 to 7", own)
	}
	if g, o := newGoingLengths(2).knots(16); g != nil || o != nil {
		t.Errorf("knots of nothing %v, %v: want none", g, o)
	}
}

// TestContinuationLengths runs the capture in two chunks with
// generate.continuation_lengths off, then generates again with it on:
// the flows going on into chunk 1 hold there about as many packets as the
// real ones (split.json's knots), not as many as the chunk's flows.
func TestContinuationLengths(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(testutil.TinyConfig(2, 30, 10, "workers: 2")), "quick")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Generate.ContinuationLengths = false
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	r := runAll(t, Options{Dir: dir, Input: in, Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(split.GoingLengths) != 2 || split.GoingLengths[0] != nil || len(split.GoingLengths[1]) == 0 || len(split.OwnLengths[1]) == 0 {
		t.Fatalf("split.json's going lengths %v (own %v): want chunk 1's", split.GoingLengths, split.OwnLengths)
	}
	edge := split.Chunks[1].Start
	// goingMean is the mean packets in chunk 1 of the flows of a capture
	// that have packets in both chunks.
	goingMean := func(path string) float64 {
		tr, err := trace.ReadAll(path, trace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		before, after := map[trace.Key]bool{}, map[trace.Key]int{}
		for _, p := range tr.Packets {
			if p.TS < edge {
				before[p.Key()] = true
			} else {
				after[p.Key()]++
			}
		}
		n, sum := 0, 0
		for k, m := range after {
			if before[k] {
				n++
				sum += m
			}
		}
		if n == 0 {
			t.Fatalf("%s: no flow goes on into chunk 1", path)
		}
		return float64(sum) / float64(n)
	}
	want := goingMean(in)
	off := goingMean(r.Synthetic())
	c := *cfg
	c.Generate.ContinuationLengths = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	on := goingMean(r.Synthetic())
	t.Logf("packets in chunk 1 of the flows going on into it: real %.2f, synthetic %.2f without continuation_lengths, %.2f with", want, off, on)
	if d, e := on-want, off-want; d*d >= e*e {
		t.Errorf("with continuation_lengths the flows going on hold %.2f packets, without %.2f: want closer to the real %.2f", on, off, want)
	}
}
