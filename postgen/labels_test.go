package postgen

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/netshare-go/netshare/trace"
)

func labelled(i int, dp uint16, pkts uint64, label string) trace.Flow {
	f := sizedFlow(i, dp, pkts)
	f.Label = label
	return f
}

// Every real telnet record is malicious and every HTTPS one benign; the
// synthetic records have them the other way round. Drawn given their
// cells, the labels follow the ports again, and the records of one
// 5-tuple share theirs.
func TestDrawLabels(t *testing.T) {
	lc := NewLabelCells()
	for i := range 400 {
		f := labelled(i, 23, 1, "Malicious")
		if i%2 == 1 {
			f = labelled(i, 443, 16, "Benign")
		}
		lc.Add(&f)
	}
	var recs []trace.Flow
	for i := range 200 {
		if i%2 == 0 {
			recs = append(recs, labelled(i, 23, 1, "Benign"))
		} else {
			f := labelled(i, 443, 16, "Malicious")
			recs = append(recs, f, f) // two records of one 5-tuple
		}
	}
	changed := DrawLabels(lc, recs, 7)
	wrong := 0
	for _, r := range recs {
		if (r.DstPort == 23) != (r.Label == "Malicious") {
			wrong++
		}
	}
	// A cell of 200 records leaves its label 5/205 of its parents'
	// chance at each level: about 2% over the four levels.
	if wrong > len(recs)/20 {
		t.Errorf("%d of %d records labelled against their port", wrong, len(recs))
	}
	if changed < len(recs)*9/10 {
		t.Errorf("%d of %d labels changed", changed, len(recs))
	}
	for i := 1; i+1 < len(recs); i++ {
		if recs[i].Key() == recs[i+1].Key() && recs[i].Label != recs[i+1].Label {
			t.Errorf("records %d and %d of one 5-tuple labelled %q and %q", i, i+1, recs[i].Label, recs[i+1].Label)
		}
	}
	// The same seed draws the same labels.
	again := make([]trace.Flow, len(recs))
	copy(again, recs)
	for i := range again {
		again[i].Label = ""
	}
	DrawLabels(lc, again, 7)
	for i := range recs {
		if again[i].Label != recs[i].Label {
			t.Fatalf("record %d: %q, then %q with the same seed", i, recs[i].Label, again[i].Label)
		}
	}
}

// A cell of one real record says little: each level mixes its counts
// with labelPrior records' worth of the coarser level's shares.
func TestDrawLabelsSmoothing(t *testing.T) {
	lc := NewLabelCells()
	for i := range 100 {
		f := labelled(i, 443, 16, "Benign")
		lc.Add(&f)
	}
	one := labelled(100, 80, 1, "Malicious")
	lc.Add(&one)
	// The trace's shares, then the protocol's (all 101 records), then
	// the levels below that hold only the one malicious record.
	p := 1.0 / 101
	p = (1 + labelPrior*p) / (101 + labelPrior)
	for range labelLevels - 1 {
		p = (1 + labelPrior*p) / (1 + labelPrior)
	}
	var recs []trace.Flow
	for i := range 8000 {
		recs = append(recs, labelled(i, 80, 1, "Benign"))
	}
	DrawLabels(lc, recs, 11)
	mal := 0
	for _, r := range recs {
		if r.Label == "Malicious" {
			mal++
		}
	}
	got := float64(mal) / float64(len(recs))
	if math.Abs(got-p) > 0.02 {
		t.Errorf("share malicious %.3f, want %.3f", got, p)
	}
}

