package ml

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// blobs returns n rows per class around well-separated centres in 4-d
// (one irrelevant feature), with labels.
func blobs(r *rand.Rand, n, k int) ([][]float64, []int) {
	var X [][]float64
	var y []int
	for c := 0; c < k; c++ {
		for i := 0; i < n; i++ {
			X = append(X, []float64{
				float64(c)*4 + r.NormFloat64(),
				float64(c%2)*3 + r.NormFloat64(),
				r.NormFloat64() * 10,
				float64(c) * 100,
			})
			y = append(y, c)
		}
	}
	for i := range X {
		X[i][3] += r.NormFloat64() * 80 // partly informative, large scale
	}
	return X, y
}

// xor returns a dataset no linear model can separate.
func xor(r *rand.Rand, n int) ([][]float64, []int) {
	var X [][]float64
	var y []int
	for i := 0; i < n; i++ {
		a, b := r.Float64()*2-1, r.Float64()*2-1
		if math.Abs(a) < 0.05 || math.Abs(b) < 0.05 {
			continue
		}
		c := 0
		if (a > 0) != (b > 0) {
			c = 1
		}
		X = append(X, []float64{a, b})
		y = append(y, c)
	}
	return X, y
}

func classifiers() []Classifier {
	return []Classifier{NewLogisticRegression(), NewDecisionTree(1), NewRandomForest(1), NewGradientBoosting(), NewMLP(1), NewGaussianNB()}
}

func TestClassifiersLearnBlobs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	X, y := blobs(r, 200, 3)
	Xt, yt := blobs(r, 100, 3)
	for _, c := range classifiers() {
		if err := c.Fit(X, y, 3); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		if acc := Accuracy(c.Predict(Xt), yt); acc < 0.9 {
			t.Errorf("%s: accuracy %.3f on separable blobs, want ≥ 0.9", c.Name(), acc)
		}
	}
}

func TestNonlinearLearnersSolveXOR(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	X, y := xor(r, 1500)
	Xt, yt := xor(r, 500)
	accs := map[string]float64{}
	for _, c := range classifiers() {
		if err := c.Fit(X, y, 2); err != nil {
			t.Fatal(err)
		}
		accs[c.Name()] = Accuracy(c.Predict(Xt), yt)
	}
	for _, name := range []string{"decision tree", "random forest", "gradient boosting", "MLP"} {
		if accs[name] < 0.9 {
			t.Errorf("%s: XOR accuracy %.3f, want ≥ 0.9", name, accs[name])
		}
	}
	for _, name := range []string{"logistic regression", "naive Bayes"} {
		if accs[name] > 0.75 {
			t.Errorf("%s: XOR accuracy %.3f, a linear/independent model should fail", name, accs[name])
		}
	}
}

func TestClassifiersDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	X, y := blobs(r, 60, 3)
	for i := range classifiers() {
		a, b := classifiers()[i], classifiers()[i]
		a.Fit(X, y, 3)
		b.Fit(X, y, 3)
		if !slices.Equal(a.Predict(X), b.Predict(X)) {
			t.Errorf("%s: two fits with one seed differ", a.Name())
		}
	}
}

func TestClassifiersRejectBadInput(t *testing.T) {
	for _, c := range classifiers() {
		if err := c.Fit(nil, nil, 2); err == nil {
			t.Errorf("%s: no error for empty input", c.Name())
		}
		if err := c.Fit([][]float64{{1}, {2}}, []int{0, 2}, 2); err == nil {
			t.Errorf("%s: no error for a label out of range", c.Name())
		}
		if err := c.Fit([][]float64{{1}, {math.NaN()}}, []int{0, 1}, 2); err == nil {
			t.Errorf("%s: no error for NaN", c.Name())
		}
		if err := c.Fit([][]float64{{1, 2}, {3}}, []int{0, 1}, 2); err == nil {
			t.Errorf("%s: no error for ragged rows", c.Name())
		}
	}
}

func TestSingleClassTrainingPredictsIt(t *testing.T) {
	X := [][]float64{{1, 2}, {2, 3}, {3, 1}}
	for _, c := range classifiers() {
		if err := c.Fit(X, []int{1, 1, 1}, 3); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		for _, p := range c.Predict([][]float64{{0, 0}, {5, 5}}) {
			if p != 1 {
				t.Errorf("%s predicts %d after seeing only class 1", c.Name(), p)
			}
		}
	}
}

