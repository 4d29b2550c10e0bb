package postgen

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// sizedFlow is one record of its own 5-tuple: an ephemeral source port
// of its own, the destination port and the packets given.
func sizedFlow(i int, dp uint16, pkts uint64) trace.Flow {
	return trace.Flow{Src: 0x0a000001 + uint32(i), Dst: 0x0a0000ff, SrcPort: 50000 + uint16(i), DstPort: dp, Proto: trace.ProtoTCP, Packets: pkts, Bytes: 60 * pkts}
}

// swappedSizes returns the counts of a real trace of n flows whose telnet
// flows are single packets and whose HTTPS flows carry 16, and a
// synthetic block of n flows that has them the other way round.
func swappedSizes(n int) (*PortSizes, []trace.Flow) {
	ps := NewPortSizes()
	var recs []trace.Flow
	for i := range n {
		real, syn := sizedFlow(i, 23, 1), sizedFlow(i, 23, 16)
		if i%2 == 1 {
			real, syn = sizedFlow(i, 443, 16), sizedFlow(i, 443, 1)
		}
		ps.Add(&real)
		recs = append(recs, syn)
	}
	return ps, recs
}

// Exchanging port pairs puts the single packets on telnet again (see
// swappedSizes), and every port pair keeps its flows and every flow its
// packets.
func TestFollowPortSizes(t *testing.T) {
	ps, recs := swappedSizes(200)
	// A flow of two records is alone in its group: it keeps its ports.
	two := sizedFlow(1000, 443, 1)
	recs = append(recs, two, two)
	before := portPairCounts(recs)
	packets := func(rs []trace.Flow) []uint64 {
		out := make([]uint64, len(rs))
		for i := range rs {
			out[i] = rs[i].Packets
		}
		return out
	}
	pk := packets(recs)
	moved := FollowPortSizes(ps, recs, nil, rand.New(rand.NewPCG(1, 2)))
	if moved < 150 {
		t.Errorf("%d flows moved, want most of the 200", moved)
	}
	if got := portPairCounts(recs); !maps.Equal(got, before) {
		t.Errorf("port pairs %v, want %v", got, before)
	}
	if got := packets(recs); !slices.Equal(got, pk) {
		t.Error("the records' packets changed")
	}
	right := 0
	for _, r := range recs[:200] {
		if (r.Packets == 1) == (r.DstPort == 23) {
			right++
		}
	}
	if right < 190 {
		t.Errorf("%d of 200 flows on the port their size goes with, want at least 190", right)
	}
	if recs[200].Key() != two.Key() || recs[201].Key() != two.Key() {
		t.Errorf("the two-record flow took %v and %v, want its own key", recs[200].Key(), recs[201].Key())
	}
}

// A flow that fixed names keeps its ports; the others exchange among
// themselves.
func TestFollowPortSizesFixed(t *testing.T) {
	ps, recs := swappedSizes(100)
	keep := recs[0].Key()
	FollowPortSizes(ps, recs, func(k trace.Key) bool { return k == keep }, rand.New(rand.NewPCG(3, 4)))
	if recs[0].Key() != keep {
		t.Errorf("the fixed flow took %v", recs[0].Key())
	}
}

// Nothing recorded, nothing done; the counts survive split.json.
func TestPortSizesMissingAndJSON(t *testing.T) {
	recs := []trace.Flow{sizedFlow(0, 23, 16), sizedFlow(1, 443, 1)}
	var none *PortSizes
	if n := FollowPortSizes(none, recs, nil, rand.New(rand.NewPCG(1, 1))); n != 0 || recs[0].DstPort != 23 {
		t.Errorf("without counts: %d moved, port %d", n, recs[0].DstPort)
	}
	ps := NewPortSizes()
	ps.Add(&recs[0])
	gre := trace.Flow{Proto: 47, Packets: 1}
	ps.Add(&gre) // no ports, no type: not counted
	b, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	var back PortSizes
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Missing() || !maps.Equal(back.Cells[trace.ProtoTCP], ps.Cells[trace.ProtoTCP]) || len(back.Cells) != 1 {
		t.Errorf("round trip: %v, want %v", back.Cells, ps.Cells)
	}
	if c := back.Cells[trace.ProtoTCP][PortPairCell(50000, 23)<<6|uint32(sizeClass(16, true))]; c != 1 {
		t.Errorf("the cell of the 16-packet telnet flow of no duration holds %v, want 1", c)
	}
}

func TestPacketClass(t *testing.T) {
	for n, want := range map[uint64]uint8{0: 0, 1: 1, 2: 2, 3: 2, 4: 3, 7: 3, 8: 4, 1 << 40: 20} {
		if got := PacketClass(n); got != want {
			t.Errorf("PacketClass(%d) = %d, want %d", n, got, want)
		}
	}
}

func portPairCounts(recs []trace.Flow) map[[2]uint16]int {
	out := map[[2]uint16]int{}
	for _, r := range recs {
		out[[2]uint16{r.SrcPort, r.DstPort}]++
	}
	return out
}

