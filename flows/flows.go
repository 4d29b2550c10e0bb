package flows

import (
	"cmp"
	"slices"

	"github.com/netshare-go/netshare/trace"
)

// Record is the constraint on record types: a pointer to R gives the
// record's 5-tuple and its time in microseconds.
type Record[R any] interface {
	*R
	Key() trace.Key
	Time() int64
}

// Flow is the records of one 5-tuple, in time order.
type Flow[R any] struct {
	Key     trace.Key
	Records []R
}

// SortByTime sorts records by time, keeping the input order of records with
// equal times.
func SortByTime[R any, P Record[R]](recs []R) {
	slices.SortStableFunc(recs, func(a, b R) int { return cmp.Compare(P(&a).Time(), P(&b).Time()) })
}

// IsSorted reports whether records are in non-decreasing time order.
func IsSorted[R any, P Record[R]](recs []R) bool {
	for i := 1; i < len(recs); i++ {
		if P(&recs[i]).Time() < P(&recs[i-1]).Time() {
			return false
		}
	}
	return true
}

// Group groups time-ordered records into flows by 5-tuple. Flows are
// returned in order of their first record; records keep their order. The
// records must be sorted by time (see SortByTime); Group does not copy them
// but the returned flows share no memory with recs.
func Group[R any, P Record[R]](recs []R) []Flow[R] {
	index := make(map[trace.Key]int)
	var out []Flow[R]
	for i := range recs {
		k := P(&recs[i]).Key()
		j, ok := index[k]
		if !ok {
			j = len(out)
			index[k] = j
			out = append(out, Flow[R]{Key: k})
		}
		out[j].Records = append(out[j].Records, recs[i])
	}
	return out
}

// CountKeys returns the number of distinct 5-tuples in recs, using memory
// proportional to the number of flows, not records.
func CountKeys[R any, P Record[R]](recs []R) int {
	seen := make(map[trace.Key]struct{})
	for i := range recs {
		seen[P(&recs[i]).Key()] = struct{}{}
	}
	return len(seen)
}
