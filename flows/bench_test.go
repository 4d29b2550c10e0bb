package flows

import (
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// benchPackets returns n time-ordered packets spread over about n/20 flows.
func benchPackets(n int) []trace.Packet {
	r := rand.New(rand.NewPCG(7, 7))
	pk := make([]trace.Packet, n)
	for i := range pk {
		f := uint32(r.IntN(n/20 + 1))
		pk[i] = trace.Packet{TS: int64(i) * 10, Src: 0x0a000000 | f, Dst: 0xc0a80001, SrcPort: uint16(1024 + f%50000), DstPort: 443, Proto: trace.ProtoTCP, Len: 60}
	}
	return pk
}

func BenchmarkGroup(b *testing.B) {
	pk := benchPackets(1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Group(pk)
	}
	b.ReportMetric(float64(len(pk))*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

func BenchmarkSplitByTime(b *testing.B) {
	pk := benchPackets(1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := SplitByTime(pk, Options{Chunks: 10}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pk))*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
