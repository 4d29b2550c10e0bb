package eval

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func TestSampleFlows(t *testing.T) {
	fs := make([]trace.Flow, 1000)
	for i := range fs {
		fs[i].Start = int64(i)
	}
	a := sampleFlows(fs, 100, 7, "real")
	if len(a) != 100 {
		t.Fatalf("kept %d, want 100", len(a))
	}
	var sum int64
	for i := range a {
		if i > 0 && a[i].Start <= a[i-1].Start {
			t.Fatalf("subsample out of order or repeated at %d: %d after %d", i, a[i].Start, a[i-1].Start)
		}
		sum += a[i].Start
	}
	// The mean index of a uniform draw is 499.5 (sd about 29 here).
	if m := float64(sum) / 100; m < 380 || m > 620 {
		t.Errorf("mean kept index %.1f: not a uniform draw", m)
	}
	if b := sampleFlows(fs, 100, 7, "real"); !reflect.DeepEqual(a, b) {
		t.Error("same seed and side drew different subsamples")
	}
	if b := sampleFlows(fs, 100, 8, "real"); reflect.DeepEqual(a, b) {
		t.Error("another seed drew the same subsample")
	}
	if b := sampleFlows(fs, 100, 7, "synthetic"); reflect.DeepEqual(a, b) {
		t.Error("another side drew the same subsample")
	}
	if b := sampleFlows(fs, 1000, 7, "real"); len(b) != 1000 {
		t.Errorf("at the limit kept %d of 1000", len(b))
	}
}

func TestSamplePacketsKeepsWholeFlows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ps := make([]trace.Packet, 20000)
	for i := range ps {
		ps[i] = trace.Packet{TS: int64(i), Src: uint32(r.IntN(400)), Dst: 9, SrcPort: 1000, DstPort: 80, Proto: 6, Len: 60}
	}
	got := samplePackets(ps, 5000, 11, "synthetic")
	if len(got) < 3500 || len(got) > 6500 {
		t.Errorf("kept %d packets, want about 5000", len(got))
	}
	total, kept := map[trace.Key]int{}, map[trace.Key]int{}
	for i := range ps {
		total[ps[i].Key()]++
	}
	for i := range got {
		if i > 0 && got[i].TS <= got[i-1].TS {
			t.Fatalf("packets out of order at %d", i)
		}
		kept[got[i].Key()]++
	}
	for k, n := range kept {
		if n != total[k] {
			t.Errorf("flow %v: kept %d of its %d packets", k, n, total[k])
		}
	}
	if !reflect.DeepEqual(got, samplePackets(ps, 5000, 11, "synthetic")) {
		t.Error("same seed drew different packets")
	}
}

// TestSubsampleAboveLimit runs the evaluation with a limit below the traces'
// sizes: the costly parts see the subsample, the record says so, and the
// draw is deterministic for a seed.
func TestSubsampleAboveLimit(t *testing.T) {
	fs := ugrSmall(t)
	train, holdout := split(fs, 1)
	syn := randomFlows(rand.New(rand.NewPCG(8, 9)), 900)
	opt := Options{Seed: 5, HoldoutFlows: holdout, SubsampleLimit: 150, NoDistributions: true}
	res, err := Flows(train, syn, opt)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Subsample
	if s == nil {
		t.Fatal("no subsample record with a limit of 150")
	}
	if s.Limit != 150 || s.Seed != subsampleSeed(5) || s.Unit != "flow records" {
		t.Errorf("record %+v", s)
	}
	if s.Seed >= 1<<53 {
		t.Errorf("seed %d does not fit a JSON number exactly", s.Seed)
	}
	if !s.Covers(SubsampleDownstream) || !s.Covers(SubsampleAudit) {
		t.Errorf("parts %v, want downstream and audit", s.Parts)
	}
	want := []SubsampleSide{{"real", len(train), 150}, {"synthetic", 900, 150}, {"holdout", len(holdout), 150}}
	if !reflect.DeepEqual(s.Sides, want) {
		t.Errorf("sides %+v, want %+v", s.Sides, want)
	}
	// The full-data parts still see every record.
	if res.RealRecords != len(train) || res.SyntheticRecords != 900 {
		t.Errorf("metrics on %d/%d records, want %d/900", res.RealRecords, res.SyntheticRecords, len(train))
	}
	// The audit's queries come from the subsample.
	if a := res.PrivacyAudit; a.ExactCopy.Synthetic != 150 || a.ExactCopy.Holdout != 150 {
		t.Errorf("audit on %d synthetic and %d held-out records, want 150 each", a.ExactCopy.Synthetic, a.ExactCopy.Holdout)
	}
	if c := res.Downstream.TrafficType; c.Skipped == "" && c.TrainSynthetic > 150 {
		t.Errorf("classifiers trained on %d synthetic records, above the limit", c.TrainSynthetic)
	}
	again, err := Flows(train, syn, opt)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := res.JSON()
	b, _ := again.JSON()
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same seed differ")
	}
	var m map[string]any
	if err := json.Unmarshal(a, &m); err != nil {
		t.Fatal(err)
	}
	js, ok := m["subsample"].(map[string]any)
	if !ok {
		t.Fatalf("metrics JSON has no subsample object: %s", a)
	}
	for _, k := range []string{"limit", "seed", "parts", "sides", "unit"} {
		if _, ok := js[k]; !ok {
			t.Errorf("subsample object lacks %q", k)
		}
	}
	other, err := Flows(train, syn, Options{Seed: 6, HoldoutFlows: holdout, SubsampleLimit: 150, NoDistributions: true})
	if err != nil {
		t.Fatal(err)
	}
	if other.Subsample.Seed == s.Seed {
		t.Error("another evaluation seed gave the same subsample seed")
	}
	var txt strings.Builder
	if err := res.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(txt.String(), "seeded random subsample"); n != 2 {
		t.Errorf("text output names the subsample %d times, want 2 (downstream, audit):\n%s", n, txt.String())
	}
}

