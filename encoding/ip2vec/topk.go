package ip2vec

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Top-K search. For each query the decoder keeps a list of candidates that
// holds its K best so far, with a threshold: the K-th best listed score.
// The candidates are scanned in ascending order, and one is listed only if
// its score is strictly above the threshold (on a tie the listed one has
// the lower index and ranks higher). The vectorised kernel computes a
// whole panel's scores in registers and compares them, 16 at a time, with
// the query's threshold; only those above it are written out (rare once
// the threshold is set: about K·ln(m/K) of m candidates in random order)
// and then listed, between kernel calls.

// topkCap is how many candidates one call of the top-K kernel may report:
// a block of panels holds at most blockBytes/4 candidates (dim ≥ 1).
const topkCap = blockBytes / 4

// topkBuf receives the kernel's reports: scores and candidate indices, in
// ascending candidate order per query, queries one after the other. The
// kernel stores whole vectors, so each array has a vector's slack past
// topkCap. The kernel addresses i at a fixed offset from s (go_asm.h's
// topkBuf_i).
type topkBuf struct {
	s [topkCap + lanes]float32
	i [topkCap + lanes]int32
}

// A listed candidate is kept as a key whose order as an integer is the
// candidates' rank: the score's bits mapped to an unsigned order (−0 as
// +0, so that the two tie) above the complement of the index (the lower
// index ranks higher). Listed scores are never NaN.
func key(s float32, i int32) uint64 {
	b := math.Float32bits(s + 0) // −0 + 0 = +0
	if b>>31 != 0 {
		b = ^b
	} else {
		b |= 1 << 31
	}
	return uint64(b)<<32 | uint64(^uint32(i))
}

// unkey returns the score and index of a key.
func unkey(k uint64) (float32, int32) {
	b := uint32(k >> 32)
	if b>>31 != 0 {
		b &^= 1 << 31
	} else {
		b = ^b
	}
	return math.Float32frombits(b), int32(^uint32(k))
}

// offer appends candidate (s, i), whose index is above every listed
// candidate's, to the list h[:n] of a query whose kk best are sought; the
// list holds up to len(h) = 2·kk keys, in no order. thr is the score a
// candidate must exceed to be offered: −Inf until kk candidates are
// listed, then the kk-th best score of the list when it first held kk
// candidates or was last cut. When the list is full it is cut back to its
// kk best (a selection in O(kk), so each offer costs O(1) amortised: the
// inserts of a heap cost O(log kk) each, mostly in mispredicted branches
// and cache misses; the threshold lags, so about 1/ln 2 times as many
// candidates are offered). offer returns the new size and threshold.
//
// A candidate not listed, or cut, ranks below kk listed candidates (its
// score is at most the threshold, and on a tie its index is higher), so
// the list always holds the kk best so far.
func offer(h []uint64, n, kk int, s float32, i int32, thr float32) (int, float32) {
	h[n] = key(s, i)
	n++
	switch {
	case n == len(h):
		selectTop(h, kk)
		thr, _ = unkey(h[kk-1])
		n = kk
	case n == kk && thr == float32(math.Inf(-1)):
		lo := h[0]
		for _, k := range h[1:kk] {
			lo = min(lo, k)
		}
		thr, _ = unkey(lo)
	}
	return n, thr
}

// selectTop reorders the distinct keys h so that h[:k] holds the k
// largest and h[k−1] is the k-th largest: quickselect, its pivot the
// median of three, with a branch-free partition (the comparisons go either
// way at random, so branches on them are mispredicted half the time).
func selectTop(h []uint64, k int) {
	lo, hi := 0, len(h)
	for hi-lo > 16 {
		// The median of the first, middle and last keys to h[hi−1], the
		// pivot.
		m := lo + (hi-lo)/2
		if h[m] > h[lo] {
			h[m], h[lo] = h[lo], h[m]
		}
		if h[hi-1] > h[lo] {
			h[hi-1], h[lo] = h[lo], h[hi-1]
		}
		if h[m] > h[hi-1] {
			h[m], h[hi-1] = h[hi-1], h[m]
		}
		pivot := h[hi-1]
		// h[lo:w] > pivot > h[w:i].
		w := lo
		for i := lo; i < hi-1; i++ {
			x := h[i]
			h[i] = h[w]
			h[w] = x
			_, above := bits.Sub64(pivot, x, 0)
			w += int(above)
		}
		h[hi-1] = h[w]
		h[w] = pivot
		switch {
		case k-1 < w:
			hi = w
		case k-1 > w:
			lo = w + 1
		default:
			return
		}
	}
	// Insertion sort, larger keys first.
	for i := lo + 1; i < hi; i++ {
		x := h[i]
		j := i
		for ; j > lo && h[j-1] < x; j-- {
			h[j] = h[j-1]
		}
		h[j] = x
	}
}

