package trace_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func TestNetShareUGR16Small(t *testing.T) {
	flows, st := readFlows(t, testutil.Testdata("netshare", "ugr16-small.csv"), trace.Options{})
	if len(flows) != 1000 || st.Read != 1000 || st.TotalSkipped() != 0 {
		t.Fatalf("%d records (stats %+v), want 1000 and none skipped", len(flows), st)
	}
	src, dst := map[uint32]bool{}, map[uint32]bool{}
	protos, labels := map[string]int{}, map[string]int{}
	for _, f := range flows {
		src[f.Src], dst[f.Dst] = true, true
		protos[trace.ProtoName(f.Proto)]++
		labels[f.Label]++
	}
	if len(src) != 535 || len(dst) != 80 {
		t.Errorf("%d src / %d dst IPs, want 535 / 80", len(src), len(dst))
	}
	// The file holds one record of protocol 41 (IPv6 encapsulated in
	// IPv4, with IPv4 addresses), besides the counts its description gives.
	wantProtos := map[string]int{"TCP": 437, "ICMP": 267, "UDP": 231, "GRE": 30, "ESP": 29, "IPIP": 5, "IPv6": 1}
	if !reflect.DeepEqual(protos, wantProtos) {
		t.Errorf("protocols %v, want %v", protos, wantProtos)
	}
	if !reflect.DeepEqual(labels, map[string]int{"background": 999, "blacklist": 1}) {
		t.Errorf("labels %v", labels)
	}
	want := trace.Flow{Start: 1458298072364000, Dur: 305636000, Src: 1730436467, Dst: 719036359, Proto: trace.ProtoICMP,
		Packets: 62, Bytes: 1736, Label: "background"}
	if flows[0] != want {
		t.Errorf("first record %+v, want %+v", flows[0], want)
	}
}

// ugr16Fixture is what testdata/flows/ugr16-*.csv hold.
func ugr16Fixture(t *testing.T) []trace.Flow {
	return []trace.Flow{
		{Start: 1458298072364000, Dur: 305635000, Src: ip(t, "192.0.2.10"), Dst: ip(t, "198.51.100.7"), DstPort: 771,
			Proto: trace.ProtoICMP, Packets: 62, Bytes: 1736, Label: "background"},
		{Start: 1458298073000000, Dur: 120000, Src: ip(t, "192.0.2.11"), Dst: ip(t, "203.0.113.5"), SrcPort: 51234, DstPort: 443,
			Proto: trace.ProtoTCP, TCPFlags: trace.TCPAck | trace.TCPPsh | trace.TCPSyn | trace.TCPFin, TOS: 40,
			Packets: 12, Bytes: 3400, Label: "background"},
		{Start: 1458298073001000, Src: ip(t, "203.0.113.5"), Dst: ip(t, "192.0.2.11"), SrcPort: 443, DstPort: 51234,
			Proto: trace.ProtoTCP, TCPFlags: trace.TCPAck | trace.TCPRst, Packets: 1, Bytes: 40, Label: "blacklist"},
		{Start: 1458298074250000, Dur: 50000, Src: ip(t, "192.0.2.12"), Dst: ip(t, "198.51.100.53"), SrcPort: 40000, DstPort: 53,
			Proto: trace.ProtoUDP, Packets: 1, Bytes: 61, Label: "background"},
		{Start: 1458298075000000, Dur: 10000000, Src: ip(t, "192.0.2.13"), Dst: ip(t, "198.51.100.9"),
			Proto: trace.ProtoGRE, Packets: 30, Bytes: 45000, Label: "background"},
		{Start: 1458298075500000, Src: ip(t, "192.0.2.14"), Dst: ip(t, "198.51.100.10"),
			Proto: trace.ProtoESP, Packets: 2, Bytes: 180, Label: "odd, label"},
		{Start: 1458298076000000, Dur: 400000, Src: ip(t, "192.0.2.15"), Dst: ip(t, "198.51.100.11"), SrcPort: 1024, DstPort: 80,
			Proto: trace.ProtoTCP, TCPFlags: 0x3f, Fwd: 1, TOS: 255, Packets: 182446, Bytes: 196000000, Label: "background"},
	}
}

