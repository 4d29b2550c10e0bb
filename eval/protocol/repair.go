package protocol

import (
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/internal/splitmix"
	"github.com/netshare-go/netshare/trace"
)

// RepairOptions control RepairPackets and RepairFlows.
type RepairOptions struct {
	// Seed drives the draws that replace invalid ports, ICMP types and
	// addresses.
	Seed uint64
	// Skip names checks whose violations are left as they are.
	Skip []string
	// Leave gives, per check name, the probability that a flow violating
	// the check is left as it is: a synthetic trace imitating a real one
	// that often fails a check is repaired down to the real trace's
	// failure share (see [Side.Failing] and [LeaveRate]), not to none.
	// The choice is per flow, from a hash of the seed and the 5-tuple, so
	// that all of a packet flow's packets are left or repaired together;
	// in a flow trace, per record (the records of a 5-tuple are separate
	// connections, and a per-5-tuple choice would miss the share on a
	// trace of few 5-tuples). The hash is the same for every check: a
	// flow left failing the check of a smaller share is one left failing
	// those of larger shares too, as real failures come together in the
	// same flows (a TTL experiment's flows fail both TTL stability and IP
	// id steps), where drawn per check they would spread over more flows
	// and fewer flows would pass all checks than in the real trace.
	Leave map[string]float64
	// LeaveSeed, when not zero, seeds the choice of Leave instead of
	// Seed: a trace repaired in parts (block by block) gives every part
	// the same LeaveSeed, so that a flow spread over several parts is left
	// or repaired as a whole.
	LeaveSeed uint64
	// Prior holds, for packet flows whose earlier packets were repaired
	// before (a flow generated in parts, block by block or chunk by
	// chunk), what those packets left: the flow's TTL and its last IP id
	// carry over, so that the checks over the whole flow pass (see
	// UpdateFlowStates).
	Prior map[trace.Key]FlowState
}

// FlowState is what a packet flow's earlier packets leave to the repair
// of its later ones: the TTL of its first packet, the IP id of its last,
// and, for TCP, whether a packet without SYN (NonSyn) or a RST has been
// seen.
type FlowState struct {
	TTL         uint8
	ID          uint16
	NonSyn, Rst bool
}

// UpdateFlowStates records in states, for the flows of pkts (in time
// order) that keep accepts, the TTL of each flow's first packet (unless
// states holds the flow already), the IP id of its last, and whether a TCP
// packet without SYN or a RST has been seen.
func UpdateFlowStates(pkts []trace.Packet, states map[trace.Key]FlowState, keep func(trace.Key) bool) {
	for i := range pkts {
		p := &pkts[i]
		if p.FragOff != 0 && (hasPorts(p.Proto) || p.Proto == trace.ProtoICMP) {
			continue // later fragments keep zero ports: not the flow's key
		}
		k := p.Key()
		st, ok := states[k]
		if !ok {
			if !keep(k) {
				continue
			}
			st.TTL = p.TTL
		}
		st.ID = p.ID
		if p.Proto == trace.ProtoTCP {
			st.NonSyn = st.NonSyn || p.TCPFlags&trace.TCPSyn == 0
			st.Rst = st.Rst || p.TCPFlags&trace.TCPRst != 0
		}
		states[k] = st
	}
}

// Repairs counts, per check name, the records a repair changed.
type Repairs map[string]int64

func (o RepairOptions) on(name string) bool { return !slices.Contains(o.Skip, name) }

// fix reports whether a violation of check name by the flow of key k
// (record number rec of a flow trace; −1 for a packet flow) is repaired:
// the check is not skipped, and the flow is not one Leave leaves.
func (o RepairOptions) fix(name string, k trace.Key, rec int) bool {
	if !o.on(name) {
		return false
	}
	p := o.Leave[name]
	switch {
	case p <= 0:
		return true
	case p >= 1:
		return false
	}
	seed := o.Seed
	if o.LeaveSeed != 0 {
		seed = o.LeaveSeed
	}
	return k.Uniform(seed^splitmix.Mix(uint64(rec+1))) >= p
}

// Leaver chooses which violating flows a repair leaves as they are, by
// count rather than by rate: drawn flow by flow at a fixed rate, the flows
// left vary with the coins (a capture of 600 flows half of which fail a
// check leaves 300 ± 12), where the real share is to be met within a
// point. It holds, per check, the coins of the flows that fail it.
type Leaver struct {
	flows int64
	coins map[string][]float64 // sorted
}

