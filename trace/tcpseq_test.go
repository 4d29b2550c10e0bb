package trace

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// conversation is a TCP connection as its two ends would send it: the
// client's SYN twice (the second a retransmission), the handshake, 100
// bytes from the client, 500 from the server, the close, and the client's
// FIN sent again. The SYNs have 20 bytes of options, not data, which offer
// timestamps, so the other segments carry 12 bytes of them.
func conversation() []Packet {
	c := Packet{Src: 0x0a000001, Dst: 0x0a000002, SrcPort: 40000, DstPort: 80, Proto: ProtoTCP, TTL: 64}
	s := Packet{Src: c.Dst, Dst: c.Src, SrcPort: c.DstPort, DstPort: c.SrcPort, Proto: ProtoTCP, TTL: 64}
	at := func(p Packet, ts int64, flags uint8, n int) Packet {
		p.TS, p.TCPFlags, p.Len = 1_700_000_000_000_000+ts, flags, uint16(40+n)
		return p
	}
	const syn, ack, fin, psh = 0x02, 0x10, 0x01, 0x08
	return []Packet{
		at(c, 0, syn, 20), at(c, 1000, syn, 20), at(s, 1100, syn|ack, 20), at(c, 1200, ack, 12),
		at(c, 1300, psh|ack, 112), at(s, 1400, ack, 12), at(s, 1500, psh|ack, 512), at(c, 1600, ack, 12),
		at(c, 1700, fin|ack, 12), at(s, 1800, fin|ack, 12), at(c, 1900, fin|ack, 12), at(c, 2000, ack, 12),
	}
}

// TestTCPSequenceNumbers checks the numbers a connection's segments get,
// relative to each end's initial sequence number.
func TestTCPSequenceNumbers(t *testing.T) {
	pkts := conversation()
	var s tcpSeq
	type num struct{ seq, ack uint32 }
	got := make([]num, len(pkts))
	hs := make([]tcpHeader, len(pkts))
	for i := range pkts {
		hs[i] = s.next(&pkts[i])
		got[i] = num{hs[i].seq, hs[i].ack}
		if want := map[bool]int{true: 20, false: tcpTimestampLen}[pkts[i].TCPFlags&0x02 != 0]; hs[i].opt != want {
			t.Errorf("segment %d: %d bytes of options, want %d", i, hs[i].opt, want)
		}
	}
	// Timestamps: each end's clock, the other's last value echoed (none
	// in the first SYN).
	if hs[0].tsEcr != 0 || hs[2].tsEcr != hs[1].tsVal || hs[3].tsEcr != hs[2].tsVal || hs[11].tsVal != hs[0].tsVal+2 {
		t.Errorf("timestamps (value, echo): %v", hs)
	}
	ci, si := got[0].seq, got[2].seq // the two initial sequence numbers
	if ci == si {
		t.Fatalf("both ends start at %d", ci)
	}
	want := []num{
		{ci, 0}, {ci, 0}, // SYN, SYN again
		{si, ci + 1},                       // SYN-ACK
		{ci + 1, si + 1}, {ci + 1, si + 1}, // ACK, 100 bytes
		{si + 1, ci + 101}, {si + 1, ci + 101}, // ACK, 500 bytes
		{ci + 101, si + 501}, // ACK
		{ci + 101, si + 501}, // FIN
		{si + 501, ci + 102}, // FIN
		{ci + 101, si + 502}, // the FIN again
		{ci + 102, si + 502}, // the last ACK
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d (flags %#x, %d bytes): seq %d ack %d, want %d %d (client ISN %d, server ISN %d)",
				i, pkts[i].TCPFlags, pkts[i].Len, got[i].seq, got[i].ack, want[i].seq, want[i].ack, ci, si)
		}
	}

	// The same connection in a new writer gets the same numbers; used
	// again later, it starts elsewhere.
	var again tcpSeq
	if seq := again.next(&pkts[0]).seq; seq != ci {
		t.Errorf("the same SYN in a new writer: seq %d, want %d", seq, ci)
	}
	later := pkts[0]
	later.TS += 3_600_000_000
	var other tcpSeq
	if seq := other.next(&later).seq; seq == ci {
		t.Errorf("the connection an hour later starts at the same sequence number %d", seq)
	}
}

// TestTCPSequenceAckBeforePeer: an ACK sent before the other end's first
// segment acknowledges the number that end then starts at.
func TestTCPSequenceAckBeforePeer(t *testing.T) {
	pkts := conversation()[3:8] // from the client's ACK, no handshake
	var s tcpSeq
	ack := s.next(&pkts[0]).ack
	seq := s.next(&pkts[2]).seq // the server's ACK
	if seq != ack {
		t.Errorf("the server starts at %d, the client acknowledged %d", seq, ack)
	}
}

