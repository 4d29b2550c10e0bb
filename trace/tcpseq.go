package trace

import "github.com/netshare-go/netshare/internal/splitmix"

// TCP sequence numbering. A record holds no sequence or acknowledgement
// number (the readers do not keep them, and the model does not generate
// them), so the pcap writer numbers each connection's segments itself, as
// the two ends of a real connection would: each direction starts at its
// own initial sequence number and advances by every segment's payload
// (the IP total length less the headers: 20 bytes each, and the options,
// a SYN's (tcpOptionLen) or the timestamps below), one more for a SYN and
// one for a FIN; a segment with the ACK flag acknowledges everything
// the other direction has sent so far in the file. With all numbers 0 (as
// written until 2026-12), every data segment after a connection's first
// looked to a protocol analyser like a segment sent out of order or again
// (tshark marked a third of the TCP packets of a synthetic CAIDA capture
// so).
//
// Timestamps (RFC 7323): a SYN with room for them in its options
// (synTimestampLen) offers them, and once an end has offered them and the
// other end's SYN, where in the file, did too, every other segment of the
// end with at least 12 bytes past the headers carries them (two
// no-operations and the option): a 52-byte segment of a Linux connection
// is an acknowledgement, not 12 bytes of data. The values are a
// millisecond clock per end, each echoing the other's last.
//
// A SYN sent again before any other segment keeps the first one's
// sequence number, and a FIN sent again with no data its own, as
// retransmissions do. The initial sequence number mixes the connection's
// 5-tuple and direction with its first packet's time in 4 µs ticks (RFC
// 793's clock; RFC 6528 adds the hash), so it is deterministic and not the
// same from one use of a 5-tuple to the next. A connection idle for tcpIdle of trace time is
// forgotten, or for tcpClosedIdle once closed (the writer's memory holds
// the connections of the last hour, whatever the file's length); a later
// segment starts it again.

// tcpIdle is how long, in µs of trace time, a connection without
// segments is remembered, and tcpClosedIdle one closed (a RST, or a FIN
// from each end).
const (
	tcpIdle       = 3600 * 1_000_000
	tcpClosedIdle = 60 * 1_000_000
)

// tcpSweepEvery is how many TCP segments pass between sweeps for idle
// connections.
const tcpSweepEvery = 1 << 16

// tcpEnd is one direction of a connection.
type tcpEnd struct {
	isn  uint32
	sent uint32 // sequence space used: payload bytes, SYN and FIN
	// synOnly: the end has sent SYNs and nothing else. finSeq is the
	// sequence number of its last FIN.
	synOnly, fin, started bool
	finSeq                uint32
	// ts: the end's SYN offered timestamps (1), offered none (−1), or
	// the end has sent no SYN (0). tsVal is its last timestamp value.
	ts    int8
	tsVal uint32
}

// tcpHeader is what the writer puts in a TCP segment's header beyond
// the record's fields.
type tcpHeader struct {
	seq, ack uint32
	// opt is the options' length: a SYN's (tcpOptionLen), or
	// tcpTimestampLen when the segment carries timestamps (tsVal,
	// tsEcr).
	opt          int
	tsVal, tsEcr uint32
}

// tcpTimestampLen is the length of the options of a segment with
// timestamps, after the SYNs: two no-operations and the timestamps.
const tcpTimestampLen = 12

// start gives the end of direction d of connection key its initial
// sequence number, at time ts (µs), if it has none yet.
func (e *tcpEnd) start(key Key, d int, ts int64) {
	if e.started {
		return
	}
	e.started = true
	h := splitmix.Mix(uint64(key.Src)<<32 | uint64(key.Dst))
	h = splitmix.Mix(h ^ uint64(key.SrcPort)<<17 ^ uint64(key.DstPort)<<1 ^ uint64(d))
	e.isn = uint32(h) + uint32(ts/4)
}

type tcpConn struct {
	end    [2]tcpEnd
	last   int64
	closed bool // a RST, or a FIN from each end
}

// tcpSeq numbers TCP segments, in the order written.
type tcpSeq struct {
	conns  map[Key]*tcpConn
	n      int
	latest int64
}

// next returns the header fields of TCP segment p and counts it.
func (s *tcpSeq) next(p *Packet) (h tcpHeader) {
	if s.conns == nil {
		s.conns = map[Key]*tcpConn{}
	}
	s.latest = max(s.latest, p.TS)
	if s.n++; s.n%tcpSweepEvery == 0 {
		for k, c := range s.conns {
			if idle := s.latest - c.last; idle > tcpIdle || (c.closed && idle > tcpClosedIdle) {
				delete(s.conns, k)
			}
		}
	}
	key, d := p.Key().Connection()
	c := s.conns[key]
	if c == nil {
		c = &tcpConn{}
		s.conns[key] = c
	}
	c.last = p.TS
	e, o := &c.end[d], &c.end[1-d]
	e.start(key, d, p.TS)
	syn, fin, rst := p.TCPFlags&TCPSyn != 0, p.TCPFlags&TCPFin != 0, p.TCPFlags&TCPRst != 0
	data := max(int(p.Len), 40) - 40
	switch {
	case syn:
		h.opt = tcpOptionLen(p)
		if e.ts == 0 {
			e.ts = -1
			if h.opt >= synTimestampLen {
				e.ts = 1
			}
		}
	case !rst && e.ts > 0 && o.ts >= 0 && data >= tcpTimestampLen:
		// Timestamps on every segment once the end's SYN offered them
		// and the other end's, where written, did too (RFC 7323).
		h.opt = tcpTimestampLen
	}
	if h.opt >= tcpTimestampLen && e.ts > 0 {
		// A millisecond clock from the end's initial sequence number.
		e.tsVal = e.isn + uint32(p.TS/1000)
		h.tsVal, h.tsEcr = e.tsVal, o.tsVal
		if syn && p.TCPFlags&TCPAck == 0 {
			h.tsEcr = 0
		}
	}
	n := uint32(data - h.opt)
	switch {
	case syn && e.synOnly:
		h.seq = e.isn // the SYN again (with data, what the first lacked)
		e.sent = max(e.sent, 1+n)
	case fin && e.fin && n == 0 && e.finSeq+1 == e.isn+e.sent:
		h.seq = e.finSeq // the FIN again
	default:
		h.seq = e.isn + e.sent
		e.synOnly = syn && e.sent == 0 && !fin
		e.sent += n
		if syn {
			e.sent++
		}
		if fin {
			e.fin, e.finSeq = true, e.isn+e.sent
			e.sent++
		}
	}
	if p.TCPFlags&TCPAck != 0 {
		// Before the other end's first segment, what it will start at:
		// its initial sequence number, fixed now.
		o.start(key, 1-d, p.TS)
		h.ack = o.isn + o.sent
	}
	c.closed = c.closed || rst || (e.fin && o.fin)
	return h
}