func TestUGR16Layouts(t *testing.T) {
	want := ugr16Fixture(t)
	for _, name := range []string{"ugr16-header.csv", "ugr16-noheader.csv", "ugr16-13col.csv"} {
		path := testutil.Testdata("flows", name)
		flows, st, f, err := trace.ReadAllFlows(path, trace.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f != trace.FormatUGR16CSV {
			t.Errorf("%s detected as %s", name, f)
		}
		if !reflect.DeepEqual(flows, want) || st.Read != int64(len(want)) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, flows, want)
		}
	}
}

func TestNFDumpDerivedFlows(t *testing.T) {
	flows, _ := readFlows(t, testutil.Testdata("netshare", "caida-small.flows.ugr16.csv"), trace.Options{})
	var pkts uint64
	for _, f := range flows {
		pkts += f.Packets
	}
	if len(flows) != 441 || pkts != 997 {
		t.Errorf("%d records holding %d packets, want 441 and 997", len(flows), pkts)
	}
}

func TestDetect(t *testing.T) {
	cases := map[string]trace.Format{
		"\xd4\xc3\xb2\xa1\x02\x00\x04\x00":                                     trace.FormatPcap,
		"\xa1\xb2\xc3\xd4\x00\x02\x00\x04":                                     trace.FormatPcap,
		"\x4d\x3c\xb2\xa1\x02\x00\x04\x00":                                     trace.FormatPcap,
		"\xa1\xb2\x3c\x4d\x00\x02\x00\x04":                                     trace.FormatPcap,
		"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a":                     trace.FormatPcapNG,
		"srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n":               trace.FormatNetShareCSV,
		"\ufeffsrcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,label,type\r\n": trace.FormatNetShareCSV,
		"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n":                 trace.FormatUGR16CSV,
		"\n2016-03-18 10:47:52,2016-03-18 10:48:12,20.436,42.219.153.7,143.72.8.137,53,53,UDP,.A....,0,0,2,134,background\n": trace.FormatUGR16CSV,
		"#separator \\x09\n#set_separator\t,\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\n":              trace.FormatZeekConn,
		"ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto\n":                                                             trace.FormatZeekCSV,
	}
	for head, want := range cases {
		got, err := trace.Detect("x", []byte(head))
		if err != nil || got != want {
			t.Errorf("Detect(%q) = %s, %v; want %s", head, got, err, want)
		}
		if got.Kind() == 0 {
			t.Errorf("%s has no kind", got)
		}
	}
	if _, err := trace.Detect("empty.csv", nil); !errors.Is(err, trace.ErrEmpty) || !strings.Contains(err.Error(), "empty.csv") {
		t.Errorf("empty: %v", err)
	}
	for _, head := range []string{"hello,world\n1,2\n", "\x00\x01\x02\x03binary", "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tquery\n",
		"srcip,dstip,srcport,dstport,proto,time,pkt_len\n", "\x1f\x8b\x08"} {
		_, err := trace.Detect("odd.bin", []byte(head))
		if !errors.Is(err, trace.ErrUnknownFormat) || !strings.Contains(err.Error(), "odd.bin") {
			t.Errorf("Detect(%q): %v, want ErrUnknownFormat naming the file", head, err)
		}
	}
}

func TestOpenEmptyAndUnknown(t *testing.T) {
	dir := t.TempDir()
	empty := dir + "/empty.pcap"
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := trace.Open(empty, trace.Options{}); !errors.Is(err, trace.ErrEmpty) || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty file: %v", err)
	}
	odd := dir + "/notes.txt"
	if err := os.WriteFile(odd, []byte("just some words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := trace.Open(odd, trace.Options{}); !errors.Is(err, trace.ErrUnknownFormat) || !strings.Contains(err.Error(), odd) {
		t.Errorf("unknown file: %v", err)
	}
}