// BenchmarkFlowShapes times the two passes over a block of 65,536
// records (flows of one to five records), with four service ports or a
// port scan's thousand.
func BenchmarkFlowShapes(b *testing.B) {
	for _, n := range []int{4, 1000} {
		svc := []uint16{53, 80, 123, 443}
		if n == 1000 {
			svc = nil
			for p := range uint16(1000) {
				svc = append(svc, p+1)
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		port := func() uint16 {
			if r.IntN(2) == 0 {
				return svc[r.IntN(len(svc))]
			}
			return uint16(32768 + r.IntN(28000))
		}
		labels := []string{"Benign", "Malicious", "Background"}
		flow := func(i int) []trace.Flow {
			f := trace.Flow{Src: uint32(i), Dst: 7, SrcPort: port(), DstPort: port(), Proto: trace.ProtoTCP, Packets: uint64(1 + r.IntN(1000)), Label: labels[r.IntN(3)]}
			f.Bytes = f.Packets * uint64(40+r.IntN(1460))
			out := make([]trace.Flow, 1+r.IntN(5))
			for j := range out {
				out[j] = f
			}
			return out
		}
		ps, lc := NewPortSizes(), NewLabelCells()
		var base []trace.Flow
		for i := 0; len(base) < 1<<16; i++ {
			for _, f := range flow(i) {
				ps.Add(&f)
				lc.Add(&f)
			}
			base = append(base, flow(i)...)
		}
		base = base[:1<<16]
		recs := make([]trace.Flow, len(base))
		b.Run(fmt.Sprintf("ports_given_sizes/services=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				copy(recs, base)
				b.StartTimer()
				FollowPortSizes(ps, recs, nil, rand.New(rand.NewPCG(3, 4)))
			}
		})
		b.Run(fmt.Sprintf("labels_given_flows/services=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				copy(recs, base)
				b.StartTimer()
				DrawLabels(lc, recs, 5)
			}
		})
	}
}

// Services move across protocols: where the real trace has its DNS
// queries (UDP), or its pings (ICMP echo, type 8 in the destination
// port), as single packets and its HTTPS flows (TCP) long, and the model
// the other way round, the exchange gives the single packets their
// protocol again, with no TCP flags, and the long flows TCP with the flags
// of the flows the services came from. Each protocol keeps its flows.
func TestFollowPortSizesAcrossProtocols(t *testing.T) {
	const syn, ack = 0x02, 0x10
	for _, small := range []struct {
		proto  uint8
		sp, dp uint16
	}{{trace.ProtoUDP, 40000, 53}, {trace.ProtoICMP, 0, 8 << 8}} {
		ps := NewPortSizes()
		var recs []trace.Flow
		for i := range 200 {
			one := func(pkts uint64) trace.Flow {
				f := sizedFlow(i, small.dp, pkts)
				f.Proto, f.TCPFlags = small.proto, 0
				if small.proto == trace.ProtoICMP {
					f.SrcPort = small.sp
				}
				return f
			}
			https := func(pkts uint64) trace.Flow {
				f := sizedFlow(i, 443, pkts)
				f.TCPFlags = syn | ack
				return f
			}
			real, gen := one(1), one(16)
			if i%2 == 1 {
				real, gen = https(16), https(1)
			}
			ps.Add(&real)
			recs = append(recs, gen)
		}
		protos := func() map[uint8]int {
			m := map[uint8]int{}
			for _, r := range recs {
				m[r.Proto]++
			}
			return m
		}
		before := protos()
		FollowPortSizes(ps, recs, nil, rand.New(rand.NewPCG(5, 6)))
		if got := protos(); !maps.Equal(got, before) {
			t.Errorf("protocol %d: flows per protocol %v, want %v", small.proto, got, before)
		}
		right := 0
		for _, r := range recs {
			isSmall := r.Proto == small.proto
			if isSmall != (r.DstPort == small.dp) {
				t.Fatalf("record %+v: protocol and port pair apart", r)
			}
			if isSmall && r.TCPFlags != 0 || !isSmall && r.TCPFlags != syn|ack {
				t.Fatalf("record %+v: TCP flags %#x", r, r.TCPFlags)
			}
			if (r.Packets == 1) == isSmall {
				right++
			}
		}
		if right < 190 {
			t.Errorf("protocol %d: %d of 200 flows of the protocol their size goes with, want at least 190", small.proto, right)
		}
	}
}

// Flows of one packet class exchange their services by duration too: the
// real telnet flows are two-packet probes of no duration and the MQTT
// flows two packets that last, the synthetic block has them the other way
// round; without the duration in the classes nothing tells them apart.
func TestFollowPortSizesByDuration(t *testing.T) {
	const n = 200
	ps := NewPortSizes()
	var recs []trace.Flow
	for i := range n {
		real, syn := sizedFlow(i, 23, 2), sizedFlow(i, 23, 2)
		syn.Dur = 5000
		if i%2 == 1 {
			real, syn = sizedFlow(i, 8883, 2), sizedFlow(i, 8883, 2)
			real.Dur = 5000
		}
		ps.Add(&real)
		recs = append(recs, syn)
	}
	before := portPairCounts(recs)
	FollowPortSizes(ps, recs, nil, rand.New(rand.NewPCG(5, 6)))
	if got := portPairCounts(recs); !maps.Equal(got, before) {
		t.Errorf("port pairs %v, want %v", got, before)
	}
	right := 0
	for _, r := range recs {
		if (r.Dur == 0) == (r.DstPort == 23) {
			right++
		}
	}
	if right < 190 {
		t.Errorf("%d of %d flows on the port their duration goes with, want at least 190", right, n)
	}
	// The classes: a record of no duration apart from one that lasts.
	if sizeClass(2, true) == sizeClass(2, false) || sizeClass(2, true)&^zeroDur != PacketClass(2) {
		t.Errorf("size classes %d and %d", sizeClass(2, true), sizeClass(2, false))
	}
}

// Counts of another layout (before the durations) are not used.
func TestPortSizesVersion(t *testing.T) {
	ps := NewPortSizes()
	f := sizedFlow(0, 23, 2)
	ps.Add(&f)
	if ps.Missing() {
		t.Fatal("fresh counts missing")
	}
	ps.Version = 0
	if !ps.Missing() {
		t.Error("counts of the earlier layout taken")
	}
}