// PacketLeaver returns the Leaver of pkts' flows, their failures judged
// as PacketsAfter judges them (prior), their coins seeded by seed (the
// RepairOptions.LeaveSeed, or else Seed, of the repair to come).
func PacketLeaver(pkts []trace.Packet, prior map[trace.Key]FlowState, seed uint64) *Leaver {
	s, keys, masks := packetsAfter(pkts, prior)
	return newLeaver(packetChecks, s.Flows, masks, func(i int) float64 { return keys[i].Uniform(seed ^ splitmix.Mix(0)) })
}

// FlowLeaver is PacketLeaver for a flow trace, whose choice is per record
// (see RepairOptions.Leave).
func FlowLeaver(flows []trace.Flow, seed uint64) *Leaver {
	masks := make([]uint32, len(flows))
	for i := range flows {
		masks[i] = flowFailures(&flows[i])
	}
	return newLeaver(flowChecks, int64(len(flows)), masks, func(i int) float64 { return flows[i].Key().Uniform(seed ^ splitmix.Mix(uint64(i+1))) })
}

func newLeaver(defs []checkDef, flows int64, masks []uint32, coinOf func(int) float64) *Leaver {
	l := &Leaver{flows: flows, coins: map[string][]float64{}}
	for i, m := range masks {
		if m == 0 {
			continue
		}
		c := coinOf(i)
		for _, d := range defs {
			if m&d.bit != 0 {
				l.coins[d.Name] = append(l.coins[d.Name], c)
			}
		}
	}
	for _, cs := range l.coins {
		slices.Sort(cs)
	}
	return l
}

// Flows is the number of flows (records of a flow trace).
func (l *Leaver) Flows() int64 { return l.flows }

// Failing is the number of flows failing check name.
func (l *Leaver) Failing(name string) int64 { return int64(len(l.coins[name])) }

// Leave returns the Leave probabilities (RepairOptions.Leave) that leave
// exactly want[c] of the flows failing check c as they are, those whose
// coins are lowest: all of them when want[c] is at least their number,
// none when it is 0 or less.
func (l *Leaver) Leave(want map[string]int64) map[string]float64 {
	out := make(map[string]float64, len(want))
	for name, n := range want {
		cs := l.coins[name]
		switch {
		case n <= 0:
			out[name] = 0
		case n >= int64(len(cs)):
			out[name] = 1
		default:
			out[name] = cs[n] // fix leaves a flow whose coin is below it
		}
	}
	return out
}

// LeaveRate is the probability of leaving a flow that violates a check
// unrepaired that brings a trace failing it for share of its flows down
// to target: target over share, and 1 (leave every violation) when the
// trace fails it no more often than target.
func LeaveRate(target, share float64) float64 {
	if share <= target {
		return 1
	}
	return target / share
}

// checksFor returns the check definitions of a kind ("packets" or
// "flows").
func checksFor(kind string) []checkDef {
	if kind == "packets" {
		return packetChecks
	}
	return flowChecks
}

// Failing returns, for the checks that fewer than share of the side's
// flows pass, the share of flows that fail each: the targets a repair of
// a synthetic trace imitating this one repairs down to (LeaveRate).
func (s *Side) Failing(kind string, share float64) map[string]float64 {
	out := map[string]float64{}
	for i, d := range checksFor(kind) {
		if i < len(s.FailedFlows) && 1-ratio(s.FailedFlows[i], s.Flows) < share {
			out[d.Name] = ratio(s.FailedFlows[i], s.Flows)
		}
	}
	return out
}

// Failed returns the number of the side's flows failing each check, by
// name, for a trace of the given kind.
func (s *Side) Failed(kind string) map[string]int64 {
	defs := checksFor(kind)
	out := make(map[string]int64, len(defs))
	for i, d := range defs {
		if i < len(s.FailedFlows) {
			out[d.Name] = s.FailedFlows[i]
		}
	}
	return out
}

// pools holds, per field, the trace's own valid values (one entry per
// record), from which invalid values are redrawn so that the repaired
// trace keeps the valid part of each marginal.
type pools struct {
	src, dst         []uint32
	srcPort, dstPort map[uint8][]uint16 // TCP and UDP, nonzero
	icmp             []uint16           // defined ICMP type·256+code
}

