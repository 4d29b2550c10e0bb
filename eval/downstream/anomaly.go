package downstream

import (
	"fmt"
	"slices"
	"strings"

	"github.com/netshare-go/netshare/eval/downstream/ml"
	"github.com/netshare-go/netshare/trace"
)

// Anomaly is the anomaly-detection task: unsupervised detectors fitted on
// real records and, separately, on synthetic records, each scored by its
// AUC at telling anomalous from normal held-out real records.
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
	fitIdx := sample(r, idx[:half], opt.MaxFit)
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
	all := make([]int, len(syn))
	for i := range all {
		all[i] = i
	}
	synIdx := sample(r, all, opt.MaxFit)
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
	return out
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