// topkScratch is a worker's state for a chunk of queries: each query's
// list (2·kk keys), its size, its current threshold, and the kernel's
// report buffer with each query's end in it.
type topkScratch struct {
	list []uint64
	size []int32
	thr  []float32
	ends []int32
	buf  *topkBuf
}

func (sc *topkScratch) prepare(nq, kk int) {
	if cap(sc.list) < nq*2*kk {
		sc.list = make([]uint64, nq*2*kk)
	}
	if cap(sc.size) < nq {
		sc.size = make([]int32, nq)
		sc.thr = make([]float32, nq)
		sc.ends = make([]int32, nq)
	}
	sc.list, sc.size, sc.thr, sc.ends = sc.list[:nq*2*kk], sc.size[:nq], sc.thr[:nq], sc.ends[:nq]
	negInf := float32(math.Inf(-1))
	for i := range sc.size {
		sc.size[i] = 0
		sc.thr[i] = negInf
	}
}

// TopK finds, for each of the n = len(vecs)/Dim() vectors in vecs
// (row-major), its kk = min(k, Len()) candidates of highest cosine
// similarity, most similar first, ties to the lower candidate, and writes
// their indices to idx[i·kk:(i+1)·kk] and their similarities to
// sims[i·kk:(i+1)·kk]; idx and sims must hold n·kk values each. So k ≥
// Len() ranks every candidate, and k = 1 gives [Decoder.DecodeIndex]'s
// answer.
//
// A similarity is the dot product with the candidate's vector divided by
// the query's norm (the cosine for unit candidate vectors, as a model's
// are); a zero vector's similarities are the dot products, zero, so it
// ranks the candidates by index. A NaN score ranks as −Inf: a NaN vector
// gives candidates 0 … kk−1 (with NaN similarities), as DecodeIndex gives
// candidate 0. The search is exact for the float32 scores (those of
// DecodeIndex); large batches are split over all CPUs.
func (dec *Decoder) TopK(vecs []float32, k int, idx []int32, sims []float32) error {
	m := len(dec.values)
	if m == 0 {
		return fmt.Errorf("ip2vec: decoder has no candidates")
	}
	if k < 1 {
		return fmt.Errorf("ip2vec: top-%d search: want k ≥ 1", k)
	}
	d := dec.dim
	if len(vecs)%d != 0 {
		return fmt.Errorf("ip2vec: top-k search over %d values: not a whole number of vectors of %d", len(vecs), d)
	}
	nq := len(vecs) / d
	kk := min(k, m)
	if len(idx) != nq*kk || len(sims) != nq*kk {
		return fmt.Errorf("ip2vec: top-%d search of %d vectors among %d candidates: %d indices and %d similarities, want %d each", k, nq, m, len(idx), len(sims), nq*kk)
	}
	// A chunk's lists take at most about 256 KiB, so they stay in L2.
	qc := max(16, min(queryChunk, (16<<10)/kk))
	inChunks(nq, qc, m, func(s, e int, sc *topkScratch) {
		dec.topkRange(vecs[s*d:e*d], kk, idx[s*kk:e*kk], sims[s*kk:e*kk], sc)
	})
	return nil
}

// topkRange searches a chunk of queries sequentially.
func (dec *Decoder) topkRange(vecs []float32, kk int, idx []int32, sims []float32, sc *topkScratch) {
	d := dec.dim
	nq := len(vecs) / d
	sc.prepare(nq, kk)
	if dec.panels != nil && useKernel {
		dec.topkKernel(vecs, nq, kk, sc)
	} else {
		dec.topkGeneric(vecs, nq, kk, sc)
	}
	for i := range nq {
		dec.finish(vecs[i*d:(i+1)*d], sc.list[2*i*kk:2*(i+1)*kk], kk, int(sc.size[i]), idx[i*kk:(i+1)*kk], sims[i*kk:(i+1)*kk])
	}
}

// topkGeneric is the portable search: the scores of decodeGeneric, each
// compared with the query's threshold.
func (dec *Decoder) topkGeneric(vecs []float32, nq, kk int, sc *topkScratch) {
	d := dec.dim
	n := len(dec.values)
	rows := dec.rows
	for i := range nq {
		q := vecs[i*d : (i+1)*d : (i+1)*d]
		h := sc.list[2*i*kk : 2*(i+1)*kk]
		size, thr := 0, sc.thr[i]
		c := 0
		for ; c+4 <= n; c += 4 {
			s0, s1, s2, s3 := dot4(q, rows[c*d:(c+4)*d:(c+4)*d])
			if s0 > thr {
				size, thr = offer(h, size, kk, s0, int32(c), thr)
			}
			if s1 > thr {
				size, thr = offer(h, size, kk, s1, int32(c+1), thr)
			}
			if s2 > thr {
				size, thr = offer(h, size, kk, s2, int32(c+2), thr)
			}
			if s3 > thr {
				size, thr = offer(h, size, kk, s3, int32(c+3), thr)
			}
		}
		for ; c < n; c++ {
			if s := dot32(q, rows[c*d:(c+1)*d:(c+1)*d]); s > thr {
				size, thr = offer(h, size, kk, s, int32(c), thr)
			}
		}
		sc.size[i], sc.thr[i] = int32(size), thr
	}
}

