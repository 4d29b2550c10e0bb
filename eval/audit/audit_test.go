package audit

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/eval/reference"
	"github.com/netshare-go/netshare/trace"
)

func TestKDTreeMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const d = 4
	for _, n := range []int{1, 7, 50, 3000} {
		pts := make([]float64, n*d)
		for i := range pts {
			pts[i] = float64(r.IntN(20)) / 20 // many ties
		}
		orig := append([]float64(nil), pts...)
		tr := newKDTree(pts, d)
		for q := 0; q < 200; q++ {
			x := []float64{r.Float64(), r.Float64(), r.Float64(), r.Float64()}
			best := math.Inf(1)
			for i := 0; i < n; i++ {
				var s float64
				for j := 0; j < d; j++ {
					dv := x[j] - orig[i*d+j]
					s += dv * dv
				}
				best = math.Min(best, s)
			}
			if got := tr.nearest(x); math.Abs(got-math.Sqrt(best)) > 1e-12 {
				t.Fatalf("n=%d: nearest %v, brute force %v", n, got, math.Sqrt(best))
			}
		}
	}
	if !math.IsInf(newKDTree(nil, 3).nearest([]float64{0, 0, 0}), 1) {
		t.Error("empty tree should give +Inf")
	}
}

// population draws flow records from one fixed distribution; chance
// duplicates are rare.
func population(r *rand.Rand, n int) []trace.Flow {
	fs := make([]trace.Flow, n)
	for i := range fs {
		pkt := 1 + uint64(r.ExpFloat64()*30)
		fs[i] = trace.Flow{
			Start: int64(i) * 1000, Dur: int64(r.ExpFloat64() * 5e6),
			Src: uint32(r.IntN(1 << 20)), Dst: uint32(r.IntN(5000)),
			SrcPort: uint16(1024 + r.IntN(60000)), DstPort: []uint16{80, 443, 53}[r.IntN(3)],
			Proto: 6, Packets: pkt, Bytes: pkt * uint64(40+r.IntN(1400)),
		}
	}
	return fs
}

func TestMemorisingGeneratorIsCaught(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	all := population(r, 10000)
	train, holdout := all[:8000], all[8000:]
	// The bootstrap reference: a resample of the training records.
	syn := reference.BootstrapFlows(train, 8000, 3)
	rep := Run(train, holdout, syn, Options{Seed: 1})
	if rep.ExactCopy.Rate < 0.999 {
		t.Errorf("bootstrap exact-copy rate %.4f, want ≈ 1", rep.ExactCopy.Rate)
	}
	if rep.ExactCopy.HoldoutRate == nil || *rep.ExactCopy.HoldoutRate > 0.01 {
		t.Errorf("held-out rate %v, want ≈ 0 on this population", rep.ExactCopy.HoldoutRate)
	}
	if rep.Membership == nil || rep.Membership.AUC < 0.75 {
		t.Errorf("membership AUC %+v, want well above 0.5 for a copying generator", rep.Membership)
	}
	if rep.DCR == nil || rep.DCR.SyntheticMedian != 0 || rep.DCR.HoldoutMedian <= 0 {
		t.Errorf("DCR %+v: copies lie at distance 0, held-out records do not", rep.DCR)
	}
	if len(rep.NotComputed) != 0 {
		t.Errorf("not computed: %v", rep.NotComputed)
	}
}

func TestHonestGeneratorLooksLikeHoldout(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	train, holdout, syn := population(r, 8000), population(r, 2000), population(r, 8000)
	rep := Run(train, holdout, syn, Options{Seed: 1})
	if rep.ExactCopy.Rate > 0.01 {
		t.Errorf("independent sample exact-copy rate %.4f", rep.ExactCopy.Rate)
	}
	if a := rep.Membership.AUC; a < 0.43 || a > 0.57 {
		t.Errorf("membership AUC %.3f for a generator that never saw the training set, want ≈ 0.5", a)
	}
	if d := rep.DCR; math.Abs(d.SyntheticMedian-d.HoldoutMedian) > 0.3*d.HoldoutMedian {
		t.Errorf("DCR medians %v vs %v should be alike", d.SyntheticMedian, d.HoldoutMedian)
	}
}

func TestWithoutHoldoutOnlyExactCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	train := population(r, 500)
	syn := append(append([]trace.Flow(nil), train[:100]...), population(r, 300)...)
	syn[0].Dur += 400 // still the same record at millisecond resolution
	syn[1].Bytes++    // no longer a copy
	rep := Run(train, nil, syn, Options{})
	if rep.ExactCopy.SyntheticCopy != 99 || math.Abs(rep.ExactCopy.Rate-99.0/400) > 1e-12 {
		t.Errorf("copies %d rate %v, want 99 of 400", rep.ExactCopy.SyntheticCopy, rep.ExactCopy.Rate)
	}
	if rep.DCR != nil || rep.Membership != nil || rep.ExactCopy.HoldoutRate != nil || len(rep.NotComputed) != 3 {
		t.Errorf("without held-out records: %+v", rep)
	}
}

func TestPacketFlowCopies(t *testing.T) {
	mk := func(src uint32, lens ...uint16) []trace.Packet {
		var ps []trace.Packet
		for i, l := range lens {
			ps = append(ps, trace.Packet{TS: int64(i), Src: src, Dst: 9, SrcPort: 1000, DstPort: 80, Proto: 6, Len: l})
		}
		return ps
	}
	train := append(append(mk(1, 60, 1500, 40), mk(2, 80)...), mk(3, 100, 100)...)
	// Flow 1 copied exactly; flow 2 with another length; flow 3 with a
	// packet more; flow 4 new.
	syn := append(append(append(mk(1, 60, 1500, 40), mk(2, 81)...), mk(3, 100, 100, 100)...), mk(4, 60)...)
	rep := RunPackets(train, nil, syn, Options{})
	if rep.Unit != "flows" || rep.ExactCopy.Synthetic != 4 || rep.ExactCopy.SyntheticCopy != 1 {
		t.Errorf("packet copies: %+v", rep.ExactCopy)
	}
	hold := mk(5, 70, 70)
	rep = RunPackets(train, hold, syn, Options{})
	if rep.Membership == nil || rep.DCR == nil || rep.ExactCopy.HoldoutRate == nil || *rep.ExactCopy.HoldoutRate != 0 {
		t.Errorf("with held-out packets: %+v", rep)
	}
}

func TestAUCAndQuantile(t *testing.T) {
	if a := auc([]float64{3, 4}, []float64{1, 2}); a != 1 {
		t.Errorf("auc %v", a)
	}
	if a := auc([]float64{1, 1}, []float64{1, 1}); a != 0.5 {
		t.Errorf("tied auc %v", a)
	}
	if q := quantile([]float64{4, 1, 3, 2, 5}, 0.5); q != 3 {
		t.Errorf("median %v", q)
	}
	if q := quantile([]float64{0, 10}, 0.05); math.Abs(q-0.5) > 1e-12 {
		t.Errorf("p5 %v", q)
	}
}