func (p *pools) add(k trace.Key) {
	if SrcAddrValid(k.Src) {
		p.src = append(p.src, k.Src)
	}
	if DstAddrValid(k.Dst) {
		p.dst = append(p.dst, k.Dst)
	}
	switch {
	case hasPorts(k.Proto):
		if k.SrcPort != 0 {
			p.srcPort[k.Proto] = append(p.srcPort[k.Proto], k.SrcPort)
		}
		if k.DstPort != 0 {
			p.dstPort[k.Proto] = append(p.dstPort[k.Proto], k.DstPort)
		}
	case k.Proto == trace.ProtoICMP && icmpValid(k.DstPort):
		p.icmp = append(p.icmp, k.DstPort)
	}
}

func draw[T any](r *rand.Rand, pool []T, old T) (T, bool) {
	if len(pool) == 0 {
		return old, false
	}
	return pool[r.IntN(len(pool))], true
}

// repairKey returns k with its ports, ICMP type and addresses made valid
// (as far as the pools allow), counting each change in rep; rec is the
// record's number in a flow trace, −1 for a packet flow (see fix); frag
// marks the key of later fragments (see commonFailures).
func (p *pools) repairKey(k trace.Key, r *rand.Rand, opt RepairOptions, rep Repairs, weight int64, rec int, frag bool) trace.Key {
	m := commonFailures(k, frag)
	orig := k
	if m&bPorts != 0 && opt.fix(CheckPorts, orig, rec) {
		switch {
		case hasPorts(k.Proto):
			if k.SrcPort == 0 {
				k.SrcPort, _ = draw(r, p.srcPort[k.Proto], k.SrcPort)
			}
			if k.DstPort == 0 {
				k.DstPort, _ = draw(r, p.dstPort[k.Proto], k.DstPort)
			}
		case k.Proto == trace.ProtoICMP:
			k.SrcPort = 0
		default:
			k.SrcPort, k.DstPort = 0, 0
		}
		rep[CheckPorts] += weight
	}
	if m&bICMP != 0 && opt.fix(CheckICMP, orig, rec) {
		if v, ok := draw(r, p.icmp, k.DstPort); ok {
			k.DstPort = v
		} else {
			k.DstPort = 8 << 8 // echo request
		}
		rep[CheckICMP] += weight
	}
	if m&bSrcAddr != 0 && opt.fix(CheckSrcAddr, orig, rec) {
		var ok bool
		if k.Src, ok = draw(r, p.src, k.Src); ok {
			rep[CheckSrcAddr] += weight
		}
	}
	if m&bDstAddr != 0 && opt.fix(CheckDstAddr, orig, rec) {
		var ok bool
		if k.Dst, ok = draw(r, p.dst, k.Dst); ok {
			rep[CheckDstAddr] += weight
		}
	}
	if k.Src == k.Dst && opt.fix(CheckAddrDistinct, orig, rec) {
		var ok bool
		if k.Dst, ok = drawOther(r, p.dst, k.Dst); ok {
			rep[CheckAddrDistinct] += weight
		} else if k.Src, ok = drawOther(r, p.src, k.Src); ok {
			rep[CheckAddrDistinct] += weight
		}
	}
	return k
}

// drawOther draws from pool a value other than old, giving up (old,
// false) after otherTries draws: a pool of old alone, or nearly, has no
// other value to give.
func drawOther[T comparable](r *rand.Rand, pool []T, old T) (T, bool) {
	if len(pool) == 0 {
		return old, false
	}
	for range otherTries {
		if v := pool[r.IntN(len(pool))]; v != old {
			return v, true
		}
	}
	return old, false
}

// otherTries bounds drawOther's draws.
const otherTries = 32

// repairTCPFlags makes f a legal flag combination: empty becomes ACK, SYN
// loses FIN and RST, and ACK is added to anything but a SYN or a RST.
func repairTCPFlags(f uint8) uint8 {
	if f&trace.TCPSyn != 0 {
		f &^= trace.TCPFin | trace.TCPRst
	}
	if f&(trace.TCPSyn|trace.TCPRst) == 0 {
		f |= trace.TCPAck
	}
	return f
}

