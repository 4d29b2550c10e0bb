package protocol

import (
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func TestCountHandshakes(t *testing.T) {
	var pkts []trace.Packet
	ts := int64(0)
	add := func(src, dst uint32, sp, dp uint16, flags uint8) {
		ts += 10
		pkts = append(pkts, trace.Packet{TS: ts, Src: src, Dst: dst, SrcPort: sp, DstPort: dp, Proto: trace.ProtoTCP, Len: 60, TCPFlags: flags})
	}
	const syn, ack, synAck = trace.TCPSyn, trace.TCPAck, trace.TCPSyn | trace.TCPAck
	// Answered: SYN, SYN-ACK, ACK (the server has the lower address, so
	// the connection's key is the reply's).
	add(9, 1, 5000, 22, syn)
	add(1, 9, 22, 5000, synAck)
	add(9, 1, 5000, 22, ack)
	// Late: the client's ACK before the SYN-ACK.
	add(9, 1, 5001, 22, syn)
	add(9, 1, 5001, 22, ack)
	add(1, 9, 22, 5001, synAck)
	// Unanswered: a SYN alone, and one answered by a RST.
	add(9, 1, 5002, 22, syn)
	add(9, 1, 5003, 22, syn)
	add(1, 9, 22, 5003, trace.TCPRst|ack)
	// Unopened: a SYN-ACK with no SYN before it; then its client's SYN
	// opens nothing new.
	add(1, 9, 22, 5004, synAck)
	add(9, 1, 5004, 22, syn)
	// Not TCP, and a flow without a handshake.
	pkts = append(pkts, trace.Packet{TS: ts + 1, Src: 9, Dst: 1, SrcPort: 53, DstPort: 53, Proto: trace.ProtoUDP, Len: 60})
	add(9, 1, 5005, 22, ack)
	got := CountHandshakes(pkts)
	if want := (Handshakes{Opened: 4, Answered: 1, Late: 1, Unopened: 1}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