// TestTCPSequenceForgetsIdle: connections idle for tcpIdle are dropped at
// the next sweep, so the writer's memory is bounded by the connections of
// the last hour.
func TestTCPSequenceForgetsIdle(t *testing.T) {
	var s tcpSeq
	p := Packet{Src: 1, Dst: 2, SrcPort: 1000, DstPort: 80, Proto: ProtoTCP, TCPFlags: 0x10, Len: 40}
	for i := range tcpSweepEvery - 1 {
		p.SrcPort = uint16(1000 + i%1000)
		s.next(&p)
	}
	if len(s.conns) != 1000 {
		t.Fatalf("%d connections held, want 1000", len(s.conns))
	}
	q := p
	q.TS, q.SrcPort = tcpIdle+1, 9
	s.next(&q) // the sweep's turn
	if len(s.conns) != 1 {
		t.Errorf("%d connections held after an hour idle, want 1", len(s.conns))
	}

	// A closed connection goes after a minute: one reset, one finished by
	// both ends, one open, all a minute and a half before the sweep.
	var c tcpSeq
	seg := func(port uint16, ts int64, flags uint8, reply bool) {
		p := Packet{Src: 1, Dst: 2, SrcPort: port, DstPort: 80, Proto: ProtoTCP, TCPFlags: flags, Len: 40, TS: ts}
		if reply {
			p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		c.next(&p)
	}
	seg(1, 0, TCPRst, false)
	seg(2, 0, TCPFin|TCPAck, false)
	seg(2, 0, TCPFin|TCPAck, true)
	seg(3, 0, TCPFin|TCPAck, false) // one end only: still open
	for i := c.n; i < tcpSweepEvery-1; i++ {
		seg(4, 0, TCPAck, false)
	}
	seg(4, 90_000_000, TCPAck, false) // the sweep's turn
	if _, ok := c.conns[Key{Src: 1, Dst: 2, SrcPort: 3, DstPort: 80, Proto: ProtoTCP}]; len(c.conns) != 2 || !ok {
		t.Errorf("after a minute and a half: %d connections held, want the half-closed one and the busy one", len(c.conns))
	}
}

func TestSYNOptions(t *testing.T) {
	for n, want := range map[int][]byte{
		0:  {},
		4:  {2, 4, 5, 180},
		8:  {2, 4, 5, 180, 4, 2, 1, 0},
		12: {2, 4, 5, 180, 4, 2, 1, 3, 3, 7, 0, 0},
		16: {2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0},
		20: {2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7},
		24: {2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7, 0, 0, 0, 0},
	} {
		got := make([]byte, n)
		for i := range got {
			got[i] = 0xee
		}
		synOptions(got, 0x01020304, 0)
		if string(got) != string(want) {
			t.Errorf("%d bytes of options: %v, want %v", n, got, want)
		}
	}
	for l, want := range map[uint16]int{40: 0, 43: 0, 44: 4, 60: 20, 62: 20, 80: 40, 1500: 40} {
		if got := tcpOptionLen(&Packet{Proto: ProtoTCP, TCPFlags: 0x02, Len: l}); got != want {
			t.Errorf("a SYN of %d bytes: %d bytes of options, want %d", l, got, want)
		}
		if got := tcpOptionLen(&Packet{Proto: ProtoTCP, TCPFlags: 0x10, Len: l}); got != 0 {
			t.Errorf("an ACK of %d bytes: %d bytes of options, want none", l, got)
		}
	}
}

// TestTCPSequenceTshark: tshark's sequence analysis finds nothing amiss in
// the conversation as written but the SYN and the FIN sent again, and its
// relative numbers are the ones the two ends would use.
func TestTCPSequenceTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed")
	}
	path := filepath.Join(t.TempDir(), "conn.pcap")
	if err := WritePcapFile(path, conversation(), PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", path, "-o", "tcp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|",
		"-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.len", "-e", "tcp.analysis.retransmission", "-e", "_ws.expert.message").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want := []string{"0|0|0|", "0|0|0|1", "0|1|0|", "1|1|0|", "1|1|100|", "1|101|0|", "1|101|500|", "101|501|0|",
		"101|501|0|", "501|102|0|", "101|502|0|1", "102|502|0|"}
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(rows) != len(want) {
		t.Fatalf("tshark read %d segments, we wrote %d:\n%s", len(rows), len(want), out)
	}
	for i, r := range rows {
		f := strings.SplitN(r, "|", 5)
		if got := strings.Join(f[:4], "|"); got != want[i] {
			t.Errorf("segment %d: tshark seq|ack|len|retransmission %s, want %s", i, got, want[i])
		}
		for _, bad := range []string{"out-of-order", "not captured", "unseen", "TFO", "Malformed", "checksum"} {
			if strings.Contains(f[4], bad) {
				t.Errorf("segment %d: tshark says %q", i, f[4])
			}
		}
	}
}

// TestTCPTimestampsNegotiated: segments carry timestamps only where both
// SYNs offered them (a Windows SYN, 12 bytes of options, offers none), or
// the one end's SYN did and the other's is not in the file; then a
// 52-byte segment is an acknowledgement, otherwise 12 bytes of data.
func TestTCPTimestampsNegotiated(t *testing.T) {
	c := Packet{Src: 1, Dst: 2, SrcPort: 50000, DstPort: 443, Proto: ProtoTCP}
	r := Packet{Src: 2, Dst: 1, SrcPort: 443, DstPort: 50000, Proto: ProtoTCP}
	seg := func(p Packet, flags uint8, l uint16) *Packet { p.TCPFlags, p.Len = flags, l; return &p }
	for _, tc := range []struct {
		name         string
		synC, synR   uint16 // SYN lengths; 0: not in the file
		wantC, wantR int    // options of a 52-byte ACK from each end
	}{
		{"both offer", 60, 60, 12, 12},
		{"client only", 60, 52, 0, 0},
		{"server only", 52, 60, 0, 0},
		{"no SYN-ACK in the file", 60, 0, 12, 0},
		{"no handshake in the file", 0, 0, 0, 0},
	} {
		var s tcpSeq
		if tc.synC > 0 {
			s.next(seg(c, 0x02, tc.synC))
		}
		if tc.synR > 0 {
			s.next(seg(r, 0x12, tc.synR))
		}
		if got := s.next(seg(c, 0x10, 52)).opt; got != tc.wantC {
			t.Errorf("%s: the client's ACK has %d bytes of options, want %d", tc.name, got, tc.wantC)
		}
		if got := s.next(seg(r, 0x10, 52)).opt; got != tc.wantR {
			t.Errorf("%s: the server's ACK has %d bytes of options, want %d", tc.name, got, tc.wantR)
		}
	}
}
