package trace_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// A CSV header that detection does not take but that is close to one
// format's gets that format's real error, not a bare "unknown trace
// format".
func TestDetectClosestFormat(t *testing.T) {
	for _, c := range []struct {
		head string
		want []string // parts of the error
	}{
		{"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,byt,label\n", []string{"looks like UGR'16 CSV (ugr16-csv)", `column "pkt" is missing`}},
		{"ts,te,td,sa,da,sp,dp,flg,pkt,byt\n", []string{"looks like UGR'16 CSV", `column "pr" is missing`}},
		{"srcip,dstip,srcport,dstport,proto,ts,td,byt,type\n", []string{"looks like NetShare CSV (netshare-csv)", `column "pkt" is missing`}},
		{"\ufeffsrcip,dstip,srcport,dstport,proto,ts,pkt,byt\r\n", []string{"looks like NetShare CSV", `column "td" is missing`}},
		{"ts,uid,id.orig_h,id.orig_p,id.resp_p,proto,orig_pkts,orig_ip_bytes,resp_pkts,resp_ip_bytes\n", []string{"looks like Zeek conn CSV (zeek-csv)", `column "id.resp_h" is missing`}},
	} {
		_, err := trace.Detect("in.csv", []byte(c.head))
		var pe *trace.PosError
		if !errors.Is(err, trace.ErrUnknownFormat) || !errors.As(err, &pe) || pe.File != "in.csv" || pe.Line != 1 {
			t.Errorf("Detect(%q): %v, want a *PosError at line 1 of in.csv wrapping ErrUnknownFormat", c.head, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Detect(%q): %q lacks %q", c.head, err, w)
			}
		}
	}

	// A header the closest format's reader takes is that format, although
	// its columns are not the ones detection looks for first (packets as
	// pkt, bytes as ibyt).
	if f, err := trace.Detect("in.csv", []byte("sa,da,sp,dp,pr,ts,td,pkt,ibyt\n")); err != nil || f != trace.FormatUGR16CSV {
		t.Errorf("mixed UGR'16 header: %s, %v", f, err)
	}

	// Headers close to no format, or as close to two, stay unknown with no
	// guess.
	for _, head := range []string{"hello,world\n", "ts,td,pkt,byt\n", "sa,da,srcip,dstip\n", "a,b\n1,2\n"} {
		_, err := trace.Detect("in.csv", []byte(head))
		if !errors.Is(err, trace.ErrUnknownFormat) || strings.Contains(err.Error(), "looks like") {
			t.Errorf("Detect(%q): %v, want a plain unknown format", head, err)
		}
	}
}

// Opening a file whose header lacks a column gives the same cause as
// forcing its format does.
func TestOpenMissingColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.csv")
	if err := os.WriteFile(path, []byte("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,byt,label\n"+
		"2016-03-18 10:47:52,2016-03-18 10:48:12,20.436,42.219.153.7,143.72.8.137,53,53,UDP,.A....,0,0,134,background\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, detected := trace.Open(path, trace.Options{})
	_, forced := trace.Open(path, trace.Options{Format: trace.FormatUGR16CSV})
	if detected == nil || forced == nil {
		t.Fatalf("detected: %v; forced: %v", detected, forced)
	}
	for _, err := range []error{detected, forced} {
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), `"pkt"`) {
			t.Errorf("%v does not name the file, the line and the missing column", err)
		}
	}
	if !errors.Is(detected, trace.ErrUnknownFormat) || !strings.Contains(detected.Error(), "looks like UGR'16 CSV") {
		t.Errorf("detected: %v", detected)
	}
}
