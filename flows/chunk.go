package flows

import (
	"errors"
	"fmt"
	"math"

	"github.com/netshare-go/netshare/trace"
)

// Options controls Split.
type Options struct {
	// Chunks is the number of equal-time chunks N (at least 1).
	Chunks int
	// MaxFlowLen, when positive, bounds the records of each flow within a
	// chunk: the rest are dropped and counted, or, with SplitLong, start a
	// new flow of the same 5-tuple (so no record is lost).
	MaxFlowLen int
	SplitLong  bool
	// Chain, with MaxFlowLen, cuts a long flow into segments of at most
	// MaxFlowLen records as SplitLong does, but keeps them one flow: every
	// segment carries the flow's length in the chunk (ChunkFlow.FlowLen),
	// the segments after the first are marked as following the one before
	// (ChunkFlow.Follows) with the time between them (ChunkFlow.Lead), so
	// that a model can learn the segments and generation chain them again.
	// A flow's records past MaxChainLen (when positive) are dropped and
	// counted.
	Chain       bool
	MaxChainLen int
	// Start and End, when End > Start, fix the time range [Start, End] in
	// microseconds instead of taking it from the data (needed under
	// differential privacy, where chunk edges must not depend on the private
	// trace). Records outside the range are dropped and counted.
	Start, End int64
}

// ChunkFlow is a flow's part inside one chunk, with NetShare's
// multichunk_dep_v2 tags.
type ChunkFlow[R any] struct {
	Flow[R]
	// StartsHere is true in the first chunk where the 5-tuple appears.
	StartsHere bool
	// Present[i] is true when the 5-tuple has records in chunk i.
	Present []bool
	// Truncated counts this flow's records dropped by Options.MaxFlowLen
	// (or, with Options.Chain, by Options.MaxChainLen).
	Truncated int
	// With Options.Chain: FlowLen is the records of the whole flow in this
	// chunk (over all its segments), Follows is true for every segment but
	// the first, Lead is, for those, the time from the previous
	// segment's last record to this one's first, and Span, on every
	// segment, the time from the flow's first record in this chunk to its
	// last kept one (0 for a flow of one record).
	FlowLen int
	Follows bool
	Lead    int64
	Span    int64
}

// Chunk is one time interval [Start, End) of the trace (the last chunk's
// End is one past the trace's last timestamp).
type Chunk[R any] struct {
	Index      int
	Start, End int64
	Flows      []ChunkFlow[R]
	Records    int // records kept in this chunk
}

// SplitStats reports what Split saw and dropped.
type SplitStats struct {
	Records          int // input records
	Flows            int // distinct 5-tuples over the whole trace
	MultiChunkFlows  int // 5-tuples present in more than one chunk
	NonContiguous    int // 5-tuples whose chunks are not consecutive
	EmptyChunks      int
	TruncatedFlows   int // chunk flows cut to MaxFlowLen
	TruncatedRecords int // records dropped by the cut
	SplitFlows       int // extra chunk flows made by SplitLong, or segments after the first with Chain
	ChainedFlows     int // chunk flows of more than one segment (Chain)
	LongestChain     int // records of the longest chunk flow, over its segments (Chain)
	OutOfRange       int // records outside a fixed [Start, End]
	MaxFlowLen       int // longest chunk flow after truncation
}

// Split is a trace cut into time chunks.
type Split[R any] struct {
	Chunks []Chunk[R]
	Stats  SplitStats
}

// ErrNoRecords is returned when there is nothing to split.
var ErrNoRecords = errors.New("no records")

