package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

// benchFlows generates n flow records with realistic spreads: Zipf-like
// address popularity, a few service ports, heavy-tailed sizes and labels.
func benchFlows(seed uint64, n int) []trace.Flow {
	r := rand.New(rand.NewPCG(seed, 99))
	zs := rand.NewZipf(r, 1.2, 1, 200000)
	zd := rand.NewZipf(r, 1.3, 1, 50000)
	svc := []uint16{80, 443, 53, 22, 25, 123, 8080, 3389}
	fs := make([]trace.Flow, n)
	t := int64(1_458_298_072_000_000)
	for i := range fs {
		t += int64(r.ExpFloat64() * 200)
		pkt := 1 + uint64(r.ExpFloat64()*r.ExpFloat64()*30)
		proto := uint8(6)
		switch r.IntN(10) {
		case 0, 1:
			proto = 17
		case 2:
			proto = 1
		}
		label := "background"
		if r.IntN(50) == 0 {
			label = "blacklist"
		}
		fs[i] = trace.Flow{
			Start: t, Dur: int64(r.ExpFloat64() * 3e6),
			Src: uint32(zs.Uint64()) * 2654435761, Dst: uint32(zd.Uint64()) * 40503,
			SrcPort: uint16(1024 + r.IntN(64000)), DstPort: svc[r.IntN(len(svc))],
			Proto: proto, Packets: pkt, Bytes: pkt * uint64(40+r.IntN(1460)), Label: label,
		}
	}
	return fs
}

// BenchmarkFlows1M evaluates one million synthetic records against one
// million real ones with every default part: metrics, both reference
// generators, downstream tasks and plotting summaries.
func BenchmarkFlows1M(b *testing.B) {
	real, syn := benchFlows(1, 1_000_000), benchFlows(2, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Flows(real, syn, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlows1MMetricsOnly is the fidelity metrics alone.
func BenchmarkFlows1MMetricsOnly(b *testing.B) {
	real, syn := benchFlows(1, 1_000_000), benchFlows(2, 1_000_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Flows(real, syn, Options{NoBaselines: true, NoDownstream: true, NoDistributions: true}); err != nil {
			b.Fatal(err)
		}
	}
}
