package trace_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/trace"
)

func TestCAIDASmall(t *testing.T) {
	path := testutil.Testdata("netshare", "caida-small.pcapng")
	s, err := trace.Open(path, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Format != trace.FormatPcapNG || s.Kind() != trace.KindPackets {
		t.Fatalf("format %s kind %s, want pcapng packets", s.Format, s.Kind())
	}
	pkts, err := drain(s.Packets())
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	src, dst, keys := map[uint32]bool{}, map[uint32]bool{}, map[trace.Key]bool{}
	protos := map[uint8]int{}
	for _, p := range pkts {
		src[p.Src], dst[p.Dst], keys[p.Key()] = true, true, true
		protos[p.Proto]++
	}
	if len(pkts) != 1000 || st.Read != 1000 || st.TotalSkipped() != 0 {
		t.Errorf("read %d packets (stats %+v), want 1000 and none skipped", len(pkts), st)
	}
	if len(src) != 416 || len(dst) != 351 || len(keys) != 444 {
		t.Errorf("%d src, %d dst IPs, %d 5-tuples; want 416, 351, 444", len(src), len(dst), len(keys))
	}
	if protos[trace.ProtoTCP] != 843 || protos[trace.ProtoUDP] != 157 || len(protos) != 2 {
		t.Errorf("protocols %v, want TCP 843, UDP 157", protos)
	}
	// One packet is a non-first UDP fragment: kept, ports 0, noted.
	if st.Notes[trace.NoteFragment] != 1 {
		t.Errorf("fragment note %d, want 1", st.Notes[trace.NoteFragment])
	}
	first := pkts[0]
	want := trace.Packet{TS: 1521118773289502, Src: ip(t, "147.250.115.28"), Dst: ip(t, "50.121.84.212"),
		SrcPort: 443, DstPort: 34294, Proto: trace.ProtoTCP, Len: 40, TOS: 0x28, ID: 0, Flags: 2, TTL: first.TTL,
		TCPFlags: trace.TCPRst}
	if first != want {
		t.Errorf("first packet %+v, want %+v", first, want)
	}
}

// captureFixtures lists the captures under testdata with their packet
// count as capinfos reports it (all frames, before any is skipped).
var captureFixtures = map[string]int{
	"netshare/caida-small.pcapng":          1000,
	"netshare/http.cap":                    43,
	"gopacket/gopacket-test_dns.pcap":      10,
	"gopacket/gopacket-test_ethernet.pcap": 10,
	"gopacket/gopacket-test_loopback.pcap": 24,
	"pcapng/le-test001.pcapng":             4, "pcapng/le-test002.pcapng": 0, "pcapng/le-test003.pcapng": 0,
	"pcapng/le-test004.pcapng": 4, "pcapng/le-test005.pcapng": 4, "pcapng/le-test006.pcapng": 5,
	"pcapng/le-test007.pcapng": 1, "pcapng/le-test008.pcapng": 4, "pcapng/le-test009.pcapng": 2,
	"pcapng/le-test010.pcapng": 4, "pcapng/le-test011.pcapng": 4, "pcapng/le-test012.pcapng": 4,
	"pcapng/le-test013.pcapng": 0, "pcapng/le-test014.pcapng": 0, "pcapng/le-test015.pcapng": 0,
	"pcapng/le-test016.pcapng": 4, "pcapng/le-test017.pcapng": 0, "pcapng/le-test018.pcapng": 4,
	"pcapng/le-test100.pcapng": 5, "pcapng/le-test101.pcapng": 4, "pcapng/le-test102.pcapng": 5,
	"pcapng/le-test200.pcapng": 0, "pcapng/le-test201.pcapng": 4, "pcapng/le-test202.pcapng": 8,
	"pcapng/le-test902.pcapng": 1,
}

func TestCaptureCounts(t *testing.T) {
	var paths []string
	for rel, want := range captureFixtures {
		for _, rel := range []string{rel, strings.Replace(rel, "/le-", "/be-", 1)} {
			path := testutil.Testdata(rel)
			paths = append(paths, path)
			pkts, st := readPackets(t, path)
			got := int(st.Read + st.TotalSkipped())
			if got != want || len(pkts) != int(st.Read) {
				t.Errorf("%s: %d packets read + skipped (%d returned), want %d", rel, got, len(pkts), want)
			}
		}
	}
	// Cross-check the table with capinfos where it is installed.
	capinfos, err := exec.LookPath("capinfos")
	if err != nil {
		return
	}
	out, err := exec.Command(capinfos, append([]string{"-c", "-T", "-r"}, paths...)...).Output()
	if err != nil {
		t.Fatalf("capinfos: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("capinfos gave %d lines for %d files", len(lines), len(paths))
	}
	for _, line := range lines {
		f := strings.Split(line, "\t")
		rel, err := filepath.Rel(testutil.Testdata(), f[0])
		if err != nil {
			t.Fatal(err)
		}
		want := captureFixtures[strings.Replace(rel, "/be-", "/le-", 1)]
		if n, err := strconv.Atoi(f[len(f)-1]); err != nil || n != want {
			t.Errorf("%s: capinfos says %q packets, the table %d", rel, f[len(f)-1], want)
		}
	}
}

// compareWithTshark checks every IPv4 packet we return from path against
// tshark's dissection of the same frames.
func compareWithTshark(t *testing.T, path, filter string) {
	t.Helper()
	pkts, _ := readPackets(t, path)
	rows := tsharkRows(t, path, []string{"-o", "ip.defragment:FALSE", "-Y", filter},
		"frame.time_epoch", "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.dsfield", "ip.id", "ip.flags",
		"ip.frag_offset", "ip.ttl", "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport",
		"icmp.type", "icmp.code")
	if len(rows) != len(pkts) {
		t.Fatalf("%s: tshark sees %d IPv4 frames, we return %d packets", path, len(rows), len(pkts))
	}
	for i, r := range rows {
		w := trace.Packet{Src: ip(t, r[1]), Dst: ip(t, r[2]), Proto: uint8(num(t, r[3])), Len: uint16(num(t, r[4])),
			TOS: uint8(num(t, r[5])), ID: uint16(num(t, r[6])), Flags: uint8(num(t, r[7])), FragOff: uint16(num(t, r[8])),
			TTL: uint8(num(t, r[9]))}
		if r[0] != "" {
			w.TS = epochMicros(t, r[0])
		} else {
			w.TS = pkts[i].TS // a simple packet block has no time
		}
		if w.FragOff == 0 {
			switch w.Proto {
			case trace.ProtoTCP:
				w.SrcPort, w.DstPort, w.TCPFlags = uint16(num(t, r[10])), uint16(num(t, r[11])), uint8(num(t, r[12]))
			case trace.ProtoUDP:
				w.SrcPort, w.DstPort = uint16(num(t, r[13])), uint16(num(t, r[14]))
			case trace.ProtoICMP:
				w.DstPort = uint16(num(t, r[15])<<8 | num(t, r[16]))
			}
		}
		if pkts[i] != w {
			t.Fatalf("%s frame %d:\n got %+v\nwant %+v (tshark %q)", path, i+1, pkts[i], w, r)
		}
	}
}

func TestPacketsMatchTshark(t *testing.T) {
	requireTool(t, "tshark")
	// The big-endian conformance files are checked against their
	// little-endian twins in TestPcapNGByteOrders.
	// tshark takes a while to start, so the list is short: one of each
	// container and link type, multiple interfaces and sections, simple
	// packet blocks and a binary timestamp resolution.
	for _, rel := range []string{"netshare/caida-small.pcapng", "netshare/http.cap", "gopacket/gopacket-test_ethernet.pcap",
		"pcapng/le-test006.pcapng", "pcapng/le-test202.pcapng", "pcapng/le-test902.pcapng"} {
		compareWithTshark(t, testutil.Testdata(rel), "ip")
	}
}

func TestPcapNGByteOrders(t *testing.T) {
	files, _ := filepath.Glob(testutil.Testdata("pcapng", "le-test*.pcapng"))
	if len(files) != 26 {
		t.Fatalf("found %d little-endian conformance files, want 26", len(files))
	}
	for _, le := range files {
		be := strings.Replace(le, "le-test", "be-test", 1)
		lp, lst, _, lerr := trace.ReadAllPackets(le, trace.Options{})
		bp, bst, _, berr := trace.ReadAllPackets(be, trace.Options{})
		if !reflect.DeepEqual(lp, bp) || !reflect.DeepEqual(lst, bst) {
			t.Errorf("%s and its big-endian twin differ:\n%+v %+v\n%+v %+v", filepath.Base(le), lp, lst, bp, bst)
		}
		if (lerr == nil) != (berr == nil) {
			t.Errorf("%s: errors differ: %v / %v", filepath.Base(le), lerr, berr)
		}
	}
}

func TestPcapNGUnsupportedVersion(t *testing.T) {
	for _, name := range []string{"le-test901.pcapng", "be-test901.pcapng"} {
		pkts, _, _, err := trace.ReadAllPackets(testutil.Testdata("pcapng", name), trace.Options{})
		var pe *trace.PosError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %v, want a *PosError", name, err)
		}
		// The first section (one packet) is fine; the second has version 2.0.
		if len(pkts) != 1 || pe.Offset != 480 || pe.Record != 2 || !strings.Contains(err.Error(), "unsupported pcapng version 2.0") ||
			!strings.Contains(err.Error(), name) {
			t.Errorf("%s: %d packets, error %q (offset %d record %d)", name, len(pkts), err, pe.Offset, pe.Record)
		}
	}
}

func TestPcapNGTimestampResolutions(t *testing.T) {
	// test008 has if_tsresol = 10^-9 with an offset, test902 a binary
	// resolution (2^-x): the times must equal tshark's, to the µs.
	want := map[string]int64{"le-test008.pcapng": 1340954905298, "le-test902.pcapng": 1519128000195312}
	for name, us := range want {
		pkts, _ := readPackets(t, testutil.Testdata("pcapng", name))
		if len(pkts) == 0 || pkts[0].TS != us {
			t.Errorf("%s: first timestamp %v, want %d µs", name, pkts, us)
		}
	}
}

func TestLoopbackIPv6Skipped(t *testing.T) {
	pkts, st := readPackets(t, testutil.Testdata("gopacket", "gopacket-test_loopback.pcap"))
	if len(pkts) != 0 || st.Skipped[trace.ReasonIPv6] != 24 || st.TotalSkipped() != 24 {
		t.Errorf("loopback capture: %d packets, skipped %v; want 0 and ipv6 24", len(pkts), st.Skipped)
	}
}

// frameFor builds a captured frame of link type lt around an IPv4 packet.
func frameFor(lt uint32, ipPkt []byte) []byte {
	var b []byte
	switch lt {
	case trace.LinkEthernet:
		b = append(make([]byte, 12), 0x08, 0x00)
	case trace.LinkNull:
		b = []byte{2, 0, 0, 0}
	case trace.LinkLoop:
		b = []byte{0, 0, 0, 2}
	case trace.LinkLinuxSLL:
		b = append(make([]byte, 14), 0x08, 0x00)
	case 276:
		b = append([]byte{0x08, 0x00}, make([]byte, 18)...)
	}
	return append(b, ipPkt...)
}

// writeCapture writes frames as a little-endian pcap of link type lt (a
// full 32-bit value, which pcapgo's writer cannot take) to memory, with
// microsecond or nanosecond timestamps.
func writeCapture(t testing.TB, lt uint32, nanos bool, frames ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	hdr := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if nanos {
		magic = 0xa1b23c4d
	}
	binary.LittleEndian.PutUint32(hdr, magic)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], lt)
	b.Write(hdr)
	for i, f := range frames {
		ns := int64(i)*1001 + 123456789
		frac := ns / 1000
		if nanos {
			frac = ns
		}
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec, 1600000000)
		binary.LittleEndian.PutUint32(rec[4:], uint32(frac))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		b.Write(rec)
		b.Write(f)
	}
	return b.Bytes()
}