// dot4 is the scores of four consecutive candidate rows r (4·len(q)
// values), as four independent sums.
func dot4(q, r []float32) (s0, s1, s2, s3 float32) {
	d := len(q)
	r0, r1, r2, r3 := r[:d], r[d:][:d], r[2*d:][:d], r[3*d:][:d]
	for k, x := range q {
		s0 += x * r0[k]
		s1 += x * r1[k]
		s2 += x * r2[k]
		s3 += x * r3[k]
	}
	return
}

// dot32 is decodeGeneric's score of one candidate.
func dot32(q, r []float32) float32 {
	r = r[:len(q)]
	var s float32
	for k, x := range q {
		s += x * r[k]
	}
	return s
}

// topkKernel is the blocked, vectorised search: the candidates are scanned
// in L1-sized blocks, each matched against every query of the chunk; the
// kernel reports the candidates above each query's threshold, which are
// then offered to the query's list.
func (dec *Decoder) topkKernel(vecs []float32, nq, kk int, sc *topkScratch) {
	if sc.buf == nil {
		sc.buf = new(topkBuf)
	}
	d := dec.dim
	n := int32(len(dec.values))
	buf := sc.buf
	bp := max(1, blockBytes/(d*lanes*4))
	// The first block just fills the lists; the next ones grow with the
	// candidates seen, up to the L1 size, so that the thresholds (which
	// stay put within a block) tighten early: a block of b candidates
	// after s reports about kk·b/s per query.
	np := min(bp, (kk+lanes-1)/lanes)
	for cb := 0; cb < dec.npanels; cb, np = cb+np, min(bp, cb+np) {
		np = min(np, dec.npanels-cb)
		// A query may report every candidate of the block: the kernel
		// starts one only while that many still fit.
		lim := (topkCap - np*lanes) * 4
		for i := 0; i < nq; {
			done := topkBlock(dec.panels[cb*d*lanes:], np, d, cb*lanes, vecs[i*d:], nq-i, sc.thr[i:], sc.ends[i:], buf, lim)
			if done == 0 {
				panic("ip2vec: top-k kernel made no progress")
			}
			start := int32(0)
			for j := i; j < i+done; j++ {
				end := sc.ends[j]
				h := sc.list[2*j*kk : 2*(j+1)*kk]
				size, thr := int(sc.size[j]), sc.thr[j]
				for t := start; t < end; t++ {
					// Padding lanes (copies of the last candidate) are
					// never listed.
					if c := buf.i[t]; c < n && buf.s[t] > thr {
						size, thr = offer(h, size, kk, buf.s[t], c, thr)
					}
				}
				sc.size[j], sc.thr[j] = int32(size), thr
				start = end
			}
			i += done
		}
	}
}

// finish orders a query's list h[:size] and keeps its kk best, best
// first; it completes it when fewer than kk candidates scored above −Inf
// (with the lowest-indexed others: their scores are −Inf or NaN, which
// rank alike) and writes the indices and similarities.
func (dec *Decoder) finish(q []float32, h []uint64, kk, size int, idx []int32, sims []float32) {
	if size > kk {
		selectTop(h[:size], kk)
		size = kk
	}
	h = h[:kk]
	slices.Sort(h[:size])
	slices.Reverse(h[:size])
	for t, k := range h[:size] {
		sims[t], idx[t] = unkey(k)
	}
	if size < len(h) {
		listed := slices.Clone(idx[:size])
		slices.Sort(listed)
		d := dec.dim
		c, l := int32(0), 0
		for t := size; t < len(h); t++ {
			for l < len(listed) && listed[l] == c {
				c++
				l++
			}
			idx[t], sims[t] = c, dot32(q, dec.rows[int(c)*d:(int(c)+1)*d])
			c++
		}
	}
	var nq float64
	for _, x := range q {
		nq += float64(x) * float64(x)
	}
	inv := 1.0
	if nq > 0 {
		inv = 1 / math.Sqrt(nq)
	}
	for t, s := range sims {
		sims[t] = float32(float64(s) * inv)
	}
}
