package downstream

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/netshare-go/netshare/eval/downstream/ml"
	"github.com/netshare-go/netshare/trace"
)

// Classification is the traffic-type prediction task: each classifier is
// trained on real records and, separately, on synthetic records, and both
// are tested on the same held-out real records.
type Classification struct {
	Skipped        string   `json:"skipped,omitempty"`
	Classes        []string `json:"classes,omitempty"`
	TrainReal      int      `json:"train_real,omitempty"`
	TrainSynthetic int      `json:"train_synthetic,omitempty"`
	Test           int      `json:"test,omitempty"`
	// Majority is the test accuracy of always predicting the most frequent
	// class of each training set.
	Majority     *Score   `json:"majority,omitempty"`
	Models       []Score  `json:"models,omitempty"`
	Spearman     *float64 `json:"spearman,omitempty"`
	SpearmanNote string   `json:"spearman_note,omitempty"`
	// MeanGap is the mean over the classifiers of |real − synthetic|
	// accuracy: how much a user loses by training on the synthetic trace,
	// which the rank correlation does not say.
	MeanGap *float64 `json:"mean_accuracy_gap,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Classifiers returns the classifier family used by the traffic-type task.
func Classifiers(seed int64) []ml.Classifier {
	return []ml.Classifier{
		ml.NewLogisticRegression(), ml.NewDecisionTree(seed), ml.NewRandomForest(seed),
		ml.NewGradientBoosting(), ml.NewMLP(seed), ml.NewGaussianNB(),
	}
}

func normLabel(s string) string { return strings.TrimSpace(s) }

func trafficType(real, syn []trace.Flow, opt Options) *Classification {
	out := &Classification{}
	count := map[string]int{}
	for i := range real {
		if l := normLabel(real[i].Label); l != "" {
			count[l]++
		}
	}
	if len(count) == 0 {
		out.Skipped = "the real trace has no labels"
		return out
	}
	var classes, dropped []string
	for l, c := range count {
		if c >= opt.MinClass {
			classes = append(classes, l)
		} else {
			dropped = append(dropped, fmt.Sprintf("%s (%d)", l, c))
		}
	}
	sort.Strings(classes)
	sort.Strings(dropped)
	if len(dropped) > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("real classes with fewer than %d records left out: %s", opt.MinClass, strings.Join(dropped, ", ")))
	}
	if len(classes) < 2 {
		out.Skipped = fmt.Sprintf("the real trace has %d class(es) with at least %d records; at least 2 are needed", len(classes), opt.MinClass)
		return out
	}
	cls := map[string]int{}
	for i, c := range classes {
		cls[c] = i
	}
	out.Classes = classes
	var realIdx, synIdx []int
	for i := range real {
		if _, ok := cls[normLabel(real[i].Label)]; ok {
			realIdx = append(realIdx, i)
		}
	}
	synClasses := map[string]bool{}
	other := 0
	for i := range syn {
		l := normLabel(syn[i].Label)
		if _, ok := cls[l]; ok {
			synIdx = append(synIdx, i)
			synClasses[l] = true
		} else {
			other++
		}
	}
	if other > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d synthetic records with no label or a label outside the real classes left out", other))
	}
	switch len(synClasses) {
	case 0:
		out.Skipped = "the synthetic trace has no records labelled with the real trace's classes"
		return out
	case 1:
		for l := range synClasses {
			out.Skipped = fmt.Sprintf("the synthetic trace holds only one of the real classes (%s)", l)
		}
		return out
	}
	if len(synClasses) < len(classes) {
		var miss []string
		for _, c := range classes {
			if !synClasses[c] {
				miss = append(miss, c)
			}
		}
		out.Notes = append(out.Notes, "real classes absent from the synthetic trace: "+strings.Join(miss, ", "))
	}

	r := newRand(opt.Seed, 11)
	r.Shuffle(len(realIdx), func(i, j int) { realIdx[i], realIdx[j] = realIdx[j], realIdx[i] })
	cut := len(realIdx) * 7 / 10
	trainIdx := sample(r, realIdx[:cut], opt.MaxTrain)
	testIdx := sample(r, realIdx[cut:], opt.MaxTest)
	synIdx = sample(r, synIdx, opt.MaxTrain)
	label := func(fs []trace.Flow, idx []int) []int {
		y := make([]int, len(idx))
		for i, j := range idx {
			y[i] = cls[normLabel(fs[j].Label)]
		}
		return y
	}
	Xr, yr := rows(real, trainIdx), label(real, trainIdx)
	Xs, ys := rows(syn, synIdx), label(syn, synIdx)
	Xt, yt := rows(real, testIdx), label(real, testIdx)
	if len(distinct(yr)) < 2 || len(yt) == 0 {
		out.Skipped = "too few labelled real records to split into training and test sets with two classes"
		return out
	}
	out.TrainReal, out.TrainSynthetic, out.Test = len(yr), len(ys), len(yt)
	out.Majority = &Score{Name: "majority class", Real: majorityAcc(yr, yt, len(classes)), Synthetic: majorityAcc(ys, yt, len(classes))}

	k := len(classes)
	realModels, synModels := Classifiers(opt.Seed), Classifiers(opt.Seed)
	accR := make([]float64, len(realModels))
	accS := make([]float64, len(realModels))
	errs := bothSides(len(realModels), func(i, side int) error {
		m, X, y, acc := realModels[i], Xr, yr, accR
		if side == 1 {
			m, X, y, acc = synModels[i], Xs, ys, accS
		}
		if err := m.Fit(X, y, k); err != nil {
			return err
		}
		acc[i] = ml.Accuracy(m.Predict(Xt), yt)
		return nil
	})
	var ra, sa []float64
	for i, m := range realModels {
		if errs[2*i] != nil || errs[2*i+1] != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("%s failed: %v", m.Name(), firstErr(errs[2*i], errs[2*i+1])))
			continue
		}
		out.Models = append(out.Models, Score{Name: m.Name(), Real: accR[i], Synthetic: accS[i]})
		ra, sa = append(ra, accR[i]), append(sa, accS[i])
	}
	out.Spearman, out.SpearmanNote = spearmanPtr(ml.Spearman(ra, sa))
	out.MeanGap = meanGap(out.Models)
	if note := tiedNote(ra, len(yt)); note != "" {
		out.Notes = append(out.Notes, note)
	}
	return out
}

// meanGap is the mean of |Real − Synthetic| over scores, nil without any.
func meanGap(scores []Score) *float64 {
	if len(scores) == 0 {
		return nil
	}
	var s float64
	for _, m := range scores {
		s += math.Abs(m.Real - m.Synthetic)
	}
	g := s / float64(len(scores))
	return &g
}

// tiedNote says when the accuracies of the models trained on real records
// lie within two standard errors of an accuracy measured on n test
// records: their order, and so the rank correlation, is then test-set
// noise.
func tiedNote(acc []float64, n int) string {
	if len(acc) < 2 || n == 0 {
		return ""
	}
	spread, twoSE, tied := withinNoise(acc, func(m float64) float64 { return math.Sqrt(m * (1 - m) / float64(n)) })
	if !tied {
		return ""
	}
	return fmt.Sprintf("the classifiers trained on real records score within %.3f of each other, inside two standard errors (%.3f) of an accuracy on %d test records: their order, and the rank correlation, is test-set noise", spread, twoSE, n)
}

// withinNoise returns the spread (max − min) of scores, twice the
// standard error se gives at their mean, and whether the spread lies
// inside it.
func withinNoise(scores []float64, se func(mean float64) float64) (spread, twoSE float64, tied bool) {
	var m float64
	for _, x := range scores {
		m += x
	}
	m /= float64(len(scores))
	spread, twoSE = slices.Max(scores)-slices.Min(scores), 2*se(m)
	return spread, twoSE, spread < twoSE
}

// bothSides runs fn for each of n methods on each side (0 = real,
// 1 = synthetic), two at a time, and returns the errors indexed 2·i+side.
func bothSides(n int, fn func(i, side int) error) []error {
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := 0; i < n; i++ {
		for side := 0; side < 2; side++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				errs[2*i+side] = fn(i, side)
			}()
		}
	}
	wg.Wait()
	return errs
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func distinct(y []int) []int {
	s := slices.Clone(y)
	slices.Sort(s)
	return slices.Compact(s)
}

func majorityAcc(train, test []int, k int) float64 {
	c := make([]int, k)
	for _, v := range train {
		c[v]++
	}
	best := 0
	for i := range c {
		if c[i] > c[best] {
			best = i
		}
	}
	pred := make([]int, len(test))
	for i := range pred {
		pred[i] = best
	}
	return ml.Accuracy(pred, test)
}
