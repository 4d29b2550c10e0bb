package trace_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

// randomFlows makes n flow records with every field varied.
func randomFlows(n int, seed uint64) []trace.Flow {
	r := rand.New(rand.NewPCG(seed, 1))
	protos := []uint8{trace.ProtoTCP, trace.ProtoUDP, trace.ProtoICMP, trace.ProtoGRE, trace.ProtoESP, trace.ProtoIPIP, trace.ProtoIPv6, 200, 0}
	labels := []string{"background", "blacklist", "", "a, b", `say "hi"`}
	out := make([]trace.Flow, n)
	for i := range out {
		out[i] = trace.Flow{
			Start: 1458298072000000 + r.Int64N(1e12), Dur: r.Int64N(700e6),
			Src: r.Uint32(), Dst: r.Uint32(), SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()),
			Proto: protos[r.IntN(len(protos))], Packets: r.Uint64N(1e9), Bytes: r.Uint64N(1e12),
			TCPFlags: uint8(r.Uint32()), TOS: uint8(r.Uint32()), Fwd: uint8(r.Uint32()), Label: labels[r.IntN(len(labels))],
		}
		if i%7 == 0 {
			out[i].Dur = 0
		}
	}
	return out
}

func TestFlowRoundTripNetShare(t *testing.T) {
	flows := randomFlows(2000, 1)
	path := filepath.Join(t.TempDir(), "flows.csv")
	if err := trace.WriteFlowsFile(path, trace.LayoutNetShare, flows); err != nil {
		t.Fatal(err)
	}
	got, st, f, err := trace.ReadAllFlows(path, trace.Options{})
	if err != nil || f != trace.FormatNetShareCSV || st.Read != int64(len(flows)) {
		t.Fatalf("read back: %v, format %s, %+v", err, f, st)
	}
	for i := range flows {
		// The layout has no flags, TOS or forwarding status.
		want := flows[i]
		want.TCPFlags, want.TOS, want.Fwd = 0, 0, 0
		if got[i] != want {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
}

func TestFlowRoundTripUGR16(t *testing.T) {
	flows := randomFlows(2000, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.csv")
	if err := trace.WriteFlowsFile(path, trace.LayoutUGR16, flows); err != nil {
		t.Fatal(err)
	}
	got, st, f, err := trace.ReadAllFlows(path, trace.Options{})
	if err != nil || f != trace.FormatUGR16CSV || st.Read != int64(len(flows)) {
		t.Fatalf("read back: %v, format %s, %+v", err, f, st)
	}
	for i := range flows {
		// Times are kept to the millisecond (the start truncated, the
		// duration rounded); the layout's flags have 6 bits (no ECE/CWR).
		w, g := flows[i], got[i]
		if g.Start != w.Start/1000*1000 || g.Dur%1000 != 0 || g.Dur-w.Dur > 500 || w.Dur-g.Dur > 500 {
			t.Fatalf("record %d: start/dur %d/%d, written %d/%d", i, g.Start, g.Dur, w.Start, w.Dur)
		}
		w.Start, w.Dur, w.TCPFlags = g.Start, g.Dur, w.TCPFlags&0x3f
		if g != w {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// What was read back goes through unchanged, byte for byte.
	path2 := filepath.Join(dir, "again.csv")
	if err := trace.WriteFlowsFile(path2, trace.LayoutUGR16, got); err != nil {
		t.Fatal(err)
	}
	again, _, _, err := trace.ReadAllFlows(path2, trace.Options{})
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("second round trip differs: %v", err)
	}
}

// The microsecond UGR'16 layout keeps start and duration exactly.
func TestFlowRoundTripUGR16Micro(t *testing.T) {
	flows := randomFlows(2000, 3)
	flows[0].Start, flows[0].Dur = -1, 999 // before the epoch; under a millisecond
	path := filepath.Join(t.TempDir(), "flows.csv")
	if err := trace.WriteFlowsFile(path, trace.LayoutUGR16Micro, flows); err != nil {
		t.Fatal(err)
	}
	got, st, f, err := trace.ReadAllFlows(path, trace.Options{})
	if err != nil || f != trace.FormatUGR16CSV || st.Read != int64(len(flows)) {
		t.Fatalf("read back: %v, format %s, %+v", err, f, st)
	}
	for i := range flows {
		w := flows[i]
		w.TCPFlags &= 0x3f
		if got[i] != w {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}
}

func TestDefaultLayout(t *testing.T) {
	for f, want := range map[trace.Format]trace.Layout{
		trace.FormatNetShareCSV: trace.LayoutNetShare, trace.FormatUGR16CSV: trace.LayoutUGR16,
		trace.FormatZeekConn: trace.LayoutUGR16Micro, trace.FormatZeekCSV: trace.LayoutUGR16Micro, trace.FormatPcap: trace.LayoutUGR16Micro,
	} {
		if got := trace.DefaultLayout(f); got != want {
			t.Errorf("DefaultLayout(%s) = %s, want %s", f, got, want)
		}
		if l, err := trace.ParseLayout(string(want)); err != nil || l != want {
			t.Errorf("ParseLayout(%s) = %s, %v", want, l, err)
		}
	}
}

func TestFlowWriterRows(t *testing.T) {
	f := trace.Flow{Start: 1458298072364999, Dur: 305635600, Src: ip(t, "192.0.2.10"), Dst: ip(t, "198.51.100.7"),
		SrcPort: 0, DstPort: 771, Proto: trace.ProtoICMP, Packets: 62, Bytes: 1736, TCPFlags: trace.TCPAck | trace.TCPSyn,
		TOS: 4, Fwd: 1, Label: "background"}
	var b bytes.Buffer
	for _, l := range []trace.Layout{trace.LayoutNetShare, trace.LayoutUGR16, trace.LayoutUGR16Micro} {
		w, err := trace.NewFlowWriter(&b, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(&f); err != nil {
			t.Fatal(err)
		}
	}
	want := "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n" +
		"3221225994,3325256711,0,771,ICMP,1458298072364999,305.6356,62,1736,background\n" +
		"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n" +
		"2016-03-18 10:47:52.364,2016-03-18 10:52:58.000,305.636,192.0.2.10,198.51.100.7,0,771,ICMP,.A..S.,1,4,62,1736,background\n" +
		"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,pkt,byt,label\n" +
		"2016-03-18 10:47:52.364999,2016-03-18 10:52:58.000599,305.635600,192.0.2.10,198.51.100.7,0,771,ICMP,.A..S.,1,4,62,1736,background\n"
	if b.String() != want {
		t.Errorf("rows:\n%s\nwant:\n%s", b.String(), want)
	}
}

// randomPackets makes packets of every kind the writer handles.
func randomPackets(n int, seed uint64) []trace.Packet {
	r := rand.New(rand.NewPCG(seed, 2))
	icmp := []uint16{0 << 8, 8 << 8, 11 << 8, 3<<8 | 3, 13 << 8}
	out := make([]trace.Packet, n)
	ts := int64(1521118773289502)
	for i := range out {
		ts += r.Int64N(2000)
		p := trace.Packet{TS: ts, Src: r.Uint32()&0x7fffffff | 0x01000000, Dst: r.Uint32()&0x7fffffff | 0x01000000,
			TOS: uint8(r.Uint32()) &^ 3, ID: uint16(r.Uint32()), Flags: uint8(r.IntN(2)) << 1, TTL: uint8(1 + r.IntN(255)),
			Len: uint16(20 + r.IntN(1481))}
		switch i % 6 {
		case 0, 1:
			p.Proto = trace.ProtoTCP
			p.SrcPort, p.DstPort = uint16(1+r.IntN(65535)), uint16(1+r.IntN(65535))
			p.TCPFlags = uint8(r.Uint32()) &^ (trace.TCPUrg | trace.TCPEce | trace.TCPCwr)
		case 2, 3:
			p.Proto = trace.ProtoUDP
			p.SrcPort, p.DstPort = uint16(1+r.IntN(65535)), uint16(1+r.IntN(65535))
		case 4:
			p.Proto = trace.ProtoICMP
			p.DstPort = icmp[r.IntN(len(icmp))]
		case 5:
			p.Proto = []uint8{trace.ProtoGRE, trace.ProtoESP, 200}[r.IntN(3)]
		}
		if i%25 == 24 { // a non-first fragment: no transport header
			p.Flags, p.FragOff = uint8(r.IntN(2)), uint16(1+r.IntN(100))
			p.SrcPort, p.DstPort, p.TCPFlags = 0, 0, 0
		}
		out[i] = p
	}
	return out
}

// written returns what reading p back from our pcap gives: Len raised to
// the header size.
func written(p trace.Packet) trace.Packet {
	h := 20
	if p.FragOff == 0 {
		switch p.Proto {
		case trace.ProtoTCP:
			h += 20
		case trace.ProtoUDP, trace.ProtoICMP:
			h += 8
		}
	}
	if int(p.Len) < h {
		p.Len = uint16(h)
	}
	return p
}

func TestPcapWriterRoundTrip(t *testing.T) {
	pkts := randomPackets(3000, 3)
	for _, zero := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "out.pcap")
		if err := trace.WritePcapFile(path, pkts, trace.PcapOptions{ZeroPayload: zero}); err != nil {
			t.Fatal(err)
		}
		got, st := readPackets(t, path)
		if len(got) != len(pkts) || st.TotalSkipped() != 0 {
			t.Fatalf("read back %d of %d packets, skipped %v", len(got), len(pkts), st.Skipped)
		}
		for i := range pkts {
			if got[i] != written(pkts[i]) {
				t.Fatalf("packet %d:\n got %+v\nwant %+v", i, got[i], written(pkts[i]))
			}
		}
	}
}

// TestPcapWriterTshark has tshark check the headers we write: no malformed
// packet, no bad checksum (verified on the full zero-payload packets, whose
// headers are the header-only capture's), and the same field values.
func TestPcapWriterTshark(t *testing.T) {
	tshark := requireTool(t, "tshark")
	pkts := randomPackets(600, 4)
	dir := t.TempDir()
	headers, full := filepath.Join(dir, "headers.pcap"), filepath.Join(dir, "full.pcap")
	if err := trace.WritePcapFile(headers, pkts, trace.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := trace.WritePcapFile(full, pkts, trace.PcapOptions{ZeroPayload: true}); err != nil {
		t.Fatal(err)
	}
	checks := []string{"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "ip.defragment:FALSE"}
	for _, path := range []string{headers, full} {
		// Expert info: nothing malformed, no checksum problem.
		out, err := exec.Command(tshark, append([]string{"-r", path, "-q", "-z", "expert,note"}, checks...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tshark: %v: %s", err, out)
		}
		for _, bad := range []string{"Malformed", "Checksum", "checksum", "Bad", "bogus", "Bogus", "Errors ("} {
			if strings.Contains(string(out), bad) {
				t.Errorf("%s: tshark expert info mentions %q:\n%s", filepath.Base(path), bad, out)
				break
			}
		}
		rows := tsharkRows(t, path, checks, "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.ttl", "ip.dsfield", "ip.id",
			"ip.flags", "ip.frag_offset", "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport",
			"icmp.type", "icmp.code", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status")
		if len(rows) != len(pkts) {
			t.Fatalf("tshark read %d packets, we wrote %d", len(rows), len(pkts))
		}
		for i, r := range rows {
			p := written(pkts[i])
			got := trace.Packet{TS: p.TS, Src: ip(t, r[0]), Dst: ip(t, r[1]), Proto: uint8(num(t, r[2])), Len: uint16(num(t, r[3])),
				TTL: uint8(num(t, r[4])), TOS: uint8(num(t, r[5])), ID: uint16(num(t, r[6])), Flags: uint8(num(t, r[7])),
				FragOff: uint16(num(t, r[8]))}
			if p.FragOff == 0 {
				switch p.Proto {
				case trace.ProtoTCP:
					got.SrcPort, got.DstPort, got.TCPFlags = uint16(num(t, r[9])), uint16(num(t, r[10])), uint8(num(t, r[11]))
				case trace.ProtoUDP:
					got.SrcPort, got.DstPort = uint16(num(t, r[12])), uint16(num(t, r[13]))
				case trace.ProtoICMP:
					got.DstPort = uint16(num(t, r[14])<<8 | num(t, r[15]))
				}
			}
			if got != p {
				t.Fatalf("%s packet %d: tshark %+v, wrote %+v", filepath.Base(path), i+1, got, p)
			}
			// Checksum status: 1 = good; a header-only capture leaves the
			// transport checksums unverified (2), the full one must verify.
			if r[16] != "1" {
				t.Errorf("packet %d: IP checksum status %q", i+1, r[16])
			}
			if path == full && p.FragOff == 0 && p.Flags&1 == 0 {
				st := map[uint8]string{trace.ProtoTCP: r[17], trace.ProtoUDP: r[18], trace.ProtoICMP: r[19]}[p.Proto]
				if (p.Proto == trace.ProtoTCP || p.Proto == trace.ProtoUDP || p.Proto == trace.ProtoICMP) && st != "1" {
					t.Errorf("packet %d (%s): transport checksum status %q, want good", i+1, p.Key(), st)
				}
			}
		}
	}
}

func TestConvertCAIDAToPcap(t *testing.T) {
	// Reading a real capture and writing it keeps every header field.
	pkts, _ := readPackets(t, testutil.Testdata("netshare", "caida-small.pcapng"))
	path := filepath.Join(t.TempDir(), "caida.pcap")
	if err := trace.WritePcapFile(path, pkts, trace.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := readPackets(t, path)
	for i := range pkts {
		if got[i] != written(pkts[i]) {
			t.Fatalf("packet %d: %+v, want %+v", i, got[i], written(pkts[i]))
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// edgePackets are records such as a generator may emit, each breaking some
// protocol rule: lengths below the headers or at the 16-bit limit, ICMP
// with a source port and undefined types, TCP without or with every flag,
// zero ports, TTL 0, inconsistent fragment fields, protocol numbers without
// a transport header the writer knows, and impossible addresses.
func edgePackets() []trace.Packet {
	base := trace.Packet{TS: 1521118773289502, Src: 10<<24 | 1, Dst: 10<<24 | 2, SrcPort: 40000, DstPort: 80,
		Proto: trace.ProtoTCP, Len: 40, TTL: 64, TCPFlags: trace.TCPAck, ID: 5}
	edits := []func(p *trace.Packet){
		func(p *trace.Packet) { p.Len = 0 },
		func(p *trace.Packet) { p.Len = 39 },
		func(p *trace.Packet) { p.Len = 65535 },
		func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = trace.ProtoICMP, 1234, 8<<8, 0 },
		func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = trace.ProtoICMP, 0, 7<<8, 0 },
		func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = trace.ProtoICMP, 0, 3<<8|99, 0 },
		func(p *trace.Packet) {
			p.Proto, p.SrcPort, p.DstPort, p.TCPFlags, p.Len = trace.ProtoICMP, 0, 0xffff, 0, 0
		},
		func(p *trace.Packet) { p.TCPFlags = 0 },
		func(p *trace.Packet) { p.TCPFlags = trace.TCPSyn | trace.TCPFin },
		func(p *trace.Packet) { p.TCPFlags = 0xff },
		func(p *trace.Packet) { p.SrcPort, p.DstPort = 0, 0 },
		func(p *trace.Packet) { p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = trace.ProtoUDP, 0, 0, 0 },
		func(p *trace.Packet) { p.Proto, p.TCPFlags, p.Len = trace.ProtoUDP, trace.TCPSyn, 7 },
		func(p *trace.Packet) { p.TTL = 0 },
		func(p *trace.Packet) { p.Flags = 4 },
		func(p *trace.Packet) { p.Flags, p.Len = 3, 61 },
		func(p *trace.Packet) { p.Flags, p.Len = 1, 61 },
		func(p *trace.Packet) { p.FragOff, p.Len = 8191, 1500 },
		func(p *trace.Packet) { p.Flags, p.FragOff = 0xff, 0xffff },
		func(p *trace.Packet) { p.Proto = 0 },
		func(p *trace.Packet) { p.Proto = 255 },
		func(p *trace.Packet) { p.Proto = trace.ProtoGRE },
		func(p *trace.Packet) { p.Proto = trace.ProtoIPIP },
		func(p *trace.Packet) { p.Proto = trace.ProtoIPv6 },
		func(p *trace.Packet) { p.Proto = trace.ProtoESP },
		func(p *trace.Packet) { p.Proto = 2 },   // IGMP
		func(p *trace.Packet) { p.Proto = 89 },  // OSPF
		func(p *trace.Packet) { p.Proto = 132 }, // SCTP
		func(p *trace.Packet) { p.Src = 0xffffffff },
		func(p *trace.Packet) { p.Src = 224 << 24 },
		func(p *trace.Packet) { p.Src, p.Dst = 0, 0 },
		func(p *trace.Packet) { p.TOS = 0xff },
		func(p *trace.Packet) { p.TS-- }, // out of order
		func(p *trace.Packet) {
			p.Proto, p.SrcPort, p.DstPort, p.TCPFlags, p.Len = trace.ProtoUDP, 68, 67, 0, 300
		},
		func(p *trace.Packet) { p.Proto, p.DstPort, p.TCPFlags, p.Len = trace.ProtoUDP, 53, 0, 100 },
		func(p *trace.Packet) { p.DstPort, p.Len = 443, 1500 },
		func(p *trace.Packet) { p.DstPort, p.Len = 179, 100 },
	}
	out := make([]trace.Packet, len(edits))
	for i, e := range edits {
		p := base
		p.TS += int64(i) * 10
		p.ID += uint16(i)
		e(&p)
		out[i] = p
	}
	return out
}

// TestPcapWriterTsharkEdges: whatever the records, the header-only capture
// the pipeline writes opens in tshark with no malformed packet, no bad
// checksum and no expert error, and every IP header checksum verifies.
func TestPcapWriterTsharkEdges(t *testing.T) {
	tshark := requireTool(t, "tshark")
	pkts := append(edgePackets(), randomPackets(200, 5)...)
	path := filepath.Join(t.TempDir(), "edges.pcap")
	if err := trace.WritePcapFile(path, pkts, trace.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	checks := []string{"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-o", "ip.defragment:FALSE"}
	out, err := exec.Command(tshark, append([]string{"-r", path, "-q", "-z", "expert,note"}, checks...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, out)
	}
	for _, bad := range []string{"Malformed", "Checksum", "checksum", "Bad", "bogus", "Bogus", "Errors ("} {
		if strings.Contains(string(out), bad) {
			t.Errorf("tshark expert info mentions %q:\n%s", bad, out)
			break
		}
	}
	rows := tsharkRows(t, path, checks, "frame.len", "ip.len", "ip.checksum.status", "_ws.malformed", "_ws.expert.severity")
	if len(rows) != len(pkts) {
		t.Fatalf("tshark read %d packets, we wrote %d", len(rows), len(pkts))
	}
	for i, r := range rows {
		want := written(pkts[i])
		if num(t, r[0]) != uint64(want.Len) || num(t, r[1]) != uint64(want.Len) || r[2] != "1" || r[3] != "" {
			t.Errorf("packet %d %+v: tshark frame length %s, IP length %s, checksum status %q, malformed %q", i+1, pkts[i], r[0], r[1], r[2], r[3])
		}
		// Expert severities: chat 0x00200000, note 0x00400000, warning
		// 0x00600000 (such as "connection reset" for a RST), error
		// 0x00800000 (malformed packets, bad checksums).
		if s := num(t, r[4]); s >= 0x00800000 {
			t.Errorf("packet %d %+v: expert severity %#x", i+1, pkts[i], s)
		}
	}
}