// RepairPackets returns a copy of pkts in which violations of the protocol
// checks are repaired, and how many packets each repair changed. The
// order of the packets is kept. Repairs, in order:
//
//   - fragment: the reserved and undefined flag bits are cleared; a packet
//     whose fragment fields are still inconsistent, or that is a later
//     fragment of a TCP, UDP or ICMP flow with ports, becomes unfragmented
//     (offset 0, MF clear);
//   - ip_length, mtu: the length is raised to the headers or lowered to
//     9000;
//   - tcp_flags: see repairTCPFlags; other protocols lose their flags;
//   - ports, icmp_type, src_addr, dst_addr: per flow (5-tuple), an invalid
//     port, ICMP type/code or address is replaced by one drawn from the
//     trace's own valid values in that field (one entry per packet, so the
//     valid part of each marginal is kept), and portless protocols lose
//     their ports; the flow's packets move to the new 5-tuple together;
//   - addr_distinct: per flow, a destination equal to the source is
//     redrawn from the trace's valid destinations other than it (or, when
//     it has no other, the source from its sources);
//   - ttl, ttl_stable: a flow's packets whose TTL is 0 or lies more than 2
//     from the flow's most common nonzero TTL take that TTL (64 if all are
//     0);
//   - time_order: a flow's timestamps are sorted among its packets (the
//     multiset of timestamps is unchanged);
//   - tcp_order: a flow's TCP flag values are reordered, SYN-bearing ones
//     first and RST-bearing ones last, otherwise in their order (the
//     multiset of flag values is unchanged);
//   - ip_id: an id that does not step forward by less than 2048 from the
//     previous packet's becomes the previous id plus 1;
//   - syn_length: after tcp_order (whose moved SYNs take the lengths of
//     the packets they move to), a SYN longer than 80 bytes trades
//     lengths with a TCP packet without SYN of at most 80 bytes, the one
//     nearest a length drawn from the trace's valid SYNs (60 when there
//     are none): of its own flow (the flow keeps its lengths), or else of
//     the whole trace (the trace keeps its lengths, and their pairs with
//     the protocol); with none left, it takes the drawn length.
//
// Protocol numbers are not changed (proto_valid is reported, not
// repaired), and a draw needs a valid value of the field somewhere in the
// trace. Checks named in opt.Skip are left alone, as are the flows
// opt.Leave leaves.
func RepairPackets(pkts []trace.Packet, opt RepairOptions) ([]trace.Packet, Repairs) {
	out := slices.Clone(pkts)
	rep := Repairs{}
	r := rand.New(rand.NewPCG(opt.Seed, 0x70726f746f))
	// Per-packet fields.
	for i := range out {
		p := &out[i]
		k := p.Key()
		if opt.fix(CheckFragment, k, -1) {
			// A later fragment cannot carry ports.
			ported := p.FragOff != 0 && (hasPorts(p.Proto) || p.Proto == trace.ProtoICMP) && (p.SrcPort != 0 || p.DstPort != 0)
			if ported || packetFailures(p)&bFragment != 0 {
				p.Flags &= 3
				if ported || packetFailures(p)&bFragment != 0 {
					p.FragOff, p.Flags = 0, p.Flags&2
				}
				rep[CheckFragment]++
			}
		}
		m := packetFailures(p)
		if m&(bIPLength|bMTU) != 0 {
			if m&bIPLength != 0 && opt.fix(CheckIPLength, k, -1) {
				h := 20
				if p.FragOff == 0 {
					h = minHeader(p.Proto)
				}
				p.Len = uint16(h)
				rep[CheckIPLength]++
			}
			if m&bMTU != 0 && opt.fix(CheckMTU, k, -1) {
				p.Len = MTU
				rep[CheckMTU]++
			}
		}
		if m&bTCPFlags != 0 && opt.fix(CheckTCPFlags, k, -1) {
			if p.Proto == trace.ProtoTCP && p.FragOff == 0 {
				p.TCPFlags = repairTCPFlags(p.TCPFlags)
			} else {
				p.TCPFlags = 0
			}
			rep[CheckTCPFlags]++
		}
	}
	// 5-tuples: the pools come from packets whose key the decoder would
	// give them (not later fragments).
	pl := pools{srcPort: map[uint8][]uint16{}, dstPort: map[uint8][]uint16{}}
	for i := range out {
		if out[i].FragOff == 0 {
			pl.add(out[i].Key())
		}
	}
	for _, f := range packetFlows(out) {
		// Later TCP, UDP and ICMP fragments keep their ports: they carry
		// no transport header, so zero ports are right for them.
		keep := func(p *trace.Packet) bool {
			return p.FragOff != 0 && (hasPorts(p.Proto) || p.Proto == trace.ProtoICMP)
		}
		var n int64
		for _, i := range f.idx {
			if !keep(&out[i]) {
				n++
			}
		}
		var nk trace.Key
		if n == 0 {
			// Later fragments alone: their zero ports are right, and
			// their addresses are checked as any packet's.
			nk = pl.repairKey(f.key, r, opt, rep, int64(len(f.idx)), -1, true)
		} else {
			nk = pl.repairKey(f.key, r, opt, rep, n, -1, false)
		}
		if nk == f.key {
			continue
		}
		for _, i := range f.idx {
			p := &out[i]
			p.Src, p.Dst = nk.Src, nk.Dst // later fragments too: same hosts
			if !keep(p) || n == 0 {
				p.SrcPort, p.DstPort = nk.SrcPort, nk.DstPort
			}
		}
	}
	short := newShortPackets(out)
	var synLens []uint16 // the valid SYNs' lengths
	for i := range out {
		if p := &out[i]; plainSYN(p) && int(p.Len) <= SYNMaxLen && int(p.Len) >= minHeader(trace.ProtoTCP) {
			synLens = append(synLens, p.Len)
		}
	}
	// Flows after the key repair, in trace order.
	var ts []int64
	var flags []uint8
	var tcpIdx []int32
	for _, f := range packetFlows(out) {
		if opt.fix(CheckTTL, f.key, -1) || opt.fix(CheckTTLStable, f.key, -1) {
			repairTTL(out, f.key, f.idx, opt, rep)
		}
		if opt.fix(CheckTimeOrder, f.key, -1) {
			ts = ts[:0]
			for _, i := range f.idx {
				ts = append(ts, out[i].TS)
			}
			if !slices.IsSorted(ts) {
				slices.Sort(ts)
				for j, i := range f.idx {
					if out[i].TS != ts[j] {
						out[i].TS = ts[j]
						rep[CheckTimeOrder]++
					}
				}
			}
		}
		if f.key.Proto == trace.ProtoTCP && opt.fix(CheckTCPOrder, f.key, -1) {
			tcpIdx, flags = tcpIdx[:0], flags[:0]
			for _, i := range f.idx {
				if out[i].FragOff == 0 {
					tcpIdx = append(tcpIdx, i)
				}
			}
			for _, class := range []int{0, 1, 2} {
				for _, i := range tcpIdx {
					if flagClass(out[i].TCPFlags) == class {
						flags = append(flags, out[i].TCPFlags)
					}
				}
			}
			// After the flow's earlier packets (opt.Prior): no SYN once a
			// packet without one was seen (a SYN-ACK keeps its ACK, a bare
			// SYN becomes an ACK), nothing but RST once a RST was.
			prior := opt.Prior[f.key]
			for j := range flags {
				switch {
				case prior.Rst:
					flags[j] = trace.TCPRst | flags[j]&trace.TCPAck
				case prior.NonSyn && flags[j]&trace.TCPSyn != 0:
					flags[j] = flags[j]&^trace.TCPSyn | trace.TCPAck
				}
			}
			for j, i := range tcpIdx {
				if out[i].TCPFlags != flags[j] {
					out[i].TCPFlags = flags[j]
					rep[CheckTCPOrder]++
				}
			}
		}
		if f.key.Proto == trace.ProtoTCP && opt.fix(CheckSYNLength, f.key, -1) {
			repairSYNLength(out, f.idx, short, synLens, r, rep)
		}
		if opt.fix(CheckIPID, f.key, -1) {
			if prior, ok := opt.Prior[f.key]; ok && len(f.idx) > 0 {
				if p := &out[f.idx[0]]; p.ID-prior.ID >= IDStep {
					p.ID = prior.ID + 1
					rep[CheckIPID]++
				}
			}
			for j := 1; j < len(f.idx); j++ {
				prev, p := out[f.idx[j-1]].ID, &out[f.idx[j]]
				if p.ID-prev >= IDStep {
					p.ID = prev + 1
					rep[CheckIPID]++
				}
			}
		}
	}
	return out, rep
}