// TestNoSubsampleAtOrBelowLimit checks that traces within the limit give
// the same result as with subsampling off, and no record.
func TestNoSubsampleAtOrBelowLimit(t *testing.T) {
	fs := ugrSmall(t)
	train, holdout := split(fs, 1)
	syn := randomFlows(rand.New(rand.NewPCG(8, 9)), len(train))
	var out [][]byte
	for _, limit := range []int{0, len(train), -1} {
		res, err := Flows(train, syn, Options{Seed: 5, HoldoutFlows: holdout, SubsampleLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if res.Subsample != nil {
			t.Errorf("limit %d: subsample %+v on traces within it", limit, res.Subsample)
		}
		b, _ := res.JSON()
		out = append(out, b)
	}
	if !bytes.Equal(out[0], out[1]) || !bytes.Equal(out[0], out[2]) {
		t.Error("results within the limit differ from those without subsampling")
	}
}

// TestSubsampleOnlyForPartsThatRun leaves the record out when the parts
// that would use it are off.
func TestSubsampleOnlyForPartsThatRun(t *testing.T) {
	real, syn := randomFlows(rand.New(rand.NewPCG(1, 2)), 400), randomFlows(rand.New(rand.NewPCG(3, 4)), 400)
	res, err := Flows(real, syn, Options{SubsampleLimit: 100, NoDownstream: true, NoAudit: true, NoDistributions: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Subsample != nil {
		t.Errorf("subsample %+v with downstream and audit off", res.Subsample)
	}
	res, err = Flows(real, syn, Options{SubsampleLimit: 100, NoDownstream: true, NoDistributions: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Subsample; s == nil || !reflect.DeepEqual(s.Parts, []string{SubsampleAudit}) || len(s.Sides) != 1 || s.Sides[0].Side != "synthetic" {
		t.Errorf("audit alone: record %+v, want the audit on the synthetic side", s)
	}
}

func TestSubsamplePackets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	mk := func(n int) []trace.Packet {
		ps := make([]trace.Packet, n)
		for i := range ps {
			ps[i] = trace.Packet{TS: int64(i) * 1000, Src: uint32(r.IntN(300)), Dst: uint32(r.IntN(5)), SrcPort: 2000, DstPort: 443, Proto: 6, Len: uint16(40 + r.IntN(1400))}
		}
		return ps
	}
	real, syn := mk(3000), mk(3000)
	res, err := Packets(real, syn, Options{Seed: 2, SubsampleLimit: 1000, NoDistributions: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Subsample
	if s == nil || s.Unit != "flows" || len(s.Sides) != 2 {
		t.Fatalf("record %+v", s)
	}
	for _, sd := range s.Sides {
		if sd.Records != 3000 || sd.Kept < 500 || sd.Kept > 1500 {
			t.Errorf("side %+v: want about 1000 of 3000 packets kept", sd)
		}
	}
}

// TestSampleFlowsUniform checks both ways of drawing (keeping a chosen set
// when k ≤ n/2, dropping one otherwise): every record is kept with
// probability k/n, and the subsample has exactly k records in order.
func TestSampleFlowsUniform(t *testing.T) {
	const n, draws = 10, 20000
	fs := make([]trace.Flow, n)
	for i := range fs {
		fs[i].Start = int64(i)
	}
	for _, k := range []int{3, 7} {
		count := make([]int, n)
		for s := range uint64(draws) {
			got := sampleFlows(fs, k, s, "real")
			if len(got) != k {
				t.Fatalf("k=%d: kept %d", k, len(got))
			}
			for i := range got {
				if i > 0 && got[i].Start <= got[i-1].Start {
					t.Fatalf("k=%d: out of order", k)
				}
				count[got[i].Start]++
			}
		}
		for i, c := range count {
			// p = k/n; sd of the share about 0.0035 here.
			if p := float64(c) / draws; p < float64(k)/n-0.02 || p > float64(k)/n+0.02 {
				t.Errorf("k=%d: record %d kept in %.3f of draws, want %.1f", k, i, p, float64(k)/n)
			}
		}
	}
}
