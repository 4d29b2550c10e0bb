package trace_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// ReadAll holds a capture's packets or a flow file's flows, with their
// kind, format and counts; a trace without a usable record is an error that
// names the file.
func TestReadAll(t *testing.T) {
	p, err := trace.ReadAll(testutil.Testdata("netshare", "caida-small.pcapng"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != trace.KindPackets || p.Len() != len(p.Packets) || p.Len() == 0 || len(p.Flows) != 0 {
		t.Errorf("capture: kind %v, %d packets, %d flows", p.Kind, len(p.Packets), len(p.Flows))
	}
	f, err := trace.ReadAll(testutil.Testdata("netshare", "ugr16-small.csv"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != trace.KindFlows || f.Len() != 1000 || f.Format != trace.FormatNetShareCSV {
		t.Errorf("flows: kind %v, format %s, %d records", f.Kind, f.Format, f.Len())
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n2022-06-12 17:53:36.228,2022-06-12 17:53:36.228,0.000,2001:db8::1,2001:db8::2,1,2,TCP,......,0,0,1,40,x\n"), 0o644)
	if _, err := trace.ReadAll(bad, trace.Options{SkipBad: true}); err == nil || !strings.Contains(err.Error(), "bad.csv") {
		t.Errorf("no usable records: %v", err)
	}
}