func TestWrongKind(t *testing.T) {
	s, err := trace.Open(testutil.Testdata("netshare", "ugr16-small.csv"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var p trace.Packet
	if err := s.Packets().Next(&p); !errors.Is(err, trace.ErrWrongKind) {
		t.Errorf("packets of a flow trace: %v", err)
	}
}

func TestGzipInput(t *testing.T) {
	// A gzip-compressed file is read transparently.
	data, err := os.ReadFile(testutil.Testdata("netshare", "caida-small.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	s, err := trace.NewSource("caida.pcapng.gz", &buf, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := drain(s.Packets())
	if err != nil || len(pkts) != 1000 || !s.Gzip || s.Format != trace.FormatPcapNG {
		t.Errorf("gzip pcapng: %d packets, %v, gzip %v format %s", len(pkts), err, s.Gzip, s.Format)
	}
}

const nsHeader = "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n"

func TestFlowCSVErrors(t *testing.T) {
	good := "1,2,3,4,TCP,1458298072364000.0,1.5,10,1000,background\n"
	cases := []struct {
		name, body string
		line       int
		column     string
		reason     string
		sentinel   error
	}{
		{"wrong columns", good + "1,2,3,4,TCP,1458298072364000,1.5,10,1000\n", 3, "", trace.ReasonWrongColumns, nil},
		{"bad ip", good + "1,x,3,4,TCP,1458298072364000,1.5,10,1000,b\n", 3, "dstip", trace.ReasonBadField, nil},
		{"ipv6", "2001:db8::1,2,3,4,TCP,1458298072364000,1.5,10,1000,b\n" + good, 2, "srcip", trace.ReasonIPv6, trace.ErrIPv6},
		{"port range", good + good + "1,2,70000,4,TCP,1458298072364000,1.5,10,1000,b\n", 4, "srcport", trace.ReasonBadField, nil},
		{"proto", good + "1,2,3,4,XYZ,1458298072364000,1.5,10,1000,b\n", 3, "proto", trace.ReasonBadField, nil},
		{"negative td", good + "1,2,3,4,UDP,1458298072364000,-1.5,10,1000,b\n", 3, "td", trace.ReasonBadField, nil},
		{"bad ts", good + "1,2,3,4,UDP,yesterday,1.5,10,1000,b\n", 3, "ts", trace.ReasonBadField, nil},
		{"stray quote", good + "1,2,3,4,UDP,1458298072364000,1.5,10,1000,b\"ad\n", 3, "", trace.ReasonBadCSV, nil},
	}
	for _, c := range cases {
		_, _, _, err := trace.ReadAllFlows(writeTemp(t, "f.csv", nsHeader+c.body), trace.Options{})
		var pe *trace.PosError
		if !errors.As(err, &pe) || pe.Line != c.line || pe.Column != c.column || pe.File == "" {
			t.Errorf("%s: error %v (%+v), want a *PosError at line %d column %q", c.name, err, pe, c.line, c.column)
			continue
		}
		if c.sentinel != nil && !errors.Is(err, c.sentinel) {
			t.Errorf("%s: %v does not wrap %v", c.name, err, c.sentinel)
		}
		flows, st, _, err := trace.ReadAllFlows(writeTemp(t, "f.csv", nsHeader+c.body), trace.Options{SkipBad: true})
		if err != nil || st.Skipped[c.reason] != 1 || st.TotalSkipped() != 1 || int(st.Read) != len(flows) ||
			len(flows) != strings.Count(c.body, "\n")-1 {
			t.Errorf("%s with SkipBad: %d records, %v, stats %+v; want reason %q", c.name, len(flows), err, st, c.reason)
		}
	}
	// A header without a required column names the column.
	_, _, _, err := trace.ReadAllFlows(writeTemp(t, "f.csv", "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt\n"), trace.Options{Format: trace.FormatUGR16CSV})
	if err == nil || !strings.Contains(err.Error(), `missing column "sa"`) {
		t.Errorf("missing column: %v", err)
	}
	// UGR'16 rows: IPv6 addresses, a bad time, bad flags.
	ugr := "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n"
	for _, c := range []struct{ row, col string }{
		{"2016-03-18 10:47:52,2016-03-18 10:47:53,1.000,2001:db8::1,10.0.0.1,1,2,TCP,......,0,0,1,40,x", "sa"},
		{"2016-13-18 10:47:52,2016-03-18 10:47:53,1.000,10.0.0.2,10.0.0.1,1,2,TCP,......,0,0,1,40,x", "ts"},
		{"2016-03-18 10:47:52,2016-03-18 10:47:53,1.000,10.0.0.2,10.0.0.1,1,2,TCP,..Z...,0,0,1,40,x", "flg"},
	} {
		_, _, _, err := trace.ReadAllFlows(writeTemp(t, "u.csv", ugr+c.row+"\n"), trace.Options{})
		var pe *trace.PosError
		if !errors.As(err, &pe) || pe.Column != c.col || pe.Line != 2 {
			t.Errorf("UGR'16 row %q: %v, want column %q line 2", c.row, err, c.col)
		}
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// zeekFixture is what testdata/zeek/conn.{log,csv} give, in order.
func zeekFixture(t *testing.T) []trace.Flow {
	syn, ack, psh, fin, rst := uint8(trace.TCPSyn), uint8(trace.TCPAck), uint8(trace.TCPPsh), uint8(trace.TCPFin), uint8(trace.TCPRst)
	a, b := ip(t, "192.0.2.1"), ip(t, "198.51.100.2")
	return []trace.Flow{
		{Start: 1655071198444458, Dur: 1135424, Src: a, Dst: b, SrcPort: 62771, DstPort: 443, Proto: trace.ProtoTCP,
			Packets: 14, Bytes: 1016, TCPFlags: syn | ack | psh | fin, Label: "Benign"},
		{Start: 1655071198444458, Dur: 1135424, Src: b, Dst: a, SrcPort: 443, DstPort: 62771, Proto: trace.ProtoTCP,
			Packets: 16, Bytes: 1226, TCPFlags: syn | ack | psh | fin, Label: "Benign"},
		{Start: 1655071231749548, Dur: 10, Src: ip(t, "203.0.113.9"), Dst: a, SrcPort: 46563, DstPort: 3933, Proto: trace.ProtoTCP,
			Packets: 2, Bytes: 80, TCPFlags: syn, Label: "Malicious"},
		{Start: 1655071277667808, Src: ip(t, "203.0.113.10"), Dst: a, SrcPort: 47902, DstPort: 123, Proto: trace.ProtoUDP,
			Packets: 1, Bytes: 44, Label: "Malicious"},
		{Start: 1655072341393873, Dur: 500000, Src: ip(t, "203.0.113.11"), Dst: a, DstPort: 8 << 8, Proto: trace.ProtoICMP,
			Packets: 2, Bytes: 168, Label: "Benign"},
		{Start: 1655072341393873, Dur: 500000, Src: a, Dst: ip(t, "203.0.113.11"), DstPort: 8 << 8, Proto: trace.ProtoICMP,
			Packets: 2, Bytes: 168, Label: "Benign"},
		{Start: 1655072403999999, Dur: 12744, Src: a, Dst: ip(t, "198.51.100.5"), SrcPort: 62800, DstPort: 80, Proto: trace.ProtoTCP,
			Packets: 10, Bytes: 1240, TCPFlags: syn | ack | psh | fin, Label: "Benign"},
		{Start: 1655072403999999, Dur: 12744, Src: ip(t, "198.51.100.5"), Dst: a, SrcPort: 80, DstPort: 62800, Proto: trace.ProtoTCP,
			Packets: 10, Bytes: 2180, TCPFlags: syn | ack | psh | fin | rst, Label: "Benign"},
	}
}

func TestZeek(t *testing.T) {
	want := zeekFixture(t)
	for name, format := range map[string]trace.Format{"conn.log": trace.FormatZeekConn, "conn.csv": trace.FormatZeekCSV} {
		flows, st, f, err := trace.ReadAllFlows(testutil.Testdata("zeek", name), trace.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f != format {
			t.Errorf("%s detected as %s, want %s", name, f, format)
		}
		if !reflect.DeepEqual(flows, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, flows, want)
		}
		wantSkipped := map[string]int64{trace.ReasonIPv6: 1, trace.ReasonUnknownProto: 1, trace.ReasonNoPackets: 1}
		if !reflect.DeepEqual(st.Skipped, wantSkipped) || st.Notes[trace.NoteOneDirection] != 2 || st.Read != 8 {
			t.Errorf("%s: stats %+v, want skipped %v and 2 one-direction connections", name, st, wantSkipped)
		}
	}
}

func TestZeekErrors(t *testing.T) {
	data, err := os.ReadFile(testutil.Testdata("zeek", "conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	// Line 10 (the second connection): break its port, then its field count.
	for _, c := range []struct{ from, to, col string }{
		{"\t46563\t", "\tport\t", "id.orig_p"},
		{"\t46563\t", "\t", ""},
		{"203.0.113.9", "203.0.113.300", "id.orig_h"},
	} {
		l := append([]string(nil), lines...)
		l[9] = strings.Replace(l[9], c.from, c.to, 1)
		path := writeTemp(t, "conn.log", strings.Join(l, "\n"))
		_, _, _, err := trace.ReadAllFlows(path, trace.Options{})
		var pe *trace.PosError
		if !errors.As(err, &pe) || pe.Line != 10 || pe.Column != c.col {
			t.Errorf("%q→%q: %v, want a *PosError at line 10, column %q", c.from, c.to, err, c.col)
		}
		flows, st, _, err := trace.ReadAllFlows(path, trace.Options{SkipBad: true})
		if err != nil || len(flows) != 7 || st.TotalSkipped() != 4 {
			t.Errorf("%q→%q with SkipBad: %d records, %v, %+v", c.from, c.to, len(flows), err, st)
		}
	}
}

// TestZeekDerived checks the Zeek reader against the UGR'16-layout files
// in ../shared/data derived from the same conn logs with the same rule:
// written in that layout, our records must give the very same lines.
func TestZeekDerived(t *testing.T) {
	for _, pair := range [][2]string{
		{"ctu-normal-zeek/ctu-normal-40-day1.conn.log.labeled", "ctu-normal-zeek/ctu-normal-40-day1.flows.ugr16.csv"},
		{"ctu-normal-zeek/ctu-normal-42-day2.conn.log.labeled", "ctu-normal-zeek/ctu-normal-42-day2.flows.ugr16.csv"},
	} {
		logPath := testutil.SharedData(t, pair[0])
		derived := testutil.SharedData(t, pair[1])
		flows, _ := readFlows(t, logPath, trace.Options{})
		// The derived files are sorted by start time (a stable sort of the
		// records in our order: connections in log order, orig→resp before
		// resp→orig) and keep Zeek's ICMP type/code as ports.
		sort.SliceStable(flows, func(i, j int) bool { return flows[i].Start < flows[j].Start })
		var buf bytes.Buffer
		w, err := trace.NewFlowWriter(&buf, trace.LayoutUGR16)
		if err != nil {
			t.Fatal(err)
		}
		for i := range flows {
			f := flows[i]
			if f.Proto == trace.ProtoICMP {
				f.SrcPort, f.DstPort = f.DstPort>>8, f.DstPort&0xff
			}
			w.Write(&f)
		}
		wantData, err := os.ReadFile(derived)
		if err != nil {
			t.Fatal(err)
		}
		got, want := lines(buf.Bytes()), lines(wantData)
		if len(got) != len(want) {
			t.Fatalf("%s: %d lines, derived file %d", pair[0], len(got), len(want))
		}
		diff := 0
		for i := range got {
			if got[i] != want[i] {
				if diff < 5 {
					t.Errorf("%s line %d:\n got %s\nwant %s", pair[0], i+1, got[i], want[i])
				}
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("%s: %d of %d lines differ", pair[0], diff, len(got))
		}
	}
}

func lines(b []byte) []string {
	var l []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l = append(l, sc.Text())
	}
	return l
}

// TestSkipBadStopsOnReadError: SkipBad skips bad rows, never a failing
// input stream (a corrupt gzip stream here), which would loop forever.
func TestSkipBadStopsOnReadError(t *testing.T) {
	for _, name := range []string{"zeek/conn.log", "zeek/conn.csv", "flows/ugr16-header.csv"} {
		data, err := os.ReadFile(testutil.Testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		// Make it longer than what opening the file reads ahead, so the
		// stream fails while rows are read.
		body := data[bytes.IndexByte(data, '\n')+1:]
		if name == "zeek/conn.log" {
			body = []byte(strings.Join(lines(data)[8:16], "\n") + "\n")
		}
		for len(data) < 1<<20 {
			data = append(data, body...)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
		zw.Write(data)
		zw.Close()
		cut := buf.Bytes()[:buf.Len()/2]
		done := make(chan error, 1)
		go func() {
			_, _, _, err := trace.ReadAllFlows(writeTemp(t, "cut.gz", string(cut)), trace.Options{SkipBad: true})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, trace.ErrTruncated) {
				t.Errorf("%s cut: %v, want ErrTruncated", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: reading a cut gzip stream with SkipBad does not end", name)
		}
	}
}

func TestZeekLongLine(t *testing.T) {
	data, err := os.ReadFile(testutil.Testdata("zeek", "conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	l := lines(data)
	l[9] = l[9] + strings.Repeat("x", 2<<20) // the second connection's label
	path := writeTemp(t, "conn.log", strings.Join(l, "\n")+"\n")
	_, _, _, err = trace.ReadAllFlows(path, trace.Options{})
	var pe *trace.PosError
	if !errors.As(err, &pe) || pe.Line != 10 || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long line: %v, want a *PosError at line 10", err)
	}
	flows, st, _, err := trace.ReadAllFlows(path, trace.Options{SkipBad: true})
	if err != nil || len(flows) != 7 || st.Skipped[trace.ReasonLongLine] != 1 {
		t.Errorf("long line with SkipBad: %d records, %v, %+v", len(flows), err, st)
	}
}

// TestSharedFlowFiles reads the optional UGR'16-layout and IoT-23 files:
// every line is a record, nothing is skipped but IPv6 and packet-less
// connections.
func TestSharedFlowFiles(t *testing.T) {
	dir := testutil.SharedData(t, ".")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.flows.ugr16.csv"))
	iot, _ := filepath.Glob(filepath.Join(dir, "iot23-zeek-csv", "*.csv"))
	if len(files) == 0 || len(iot) == 0 {
		t.Skip("no flow files in the optional data")
	}
	for _, path := range files {
		// Some hold IPv6 flows: an error, or skipped and counted.
		flows, st, f, err := trace.ReadAllFlows(path, trace.Options{SkipBad: true})
		data, _ := os.ReadFile(path)
		var v6 int64
		for _, l := range lines(data)[1:] {
			if f := strings.Split(l, ","); strings.Contains(f[3]+f[4], ":") {
				v6++
			}
		}
		if err != nil || f != trace.FormatUGR16CSV || len(flows)+int(st.TotalSkipped()) != len(lines(data))-1 ||
			st.TotalSkipped() != v6 || st.Skipped[trace.ReasonIPv6] != v6 {
			t.Errorf("%s: %d records of %d lines, %s, %v, %+v", filepath.Base(path), len(flows), len(lines(data))-1, f, err, st)
		}
	}
	for _, path := range iot {
		flows, st, f, err := trace.ReadAllFlows(path, trace.Options{})
		data, _ := os.ReadFile(path)
		conns := int64(len(lines(data)) - 1)
		// Each connection gives two records, one (noted), or none (skipped).
		if err != nil || f != trace.FormatZeekCSV || len(flows) == 0 ||
			int64(len(flows)) != 2*(conns-st.TotalSkipped())-st.Notes[trace.NoteOneDirection] {
			t.Errorf("%s: %d records from %d connections, %s, %v, %+v", filepath.Base(path), len(flows), conns, f, err, st)
		}
	}
}

// TestNetShareVariants reads the CIDDS/TON variant of NetShare's layout
// (an extra label column, columns in another order).
func TestNetShareVariants(t *testing.T) {
	body := "proto,srcip,dstip,srcport,dstport,ts,td,pkt,byt,label,type\n" +
		"UDP,3232235777,134744072,5353,53,1489500000123456,0.25,2,130,normal,---\n" +
		"tcp,10.0.0.1,10.0.0.2,1024,80,1489500001000000.0,1e-3,15.0,4.2e3,attacker,portScan\n"
	flows, st, f, err := trace.ReadAllFlows(writeTemp(t, "cidds.csv", body), trace.Options{})
	if err != nil || f != trace.FormatNetShareCSV || st.Read != 2 {
		t.Fatalf("%v, %s, %+v", err, f, st)
	}
	want := []trace.Flow{
		{Start: 1489500000123456, Dur: 250000, Src: ip(t, "192.168.1.1"), Dst: ip(t, "8.8.8.8"), SrcPort: 5353, DstPort: 53,
			Proto: trace.ProtoUDP, Packets: 2, Bytes: 130, Label: "---"},
		{Start: 1489500001000000, Dur: 1000, Src: ip(t, "10.0.0.1"), Dst: ip(t, "10.0.0.2"), SrcPort: 1024, DstPort: 80,
			Proto: trace.ProtoTCP, Packets: 15, Bytes: 4200, Label: "portScan"},
	}
	if !reflect.DeepEqual(flows, want) {
		t.Errorf("got  %+v\nwant %+v", flows, want)
	}
}
