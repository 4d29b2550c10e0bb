package postgen

import (
	"cmp"
	"slices"

	"github.com/netshare-go/netshare/encoding"
)

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
	// HeavyFlows, when set, keys each port from 1024 up that at least
	// this many flows use, as source and destination port together, by
	// itself (the heaviest maxHeavyPorts of them); counts without it key
	// such ports by their range, as they were counted.
	HeavyFlows float64 `json:"heavy_flows,omitempty"`
	keys       keyer
}

// Bind sets the tail classes and the heavy ports the ports are keyed by,
// the schema's: before counting and before use.
func (pk *PortKeys) Bind(s *encoding.Schema) { pk.bind(s.TailPorts, s.PortFlows()) }

// bind is Bind with the tail classes t and the flows per port.
func (pk *PortKeys) bind(t *encoding.TailPorts, portFlows map[uint16]float64) {
	pk.keys = pk.with(t)
	pk.keys.heavy = heavyKeys(portFlows, pk.HeavyFlows)
}

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

// Heavy ports. Keyed by its range, a port from 1024 up that many flows
// use shares its cells with every other port of the range: a scanner's
// fixed source port with the clients' ports. On `ctu-normal-40-day1` the
// scanner's port 52496 sends 817 real records, all malicious probes to
// one-off destinations, while its synthetic records went to ports 443
// and 8883 as the clients' do, which the cells (dynamic range → 443) hold
// by the thousand: neither the port pairs nor ports given sizes could
// tell them from a client's. A port at least
// PortKeys.HeavyFlows flows use is keyed by itself (keyHeavy + its rank
// among the heavy ports, by port number), the heaviest maxHeavyPorts of
// them; the tail classes' keys come first, so a class's token, which
// stands for many flows, keeps its class's key.
const (
	keyHeavy      = keyTail + 4 // after the tail ranges' keys
	maxHeavyPorts = 512         // keys stay below 2¹¹ (PortPairCell)
)

// HeavyPortFlows is the fewest flows that key a port by itself
// (PortKeys.HeavyFlows) in the counts pre-processing makes.
const HeavyPortFlows = 30

// heavyKeys returns the keys of the heavy ports among portFlows: the
// ports from 1024 up of at least minFlows flows, the heaviest
// maxHeavyPorts (ties to the lower port), keyed in port order. None when
// minFlows is 0.
func heavyKeys(portFlows map[uint16]float64, minFlows float64) map[uint16]uint32 {
	if minFlows <= 0 {
		return nil
	}
	var ports []uint16
	for p, n := range portFlows {
		if p >= 1024 && n >= minFlows {
			ports = append(ports, p)
		}
	}
	slices.SortFunc(ports, func(a, b uint16) int {
		if c := cmp.Compare(portFlows[b], portFlows[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	ports = ports[:min(len(ports), maxHeavyPorts)]
	slices.Sort(ports)
	out := make(map[uint16]uint32, len(ports))
	for i, p := range ports {
		out[p] = keyHeavy + uint32(i)
	}
	return out
}

// keyer keys ports: with tail classes, as PortKeys.TailKeys says; without
// (nil), by portKey; heavy ports (heavyKeys) by themselves.
type keyer struct {
	tail  *encoding.TailPorts
	heavy map[uint16]uint32
}

// with returns the keyer of pk for the tail classes t.
func (pk PortKeys) with(t *encoding.TailPorts) keyer {
	if !pk.TailKeys {
		return keyer{}
	}
	return keyer{tail: t}
}

// key returns the key of port p of a flow of protocol proto.
func (k keyer) key(proto uint8, p uint16) uint32 {
	if r, ok := k.tail.TailRangeOf(proto, p); ok {
		return keyTail + uint32(r)
	}
	if k, ok := k.heavy[p]; ok {
		return k
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
