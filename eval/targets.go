package eval

import (
	"fmt"
	"strings"

	"github.com/netshare-go/netshare/eval/protocol"
)

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
	TargetCopyShare    = "copy_share"
	TargetExactCopy    = "exact_copy_rate"
	TargetMembership   = "membership_auc"
	TargetJointFromRef = "joint_tvd_progress"
	TargetProtocol     = "protocol_validity"
)

// MinSyntheticShare is the smallest synthetic trace, as a share of the
// real trace's records, whose targets are judged. The reference generators
// draw as many records as the synthetic trace has, so a tiny synthetic
// trace is compared with equally tiny, equally noisy references: its
// position between them says nothing.
const MinSyntheticShare = 0.10

// CopyShareLimit is the share of synthetic records identical to real ones
// from which a synthetic trace is called a copy of the real trace.
const CopyShareLimit = 0.5

// Verdict statuses.
const (
	VerdictPass      = "pass"
	VerdictFail      = "fail"
	VerdictCopy      = "copy"
	VerdictNotJudged = "not judged"
)

// Verdict is the overall judgement of a result, drawn from its targets.
type Verdict struct {
	// Status is one of "pass" (every judged target met), "fail" (some
	// target missed), "copy" (the synthetic trace is a copy of the real
	// one, whatever its fidelity) or "not judged" (Summary says why).
	Status string `json:"status"`
	// Summary is one line saying why.
	Summary string `json:"summary"`
}

func ptr[T any](v T) *T { return &v }

// Judge returns a result's targets and its overall verdict, from the
// figures the result holds (a result read back from metrics.json can be
// judged again):
//   - the synthetic trace must hold at least [MinSyntheticShare] of the
//     real trace's records, or nothing is judged;
//   - copy share: fewer than [CopyShareLimit] of the synthetic records
//     identical to real (training) records, judged whenever the
//     memorisation audit ran, with or without held-out records;
//   - exact-copy rate at most 1.5 × the rate at which held-out real records
//     match training records, and membership-inference AUC at most 0.6,
//     judged whenever real records were held out of training;
//   - mean joint TVD at least 40% of the way from the marginal sampler to
//     the bootstrap floor: (marginal − synthetic)/(marginal − bootstrap) ≥ 0.4;
//   - protocol validity: the synthetic share of flows passing every protocol
//     check at most [protocol.TargetGap] below the real share, judged
//     whenever the protocol checks ran.
func Judge(res *Result) ([]Target, *Verdict) {
	ts := targets(res)
	small := res.SyntheticRecords < int(MinSyntheticShare*float64(res.RealRecords)+0.5) || res.SyntheticRecords == 0
	if small {
		why := fmt.Sprintf("the synthetic trace has %s, under %.0f%% of the real trace's %s: its references shrink to its size, so its figures say nothing",
			Plural(res.SyntheticRecords, "record"), 100*MinSyntheticShare, Plural(res.RealRecords, "record"))
		for i := range ts {
			ts[i].Pass, ts[i].Reason = nil, why
		}
		return ts, &Verdict{Status: VerdictNotJudged, Summary: "not judged: " + why}
	}
	var failed, passed, open []string
	for _, t := range ts {
		switch {
		case t.Pass == nil:
			open = append(open, t.Name)
		case *t.Pass:
			passed = append(passed, t.Name)
		default:
			failed = append(failed, t.Description)
		}
	}
	for _, t := range ts {
		if t.Name == TargetCopyShare && t.Pass != nil && !*t.Pass {
			return ts, &Verdict{Status: VerdictCopy, Summary: fmt.Sprintf("a copy of the real trace: %s of the synthetic records are identical to real ones", pctText(*t.Value))}
		}
	}
	notJudged := ""
	if len(open) > 0 {
		notJudged = fmt.Sprintf("; not judged: %s", strings.Join(open, ", "))
	}
	switch {
	case len(failed) > 0:
		return ts, &Verdict{Status: VerdictFail, Summary: fmt.Sprintf("fail: %d of %d judged targets missed (%s)%s",
			len(failed), len(failed)+len(passed), strings.Join(failed, "; "), notJudged)}
	case len(passed) > 0:
		return ts, &Verdict{Status: VerdictPass, Summary: fmt.Sprintf("pass: %s met%s", Plural(len(passed), "judged target"), notJudged)}
	}
	return ts, &Verdict{Status: VerdictNotJudged, Summary: "not judged: no target could be judged" + strings.TrimPrefix(notJudged, "; not judged")}
}

func pctText(v float64) string {
	if v != 0 && v < 0.1 {
		return fmt.Sprintf("%.2f%%", 100*v)
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// Plural returns n with the noun, in the plural unless n is 1, and with
// thousands separated by commas: "1 record", "2,000 records".
func Plural(n int, noun string) string {
	s := fmt.Sprint(n)
	if n < 0 {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n < 0 {
		s = "-" + s
	}
	if n != 1 {
		noun += "s"
	}
	return s + " " + noun
}

func targets(res *Result) []Target {
	var out []Target
	if a := res.PrivacyAudit; a != nil {
		c := Target{Name: TargetCopyShare, Description: fmt.Sprintf("under %.0f%% of the synthetic %s identical to real ones (a copy of the real trace otherwise)", 100*CopyShareLimit, a.Unit),
			Value: ptr(a.ExactCopy.Rate), Limit: ptr(CopyShareLimit)}
		if h := a.ExactCopy.HoldoutRate; h != nil && *h >= CopyShareLimit {
			c.Reason = fmt.Sprintf("the real trace repeats itself: %s of the held-out records are identical to training ones", pctText(*h))
		} else {
			c.Pass = ptr(a.ExactCopy.Rate < CopyShareLimit)
		}
		out = append(out, c)
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
	if b := res.Baselines; b != nil && b.Bootstrap != nil && b.Marginal != nil {
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
	out = append(out, j)
	if p := res.Protocol; p != nil {
		out = append(out, Target{Name: TargetProtocol,
			Description: fmt.Sprintf("share of synthetic flows passing every protocol check at most %g point below the real share", 100*protocol.TargetGap),
			Value:       ptr(p.All.Synthetic.Flows - p.All.Real.Flows), Limit: ptr(-protocol.TargetGap), Pass: ptr(p.Pass)})
	}
	return out
}
