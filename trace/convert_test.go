package trace_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func TestConvertCaptureToFlows(t *testing.T) {
	in := testutil.Testdata("netshare", "caida-small.pcapng")
	dir := t.TempDir()
	out := filepath.Join(dir, "caida.CSV") // the extension is case-insensitive
	cfg := trace.AggregateConfig{Active: 2 * time.Millisecond, Inactive: time.Millisecond}
	res, err := trace.Convert(in, out, trace.ConvertOptions{Aggregate: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != trace.FormatPcapNG || res.Output != trace.KindFlows || res.Layout != trace.LayoutUGR16Micro ||
		res.Stats.Read != 1000 || res.Stats.Notes[trace.NoteFragment] != 1 {
		t.Errorf("result %+v", res)
	}

	// The same records as aggregating the packets by hand with the same
	// timeouts and writing them in the same layout.
	s, err := trace.Open(in, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fr := trace.AggregateFlows(s.Packets(), cfg)
	var want []trace.Flow
	for {
		var f trace.Flow
		if err := fr.Next(&f); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		want = append(want, f)
	}
	ref := filepath.Join(dir, "ref.csv")
	if err := trace.WriteFlowsFile(ref, trace.LayoutUGR16Micro, want); err != nil {
		t.Fatal(err)
	}
	if res.Written != int64(len(want)) {
		t.Errorf("wrote %d records, aggregation gives %d", res.Written, len(want))
	}
	got, _ := readFlows(t, out, trace.Options{})
	wantBack, _ := readFlows(t, ref, trace.Options{})
	if !reflect.DeepEqual(got, wantBack) {
		t.Errorf("converted records differ from the aggregation's (%d and %d records)", len(got), len(wantBack))
	}
	// Shorter timeouts than the default split more flows.
	def, err := trace.Convert(in, filepath.Join(dir, "default.csv"), trace.ConvertOptions{})
	if err != nil || def.Written != 444 || res.Written <= def.Written {
		t.Errorf("default timeouts: %d records, %v; short timeouts: %d", def.Written, err, res.Written)
	}
}

func TestConvertFlowLayoutsAndPcap(t *testing.T) {
	dir := t.TempDir()
	in := testutil.Testdata("netshare", "ugr16-small.csv")
	want, _ := readFlows(t, in, trace.Options{})

	// NetShare input keeps its layout by default: the records come back
	// unchanged.
	ns := filepath.Join(dir, "ns.csv")
	res, err := trace.Convert(in, ns, trace.ConvertOptions{})
	if err != nil || res.Layout != trace.LayoutNetShare || res.Written != int64(len(want)) || res.Stats.Read != int64(len(want)) {
		t.Fatalf("netshare → netshare: %+v, %v", res, err)
	}
	if got, _ := readFlows(t, ns, trace.Options{}); !reflect.DeepEqual(got, want) {
		t.Error("netshare → netshare changed the records")
	}
	// A layout named in any case.
	ugr := filepath.Join(dir, "ugr.csv")
	if res, err := trace.Convert(in, ugr, trace.ConvertOptions{Layout: "UGR16"}); err != nil || res.Layout != trace.LayoutUGR16 {
		t.Fatalf("netshare → ugr16: %+v, %v", res, err)
	}
	if _, _, f, err := trace.ReadAllFlows(ugr, trace.Options{}); err != nil || f != trace.FormatUGR16CSV {
		t.Errorf("ugr16 output read as %s, %v", f, err)
	}

	// A capture to pcap keeps every packet.
	pcap := filepath.Join(dir, "caida.pcap")
	res, err = trace.Convert(testutil.Testdata("netshare", "caida-small.pcapng"), pcap, trace.ConvertOptions{})
	if err != nil || res.Output != trace.KindPackets || res.Written != 1000 || res.Layout != "" {
		t.Fatalf("pcapng → pcap: %+v, %v", res, err)
	}
	if pkts, st := readPackets(t, pcap); len(pkts) != 1000 || st.TotalSkipped() != 0 {
		t.Errorf("pcap output: %d packets, %s", len(pkts), st.SkippedText())
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	flows := testutil.Testdata("netshare", "ugr16-small.csv")
	for _, c := range []struct {
		in, out string
		opt     trace.ConvertOptions
		want    string
		is      error
	}{
		{flows, "x.pcap", trace.ConvertOptions{}, "flow records cannot be turned into packets", nil},
		{flows, "x.txt", trace.ConvertOptions{}, `unknown extension ".txt"`, trace.ErrOutputExt},
		{flows, "x", trace.ConvertOptions{}, `unknown extension ""`, trace.ErrOutputExt},
		{flows, "x.csv", trace.ConvertOptions{Layout: "csv"}, "unknown flow layout", nil},
		{filepath.Join(dir, "none.csv"), "y.csv", trace.ConvertOptions{}, "no such file", os.ErrNotExist},
		{flows, "z.csv", trace.ConvertOptions{Read: trace.Options{Format: trace.FormatPcap}}, "ugr16-small.csv", nil},
	} {
		out := filepath.Join(dir, c.out)
		_, err := trace.Convert(c.in, out, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s → %s: error %v, want %q", c.in, c.out, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed conversions left files: %v", entries)
	}
}

func TestConvertBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n"+
		"1,2,3,4,TCP,5,1,1,1,x\n2001:db8::1,2,3,4,TCP,5,1,1,1,x\n1,2,3,4,TCP,6,1,1,1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	res, err := trace.Convert(in, out, trace.ConvertOptions{})
	var pe *trace.PosError
	if !errors.As(err, &pe) || pe.File != in || pe.Line != 3 || !errors.Is(err, trace.ErrIPv6) {
		t.Fatalf("IPv6 row: %v, want a *PosError at line 3 of %s", err, in)
	}
	if res.Format != trace.FormatNetShareCSV || res.Stats.Read != 1 {
		t.Errorf("result of a failed conversion: %+v", res)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed conversion wrote %s", out)
	}
	res, err = trace.Convert(in, out, trace.ConvertOptions{Read: trace.Options{SkipBad: true}})
	if err != nil || res.Written != 2 || res.Stats.Skipped["ipv6"] != 1 {
		t.Fatalf("SkipBad: %+v, %v", res, err)
	}
}
