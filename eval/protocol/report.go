package protocol

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"text/tabwriter"

	"github.com/netshare-go/netshare/trace"
)

// Side holds one trace's check results. Flows are 5-tuples in a packet
// trace and records in a flow trace; a flow passes a check when every one
// of its packets does. Checks that do not apply to a record (TCP flags on a
// UDP packet's flow state, say) count as passed.
type Side struct {
	Flows   int64 `json:"flows"`
	Packets int64 `json:"packets,omitempty"` // packet traces only
	// FailedFlows and FailedPackets count, per check (in the order of the
	// kind's check list), the flows and packets that fail it.
	FailedFlows   []int64 `json:"failed_flows"`
	FailedPackets []int64 `json:"failed_packets,omitempty"`
	// AllFlows and AllPackets count the flows and packets that pass every
	// check.
	AllFlows   int64 `json:"all_flows"`
	AllPackets int64 `json:"all_packets,omitempty"`
}

// Packets checks a packet trace (in its order: a flow's packets are taken
// in the order they appear).
func Packets(pkts []trace.Packet) Side { return PacketsAfter(pkts, nil) }

// PacketsAfter checks pkts as Packets does, where some flows began before
// them: a flow prior holds goes on from the state its earlier packets left
// (the TTL of its first packet, the IP id of its last; see
// UpdateFlowStates), so that TTL stability, IP id steps and TCP order are
// judged across the cut, as over the whole flow. (Time order starts
// afresh: prior does not keep the last time.)
func PacketsAfter(pkts []trace.Packet, prior map[trace.Key]FlowState) Side {
	s, _, _ := packetsAfter(pkts, prior)
	return s
}

// packetsAfter is PacketsAfter, also returning each flow's 5-tuple and the
// checks it fails (a mask of their bits), in the order the flows appear.
func packetsAfter(pkts []trace.Packet, prior map[trace.Key]FlowState) (Side, []trace.Key, []uint32) {
	defs := packetChecks
	s := Side{Packets: int64(len(pkts)), FailedPackets: make([]int64, len(defs)), FailedFlows: make([]int64, len(defs))}
	index := make(map[trace.Key]int32)
	var states []flowState
	var keys []trace.Key
	for i := range pkts {
		p := &pkts[i]
		k := p.Key()
		j, ok := index[k]
		if !ok {
			j = int32(len(states))
			index[k] = j
			states = append(states, flowState{})
			keys = append(keys, k)
		}
		st := &states[j]
		first := !ok
		if pr, cont := prior[k]; first && cont && p.FragOff == 0 {
			st.firstTTL, st.lastID, st.lastTS = pr.TTL, pr.ID, p.TS
			st.nonSyn, st.rst = pr.NonSyn, pr.Rst
			first = false
		}
		m := packetFailures(p) | st.next(p, first)
		st.failed |= m
		st.packets++
		if m == 0 {
			s.AllPackets++
			continue
		}
		count(s.FailedPackets, defs, m)
	}
	s.Flows = int64(len(states))
	masks := make([]uint32, len(states))
	for i := range states {
		m := states[i].failed
		masks[i] = m
		if m == 0 {
			s.AllFlows++
		} else {
			count(s.FailedFlows, defs, m)
		}
	}
	return s, keys, masks
}

// Flows checks a flow trace, record by record.
func Flows(flows []trace.Flow) Side {
	defs := flowChecks
	s := Side{Flows: int64(len(flows)), FailedFlows: make([]int64, len(defs))}
	for i := range flows {
		m := flowFailures(&flows[i])
		if m == 0 {
			s.AllFlows++
			continue
		}
		count(s.FailedFlows, defs, m)
	}
	return s
}

// count adds 1 to the counter of each check whose bit is in m.
func count(c []int64, defs []checkDef, m uint32) {
	for i, d := range defs {
		if m&d.bit != 0 {
			c[i]++
			if m &^= d.bit; m == 0 {
				return
			}
		}
	}
	if m != 0 {
		panic(fmt.Sprintf("protocol: failure bits %#x outside the check list", m))
	}
}

// Share is one check's pass rates on one trace: the share of flows and (for
// packet traces) of packets that pass it.
type Share struct {
	Flows   float64  `json:"flows"`
	Packets *float64 `json:"packets,omitempty"`
}

// Row is one check (or "all") with both traces' pass rates.
type Row struct {
	Check
	Real      Share `json:"real"`
	Synthetic Share `json:"synthetic"`
}

