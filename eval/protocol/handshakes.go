package protocol

import "github.com/netshare-go/netshare/trace"

// Handshakes counts how a packet trace's TCP connections (the two
// directions of a 5-tuple together) begin. It is reported beside the
// checks, not as one: a check judges one flow (one direction) at a time,
// and the synthetic trace's two directions are separate flows that
// nothing before the written trace sees together.
type Handshakes struct {
	// Opened counts the connections whose first segment (not a fragment)
	// is a SYN without ACK; Answered those of them whose other end's
	// first segment is a SYN-ACK coming before the opener's next segment,
	// and Late those answered by a SYN-ACK after it (which acknowledges
	// what it cannot have received: protocol analysers call it TCP Fast
	// Open).
	Opened   int64 `json:"opened"`
	Answered int64 `json:"answered"`
	Late     int64 `json:"late"`
	// Unopened counts the connections whose first segment is a SYN-ACK:
	// a reply to no SYN in the trace.
	Unopened int64 `json:"unopened"`
}

// CountHandshakes counts pkts' handshakes, taking the packets in their
// order.
func CountHandshakes(pkts []trace.Packet) Handshakes {
	type conn struct {
		opener     int8 // direction of the opening SYN, −1 none
		openerWent bool // the opener sent a segment after its SYN
		replied    bool // the other end has sent a segment
	}
	var h Handshakes
	conns := map[trace.Key]*conn{}
	for i := range pkts {
		p := &pkts[i]
		if p.Proto != trace.ProtoTCP || p.FragOff != 0 {
			continue
		}
		k, dir := p.Key().Connection()
		d := int8(dir)
		syn, ack := p.TCPFlags&trace.TCPSyn != 0, p.TCPFlags&trace.TCPAck != 0
		c := conns[k]
		if c == nil {
			c = &conn{opener: -1}
			conns[k] = c
			switch {
			case syn && !ack:
				c.opener = d
				h.Opened++
			case syn && ack:
				h.Unopened++
			}
			continue
		}
		if c.opener < 0 {
			continue
		}
		if d == c.opener {
			if !syn {
				c.openerWent = true
			}
			continue
		}
		if !c.replied {
			c.replied = true
			if syn && ack {
				if c.openerWent {
					h.Late++
				} else {
					h.Answered++
				}
			}
		}
	}
	return h
}