// samplePacket is a TCP packet with every header field set.
var samplePacket = trace.Packet{TS: 1600000000123456, Src: 0x0a000001, Dst: 0xc0a80102, SrcPort: 12345, DstPort: 443,
	Proto: trace.ProtoTCP, Len: 1500, TOS: 0x2e, ID: 0xbeef, Flags: 2, TTL: 57, TCPFlags: trace.TCPSyn | trace.TCPAck}

func TestLinkTypes(t *testing.T) {
	ipPkt := trace.AppendPacketHeaders(nil, &samplePacket)
	vlan := append(make([]byte, 12), 0x81, 0x00, 0, 5, 0x88, 0xa8, 0, 7, 0x08, 0x00)
	cases := []struct {
		name   string
		lt     uint32
		frame  []byte
		reason string // "" = decoded
	}{
		{"ethernet", trace.LinkEthernet, frameFor(trace.LinkEthernet, ipPkt), ""},
		{"ethernet 802.1Q+802.1ad", trace.LinkEthernet, append(append([]byte{}, vlan...), ipPkt...), ""},
		{"ethernet mpls", trace.LinkEthernet, append(append(make([]byte, 12), 0x88, 0x47, 0, 1, 0, 64, 0, 2, 1, 64), ipPkt...), ""},
		{"ethernet mpls pseudowire", trace.LinkEthernet, append(append(make([]byte, 12), 0x88, 0x47, 0, 2, 1, 64, 0, 0, 0, 0), make([]byte, 60)...), "non-ip"},
		{"raw 101", trace.LinkRaw, ipPkt, ""},
		{"raw 228", 228, ipPkt, ""},
		{"raw 12", 12, ipPkt, ""},
		{"raw 14", 14, ipPkt, ""},
		{"null little-endian", trace.LinkNull, frameFor(trace.LinkNull, ipPkt), ""},
		{"null big-endian", trace.LinkNull, append([]byte{0, 0, 0, 2}, ipPkt...), ""},
		{"loop", trace.LinkLoop, frameFor(trace.LinkLoop, ipPkt), ""},
		{"linux sll", trace.LinkLinuxSLL, frameFor(trace.LinkLinuxSLL, ipPkt), ""},
		{"linux sll2", 276, frameFor(276, ipPkt), ""},
		{"ethernet ipv6", trace.LinkEthernet, append(append(make([]byte, 12), 0x86, 0xdd), make([]byte, 40)...), "ipv6"},
		{"ethernet arp", trace.LinkEthernet, append(append(make([]byte, 12), 0x08, 0x06), make([]byte, 28)...), "arp"},
		{"ethernet other", trace.LinkEthernet, append(append(make([]byte, 12), 0x88, 0xcc), make([]byte, 28)...), "non-ip"},
		{"raw ipv6", trace.LinkRaw, append([]byte{0x60}, make([]byte, 39)...), "ipv6"},
		{"null ipv6", trace.LinkNull, append([]byte{30, 0, 0, 0}, make([]byte, 40)...), "ipv6"},
		{"unsupported", 147, ipPkt, "unsupported-linktype"},
		{"truncated ethernet", trace.LinkEthernet, make([]byte, 10), "truncated-link"},
		{"truncated ip", trace.LinkRaw, ipPkt[:19], "truncated-ip"},
		{"truncated tcp", trace.LinkRaw, ipPkt[:33], "truncated-l4"},
		{"bad ihl", trace.LinkRaw, append([]byte{0x43}, ipPkt[1:]...), "bad-ip-header"},
	}
	for _, c := range cases {
		for _, nanos := range []bool{false, true} {
			data := writeCapture(t, c.lt, nanos, c.frame)
			s, err := trace.NewSource(c.name, bytes.NewReader(data), trace.Options{})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			pkts, err := drain(s.Packets())
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			st := s.Stats()
			if c.reason == "" {
				want := samplePacket
				want.TS = 1600000000123456 // 123456789 ns truncated to µs
				if len(pkts) != 1 || pkts[0] != want {
					t.Errorf("%s: got %+v (stats %+v), want %+v", c.name, pkts, st, want)
				}
				continue
			}
			if len(pkts) != 0 || st.Skipped[c.reason] != 1 {
				t.Errorf("%s: got %d packets, skipped %v; want reason %q", c.name, len(pkts), st.Skipped, c.reason)
			}
		}
	}
}

