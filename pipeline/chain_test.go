package pipeline

import (
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/internal/testutil"
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
	man, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gs GenStats
	if err := man.Stage("generate").DecodeInfo(&gs); err != nil {
		t.Fatal(err)
	}
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