// shortPackets are the packets a SYN too long may trade lengths with: TCP
// packets without SYN, not fragments, of at most SYNMaxLen bytes, by
// length.
type shortPackets struct {
	byLen [SYNMaxLen + 1][]int32 // not yet traded, in no order
	at    map[int32]int          // position in its length's list
}

func newShortPackets(out []trace.Packet) *shortPackets {
	s := &shortPackets{at: map[int32]int{}}
	for i := range out {
		if q := &out[i]; shortPacket(q) {
			s.at[int32(i)] = len(s.byLen[q.Len])
			s.byLen[q.Len] = append(s.byLen[q.Len], int32(i))
		}
	}
	return s
}

func shortPacket(q *trace.Packet) bool {
	return q.Proto == trace.ProtoTCP && q.TCPFlags&trace.TCPSyn == 0 && q.FragOff == 0 && q.Flags&1 == 0 && int(q.Len) <= SYNMaxLen
}

// take removes packet i, of length l when added, from the set.
func (s *shortPackets) take(i int32, l uint16) {
	j, ok := s.at[i]
	if !ok {
		return
	}
	list := s.byLen[l]
	last := list[len(list)-1]
	list[j], s.at[last] = last, j
	s.byLen[l] = list[:len(list)-1]
	delete(s.at, i)
}