func TestBigEndianPcap(t *testing.T) {
	// A big-endian microsecond pcap, written by hand.
	ipPkt := trace.AppendPacketHeaders(nil, &samplePacket)
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.BigEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.BigEndian.PutUint16(hdr[4:], 2)
	binary.BigEndian.PutUint16(hdr[6:], 4)
	binary.BigEndian.PutUint32(hdr[16:], 65535)
	binary.BigEndian.PutUint32(hdr[20:], 101)
	b.Write(hdr)
	rec := make([]byte, 16)
	binary.BigEndian.PutUint32(rec, uint32(samplePacket.TS/1e6))
	binary.BigEndian.PutUint32(rec[4:], uint32(samplePacket.TS%1e6))
	binary.BigEndian.PutUint32(rec[8:], uint32(len(ipPkt)))
	binary.BigEndian.PutUint32(rec[12:], 1500)
	b.Write(rec)
	b.Write(ipPkt)
	s, err := trace.NewSource("be.pcap", &b, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := drain(s.Packets())
	if err != nil || len(pkts) != 1 || pkts[0] != samplePacket {
		t.Fatalf("big-endian pcap: %+v, %v; want %+v", pkts, err, samplePacket)
	}
}

func TestTruncatedCaptures(t *testing.T) {
	for _, rel := range []string{"netshare/caida-small.pcapng", "netshare/http.cap"} {
		data, err := os.ReadFile(testutil.Testdata(rel))
		if err != nil {
			t.Fatal(err)
		}
		// Cut the file at many places: every cut either ends cleanly at a
		// record boundary or gives a *PosError wrapping ErrTruncated.
		cuts, clean := 0, 0
		for cut := 4; cut < len(data); cut += 97 {
			s, err := trace.NewSource(rel, bytes.NewReader(data[:cut]), trace.Options{})
			if err != nil {
				var pe *trace.PosError
				if !errors.As(err, &pe) || !errors.Is(err, trace.ErrTruncated) {
					t.Fatalf("%s cut at %d: open error %v, want a *PosError wrapping ErrTruncated", rel, cut, err)
				}
				continue
			}
			pkts, err := drain(s.Packets())
			if err == nil {
				clean++
				continue
			}
			cuts++
			var pe *trace.PosError
			if !errors.As(err, &pe) || !errors.Is(err, trace.ErrTruncated) {
				t.Fatalf("%s cut at %d: %v, want a *PosError wrapping ErrTruncated", rel, cut, err)
			}
			if pe.Offset < 0 || pe.Offset >= int64(cut) || pe.Record != int64(len(pkts))+1 || pe.File != rel {
				t.Fatalf("%s cut at %d: error %q at offset %d record %d after %d packets", rel, cut, err, pe.Offset, pe.Record, len(pkts))
			}
		}
		if cuts == 0 {
			t.Errorf("%s: no cut gave a truncation error", rel)
		}
		_ = clean
	}
}

func TestCorruptPcapNG(t *testing.T) {
	data, err := os.ReadFile(testutil.Testdata("netshare", "caida-small.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	// Find the third block and break its length fields.
	off := 0
	for i := 0; i < 3; i++ {
		off += int(binary.LittleEndian.Uint32(data[off+4:]))
	}
	cases := map[string]func(b []byte){
		"length not a multiple of 4": func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 13) },
		"length below 12":            func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 8) },
		"huge length":                func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 0xfffffff0) },
		"trailer mismatch":           func(b []byte) { l := binary.LittleEndian.Uint32(b[off+4:]); b[off+int(l)-4]++ },
		"captured length too big":    func(b []byte) { binary.LittleEndian.PutUint32(b[off+20:], 5000) },
		"unknown interface":          func(b []byte) { binary.LittleEndian.PutUint32(b[off+8:], 7) },
	}
	for name, breakIt := range cases {
		b := append([]byte(nil), data...)
		breakIt(b)
		s, err := trace.NewSource("x.pcapng", bytes.NewReader(b), trace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := drain(s.Packets())
		var pe *trace.PosError
		if !errors.As(err, &pe) || pe.Offset != int64(off) || len(pkts) != 1 || pe.Record != 2 {
			t.Errorf("%s: %d packets, error %v; want a *PosError at offset %d, record 2", name, len(pkts), err, off)
		}
	}
}