// One label, or none recorded: nothing is drawn. The counts survive
// split.json and take more records after it.
func TestLabelCellsJSON(t *testing.T) {
	recs := []trace.Flow{labelled(0, 23, 1, "x")}
	if n := DrawLabels(nil, recs, 1); n != 0 {
		t.Errorf("without counts: %d changed", n)
	}
	lc := NewLabelCells()
	f := labelled(1, 23, 1, "only")
	lc.Add(&f)
	if lc.Usable() || DrawLabels(lc, recs, 1) != 0 || recs[0].Label != "x" {
		t.Error("one label: labels drawn")
	}
	g := labelled(2, 443, 16, "other")
	lc.Add(&g)
	b, err := json.Marshal(lc)
	if err != nil {
		t.Fatal(err)
	}
	var back LabelCells
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Usable() || len(back.Cells) != len(lc.Cells) {
		t.Fatalf("round trip: %d cells, labels %v", len(back.Cells), back.Names)
	}
	h := labelled(3, 443, 16, "other")
	back.Add(&h)
	if c := back.Cells[back.labelCells(&h)[labelLevels-1]]; c[1] != 2 || c[0] != 0 {
		t.Errorf("after the round trip, the HTTPS cell holds %v, want [0 2]", c)
	}
}

// Records of one port and one size tell a probe from a service's flow by
// their duration: the real zero-duration HTTPS records are malicious, the
// others benign, and the synthetic ones take their labels so.
func TestDrawLabelsByDuration(t *testing.T) {
	lc := NewLabelCells()
	for i := range 400 {
		f := labelled(i, 443, 2, "Benign")
		if i%4 == 0 {
			f.Label = "Malicious"
		} else {
			f.Dur = int64(1e5 + 1e4*i) // 0.1 s and up
		}
		lc.Add(&f)
	}
	var recs []trace.Flow
	for i := range 2000 {
		f := labelled(i, 443, 2, "")
		if i%2 == 1 {
			f.Dur = int64(1e5 + 1e4*(i%400)) // durations the real records have
		}
		recs = append(recs, f)
	}
	DrawLabels(lc, recs, 5)
	var wrong [2]int
	for i, r := range recs {
		if want := map[bool]string{true: "Malicious", false: "Benign"}[r.Dur == 0]; r.Label != want {
			wrong[i%2]++
		}
	}
	if wrong[0] > 100 || wrong[1] > 100 {
		t.Errorf("%d of 1000 zero-duration records not malicious, %d of 1000 longer ones not benign", wrong[0], wrong[1])
	}
}

// Counts whose cells have another layout (an older version's, without
// the duration class) are not used.
func TestLabelCellsVersion(t *testing.T) {
	lc := NewLabelCells()
	for i, l := range []string{"a", "b"} {
		f := labelled(i, 23, 1, l)
		lc.Add(&f)
	}
	if !lc.Usable() {
		t.Fatal("two labels: not usable")
	}
	b, _ := json.Marshal(lc)
	old := strings.Replace(string(b), fmt.Sprintf(`"version":%d,`, labelCellsVersion), "", 1)
	var back LabelCells
	if err := json.Unmarshal([]byte(old), &back); err != nil {
		t.Fatal(err)
	}
	if !back.Missing() || back.Usable() {
		t.Errorf("counts without a version (%s): missing %v", old[:40], back.Missing())
	}
}

// A label column of more distinct values than maxLabels is not a class:
// the counts are dropped and nothing is drawn.
func TestLabelCellsTooMany(t *testing.T) {
	lc := NewLabelCells()
	for i := range maxLabels + 1 {
		f := labelled(i, 23, 1, fmt.Sprintf("id-%d", i))
		lc.Add(&f)
	}
	if !lc.TooMany || lc.Usable() || len(lc.Cells) != 0 {
		t.Fatalf("after %d labels: too many %v, usable %v, %d cells", maxLabels+1, lc.TooMany, lc.Usable(), len(lc.Cells))
	}
	f := labelled(0, 23, 1, "id-0")
	lc.Add(&f)
	recs := []trace.Flow{labelled(1, 23, 1, "x")}
	if DrawLabels(lc, recs, 1) != 0 || recs[0].Label != "x" {
		t.Error("labels drawn from a column of identifiers")
	}
}