// TargetGap is how far the synthetic trace's share of flows passing every
// check may lie below the real trace's.
const TargetGap = 0.01

// Report compares the protocol validity of a synthetic trace with the
// real one's.
type Report struct {
	Kind      string `json:"kind"` // "flows" or "packets"
	Real      Side   `json:"real"`
	Synthetic Side   `json:"synthetic"`
	Checks    []Row  `json:"checks"`
	All       Row    `json:"all"`
	// Pass says whether the synthetic trace's share of flows passing every
	// check is at least the real trace's minus TargetGap.
	Pass bool `json:"pass"`
	// Handshakes, for packet traces, counts both traces' TCP handshakes
	// across the two directions (reported, not judged).
	Handshakes *HandshakeRow `json:"tcp_handshakes,omitempty"`
}

// HandshakeRow is both traces' handshake counts.
type HandshakeRow struct {
	Real      Handshakes `json:"real"`
	Synthetic Handshakes `json:"synthetic"`
}

// ComparePackets checks both packet traces.
func ComparePackets(real, syn []trace.Packet) *Report {
	r := Compare("packets", Packets(real), Packets(syn))
	r.Handshakes = &HandshakeRow{Real: CountHandshakes(real), Synthetic: CountHandshakes(syn)}
	return r
}

// CompareFlows checks both flow traces.
func CompareFlows(real, syn []trace.Flow) *Report {
	return Compare("flows", Flows(real), Flows(syn))
}

// Compare builds the report from both sides' counts, kind being "packets"
// or "flows".
func Compare(kind string, real, syn Side) *Report {
	checks := FlowChecks()
	if kind == "packets" {
		checks = PacketChecks()
	}
	r := &Report{Kind: kind, Real: real, Synthetic: syn}
	for i, c := range checks {
		r.Checks = append(r.Checks, Row{Check: c, Real: real.share(i), Synthetic: syn.share(i)})
	}
	r.All = Row{Check: Check{Name: "all", Description: "every check"}, Real: real.share(-1), Synthetic: syn.share(-1)}
	r.Pass = r.All.Synthetic.Flows >= r.All.Real.Flows-TargetGap
	return r
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

// share returns the pass rates of check i, or of all checks for i < 0.
func (s *Side) share(i int) Share {
	var sh Share
	if i < 0 {
		sh.Flows = ratio(s.AllFlows, s.Flows)
	} else if i < len(s.FailedFlows) {
		sh.Flows = 1 - ratio(s.FailedFlows[i], s.Flows)
	}
	if s.FailedPackets != nil {
		v := ratio(s.AllPackets, s.Packets)
		if i >= 0 && i < len(s.FailedPackets) {
			v = 1 - ratio(s.FailedPackets[i], s.Packets)
		}
		sh.Packets = &v
	}
	return sh
}

// WriteText writes the report as a table.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "protocol validity: share passing (%s)\n", map[bool]string{true: "flows / packets", false: "flow records"}[r.Kind == "packets"])
	fmt.Fprintln(tw, "check\treal\tsynthetic")
	cell := func(s Share) string {
		if s.Packets != nil {
			return fmt.Sprintf("%.2f%% / %.2f%%", 100*s.Flows, 100**s.Packets)
		}
		return fmt.Sprintf("%.2f%%", 100*s.Flows)
	}
	for _, c := range append(r.Checks, r.All) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, cell(c.Real), cell(c.Synthetic))
	}
	mark := map[bool]string{true: "PASS", false: "FAIL"}[r.Pass]
	fmt.Fprintf(tw, "%s: synthetic flows passing every check ≥ real share − %g points\n", mark, 100*TargetGap)
	if h := r.Handshakes; h != nil {
		fmt.Fprintln(tw, "TCP handshakes\topened\tanswered\tlate\treplies to no SYN")
		for _, x := range []struct {
			name string
			h    Handshakes
		}{{"real", h.Real}, {"synthetic", h.Synthetic}} {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", x.name, x.h.Opened, x.h.Answered, x.h.Late, x.h.Unopened)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// failedNames lists the names of the checks in mask m (for messages).
func failedNames(defs []checkDef, m uint32) []string {
	out := make([]string, 0, bits.OnesCount32(m))
	for _, d := range defs {
		if m&d.bit != 0 {
			out = append(out, d.Name)
		}
	}
	return out
}
