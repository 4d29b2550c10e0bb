package postgen

import (
	"math"

	"github.com/netshare-go/netshare/encoding"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestUniformRanksKeepOrderAndSpread(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	n := 5000
	vals := make([]float64, n)
	ptrs := make([]*float64, n)
	for i := range vals {
		// A peaked, saturated generator output: many exact ties at 1.
		vals[i] = math.Min(1, 0.5+0.05*r.NormFloat64()+0.3*float64(i%4/3))
		ptrs[i] = &vals[i]
	}
	orig := slices.Clone(vals)
	uniformRanks(ptrs, rand.New(rand.NewPCG(2, 2)))
	for i := range vals {
		for j := range 20 {
			k := (i*7 + j*131) % n
			if orig[i] < orig[k] && !(vals[i] < vals[k]) {
				t.Fatalf("order of %v < %v lost: %v, %v", orig[i], orig[k], vals[i], vals[k])
			}
		}
	}
	s := slices.Clone(vals)
	sort.Float64s(s)
	ks := 0.0
	for i, u := range s {
		ks = math.Max(ks, math.Abs(u-(float64(i)+0.5)/float64(n)))
	}
	if ks > 1.0/float64(n)+1e-9 {
		t.Errorf("calibrated values not uniform: max deviation %v", ks)
	}
}

func TestCalibrateTouchesOnlyActiveQuantileFeatures(t *testing.T) {
	if s := tagSchema(t, 1); len(s.QuantileFeatureOffsets()) != 0 || s.HasStartKnots() {
		t.Fatal("a min-max schema reports quantile fields")
	}
	s := schemaWith(t, 2, encoding.BuildOptions{QuantileKnots: 16})
	offs := s.QuantileFeatureOffsets()
	if len(offs) < 4 || !s.HasStartKnots() {
		t.Fatalf("quantile schema: %d quantile features, start knots %v", len(offs), s.HasStartKnots())
	}
	fd, L := s.FeatDim(), s.MaxLen
	r := rand.New(rand.NewPCG(4, 4))
	var outs []*Generated
	for c := range 2 {
		n := 300 + 100*c
		o := &Generated{Attrs: make([]encoding.FlowAttr, n), Feat: make([]float32, n*L*fd), Lens: make([]int, n)}
		for i := range n {
			o.Attrs[i].Start = 0.5 + 0.01*r.NormFloat64()
			o.Lens[i] = 1 + r.IntN(L)
			for k := range L {
				for f := range fd {
					v := float32(7) // padding sentinel
					if k < o.Lens[i] {
						v = float32(0.4 + 0.01*r.NormFloat64())
					}
					o.Feat[(i*L+k)*fd+f] = v
				}
			}
		}
		outs = append(outs, o)
	}
	calibrate(s, outs, nil, rand.New(rand.NewPCG(5, 5)))
	for c, o := range outs {
		var starts []float64
		for _, a := range o.Attrs {
			starts = append(starts, a.Start)
		}
		if spread(starts) < 0.9 {
			t.Errorf("chunk %d: flow starts not spread over [0,1] (range %v)", c, spread(starts))
		}
	}
	isQ := map[int]bool{}
	for _, off := range offs {
		isQ[off] = true
	}
	for f := range fd {
		var active []float64
		for _, o := range outs {
			for i, l := range o.Lens {
				for k := range L {
					v := o.Feat[(i*L+k)*fd+f]
					if k >= l {
						if v != 7 {
							t.Fatalf("padding step changed to %v", v)
						}
						continue
					}
					active = append(active, float64(v))
				}
			}
		}
		if got := spread(active); isQ[f] != (got > 0.9) {
			t.Errorf("feature column %d (quantile %v): range after calibration %v", f, isQ[f], got)
		}
	}
}

func spread(v []float64) float64 { return slices.Max(v) - slices.Min(v) }

// Targets keep the chunks' differences: a chunk whose pilot values are
// larger gets the upper positions, and the chunks' targets together, each
// weighted by its pilot's share, are uniform. Ranks mapped through a
// target follow it.
func TestTargetsKeepChunkDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	pilot := make([][]float32, 2)
	for range 3000 {
		pilot[0] = append(pilot[0], float32(r.Float64()))     // U(0,1)
		pilot[1] = append(pilot[1], float32(1+r.Float64()*2)) // U(1,3): all above chunk 0
	}
	to := Targets(pilot)
	if q := to[0].at(0.99); q > 0.51 {
		t.Errorf("chunk 0 (the smaller values) reaches position %v, want at most ½", q)
	}
	if q := to[1].at(0.01); q < 0.49 {
		t.Errorf("chunk 1 (the larger values) starts at position %v, want at least ½", q)
	}
	// Ranks of a block of chunk 1 mapped through its target.
	vals := make([]float64, 1000)
	ptrs := make([]*float64, len(vals))
	for i := range vals {
		vals[i] = r.NormFloat64()
		ptrs[i] = &vals[i]
	}
	to[1].ranks(ptrs, r)
	if lo, hi := slices.Min(vals), slices.Max(vals); lo < 0.49 || hi > 1 {
		t.Errorf("chunk 1's block spans [%v, %v], want within [½, 1]", lo, hi)
	}
	// Together uniform: the mixture's quantiles are the identity.
	var all []float64
	for _, tg := range to {
		for i := range 1000 {
			all = append(all, tg.at((float64(i)+0.5)/1000))
		}
	}
	slices.Sort(all)
	for i, v := range all {
		if u := (float64(i) + 0.5) / float64(len(all)); math.Abs(v-u) > 0.01 {
			t.Fatalf("mixture of the targets not uniform: quantile %v at %v", u, v)
		}
	}
	// The zero Target is uniform.
	if (Target{}).at(0.3) != 0.3 {
		t.Error("zero target is not the identity")
	}
}
