package eval

import "fmt"

// Target is one of the goals a synthetic trace is reported against. They
// are shown with a pass or fail mark; the tool does not fail on them.
type Target struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Value       *float64 `json:"value,omitempty"`
	Limit       *float64 `json:"limit,omitempty"`
	// Pass is nil when the target cannot be judged (Reason says why).
	Pass   *bool  `json:"pass,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Target names.
const (
	TargetExactCopy    = "exact_copy_rate"
	TargetMembership   = "membership_auc"
	TargetJointFromRef = "joint_tvd_progress"
)

func ptr[T any](v T) *T { return &v }

// targets judges a result against the project's targets:
//   - exact-copy rate at most 1.5 × the rate at which held-out real records
//     match training records;
//   - membership-inference AUC at most 0.6;
//   - mean joint TVD at least 40% of the way from the marginal sampler to
//     the bootstrap floor: (marginal − synthetic)/(marginal − bootstrap) ≥ 0.4.
func targets(res *Result) []Target {
	var out []Target
	if a := res.PrivacyAudit; a != nil {
		t := Target{Name: TargetExactCopy, Description: "exact-copy rate ≤ 1.5 × the held-out records' rate of matching training records", Value: ptr(a.ExactCopy.Rate)}
		if h := a.ExactCopy.HoldoutRate; h != nil {
			t.Limit = ptr(1.5 * *h)
			t.Pass = ptr(a.ExactCopy.Rate <= *t.Limit)
		} else {
			t.Reason = "needs real records held out of training"
		}
		out = append(out, t)
		m := Target{Name: TargetMembership, Description: "membership-inference AUC ≤ 0.6 (0.5 = no signal)", Limit: ptr(0.6)}
		if a.Membership != nil {
			m.Value = ptr(a.Membership.AUC)
			m.Pass = ptr(a.Membership.AUC <= 0.6)
		} else {
			m.Reason = "needs real records held out of training"
		}
		out = append(out, m)
	}
	j := Target{Name: TargetJointFromRef, Description: "mean joint TVD at least 40% of the way from the marginal sampler to the bootstrap floor", Limit: ptr(0.4)}
	if b := res.Baselines; b != nil {
		bt, mt := b.Bootstrap.MeanJointTVD(), b.Marginal.MeanJointTVD()
		if mt > bt {
			j.Value = ptr((mt - res.MeanJointTVD()) / (mt - bt))
			j.Pass = ptr(*j.Value >= 0.4)
		} else {
			j.Reason = fmt.Sprintf("the marginal sampler (%.4g) is not above the bootstrap floor (%.4g) on this trace", mt, bt)
		}
	} else {
		j.Reason = "the reference generators were not run"
	}
	return append(out, j)
}