func TestSpearmanAndAUC(t *testing.T) {
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}); math.Abs(got-1) > 1e-12 {
		t.Errorf("monotone: %v", got)
	}
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(got+1) > 1e-12 {
		t.Errorf("reversed: %v", got)
	}
	// ranks a = (1,2,3), b = (1.5,1.5,3): ρ = Σdadb/√(ΣdaΣdb) = 1.5/√(2·1.5).
	if got, want := Spearman([]float64{1, 2, 3}, []float64{5, 5, 9}), 1.5/math.Sqrt(3); math.Abs(got-want) > 1e-12 {
		t.Errorf("ties: %v, want %v", got, want)
	}
	if !math.IsNaN(Spearman([]float64{1, 2}, []float64{3, 3})) {
		t.Error("constant side should give NaN")
	}
	pos := []bool{true, false, true, false}
	if got := AUC([]float64{0.9, 0.1, 0.8, 0.2}, pos); got != 1 {
		t.Errorf("perfect AUC %v", got)
	}
	// positives 0.5, 0.2; negatives 0.5, 0.1: pairs (0.5,0.5) tie ½,
	// (0.5,0.1) 1, (0.2,0.5) 0, (0.2,0.1) 1 → 2.5/4.
	if got := AUC([]float64{0.5, 0.5, 0.2, 0.1}, pos); got != 0.625 {
		t.Errorf("AUC with ties %v, want 0.625", got)
	}
	if !math.IsNaN(AUC([]float64{1, 2}, []bool{true, true})) {
		t.Error("one class should give NaN")
	}
}

func TestDetectorsRankOutliersHigh(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	var fit, test [][]float64
	var pos []bool
	for i := 0; i < 600; i++ {
		a := r.NormFloat64()
		fit = append(fit, []float64{a, 2*a + 0.3*r.NormFloat64(), r.NormFloat64()})
	}
	for i := 0; i < 200; i++ {
		a := r.NormFloat64()
		test = append(test, []float64{a, 2*a + 0.3*r.NormFloat64(), r.NormFloat64()})
		pos = append(pos, false)
	}
	for i := 0; i < 40; i++ {
		// Off the correlation line: unusual jointly, not marginally.
		a := r.NormFloat64()
		test = append(test, []float64{a, -2*a + 3*sign(a), r.NormFloat64()})
		pos = append(pos, true)
	}
	far := slices.Clone(test)
	for i := range far {
		if pos[i] {
			far[i] = []float64{5 + r.Float64(), -8 - r.Float64(), 4 * sign(r.NormFloat64())}
		}
	}
	for _, d := range []Detector{NewIsolationForest(1), NewKNNDistance(), NewPCAReconstruction(), NewMahalanobis()} {
		if err := d.Fit(fit); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		if auc := AUC(d.Score(far), pos); auc < 0.95 {
			t.Errorf("%s: AUC %.3f on far outliers, want ≥ 0.95", d.Name(), auc)
		}
		// Axis-parallel isolation is weak on outliers that are unusual
		// only jointly; the others must catch them.
		if auc := AUC(d.Score(test), pos); d.Name() != "isolation forest" && auc < 0.85 {
			t.Errorf("%s: AUC %.3f on joint outliers, want ≥ 0.85", d.Name(), auc)
		}
		if err := d.Fit(nil); err == nil {
			t.Errorf("%s: no error on empty input", d.Name())
		}
	}
}

func sign(a float64) float64 {
	if a < 0 {
		return -1
	}
	return 1
}

// TestCovarianceAndPCAOnKnownData checks the covariance (divisor n) and the
// PCA subspace on rows whose answers are known exactly.
func TestCovarianceAndPCAOnKnownData(t *testing.T) {
	c := covariance([][]float64{{1, 2}, {3, 6}, {5, 4}})
	want := [2][2]float64{{8.0 / 3, 4.0 / 3}, {4.0 / 3, 8.0 / 3}}
	for a := range 2 {
		for b := range 2 {
			if got := c.At(a, b); math.Abs(got-want[a][b]) > 1e-12 {
				t.Errorf("covariance[%d][%d] = %v, want %v", a, b, got, want[a][b])
			}
		}
	}
	if c := covariance([][]float64{{1, 2}}); c.At(0, 0) != 0 || c.At(0, 1) != 0 {
		t.Errorf("one row: covariance %v, want zero", c)
	}
	// Rows on the line y = 2x standardise onto z₁ = z₂: one component
	// keeps all the variance; a point on the line reconstructs exactly, one
	// at standardised (1, −1) is 2 away (squared).
	m := NewPCAReconstruction()
	if err := m.Fit([][]float64{{-1, -2}, {0, 0}, {1, 2}}); err != nil {
		t.Fatal(err)
	}
	if _, q := m.basis.Dims(); q != 1 {
		t.Fatalf("kept %d components, want 1", q)
	}
	s := math.Sqrt(2.0 / 3)
	got := m.Score([][]float64{{s, 2 * s}, {s, -2 * s}})
	if math.Abs(got[0]) > 1e-12 || math.Abs(got[1]-2) > 1e-12 {
		t.Errorf("reconstruction errors %v, want [0 2]", got)
	}
}
