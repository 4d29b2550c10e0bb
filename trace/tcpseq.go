package trace

import "github.com/netshare-go/netshare/internal/splitmix"

// TCP sequence numbering. A record holds no sequence or acknowledgement
// number (the readers do not keep them, and the model does not generate
// them), so the pcap writer numbers each connection's segments itself, as
// the two ends of a real connection would: each direction starts at its
// own initial sequence number and advances by every segment's payload
// (the IP total length less the headers: 20 bytes each, and a SYN's
// options, see tcpOptionLen), one more for a SYN and one for a FIN; a segment with the ACK flag acknowledges everything
// the other direction has sent so far in the file. With all numbers 0, as
// before, every data segment after a connection's first looked to a
// protocol analyser like a segment sent out of order or again (tshark
// marked a third of the TCP packets of a synthetic CAIDA capture so).
//
// A SYN sent again before any other segment keeps the first one's
// sequence number, and a FIN sent again with no data its own, as
// retransmissions do. The initial
// sequence number mixes the connection's 5-tuple and direction with its
// first packet's time in 4 µs ticks (RFC 793's clock; RFC 6528 adds the
// hash), so it is deterministic and not the same from one use of a
// 5-tuple to the next. A connection idle for tcpIdle of trace time is
// forgotten (the writer's memory holds the connections of the last hour,
// whatever the file's length); a later segment starts it again.

// tcpIdle is how long, in µs of trace time, a connection without
// segments is remembered.
const tcpIdle = 3600 * 1_000_000

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
}

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
	end  [2]tcpEnd
	last int64
}

// tcpSeq numbers TCP segments, in the order written.
type tcpSeq struct {
	conns  map[Key]*tcpConn
	n      int
	latest int64
}

// canonical returns the connection's key (the lower address and port
// first) and the direction of k within it.
func canonical(k Key) (Key, int) {
	if k.Src < k.Dst || (k.Src == k.Dst && k.SrcPort <= k.DstPort) {
		return k, 0
	}
	return Key{Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort, Proto: k.Proto}, 1
}

// next returns the sequence and acknowledgement numbers of TCP segment p,
// which carries payload bytes of data, and counts it.
func (s *tcpSeq) next(p *Packet, payload int) (seq, ack uint32) {
	if s.conns == nil {
		s.conns = map[Key]*tcpConn{}
	}
	s.latest = max(s.latest, p.TS)
	if s.n++; s.n%tcpSweepEvery == 0 {
		for k, c := range s.conns {
			if s.latest-c.last > tcpIdle {
				delete(s.conns, k)
			}
		}
	}
	key, d := canonical(p.Key())
	c := s.conns[key]
	if c == nil {
		c = &tcpConn{}
		s.conns[key] = c
	}
	c.last = p.TS
	e, o := &c.end[d], &c.end[1-d]
	e.start(key, d, p.TS)
	n := uint32(max(0, payload))
	syn, fin := p.TCPFlags&0x02 != 0, p.TCPFlags&0x01 != 0
	switch {
	case syn && e.synOnly:
		seq = e.isn // the SYN again (with data, what the first lacked)
		e.sent = max(e.sent, 1+n)
	case fin && e.fin && n == 0 && e.finSeq+1 == e.isn+e.sent:
		seq = e.finSeq // the FIN again
	default:
		seq = e.isn + e.sent
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
	if p.TCPFlags&0x10 != 0 {
		// Before the other end's first segment, what it will start at:
		// its initial sequence number, fixed now.
		o.start(key, 1-d, p.TS)
		ack = o.isn + o.sent
	}
	return seq, ack
}
