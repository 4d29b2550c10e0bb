package pipeline

import (
	"math/bits"
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// TestRejoinSegments runs the capture with its flows split at 8 packets
// and generate.rejoin_segments off, then generates again with it on: the
// rows that stand for long flows' later segments take their flows'
// 5-tuples, so the synthetic capture holds more flows longer than a
// segment, and its (flow size class, destination port) joint comes closer
// to the real one.
func TestRejoinSegments(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(testutil.TinyConfig(2, 30, 10, "workers: 2")+"max_flow_len: 8\nlong_flows: split\n"), "quick")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Generate.RejoinSegments = false
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	r := runAll(t, Options{Dir: dir, Input: in, Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ss := split.SplitSegments; ss.Missing() || len(ss.Cells(0))+len(ss.Cells(1)) == 0 {
		t.Fatalf("split.json's segments %+v: want cells of flows of several segments", ss)
	}
	type cell struct {
		size int
		port uint16
	}
	shape := func(path string) (map[cell]float64, int) {
		tr, err := trace.ReadAll(path, trace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		per := map[trace.Key]int{}
		for i := range tr.Packets {
			per[tr.Packets[i].Key()]++
		}
		out, long := map[cell]float64{}, 0
		for k, n := range per {
			out[cell{bits.Len(uint(n)), k.DstPort}] += 1 / float64(len(per))
			if n > 8 {
				long++
			}
		}
		return out, long
	}
	want, _ := shape(in)
	offShape, offLong := shape(r.Synthetic())
	c := *cfg
	c.Generate.RejoinSegments = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	onShape, onLong := shape(r.Synthetic())
	gs := genStats(t, dir)
	off, on := shareTVD(want, offShape), shareTVD(want, onShape)
	t.Logf("flows longer than a segment: %d without rejoin_segments, %d with (%d rows rejoined); (flow size, destination port) TVD %.3f, %.3f", offLong, onLong, gs.RejoinedSegments, off, on)
	if gs.RejoinedSegments == 0 || onLong <= offLong {
		t.Errorf("with rejoin_segments: %d rows rejoined, %d flows longer than a segment against %d without", gs.RejoinedSegments, onLong, offLong)
	}
	if on >= off {
		t.Errorf("(flow size, destination port) TVD %.3f with rejoin_segments, %.3f without", on, off)
	}
}
