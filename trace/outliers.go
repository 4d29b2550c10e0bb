package trace

import (
	"slices"
	"time"
)

// ReasonTimeOutlier counts the records dropped by the time-outlier rule
// (TimeOutliers) when bad records are skipped.
const ReasonTimeOutlier = "time-outlier"

// The time-outlier rule (see docs/formats.md): a record is an outlier when
// it sits at one end of the trace's sorted times, beyond a gap wider than
// both OutlierFactor times the span of the trace's bulk and OutlierMinGap,
// and it is among the OutlierShare of records nearest that end.
const (
	// OutlierFactor is how many times the span of the bulk a gap must
	// exceed.
	OutlierFactor = 10
	// OutlierMinGap is the narrowest gap that can set records apart,
	// however short the trace.
	OutlierMinGap = int64(time.Hour / time.Microsecond)
	// OutlierShare is the largest share of the records that can be
	// outliers at each end (at least one record).
	OutlierShare = 0.001
	// OutlierMinRecords is the fewest records a trace must hold for the
	// rule to apply: with fewer there is no bulk to speak of.
	OutlierMinRecords = 10
)

// TimeOutliers returns, in increasing order, the indices of the times
// (microseconds, in any order) that lie far outside the bulk of the trace:
// at either end of the sorted times, past a gap wider than OutlierFactor
// times the span of the bulk and than OutlierMinGap. The bulk is the trace
// without its k earliest and k latest records, k = max(1, OutlierShare·n),
// and at most k records are outliers at each end. A timestamp decades off
// (a clock reset to 1970, a typo'd year) is one; an ordinary trace, however
// bursty, has none, since a gap ten times as long as the rest of the trace
// is not how captures or flow logs end.
func TimeOutliers(times []int64) []int {
	n := len(times)
	s := slices.Clone(times)
	slices.Sort(s)
	lo, hi, ok := TimeOutlierBounds(n, func(i int) int64 { return s[i] })
	if !ok {
		return nil
	}
	var out []int
	for i, t := range times {
		if t <= lo || t >= hi {
			out = append(out, i)
		}
	}
	return out
}

// OutlierEnd is the number of sorted times at each end of a trace of n
// records that TimeOutlierBounds reads: the rule looks at no others.
func OutlierEnd(n int) int {
	return max(1, int(OutlierShare*float64(n))) + 1
}

// TimeOutlierBounds applies the time-outlier rule to n times given in
// sorted order by at, which is only called with indices among the
// OutlierEnd(n) first and last: a time t is an outlier when t <= lo or t >=
// hi. ok is false when the rule does not apply or finds none. This lets a
// caller that cannot hold every time (a streaming reader) keep only the
// times at both ends.
func TimeOutlierBounds(n int, at func(i int) int64) (lo, hi int64, ok bool) {
	if n < OutlierMinRecords {
		return 0, 0, false
	}
	k := max(1, int(OutlierShare*float64(n)))
	bulk := gap(at(k), at(n-1-k))
	if bulk > (1<<63-1)/OutlierFactor {
		return 0, 0, false // no gap can be wider than that
	}
	limit := max(OutlierMinGap, OutlierFactor*bulk)
	// The innermost gap past the limit at each end decides: every record
	// beyond it is an outlier.
	lo, hi = at(0)-1, at(n-1)+1 // times <= lo or >= hi are outliers
	for j := k; j >= 1; j-- {
		if gap(at(j-1), at(j)) > limit {
			lo, ok = at(j-1), true
			break
		}
	}
	for j := n - k; j <= n-1; j++ {
		if gap(at(j-1), at(j)) > limit {
			hi, ok = at(j), true
			break
		}
	}
	return lo, hi, ok
}

// gap is b - a for a <= b, saturating instead of overflowing.
func gap(a, b int64) int64 {
	d := b - a
	if d < 0 {
		return 1<<63 - 1
	}
	return d
}
