package pipeline

import (
	"testing"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// TestSizesGivenPackets runs the embedded sample with
// generate.sizes_given_packets off, and re-generates with it on: every
// synthetic record's duration and bytes then lie within the real range of
// its packet class, where the same models without it stray outside.
// (Protocol repair is off, so that only the pass moves sizes.)
func TestSizesGivenPackets(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, 10)
	cfg.Generate.SizesGivenPackets = false
	cfg.Generate.RepairProtocol = false
	r := runAll(t, Options{Dir: dir, Config: cfg})
	real, err := trace.ReadAll(r.InputPath, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type span struct{ dLo, dHi, bLo, bHi int64 }
	ranges := map[int]*span{}
	for _, f := range real.Flows {
		c := encoding.PacketClass(f.Packets)
		s := ranges[c]
		if s == nil {
			s = &span{f.Dur, f.Dur, int64(f.Bytes), int64(f.Bytes)}
			ranges[c] = s
		}
		s.dLo, s.dHi = min(s.dLo, f.Dur), max(s.dHi, f.Dur)
		s.bLo, s.bHi = min(s.bLo, int64(f.Bytes)), max(s.bHi, int64(f.Bytes))
	}
	outside := func() (n, of int) {
		for _, f := range syntheticFlows(t, dir) {
			s := ranges[encoding.PacketClass(f.Packets)]
			if s == nil {
				continue
			}
			of++
			// The CSV keeps durations to the millisecond.
			if f.Dur < s.dLo-1000 || f.Dur > s.dHi+1000 || int64(f.Bytes) < s.bLo || int64(f.Bytes) > s.bHi {
				n++
			}
		}
		return n, of
	}
	n0, of0 := outside()
	c := *cfg
	c.Generate.SizesGivenPackets = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	n1, of1 := outside()
	t.Logf("records outside their class's real sizes: %d of %d without the pass, %d of %d with it", n0, of0, n1, of1)
	if of1 == 0 || n1 != 0 {
		t.Errorf("with sizes_given_packets: %d of %d records outside their class's real sizes", n1, of1)
	}
	if n0 == 0 {
		t.Errorf("without the pass no record strays: the test cannot tell it works")
	}
}
