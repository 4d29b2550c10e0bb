package trace_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netshare-go/netshare/trace"
)

const benchPackets = 200000

// benchFrames returns benchPackets Ethernet frames of TCP and UDP packets
// (one in eight with an 802.1Q tag) over about 5,000 flows, captured up to
// 128 bytes (a header-analysis snaplen), with their timestamps.
var benchFrames = sync.OnceValues(func() ([][]byte, []time.Time) {
	r := rand.New(rand.NewPCG(7, 7))
	frames := make([][]byte, benchPackets)
	times := make([]time.Time, benchPackets)
	ts := time.Unix(1600000000, 0)
	for i := range frames {
		flow := r.IntN(5000)
		p := trace.Packet{Src: 0x0a000000 | uint32(flow), Dst: 0xc0a80000 | uint32(flow*7%65536), SrcPort: uint16(1024 + flow),
			DstPort: []uint16{443, 80, 53, 22}[flow%4], Proto: trace.ProtoTCP, Len: uint16(40 + r.IntN(1461)),
			TTL: 64, ID: uint16(i), Flags: 2, TCPFlags: trace.TCPAck}
		if flow%3 == 0 {
			p.Proto = trace.ProtoUDP
		}
		eth := append(make([]byte, 12), 0x08, 0x00)
		if i%8 == 0 {
			eth = append(make([]byte, 12), 0x81, 0x00, 0, 10, 0x08, 0x00)
		}
		f := trace.AppendPacketHeaders(eth, &p)
		for len(f) < 128 && len(f) < len(eth)+int(p.Len) {
			f = append(f, 0)
		}
		ts = ts.Add(time.Duration(r.IntN(20000)) * time.Nanosecond)
		frames[i], times[i] = f, ts
	}
	return frames, times
})

var benchPcap = sync.OnceValue(func() []byte {
	frames, times := benchFrames()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for i, f := range frames {
		orig := len(f)
		if len(f) == 128 {
			orig = 14 + int(binary.BigEndian.Uint16(f[16:])) // not exact with a VLAN tag; fine for a length
		}
		w.WritePacket(gopacket.CaptureInfo{Timestamp: times[i], CaptureLength: len(f), Length: max(orig, len(f))}, f)
	}
	return b.Bytes()
})

var benchPcapNG = sync.OnceValue(func() []byte {
	frames, times := benchFrames()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		panic(err)
	}
	for i, f := range frames {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: times[i], CaptureLength: len(f), Length: len(f)}, f)
	}
	w.Flush()
	return b.Bytes()
})

func benchRead(b *testing.B, data []byte) { benchReadPackets(b, "bench", data) }

// benchReadPackets reads data, named name, as a packet trace once per
// iteration and reports packets/s.
func benchReadPackets(b *testing.B, name string, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var p trace.Packet
	var n int
	for b.Loop() {
		s, err := trace.NewSource(name, bytes.NewReader(data), trace.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pr := s.Packets()
		for {
			if err := pr.Next(&p); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}

// benchReadFlows reads data, named name, as a flow trace once per
// iteration and reports records/s.
func benchReadFlows(b *testing.B, name string, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var f trace.Flow
	n := 0
	for b.Loop() {
		s, err := trace.NewSource(name, bytes.NewReader(data), trace.Options{})
		if err != nil {
			b.Fatal(err)
		}
		fr := s.Flows()
		for {
			if err := fr.Next(&f); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReadPcap reads an in-memory Ethernet/IPv4 pcap of 200,000
// packets: the container (pcapgo) and the header decoding.
func BenchmarkReadPcap(b *testing.B) { benchRead(b, benchPcap()) }

// BenchmarkReadPcapNG reads the same packets as pcapng.
func BenchmarkReadPcapNG(b *testing.B) { benchRead(b, benchPcapNG()) }

// BenchmarkAggregate turns 200,000 packets of about 5,000 flows into flow
// records.
func BenchmarkAggregate(b *testing.B) {
	s, err := trace.NewSource("bench", bytes.NewReader(benchPcap()), trace.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pkts, err := drain(s.Packets())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var f trace.Flow
	for b.Loop() {
		a := trace.NewFlowAggregator(trace.AggregateConfig{})
		for i := range pkts {
			a.Add(&pkts[i])
			for a.Next(&f) {
			}
		}
		a.Flush()
		for a.Next(&f) {
		}
	}
	b.ReportMetric(float64(len(pkts)*b.N)/b.Elapsed().Seconds(), "packets/s")
}

var benchFlows = sync.OnceValue(func() []trace.Flow { return randomFlows(100000, 9) })

func benchFlowCSV(b *testing.B, layout trace.Layout) {
	var buf bytes.Buffer
	w, _ := trace.NewFlowWriter(&buf, layout)
	flows := benchFlows()
	for i := range flows {
		w.Write(&flows[i])
	}
	benchReadFlows(b, "bench.csv", buf.Bytes())
}

// BenchmarkReadUGR16CSV and BenchmarkReadNetShareCSV read 100,000 records.
func BenchmarkReadUGR16CSV(b *testing.B)    { benchFlowCSV(b, trace.LayoutUGR16) }
func BenchmarkReadNetShareCSV(b *testing.B) { benchFlowCSV(b, trace.LayoutNetShare) }

// BenchmarkWriteUGR16CSV writes 100,000 records.
func BenchmarkWriteUGR16CSV(b *testing.B) {
	flows := benchFlows()
	b.ReportAllocs()
	w, _ := trace.NewFlowWriter(io.Discard, trace.LayoutUGR16)
	for b.Loop() {
		for i := range flows {
			w.Write(&flows[i])
		}
	}
	b.ReportMetric(float64(len(flows)*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkWritePcap writes 200,000 packets (headers with checksums).
func BenchmarkWritePcap(b *testing.B) {
	pkts := randomPackets(benchPackets, 5)
	b.ReportAllocs()
	for b.Loop() {
		w, _ := trace.NewPcapWriter(io.Discard, trace.PcapOptions{})
		for i := range pkts {
			w.Write(&pkts[i])
		}
	}
	b.ReportMetric(float64(len(pkts)*b.N)/b.Elapsed().Seconds(), "packets/s")
}
