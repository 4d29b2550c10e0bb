package postgen

import "github.com/netshare-go/netshare/encoding"

// Port keys with tail classes. A port from 1024 up is keyed by its range
// (portKey) in the port-pair, port-size and label cells, whether it is a
// port of the vocabulary that many flows use or a one-off port of one
// flow: the cells could not tell a scanner's fixed source port sending to
// one-off destinations from a client's one-off port sending to a service.
// On `ctu-normal-40-day1` the synthetic trace sent 199 records from the
// scanner's port to port 443, a pair the real trace never holds (the real
// scanner's flows all go to one-off ports), and labelled them benign with
// port 443's other records.
//
// PortKeys.TailKeys keys a port that the schema's tail classes hold
// (encoding.TailPorts: ports of fewer flows than word2vec.tail_port_flows,
// a real one or its class's token) by its class's range instead, apart
// from the ports of the same range that are in the vocabulary. Counts
// carry the flag (counted before it, they key as they were counted) and
// are bound to the schema's tail classes before use (Bind).
type PortKeys struct {
	TailKeys bool `json:"tail_keys,omitempty"`
	keys     keyer
}

// Bind sets the tail classes the ports are keyed by, the schema's: before
// counting and before use.
func (pk *PortKeys) Bind(t *encoding.TailPorts) { pk.keys = pk.with(t) }

// addCell adds w to cell of protocol proto in cells, made as needed.
func addCell(cells *map[uint8]map[uint32]float64, proto uint8, cell uint32, w float64) {
	if *cells == nil {
		*cells = map[uint8]map[uint32]float64{}
	}
	c := (*cells)[proto]
	if c == nil {
		c = map[uint32]float64{}
		(*cells)[proto] = c
	}
	c[cell] += w
}

// Keys of the tail classes' ranges: keyTail + the index in
// encoding.TailRanges.
const keyTail = 1026

// keyer keys ports: with tail classes, as PortKeys.TailKeys says; without
// (nil), by portKey.
type keyer struct{ tail *encoding.TailPorts }

// with returns the keyer of pk for the tail classes t.
func (pk PortKeys) with(t *encoding.TailPorts) keyer {
	if !pk.TailKeys {
		return keyer{}
	}
	return keyer{t}
}

// key returns the key of port p of a flow of protocol proto.
func (k keyer) key(proto uint8, p uint16) uint32 {
	if r, ok := k.tail.TailRangeOf(proto, p); ok {
		return keyTail + uint32(r)
	}
	return portKey(p)
}

// cell returns the port-pair cell (PortPairCell) of a flow of protocol
// proto from sp to dp under k.
func (k keyer) cell(proto uint8, sp, dp uint16) uint32 {
	c := k.key(proto, sp)<<11 | k.key(proto, dp)
	if sp == dp && sp >= 1024 {
		c |= sameBit
	}
	return c
}
