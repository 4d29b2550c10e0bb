package pipeline

import (
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/trace"
)

// TestChainedLongFlows runs a capture whose longest flow (124 packets)
// passes the segment length (8) many times over with long_flows: chain,
// and checks that pre-processing cut it into chained segments, that the
// schema chains, and that generation made flows of several segments which
// come out as single flows, longer than a segment, under one 5-tuple.
func TestChainedLongFlows(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(testutil.TinyConfig(2, 30, 10, "workers: 2")+"max_flow_len: 8\nlong_flows: chain\nmax_chain_len: 100\n"), "quick")
	if err != nil {
		t.Fatal(err)
	}
	r := runAll(t, Options{Dir: dir, Input: testutil.Testdata("netshare", "caida-small.pcapng"), Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := split.Stats
	if st.ChainedFlows == 0 || st.SplitFlows == 0 || st.LongestChain > 100 || st.LongestChain <= 8 {
		t.Fatalf("split %+v: want chained flows of at most 100 records", st)
	}
	if st.TruncatedRecords == 0 {
		t.Error("the 124-packet flow was not cut at max_chain_len")
	}
	examples, whole := 0, 0
	for _, ci := range split.Chunks {
		examples += ci.Flows
		whole += ci.WholeFlows
	}
	if whole == 0 || whole >= examples {
		t.Errorf("%d flows in %d training examples: want fewer flows than segments", whole, examples)
	}
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Chains() || s.MaxLen != 8 {
		t.Fatalf("schema chains %v, segment length %d", s.Chains(), s.MaxLen)
	}
	gs := genStats(t, dir)
	if gs.ChainedFlows == 0 || gs.Segments <= gs.Flows {
		t.Fatalf("generation %+v: want flows of several segments", gs)
	}
	tr, err := trace.ReadAll(r.Synthetic(), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	per := map[trace.Key]int{}
	for i := range tr.Packets {
		per[tr.Packets[i].Key()]++
	}
	longest := 0
	for _, n := range per {
		longest = max(longest, n)
	}
	if longest <= 8 {
		t.Errorf("the longest synthetic flow has %d packets: no flow longer than a segment", longest)
	}
	if gs.Records != len(tr.Packets) {
		t.Errorf("%d packets written, %d counted", len(tr.Packets), gs.Records)
	}
}

// TestChainedServiceLengths runs the capture with chained flows in one
// chunk and generate.ports_given_sizes off (pre-processing counts the
// real port pairs per flow length either way), then generates again with
// it on: the flows' joint of (protocol, port-pair cell, length class)
// then comes closer to the real one, while the port pairs' flow counts
// stay. A capture without chained flows counts nothing.
func TestChainedServiceLengths(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(testutil.TinyConfig(1, 30, 10, "workers: 2")+"max_flow_len: 8\nlong_flows: chain\nmax_chain_len: 100\n"), "quick")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Generate.PortsGivenSizes = false
	r := runAll(t, Options{Dir: dir, Input: testutil.Testdata("netshare", "caida-small.pcapng"), Config: cfg})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	sl := split.ServiceLengths
	if sl.Missing() || len(sl.Chunks) != 1 {
		t.Fatalf("split.json's service lengths %+v: want one chunk's", sl)
	}
	real, err := trace.ReadAll(testutil.Testdata("netshare", "caida-small.pcapng"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The joint of every TCP and UDP flow of a capture, as shares, keyed
	// as the counts are (one chunk: a flow's length attribute is its
	// packets, up to max_chain_len), and its port pairs' flow counts.
	keys := postgen.ServiceLengths{PortKeys: sl.PortKeys}
	keys.Bind(s)
	joint := func(tr *trace.Trace) (map[uint32]float64, map[[2]uint16]int) {
		per := map[trace.Key]int{}
		for i := range tr.Packets {
			per[tr.Packets[i].Key()]++
		}
		c := postgen.NewServiceLengths(1)
		c.PortKeys = keys.PortKeys
		pairs := map[[2]uint16]int{}
		for k, n := range per {
			c.Add(0, k, min(n, 100))
			if k.Proto == trace.ProtoTCP || k.Proto == trace.ProtoUDP {
				pairs[[2]uint16{k.SrcPort, k.DstPort}]++
			}
		}
		out, total := map[uint32]float64{}, 0.0
		for p, cells := range c.Chunks[0] {
			for cell, w := range cells {
				out[uint32(p)<<27|cell] += w
				total += w
			}
		}
		for k := range out {
			out[k] /= total
		}
		return out, pairs
	}
	want, _ := joint(real)
	tvd := func(got map[uint32]float64) float64 { return shareTVD(want, got) }
	read := func() *trace.Trace {
		tr, err := trace.ReadAll(r.Synthetic(), trace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	off, offPairs := joint(read())
	c := *cfg
	c.Generate.PortsGivenSizes = true
	regenerate(t, Options{Dir: dir, Config: &c, Force: true, Logger: quietLogger()})
	on, onPairs := joint(read())
	gs := genStats(t, dir)
	t.Logf("(protocol, port-pair cell, length class) TVD %.3f without ports_given_sizes, %.3f with (%d rows moved)", tvd(off), tvd(on), gs.ServiceLengthSwaps)
	if gs.ServiceLengthSwaps == 0 || tvd(on) >= tvd(off) {
		t.Errorf("with ports_given_sizes: TVD %.3f, %d rows moved; without: %.3f", tvd(on), gs.ServiceLengthSwaps, tvd(off))
	}
	n := func(m map[[2]uint16]int) (s int) {
		for _, v := range m {
			s += v
		}
		return s
	}
	if n(onPairs) != n(offPairs) {
		t.Errorf("%d TCP and UDP flows with ports_given_sizes, %d without", n(onPairs), n(offPairs))
	}

	// Without chained flows, nothing is counted.
	cfg, err = config.Parse([]byte(testutil.TinyConfig(1, 30, 10, "workers: 2")), "quick")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	runAll(t, Options{Dir: dir, Input: testutil.Testdata("netshare", "caida-small.pcapng"), Config: cfg})
	if split, err := LoadSplit(dir); err != nil || split.ServiceLengths != nil {
		t.Errorf("split.json without chained flows: service lengths %v (%v), want none", split.ServiceLengths, err)
	}
}