// nearest returns a packet of the set whose length is nearest want (a
// random one of that length), skipping, and removing, those that are no
// longer short packets; −1 when none is left.
func (s *shortPackets) nearest(out []trace.Packet, want int, r *rand.Rand) int32 {
	for d := 0; d <= SYNMaxLen; d++ {
		for _, l := range []int{want - d, want + d}[:min(2, d+1)] { // want itself once
			if l < 0 || l > SYNMaxLen {
				continue
			}
			for len(s.byLen[l]) > 0 {
				i := s.byLen[l][r.IntN(len(s.byLen[l]))]
				if shortPacket(&out[i]) && int(out[i].Len) == l {
					return i
				}
				// The repair of the flows before made it a SYN
				// (tcp_order): no longer one to trade with.
				s.take(i, uint16(l))
			}
		}
	}
	return -1
}

// repairSYNLength gives each SYN of one TCP flow (packets idx of out)
// longer than SYNMaxLen the length of a short packet (short), and that
// packet the SYN's length: the one of the flow's own whose length is
// nearest a length drawn from the trace's valid SYNs (pool; 60 when it is
// empty), or else the one of the trace's so nearest, so that the trace's
// lengths, and their pairs with the protocol, stay, and the SYNs take
// lengths of SYNs (a SYN of 40 bytes offers no options, and one of 60 the
// usual ones). With no short packet left, the SYN takes the drawn length.
func repairSYNLength(out []trace.Packet, idx []int32, short *shortPackets, pool []uint16, r *rand.Rand, rep Repairs) {
	for _, i := range idx {
		p := &out[i]
		if !synTooLong(p) {
			continue
		}
		want, _ := draw(r, pool, 60)
		best := int32(-1)
		dist := func(j int32) int { return max(int(out[j].Len)-int(want), int(want)-int(out[j].Len)) }
		for _, j := range idx {
			if shortPacket(&out[j]) && (best < 0 || dist(j) < dist(best)) {
				best = j
			}
		}
		if best < 0 {
			best = short.nearest(out, int(want), r)
		}
		if best >= 0 {
			short.take(best, out[best].Len)
			p.Len, out[best].Len = out[best].Len, p.Len
		} else {
			p.Len = want
		}
		rep[CheckSYNLength]++
	}
}

// flagClass orders TCP flag values for the handshake: SYN-bearing first
// (0), RST-bearing last (2), the rest between (1).
func flagClass(f uint8) int {
	switch {
	case f&trace.TCPSyn != 0:
		return 0
	case f&trace.TCPRst != 0:
		return 2
	}
	return 1
}

