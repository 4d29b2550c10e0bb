package downstream

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/netshare-go/netshare/eval/downstream/ml"
	"github.com/netshare-go/netshare/trace"
)

// Anomaly is the anomaly-detection task: detectors fitted on the normal
// records of the real trace and, separately, on those of the synthetic
// trace (novelty detection, as NetML fits its detectors on benign flows),
// each scored by its AUC at telling anomalous from normal held-out real
// records.
//
// Fitting on all records, whatever their label, measured nothing on
// traces where the anomalous records are the majority (60% of
// `ctu-normal-40-day1`): they were the dense region a detector calls
// normal, and every detector scored an AUC below 0.5.
type Anomaly struct {
	Skipped       string   `json:"skipped,omitempty"`
	FitReal       int      `json:"fit_real,omitempty"`
	FitSynthetic  int      `json:"fit_synthetic,omitempty"`
	Test          int      `json:"test,omitempty"`
	TestAnomalous int      `json:"test_anomalous,omitempty"`
	Anomalous     []string `json:"anomalous_labels,omitempty"`
	Normal        []string `json:"normal_labels,omitempty"`
	Detectors     []Score  `json:"detectors,omitempty"`
	Spearman      *float64 `json:"spearman,omitempty"`
	SpearmanNote  string   `json:"spearman_note,omitempty"`
	// MeanGap is the mean over the detectors of |real − synthetic| AUC.
	MeanGap *float64 `json:"mean_auc_gap,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Detectors returns the detector family used by the anomaly task.
func Detectors(seed int64) []ml.Detector {
	return []ml.Detector{ml.NewIsolationForest(seed), ml.NewKNNDistance(), ml.NewPCAReconstruction(), ml.NewMahalanobis()}
}

var (
	anomalousWords = []string{"blacklist", "malicious", "malware", "anomal", "attack", "botnet", "scan", "dos", "spam", "exploit", "intrusion", "c&c"}
	normalWords    = []string{"background", "benign", "normal", "legitimate"}
)

// LabelClass says whether a label names anomalous traffic (+1), normal
// traffic (−1) or neither (0), by keywords (case-insensitive): blacklist,
// malicious, malware, anomal…, attack, botnet, scan, dos, spam, exploit,
// intrusion, c&c versus background, benign, normal, legitimate.
func LabelClass(label string) int {
	l := strings.ToLower(strings.TrimSpace(label))
	if l == "" {
		return 0
	}
	for _, w := range anomalousWords {
		if strings.Contains(l, w) {
			return 1
		}
	}
	for _, w := range normalWords {
		if strings.Contains(l, w) {
			return -1
		}
	}
	return 0
}

func anomaly(real, syn []trace.Flow, opt Options) *Anomaly {
	out := &Anomaly{}
	anom, norm := map[string]bool{}, map[string]bool{}
	var npos, nneg int
	for i := range real {
		switch LabelClass(real[i].Label) {
		case 1:
			npos++
			anom[real[i].Label] = true
		case -1:
			nneg++
			norm[real[i].Label] = true
		}
	}
	const need = 10
	if npos < need || nneg < need {
		out.Skipped = fmt.Sprintf("the real trace has %d anomalous and %d normal labelled records; at least %d of each are needed", npos, nneg, need)
		return out
	}
	out.Anomalous, out.Normal = sortedKeys(anom), sortedKeys(norm)
	r := newRand(opt.Seed, 21)
	idx := r.Perm(len(real))
	half := len(idx) / 2
	fitPool := normalRecords(real, idx[:half])
	if len(fitPool) < need {
		out.Skipped = fmt.Sprintf("the real half the detectors are fitted on has %d normal records; at least %d are needed", len(fitPool), need)
		return out
	}
	fitIdx := sample(r, fitPool, opt.MaxFit)
	var pos, neg []int
	for _, i := range idx[half:] {
		switch LabelClass(real[i].Label) {
		case 1:
			pos = append(pos, i)
		case -1:
			neg = append(neg, i)
		}
	}
	if len(pos) == 0 || len(neg) == 0 {
		out.Skipped = "the held-out half of the real trace lacks anomalous or normal records"
		return out
	}
	// Keep the test set's class balance when capping it.
	np := len(pos) * opt.MaxTest / (len(pos) + len(neg))
	if len(pos)+len(neg) > opt.MaxTest {
		pos = sample(r, pos, max(1, np))
		neg = sample(r, neg, max(1, opt.MaxTest-len(pos)))
	}
	testIdx := append(append([]int(nil), pos...), neg...)
	truth := make([]bool, len(testIdx))
	for i := range pos {
		truth[i] = true
	}
	synPool := normalRecords(syn, nil)
	if len(synPool) < need {
		out.Skipped = fmt.Sprintf("the synthetic trace has %d normal records (labels %s); at least %d are needed to fit the detectors on", len(synPool), strings.Join(out.Normal, ", "), need)
		return out
	}
	synIdx := sample(r, synPool, opt.MaxFit)
	Xr, Xs, Xt := rows(real, fitIdx), rows(syn, synIdx), rows(real, testIdx)
	out.FitReal, out.FitSynthetic, out.Test, out.TestAnomalous = len(Xr), len(Xs), len(Xt), len(pos)

	dr, ds := Detectors(opt.Seed), Detectors(opt.Seed)
	aucR, aucS := make([]float64, len(dr)), make([]float64, len(dr))
	errs := bothSides(len(dr), func(i, side int) error {
		d, X, auc := dr[i], Xr, aucR
		if side == 1 {
			d, X, auc = ds[i], Xs, aucS
		}
		if err := d.Fit(X); err != nil {
			return err
		}
		auc[i] = ml.AUC(d.Score(Xt), truth)
		return nil
	})
	var ra, sa []float64
	for i, d := range dr {
		if err := firstErr(errs[2*i], errs[2*i+1]); err != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("%s failed: %v", d.Name(), err))
			continue
		}
		out.Detectors = append(out.Detectors, Score{Name: d.Name(), Real: aucR[i], Synthetic: aucS[i]})
		ra, sa = append(ra, aucR[i]), append(sa, aucS[i])
	}
	out.Spearman, out.SpearmanNote = spearmanPtr(ml.Spearman(ra, sa))
	out.MeanGap = meanGap(out.Detectors)
	if note := aucTiedNote(ra, len(pos), len(neg)); note != "" {
		out.Notes = append(out.Notes, note)
	}
	return out
}

// minRankRecords is the fewest test records of each class for the
// detectors' order to be more than noise (aucTiedNote).
const minRankRecords = 30

// normalRecords returns the indices in idx (all of fs when idx is nil)
// of the records whose label names normal traffic.
func normalRecords(fs []trace.Flow, idx []int) []int {
	n := len(idx)
	if idx == nil {
		n = len(fs)
	}
	var out []int
	for j := range n {
		i := j
		if idx != nil {
			i = idx[j]
		}
		if LabelClass(fs[i].Label) == -1 {
			out = append(out, i)
		}
	}
	return out
}

// aucTiedNote says when the AUCs of the detectors fitted on real records
// lie within two standard errors (Hanley and McNeil's, at their mean) of
// an AUC measured on npos anomalous and nneg normal test records: their
// order, and so the rank correlation, is then test-set noise. With fewer
// than minRankRecords of either class it says so whatever the AUCs: near
// an AUC of 1 the standard error assumes the separation it measures, and
// five anomalous records decide an order by one of them.
func aucTiedNote(auc []float64, npos, nneg int) string {
	if len(auc) < 2 || npos == 0 || nneg == 0 {
		return ""
	}
	if n := min(npos, nneg); n < minRankRecords {
		class := "normal"
		if npos < nneg {
			class = "anomalous"
		}
		return fmt.Sprintf("the test set holds only %d %s records (fewer than %d): the detectors' order, and the rank correlation, rest on so few that they are mostly noise", n, class, minRankRecords)
	}
	spread, twoSE, tied := withinNoise(auc, func(m float64) float64 { return aucSE(m, npos, nneg) })
	if !tied {
		return ""
	}
	return fmt.Sprintf("the detectors fitted on real records score AUCs within %.3f of each other, inside two standard errors (%.3f) of an AUC on %d anomalous and %d normal test records: their order, and the rank correlation, is test-set noise", spread, twoSE, npos, nneg)
}

// aucSE is Hanley and McNeil's (1982) standard error of an AUC a measured
// on npos positive and nneg negative records.
func aucSE(a float64, npos, nneg int) float64 {
	q1, q2 := a/(2-a), 2*a*a/(1+a)
	np, nn := float64(npos), float64(nneg)
	v := (a*(1-a) + (np-1)*(q1-a*a) + (nn-1)*(q2-a*a)) / (np * nn)
	return math.Sqrt(max(v, 0))
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
