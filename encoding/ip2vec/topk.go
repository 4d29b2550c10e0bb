package ip2vec

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// Top-K search. For each query the decoder keeps its K best candidates so
// far in a min-heap (the root is the K-th best) and scans the candidates in
// ascending order. A candidate joins only if its score is strictly above
// the root's: on a tie the listed candidate has the lower index and stays.
// The vectorised kernel computes a whole panel's scores in registers and
// compares them, 16 at a time, with the query's current K-th score; only
// those above it are written out (rare once the heap is full: about
// K·ln(m/K) of m candidates in random order) and inserted into the heap
// between kernel calls.

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

// A query's list is a min-heap of keys, its root the lowest-ranked listed
// candidate, stored in kk+1 words: the last holds a sentinel (the highest
// key, never listed), so that a node's right child can always be read.
const sentinel = math.MaxUint64

func siftUp(h []uint64, i int) {
	x := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= x {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// replaceRoot replaces the root of the full heap h[:len(h)−1] by x. The
// hole left by the root goes down to a leaf along the lower children (no
// data-dependent branch: a new entry's rank is random, so the usual early
// stop is mispredicted), then x rises from there, rarely far.
func replaceRoot(h []uint64, x uint64) {
	n := len(h) - 1
	i := 0
	for l := 1; l < n; l = 2*i + 1 {
		c, r := h[l], h[l+1]
		if r < c {
			c, l = r, l+1
		}
		h[i] = c
		i = l
	}
	h[i] = x
	siftUp(h, i)
}

// offer adds candidate (s, i), whose index is above every listed
// candidate's, to the heap h[:n] of capacity len(h)−1. It returns the new
// size and the score a later candidate must exceed to join: −Inf while the
// heap is not full.
func offer(h []uint64, n int, s float32, i int32) (int, float32) {
	k := key(s, i)
	if n < len(h)-1 {
		h[n] = k
		siftUp(h, n)
		n++
		if n < len(h)-1 {
			return n, float32(math.Inf(-1))
		}
	} else if k > h[0] {
		replaceRoot(h, k)
	}
	thr, _ := unkey(h[0])
	return n, thr
}

// topkScratch is a worker's state for a chunk of queries: each query's
// heap (kk+1 words), its size, its current threshold, and the kernel's
// report buffer with each query's end in it.
type topkScratch struct {
	heap []uint64
	size []int32
	thr  []float32
	ends []int32
	buf  *topkBuf
}

func (sc *topkScratch) prepare(nq, kk int) {
	if cap(sc.heap) < nq*(kk+1) {
		sc.heap = make([]uint64, nq*(kk+1))
	}
	if cap(sc.size) < nq {
		sc.size = make([]int32, nq)
		sc.thr = make([]float32, nq)
		sc.ends = make([]int32, nq)
	}
	sc.heap, sc.size, sc.thr, sc.ends = sc.heap[:nq*(kk+1)], sc.size[:nq], sc.thr[:nq], sc.ends[:nq]
	negInf := float32(math.Inf(-1))
	for i := range sc.size {
		sc.size[i] = 0
		sc.thr[i] = negInf
		sc.heap[(i+1)*(kk+1)-1] = sentinel
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
	// A chunk's heaps take at most about 256 KiB, so they stay in L2.
	qc := max(16, min(queryChunk, (32<<10)/kk))
	run := func(s int, sc *topkScratch) {
		e := min(s+qc, nq)
		dec.topkRange(vecs[s*d:e*d], kk, idx[s*kk:e*kk], sims[s*kk:e*kk], sc)
	}
	chunks := (nq + qc - 1) / qc
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 || nq*m < 1<<21 {
		var sc topkScratch
		for s := 0; s < nq; s += qc {
			run(s, &sc)
		}
		return nil
	}
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for s := 0; s < nq; s += qc {
		next <- s
	}
	close(next)
	for range workers {
		wg.Go(func() {
			var sc topkScratch
			for s := range next {
				run(s, &sc)
			}
		})
	}
	wg.Wait()
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
		dec.finish(vecs[i*d:(i+1)*d], sc.heap[i*(kk+1):(i+1)*(kk+1)-1], int(sc.size[i]), idx[i*kk:(i+1)*kk], sims[i*kk:(i+1)*kk])
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
		h := sc.heap[i*(kk+1) : (i+1)*(kk+1)]
		size, thr := 0, sc.thr[i]
		c := 0
		for ; c+4 <= n; c += 4 {
			r := rows[c*d : (c+4)*d : (c+4)*d]
			r0, r1, r2, r3 := r[:len(q)], r[d:][:len(q)], r[2*d:][:len(q)], r[3*d:][:len(q)]
			var s0, s1, s2, s3 float32
			for k, x := range q {
				s0 += x * r0[k]
				s1 += x * r1[k]
				s2 += x * r2[k]
				s3 += x * r3[k]
			}
			if s0 > thr {
				size, thr = offer(h, size, s0, int32(c))
			}
			if s1 > thr {
				size, thr = offer(h, size, s1, int32(c+1))
			}
			if s2 > thr {
				size, thr = offer(h, size, s2, int32(c+2))
			}
			if s3 > thr {
				size, thr = offer(h, size, s3, int32(c+3))
			}
		}
		for ; c < n; c++ {
			if s := dot32(q, rows[c*d:(c+1)*d:(c+1)*d]); s > thr {
				size, thr = offer(h, size, s, int32(c))
			}
		}
		sc.size[i], sc.thr[i] = int32(size), thr
	}
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
// then offered to the query's heap.
func (dec *Decoder) topkKernel(vecs []float32, nq, kk int, sc *topkScratch) {
	if sc.buf == nil {
		sc.buf = new(topkBuf)
	}
	d := dec.dim
	n := int32(len(dec.values))
	buf := sc.buf
	bp := max(1, blockBytes/(d*lanes*4))
	// The first block just fills the heaps; the next ones grow with the
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
				h := sc.heap[j*(kk+1) : (j+1)*(kk+1)]
				size, thr := int(sc.size[j]), sc.thr[j]
				for t := start; t < end; t++ {
					// Padding lanes (copies of the last candidate) are
					// never listed.
					if c := buf.i[t]; c < n && buf.s[t] > thr {
						size, thr = offer(h, size, buf.s[t], c)
					}
				}
				sc.size[j], sc.thr[j] = int32(size), thr
				start = end
			}
			i += done
		}
	}
}

// finish orders a query's heap h[:size] best first, completes it when
// fewer than len(h) candidates scored above −Inf (with the lowest-indexed
// others: their scores are −Inf or NaN, which rank alike) and writes the
// indices and similarities.
func (dec *Decoder) finish(q []float32, h []uint64, size int, idx []int32, sims []float32) {
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
