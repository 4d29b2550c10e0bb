package eval

import (
	"math/rand/v2"
	"os"
	"path/filepath"
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

// ctuFlows reads a shared CTU trace and repeats it until it holds at least
// n records: copy c is shifted in time by c spans of the trace and has the
// second octet of its source addresses raised by c+octet (mod 256), so the
// copies are distinct records. The benchmark is skipped when the shared
// data is absent.
func ctuFlows(b *testing.B, name string, n int, octet uint32) []trace.Flow {
	b.Helper()
	path := filepath.Join("..", "..", "shared", "data", "ctu-normal-zeek", name)
	if _, err := os.Stat(path); err != nil {
		b.Skipf("shared trace %s not present", path)
	}
	base, _, _, err := trace.ReadAllFlows(path, trace.Options{})
	if err != nil {
		b.Fatal(err)
	}
	lo, hi := base[0].Start, base[0].Start+base[0].Dur
	for _, f := range base {
		lo, hi = min(lo, f.Start), max(hi, f.Start+f.Dur)
	}
	span := hi - lo + 1_000_000
	out := make([]trace.Flow, 0, n+len(base))
	for c := uint32(0); len(out) < n; c++ {
		for _, f := range base {
			f.Start += int64(c) * span
			oct := (f.Src>>16&0xff + c + octet) & 0xff
			f.Src = f.Src&^0xff0000 | oct<<16
			out = append(out, f)
		}
	}
	return out
}

// BenchmarkFlowsCTU1M evaluates about one million records built from the
// day-2 CTU trace against about one million built from day 1 (see
// ctuFlows), with every default part and a held-out fifth of the real
// records for the full memorisation audit.
func BenchmarkFlowsCTU1M(b *testing.B) {
	real := ctuFlows(b, "ctu-normal-40-day1.flows.ugr16.csv", 1_000_000, 0)
	syn := ctuFlows(b, "ctu-normal-42-day2.flows.ugr16.csv", 1_000_000, 7)
	train, holdout := real[:800_000], real[800_000:]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Flows(train, syn, Options{Seed: 1, HoldoutFlows: holdout}); err != nil {
			b.Fatal(err)
		}
	}
}
