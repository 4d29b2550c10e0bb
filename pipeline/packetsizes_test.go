package pipeline

import (
	"math"
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// TestPacketSizesGivenProtocol runs the capture with
// generate.packet_sizes_given_protocol off (pre-processing keeps the
// knots, per protocol and per destination port class, either way), then
// generates again with it on: the joint of (packet length class,
// protocol) comes closer to the real one.
func TestPacketSizesGivenProtocol(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(testutil.TinyConfig(2, 30, 10, "workers: 2")), "quick")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Generate.PacketSizesGivenProtocol = false
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	r := runAll(t, Options{Dir: dir, Input: in, Config: cfg})
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PacketSizeKnots) != 2 || len(s.PacketSizeKnots[0].All) == 0 || len(s.PacketSizeKnots[0].ByProto[trace.ProtoTCP]) == 0 {
		t.Fatalf("schema's packet-size knots %+v: want each chunk's, TCP's among them", s.PacketSizeKnots)
	}
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ps := split.PortPacketSizes; ps.Missing() || len(ps.Chunks) != 2 || len(ps.Chunks[0][trace.ProtoTCP]) == 0 {
		t.Fatalf("split.json's packet lengths per port class %+v: want each chunk's, TCP's among them", ps)
	}
	joint := func(path string) map[[2]int]float64 {
		tr, err := trace.ReadAll(path, trace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[[2]int]float64{}
		for _, p := range tr.Packets {
			out[[2]int{int(math.Log2(1 + float64(p.Len))), int(p.Proto)}] += 1 / float64(len(tr.Packets))
		}
		return out
	}
	want := joint(in)
	tvd := func(got map[[2]int]float64) float64 { return shareTVD(want, got) }
	off := tvd(joint(r.Synthetic()))
	c := *cfg
	c.Generate.PacketSizesGivenProtocol = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	on := tvd(joint(r.Synthetic()))
	gs := genStats(t, dir)
	t.Logf("(packet length class, protocol) TVD %.3f without packet_sizes_given_protocol, %.3f with (%d packets changed)", off, on, gs.PacketSizes)
	if gs.PacketSizes == 0 || on >= off {
		t.Errorf("with packet_sizes_given_protocol: TVD %.3f, %d packets changed; without: %.3f", on, gs.PacketSizes, off)
	}
}

// A protocol a chunk lacks takes the nearest chunk's packet lengths, the
// earlier one at equal distance; a chunk's own stay, and so do its
// lengths of all packets.
func TestNearestPacketSizes(t *testing.T) {
	k := func(v float64) []float64 { return []float64{v, v} }
	in := []encoding.PacketSizes{
		{All: k(1), ByProto: map[uint8][]float64{trace.ProtoUDP: k(60)}},
		{All: k(2)},
		{All: k(3), ByProto: map[uint8][]float64{trace.ProtoTCP: k(1500), trace.ProtoUDP: k(80)}},
	}
	out := nearestPacketSizes(in)
	want := []map[uint8]float64{
		{trace.ProtoUDP: 60, trace.ProtoTCP: 1500},
		{trace.ProtoUDP: 60, trace.ProtoTCP: 1500},
		{trace.ProtoUDP: 80, trace.ProtoTCP: 1500},
	}
	for c, w := range want {
		if out[c].All[0] != float64(c+1) {
			t.Errorf("chunk %d: lengths of all packets %v, want its own", c, out[c].All)
		}
		if len(out[c].ByProto) != len(w) {
			t.Errorf("chunk %d: protocols %v, want %v", c, out[c].ByProto, w)
		}
		for p, v := range w {
			if got := out[c].ByProto[p]; len(got) == 0 || got[0] != v {
				t.Errorf("chunk %d, protocol %d: %v, want %v", c, p, got, v)
			}
		}
	}
	if len(in[1].ByProto) != 0 || len(in[0].ByProto) != 1 {
		t.Error("the schema's knots were changed")
	}
}