// repairTTL gives the packets of one flow whose TTL is 0 or far from the
// flow's most common nonzero TTL that TTL; for a flow whose earlier
// packets were repaired before (opt.Prior), the TTL of its first.
func repairTTL(out []trace.Packet, k trace.Key, idx []int32, opt RepairOptions, rep Repairs) {
	var counts [256]int32
	mode := uint8(0)
	for _, i := range idx {
		t := out[i].TTL
		counts[t]++
		if t != 0 && (mode == 0 || counts[t] > counts[mode]) {
			mode = t
		}
	}
	if prior, ok := opt.Prior[k]; ok && prior.TTL != 0 {
		mode = prior.TTL
	}
	if mode == 0 {
		mode = 64
	}
	for _, i := range idx {
		p := &out[i]
		d := int(p.TTL) - int(mode)
		switch {
		case p.TTL == 0 && opt.fix(CheckTTL, k, -1):
			p.TTL = mode
			rep[CheckTTL]++
		case p.TTL != 0 && (d > TTLSpread || d < -TTLSpread) && opt.fix(CheckTTLStable, k, -1):
			p.TTL = mode
			rep[CheckTTLStable]++
		}
	}
}

// RepairFlows returns a copy of flows in which violations of the protocol
// checks are repaired, and how many records each repair changed:
//
//   - ports, icmp_type, src_addr, dst_addr, addr_distinct: as for packets (values drawn
//     from the trace's own valid values of the field, one entry per record);
//   - tcp_flags: a TCP record with FIN, PSH or URG but no ACK gains ACK;
//     other protocols lose their flags;
//   - flow_packets: 0 packets become 1;
//   - flow_bytes: bytes are clamped into [packets × header, packets × 65535];
//   - flow_duration: a negative duration, or a nonzero one with one packet,
//     becomes 0.
//
// Protocol numbers are not changed. Checks named in opt.Skip are left
// alone, as are the records opt.Leave leaves.
func RepairFlows(flows []trace.Flow, opt RepairOptions) ([]trace.Flow, Repairs) {
	out := slices.Clone(flows)
	rep := Repairs{}
	r := rand.New(rand.NewPCG(opt.Seed, 0x70726f746f))
	pl := pools{srcPort: map[uint8][]uint16{}, dstPort: map[uint8][]uint16{}}
	for i := range out {
		pl.add(out[i].Key())
	}
	for i := range out {
		f := &out[i]
		k := f.Key()
		if nk := pl.repairKey(k, r, opt, rep, 1, i, false); nk != k {
			f.Src, f.Dst, f.SrcPort, f.DstPort = nk.Src, nk.Dst, nk.SrcPort, nk.DstPort
		}
		m := flowFailures(f)
		if m&bTCPFlags != 0 && opt.fix(CheckTCPFlags, k, i) {
			if f.Proto == trace.ProtoTCP {
				f.TCPFlags |= trace.TCPAck
			} else {
				f.TCPFlags = 0
			}
			rep[CheckTCPFlags]++
		}
		if m&bFlowPackets != 0 && opt.fix(CheckFlowPackets, k, i) {
			f.Packets = 1
			rep[CheckFlowPackets]++
		}
		if f.Packets > 0 && flowFailures(f)&bFlowBytes != 0 && opt.fix(CheckFlowBytes, k, i) {
			h := uint64(minHeader(f.Proto))
			lo, hi := satMul(f.Packets, h), satMul(f.Packets, 65535)
			f.Bytes = min(max(f.Bytes, lo), hi)
			rep[CheckFlowBytes]++
		}
		if flowFailures(f)&bFlowDuration != 0 && opt.fix(CheckFlowDuration, k, i) {
			f.Dur = 0
			rep[CheckFlowDuration]++
		}
	}
	return out, rep
}

// satMul is a·b, saturating at the largest uint64.
func satMul(a, b uint64) uint64 {
	if b != 0 && a > ^uint64(0)/b {
		return ^uint64(0)
	}
	return a * b
}

// packetFlow is one 5-tuple's packets: their indices in the trace, in
// trace order.
type packetFlow struct {
	key trace.Key
	idx []int32
}

// packetFlows groups a packet trace by 5-tuple, flows in the order of
// their first packet.
func packetFlows(pkts []trace.Packet) []packetFlow {
	index := map[trace.Key]int32{}
	var flows []packetFlow
	for i := range pkts {
		k := pkts[i].Key()
		j, ok := index[k]
		if !ok {
			j = int32(len(flows))
			index[k] = j
			flows = append(flows, packetFlow{key: k})
		}
		flows[j].idx = append(flows[j].idx, int32(i))
	}
	return flows
}