// Bounds returns the chunk edges for n equal-time chunks over [lo, hi]:
// chunk i covers [edges[i], edges[i+1]), and edges[n] = hi+1 so the last
// record falls in the last chunk.
func Bounds(lo, hi int64, n int) []int64 {
	span := hi - lo + 1
	edges := make([]int64, n+1)
	for i := 0; i <= n; i++ {
		edges[i] = lo + ceilDiv(span*int64(i), int64(n))
	}
	return edges
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// chunkOf returns the chunk index of time t for n chunks over [lo, lo+span).
func chunkOf(t, lo, span int64, n int) int {
	// floor((t-lo)*n/span), computed without overflow for long spans.
	d := t - lo
	if d > math.MaxInt64/int64(n) {
		return int(float64(d) * float64(n) / float64(span))
	}
	return int(d * int64(n) / span)
}

// SplitByTime cuts time-ordered records into opt.Chunks equal-time chunks
// and groups each chunk's records into flows with their cross-chunk tags.
// Records must be sorted by time (see SortByTime).
func SplitByTime[R any, P Record[R]](recs []R, opt Options) (*Split[R], error) {
	n := opt.Chunks
	if n < 1 {
		return nil, fmt.Errorf("chunks must be at least 1, got %d", n)
	}
	if opt.MaxFlowLen < 0 {
		return nil, fmt.Errorf("max flow length must not be negative, got %d", opt.MaxFlowLen)
	}
	if !IsSorted[R, P](recs) {
		return nil, errors.New("records are not sorted by time")
	}
	st := SplitStats{Records: len(recs)}
	lo, hi := opt.Start, opt.End
	fixed := opt.End > opt.Start
	if !fixed {
		if len(recs) == 0 {
			return nil, ErrNoRecords
		}
		lo, hi = P(&recs[0]).Time(), P(&recs[len(recs)-1]).Time()
	}
	edges := Bounds(lo, hi, n)
	span := hi - lo + 1

	// Presence of every 5-tuple in every chunk, as a sorted chunk list.
	type keyInfo struct {
		chunks []int // chunks where the key appears, increasing
	}
	keys := make(map[trace.Key]*keyInfo)
	chunkIdx := make([]int, len(recs))
	for i := range recs {
		t := P(&recs[i]).Time()
		if t < lo || t > hi {
			chunkIdx[i] = -1
			st.OutOfRange++
			continue
		}
		c := chunkOf(t, lo, span, n)
		chunkIdx[i] = c
		k := P(&recs[i]).Key()
		ki := keys[k]
		if ki == nil {
			ki = &keyInfo{}
			keys[k] = ki
		}
		if l := len(ki.chunks); l == 0 || ki.chunks[l-1] != c {
			ki.chunks = append(ki.chunks, c)
		}
	}
	st.Flows = len(keys)
	for _, ki := range keys {
		if len(ki.chunks) > 1 {
			st.MultiChunkFlows++
		}
		for j := 1; j < len(ki.chunks); j++ {
			if ki.chunks[j] != ki.chunks[j-1]+1 {
				st.NonContiguous++
				break
			}
		}
	}

	chunks := make([]Chunk[R], n)
	index := make([]map[trace.Key]int, n)
	for c := range chunks {
		chunks[c] = Chunk[R]{Index: c, Start: edges[c], End: edges[c+1]}
		index[c] = make(map[trace.Key]int)
	}
	for i := range recs {
		c := chunkIdx[i]
		if c < 0 {
			continue
		}
		k := P(&recs[i]).Key()
		ch := &chunks[c]
		j, ok := index[c][k]
		if !ok {
			ki := keys[k]
			present := make([]bool, n)
			for _, pc := range ki.chunks {
				present[pc] = true
			}
			j = len(ch.Flows)
			index[c][k] = j
			ch.Flows = append(ch.Flows, ChunkFlow[R]{
				Flow:       Flow[R]{Key: k},
				StartsHere: ki.chunks[0] == c,
				Present:    present,
			})
		}
		f := &ch.Flows[j]
		if opt.Chain && opt.MaxChainLen > 0 && f.FlowLen >= opt.MaxChainLen {
			if f.Truncated == 0 {
				st.TruncatedFlows++
			}
			f.Truncated++
			st.TruncatedRecords++
			continue
		}
		if (opt.SplitLong || opt.Chain) && opt.MaxFlowLen > 0 && len(f.Records) >= opt.MaxFlowLen {
			// Start another segment with the same key and tags.
			seg := ChunkFlow[R]{Flow: Flow[R]{Key: k}, StartsHere: f.StartsHere, Present: f.Present}
			if opt.Chain {
				seg.FlowLen, seg.Follows = f.FlowLen, true
				seg.Lead = P(&recs[i]).Time() - P(&f.Records[len(f.Records)-1]).Time()
			}
			j = len(ch.Flows)
			index[c][k] = j
			ch.Flows = append(ch.Flows, seg)
			f = &ch.Flows[j]
			st.SplitFlows++
		}
		if opt.MaxFlowLen > 0 && len(f.Records) >= opt.MaxFlowLen {
			if f.Truncated == 0 {
				st.TruncatedFlows++
			}
			f.Truncated++
			st.TruncatedRecords++
			continue
		}
		f.Records = append(f.Records, recs[i])
		if opt.Chain {
			f.FlowLen++
		}
		ch.Records++
	}

	for c := range chunks {
		if len(chunks[c].Flows) == 0 {
			st.EmptyChunks++
		}
		for _, f := range chunks[c].Flows {
			st.MaxFlowLen = max(st.MaxFlowLen, len(f.Records))
		}
	}
	if opt.Chain {
		st.ChainedFlows, st.LongestChain = chainLengths[R, P](chunks)
	}
	return &Split[R]{Chunks: chunks, Stats: st}, nil
}

// chainLengths gives every segment of a chained flow the flow's length in
// its chunk (the running count its last segment holds) and its span, and
// returns the number of flows of more than one segment and the longest
// flow's length.
func chainLengths[R any, P Record[R]](chunks []Chunk[R]) (chained, longest int) {
	for c := range chunks {
		fl := chunks[c].Flows
		total := map[trace.Key]int{}
		first, last := map[trace.Key]int64{}, map[trace.Key]int64{}
		for i := range fl {
			// Segments come in order: the last one holds the total.
			k := fl[i].Key
			total[k] = fl[i].FlowLen
			if recs := fl[i].Records; len(recs) > 0 {
				if !fl[i].Follows {
					first[k] = P(&recs[0]).Time()
				}
				last[k] = P(&recs[len(recs)-1]).Time()
			}
		}
		for i := range fl {
			k := fl[i].Key
			fl[i].FlowLen = total[k]
			fl[i].Span = last[k] - first[k]
			if !fl[i].Follows && fl[i].FlowLen > len(fl[i].Records) {
				chained++
			}
			longest = max(longest, fl[i].FlowLen)
		}
	}
	return chained, longest
}
