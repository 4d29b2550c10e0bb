package ml

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Classifier is a supervised multi-class learner.
type Classifier interface {
	Name() string
	// Fit learns from rows X with labels y in [0, k).
	Fit(X [][]float64, y []int, k int) error
	// Predict returns the predicted class of each row.
	Predict(X [][]float64) []int
}

// Detector is an unsupervised anomaly detector.
type Detector interface {
	Name() string
	// Fit learns what normal rows look like.
	Fit(X [][]float64) error
	// Score returns one score per row; higher means more anomalous.
	Score(X [][]float64) []float64
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0xbb67ae8584caa73b))
}

func checkXY(X [][]float64, y []int, k int) error {
	if len(X) == 0 {
		return errors.New("no training rows")
	}
	if y != nil && len(y) != len(X) {
		return fmt.Errorf("%d rows but %d labels", len(X), len(y))
	}
	d := len(X[0])
	if d == 0 {
		return errors.New("rows have no features")
	}
	for i, r := range X {
		if len(r) != d {
			return fmt.Errorf("row %d has %d features, want %d", i, len(r), d)
		}
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d holds a non-finite value", i)
			}
		}
		if y != nil && (y[i] < 0 || y[i] >= k) {
			return fmt.Errorf("label %d of row %d outside [0, %d)", y[i], i, k)
		}
	}
	return nil
}

// Standardizer rescales each feature to zero mean and unit variance, using
// the statistics of the rows it was fitted on (constant features keep a
// scale of 1).
type Standardizer struct{ Mean, Std []float64 }

// FitStandardizer computes the per-feature mean and standard deviation.
func FitStandardizer(X [][]float64) *Standardizer {
	d := len(X[0])
	s := &Standardizer{Mean: make([]float64, d), Std: make([]float64, d)}
	for _, r := range X {
		for j, v := range r {
			s.Mean[j] += v
		}
	}
	n := float64(len(X))
	for j := range s.Mean {
		s.Mean[j] /= n
	}
	for _, r := range X {
		for j, v := range r {
			dv := v - s.Mean[j]
			s.Std[j] += dv * dv
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / n)
		if s.Std[j] < 1e-12 {
			s.Std[j] = 1
		}
	}
	return s
}

// Transform returns standardised copies of the rows.
func (s *Standardizer) Transform(X [][]float64) [][]float64 {
	out := make([][]float64, len(X))
	flat := make([]float64, len(X)*len(s.Mean))
	for i, r := range X {
		o := flat[i*len(s.Mean) : (i+1)*len(s.Mean)]
		for j, v := range r {
			o[j] = (v - s.Mean[j]) / s.Std[j]
		}
		out[i] = o
	}
	return out
}

// Accuracy returns the share of predictions equal to the labels.
func Accuracy(pred, y []int) float64 {
	if len(y) == 0 {
		return math.NaN()
	}
	c := 0
	for i := range y {
		if pred[i] == y[i] {
			c++
		}
	}
	return float64(c) / float64(len(y))
}

// ranks returns the 1-based ranks of v, ties sharing their average rank.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1..j
		for t := i; t < j; t++ {
			r[idx[t]] = avg
		}
		i = j
	}
	return r
}

// Spearman returns Spearman's rank correlation of a and b (ties get
// average ranks). It is NaN when either has fewer than two distinct values
// or the lengths differ.
func Spearman(a, b []float64) float64 {
	if len(a) != len(b) || len(a) < 2 {
		return math.NaN()
	}
	ra, rb := ranks(a), ranks(b)
	var ma, mb float64
	for i := range ra {
		ma += ra[i]
		mb += rb[i]
	}
	ma /= float64(len(ra))
	mb /= float64(len(rb))
	var sab, saa, sbb float64
	for i := range ra {
		da, db := ra[i]-ma, rb[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}

// AUC returns the area under the ROC curve of scores for telling positive
// rows (pos[i] true) from negative ones: the probability that a random
// positive scores above a random negative, ties counting half. It is NaN
// without both classes.
func AUC(scores []float64, pos []bool) float64 {
	r := ranks(scores)
	var np, nn int
	var sum float64
	for i, p := range pos {
		if p {
			np++
			sum += r[i]
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	return (sum - float64(np)*float64(np+1)/2) / (float64(np) * float64(nn))
}

func argmax(v []float64) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}

func softmaxInPlace(z []float64) {
	m := slices.Max(z)
	var s float64
	for i := range z {
		z[i] = math.Exp(z[i] - m)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}
