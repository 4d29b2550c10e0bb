package privacy

import (
	"math"
	"sort"
	"testing"
)

func TestQuantilesRelease(t *testing.T) {
	r := testRand(11)
	var units [][]float64
	var all []float64
	for u := 0; u < 5000; u++ {
		v := math.Exp(5 + r.NormFloat64())
		units = append(units, []float64{v, v * 1.01}) // two records per flow
		all = append(all, v, v*1.01)
	}
	b, _ := LogBins(0, 1e9, 200)
	ps := []float64{0.25, 0.5, 0.75}
	q, m, err := Quantiles("bytes knots", units, b, 1, 5, ps, r)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "bytes knots" || m.SamplingRate != 1 || m.NoiseMultiplier != 5 || m.Count != 1 {
		t.Errorf("mechanism %+v", m)
	}
	sort.Float64s(all)
	for i, p := range ps {
		truth := all[int(p*float64(len(all)))]
		if ratio := q[i] / truth; ratio < 0.85 || ratio > 1.18 {
			t.Errorf("%v-quantile %v, true %v", p, q[i], truth)
		}
	}
	if _, _, err := Quantiles("x", units, Bins{}, 1, 5, ps, r); err == nil {
		t.Error("empty bins accepted")
	}
	if _, _, err := Quantiles("x", units, b, 1, 0, ps, r); err == nil {
		t.Error("zero noise accepted")
	}
}

func TestVocabularyRelease(t *testing.T) {
	r := testRand(12)
	var units [][]int
	for u := 0; u < 3000; u++ {
		p := []int{80, 443, 53}[u%3]
		if u%100 == 0 {
			p = 1000 + u // rare ports: one flow each
		}
		units = append(units, []int{p})
	}
	w, m, err := Vocabulary("dstport", units, 65536, 1, 10, r)
	if err != nil {
		t.Fatal(err)
	}
	if m.NoiseMultiplier != 10 {
		t.Errorf("mechanism %+v", m)
	}
	for _, p := range []int{80, 443, 53} {
		if math.Abs(w[p]-990) > 60 {
			t.Errorf("port %d: noisy frequency %v, want about 990", p, w[p])
		}
	}
	spurious := 0
	for p, v := range w {
		if v > 0 && p != 80 && p != 443 && p != 53 {
			spurious++
		}
	}
	// Rare ports fall under the threshold; about one empty port survives.
	if spurious > 5 {
		t.Errorf("%d ports other than the three services kept", spurious)
	}
	if _, _, err := Vocabulary("x", [][]int{{70000}}, 65536, 1, 10, r); err == nil {
		t.Error("value outside the domain accepted")
	}
}