// TestSharedCaptures compares our packets with tshark's on the optional
// larger captures (skipped without ../shared/data).
func TestSharedCaptures(t *testing.T) {
	requireTool(t, "tshark")
	path := testutil.SharedData(t, "pathspider-icmp-ttl/icmp_ttl.pcap")
	pkts, st := readPackets(t, path)
	if len(pkts) != 9009 || st.TotalSkipped() != 0 {
		t.Errorf("icmp_ttl.pcap: %d packets, skipped %v; want 9009 and none", len(pkts), st.Skipped)
	}
	compareWithTshark(t, path, "ip")
	// IPv6 and non-IP frames among IPv4 ones; VLAN tags and MPLS.
	for _, rel := range []string{"slips-ctu-samples/test7-malicious.pcap", "small-pcaps/libtrace-anon-v4.pcap",
		"small-pcaps/tcpreplay-test.pcap"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			// Ethernet carried over an MPLS pseudowire is not decoded.
			compareWithTshark(t, testutil.SharedData(t, rel), "ip and not pwethcw")
		})
	}
}

func Example_readPackets() {
	s, err := trace.Open(testutil.Testdata("netshare", "caida-small.pcapng"), trace.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	pr := s.Packets()
	var p trace.Packet
	n := 0
	for {
		if err := pr.Next(&p); err != nil {
			if err != io.EOF {
				fmt.Println(err)
			}
			break
		}
		n++
	}
	fmt.Println(s.Format, n, "packets")
	// Output: pcapng 1000 packets
}

// A record whose captured length exceeds its original length breaks the
// pcap format's rule, but libpcap reads it and so does the reader (the
// decoder takes lengths from the IP header): it is not an error, and the
// records after it are read too.
func TestPcapCaptureLongerThanOriginal(t *testing.T) {
	ipPkt := trace.AppendPacketHeaders(nil, &samplePacket)
	data := writeCapture(t, trace.LinkRaw, false, ipPkt, ipPkt)
	binary.LittleEndian.PutUint32(data[24+12:], 20) // first record: original length 20 < captured 40
	s, err := trace.NewSource("long.pcap", bytes.NewReader(data), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := drain(s.Packets())
	if err != nil {
		t.Fatalf("got error %v", err)
	}
	if len(pkts) != 2 || pkts[0].Src != samplePacket.Src || pkts[1].DstPort != samplePacket.DstPort {
		t.Fatalf("got %+v, want two copies of %+v", pkts, samplePacket)
	}
	// Cut inside that record: a truncation error at its offset.
	for _, cut := range []int{24 + 16, 24 + 16 + 10} {
		s, err := trace.NewSource("long.pcap", bytes.NewReader(data[:cut]), trace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = drain(s.Packets())
		var pe *trace.PosError
		if !errors.As(err, &pe) || !errors.Is(err, trace.ErrTruncated) || pe.Offset != 24 || pe.Record != 1 {
			t.Errorf("cut at %d: got %v, want a truncation error at byte offset 24, record 1", cut, err)
		}
	}
}
