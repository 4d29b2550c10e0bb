package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// setBlocks sets the generation block size and the records a chunk sorts
// in memory for the rest of the test.
func setBlocks(t *testing.T, flows, held int) {
	pb, ph := maxBlockFlows, sortHeld
	maxBlockFlows, sortHeld = flows, held
	t.Cleanup(func() { maxBlockFlows, sortHeld = pb, ph })
}

// A chunk's records sorted by merging runs spilled to a file come out as
// the in-memory sort leaves them: the same bytes.
func TestGenerationSpilledSortSameBytes(t *testing.T) {
	setBlocks(t, 128, 1<<30)
	dir := t.TempDir()
	cfg := tinyConfig(t, 10)
	runAll(t, Options{Dir: dir, Config: cfg})
	path := filepath.Join(dir, SyntheticBase+".csv")
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sortHeld = 100 // fewer than one chunk's records: every block spills
	regenerate(t, Options{Dir: dir, Config: cfg, Force: true, Logger: quietLogger()})
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("spilled sort wrote another trace (%d bytes, want %d)", len(got), len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, genTmp)); !os.IsNotExist(err) {
		t.Errorf("generation left its temporary folder behind: %v", err)
	}
}

// Generated in blocks much smaller than a chunk, a packet trace is sorted,
// about as large and with about as many flows (5-tuples) as when every
// chunk is one block, and generation is deterministic. (That 5-tuples stay
// apart across blocks is tested in postgen.)
func TestGenerationInBlocksPackets(t *testing.T) {
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	cfg := tinyConfig(t, 30)
	run := func(flows, held int) (*trace.Trace, []byte) {
		setBlocks(t, flows, held)
		dir := t.TempDir()
		runAll(t, Options{Dir: dir, Input: in, Config: cfg})
		out := filepath.Join(dir, "synthetic.pcap")
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		syn, err := trace.ReadAll(out, trace.Options{})
		if err != nil {
			t.Fatalf("synthetic capture unreadable: %v", err)
		}
		return syn, b
	}
	whole, _ := run(1<<16, 1<<30)
	syn, b1 := run(16, 64)
	_, b2 := run(16, 64)
	if !bytes.Equal(b1, b2) {
		t.Error("two generations in blocks wrote different captures")
	}
	if !slices.IsSortedFunc(syn.Packets, func(a, b trace.Packet) int { return int(a.TS - b.TS) }) {
		t.Error("capture generated in blocks is not sorted by time")
	}
	if n, w := syn.Len(), whole.Len(); n < w/2 || n > w*2 {
		t.Errorf("%d packets generated in blocks, %d in one block per chunk", n, w)
	}
	keys := func(tr *trace.Trace) int {
		m := map[trace.Key]bool{}
		for i := range tr.Packets {
			m[tr.Packets[i].Key()] = true
		}
		return len(m)
	}
	if k, w := keys(syn), keys(whole); float64(k) < 0.8*float64(w) {
		t.Errorf("%d 5-tuples generated in blocks, %d in one block per chunk: flows merged across blocks", k, w)
	}
}
