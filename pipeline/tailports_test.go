package pipeline

import (
	"testing"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// TestRunTailPorts runs the embedded UGR'16 sample, whose many one-off
// ports form tail classes, and checks that the classes reach the schema
// and the embedding, that generation turns every token it generated into
// a real port of the class, so that each synthetic (port, protocol) pair
// of a TCP or UDP flow is one the real trace holds.
func TestRunTailPorts(t *testing.T) {
	cfg, err := config.Parse([]byte(testutil.TinyConfig(1, 20, 10, "select_best: false")+"word2vec:\n  tail_port_flows: 2\n"), "quick")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := runAll(t, Options{Dir: dir, Config: cfg})
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	tp := s.TailPorts
	if tp == nil || len(tp.Classes) == 0 || tp.MinFlows != 2 {
		t.Fatalf("tail classes %+v", tp)
	}
	emb := s.Embedded("srcport").E
	for _, c := range tp.Classes {
		if _, ok := emb.EncodePort(c.Token); !ok {
			t.Errorf("token %d of protocol %d not in the embedding", c.Token, c.Proto)
		}
	}
	var st GenStats
	if err := r.Man.Stage("generate").DecodeInfo(&st); err != nil {
		t.Fatal(err)
	}
	if st.TailPorts == 0 {
		t.Error("no tail port drawn")
	}
	// generate.lengths_given_ports (on in the presets this extends): the
	// chunk's lengths per port class are kept, their flows adding up to
	// the chunk's, and every generated flow's length was calibrated in
	// its class.
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PortLengthKnots) != 1 || s.PortLengthKnots[0] == nil {
		t.Fatalf("port-length knots %v", s.PortLengthKnots)
	}
	sum := 0
	for _, n := range s.PortLengthFlows[0] {
		sum += n
	}
	if sum > split.Chunks[0].Flows || sum < split.Chunks[0].Flows-2*encoding.MinPortClassFlows {
		t.Errorf("port classes of %d flows in all, for a chunk of %d", sum, split.Chunks[0].Flows)
	}
	if st.PortLengths != st.Flows {
		t.Errorf("%d of %d flows' lengths calibrated given their ports", st.PortLengths, st.Flows)
	}
	real, err := trace.ReadAll(r.InputPath, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type pp struct {
		proto uint8
		port  uint16
	}
	seen := map[pp]bool{}
	for _, f := range real.Flows {
		seen[pp{f.Proto, f.SrcPort}], seen[pp{f.Proto, f.DstPort}] = true, true
	}
	bad := 0
	for _, f := range syntheticFlows(t, dir) {
		if f.Proto != 6 && f.Proto != 17 {
			continue
		}
		for _, p := range []uint16{f.SrcPort, f.DstPort} {
			if !seen[pp{f.Proto, p}] {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d synthetic TCP/UDP ports are no real port of their protocol", bad)
	}
}
