package ip2vec

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"unsafe"
)

// lanes is the number of candidates a panel holds side by side.
const lanes = 16

// blockBytes is the size of the candidate block that one pass over a chunk
// of queries scans: small enough to stay in a core's L1 data cache, so
// each candidate value loaded is read from L1 (the kernel makes one FMA per
// 64-byte load and would otherwise wait on L2).
const blockBytes = 32 << 10

// queryChunk is how many queries a worker decodes together.
const queryChunk = 256

// Decoder maps generated vectors to the nearest of a fixed set of candidate
// values by cosine similarity (exact search). Make one with
// [Model.NewPortDecoder] or [Model.NewProtoDecoder] and reuse it for every
// batch with the same candidates. A Decoder is safe for concurrent use.
type Decoder struct {
	kind   Kind
	dim    int
	values []uint16  // candidate values (ascending and distinct, but for NewDecoder)
	rows   []float32 // len(values) × dim, row-major (unit vectors, but for NewDecoder)
	// panels holds the candidates for the vectorised kernel: panel p is dim
	// rows of lanes floats, row k holding component k of candidates
	// p·lanes … p·lanes+lanes−1. The last panel is padded with copies of the
	// last candidate, which can never win (ties go to the lower index).
	panels  []float32
	npanels int
}

// NewPortDecoder returns a decoder over the given candidate ports, or over
// every known port when candidates is empty. Duplicates are ignored; a
// candidate the vocabulary lacks (it has no vector) is an error that lists
// the unknown values.
func (m *Model) NewPortDecoder(candidates []uint16) (*Decoder, error) {
	if len(candidates) == 0 {
		return m.newDecoder(KindPort, m.ports), nil
	}
	c, err := candidateSet("port", candidates, func(p uint16) bool { return m.portIdx[p] >= 0 })
	if err != nil {
		return nil, err
	}
	return m.newDecoder(KindPort, c), nil
}

// NewProtoDecoder is [Model.NewPortDecoder] for protocols.
func (m *Model) NewProtoDecoder(candidates []uint8) (*Decoder, error) {
	c := candidates
	if len(c) == 0 {
		c = m.protos
	}
	c, err := candidateSet("protocol", c, func(p uint8) bool { return m.protoIdx[p] >= 0 })
	if err != nil {
		return nil, err
	}
	vals := make([]uint16, len(c))
	for i, p := range c {
		vals[i] = uint16(p)
	}
	return m.newDecoder(KindProto, vals), nil
}

// candidateSet returns the candidates sorted and without duplicates, or an
// error listing those that known says the vocabulary lacks.
func candidateSet[T uint8 | uint16](what string, candidates []T, known func(T) bool) ([]T, error) {
	c := slices.Clone(candidates)
	slices.Sort(c)
	c = slices.Compact(c)
	var unknown []T
	for _, v := range c {
		if !known(v) {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("ip2vec: %d candidate %s(s) not in the vocabulary: %s", len(unknown), what, listValues(unknown))
	}
	return c, nil
}

func listValues[T uint8 | uint16](v []T) string {
	const show = 10
	s := fmt.Sprint(v[:min(len(v), show)])
	if len(v) > show {
		s = s[:len(s)-1] + " …]"
	}
	return s
}

// newDecoder builds a decoder over known, ascending, distinct values.
func (m *Model) newDecoder(kind Kind, values []uint16) *Decoder {
	d := m.dim
	rows := make([]float32, len(values)*d)
	for i, v := range values {
		vec, _ := m.Vector(Token{kind, v})
		copy(rows[i*d:], vec)
	}
	return buildDecoder(kind, d, slices.Clone(values), rows)
}

// NewDecoder returns a decoder over arbitrary candidates: candidate i is
// values[i] (in the order given, repeats kept) with the vector
// vecs[i·dim:(i+1)·dim], dim = len(vecs)/len(values). Candidates are
// ranked by the dot product with their vector, which is the cosine
// similarity times the query's norm when the vectors are unit vectors, as
// a model's are. The vectors are copied.
func NewDecoder(kind Kind, values []uint16, vecs []float32) (*Decoder, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("ip2vec: decoder without candidates")
	}
	if len(vecs) == 0 || len(vecs)%len(values) != 0 {
		return nil, fmt.Errorf("ip2vec: %d values are not the vectors of %d candidates", len(vecs), len(values))
	}
	return buildDecoder(kind, len(vecs)/len(values), slices.Clone(values), slices.Clone(vecs)), nil
}

// buildDecoder makes a decoder over rows (len(values) × d, row-major),
// laying out the kernel's panels when it applies.
func buildDecoder(kind Kind, d int, values []uint16, rows []float32) *Decoder {
	dec := &Decoder{kind: kind, dim: d, values: values, rows: rows}
	n := len(values)
	if kernelOK(d) && n >= lanes { // fewer candidates: the plain loop is faster
		dec.npanels = (n + lanes - 1) / lanes
		dec.panels = alignedFloats(dec.npanels * d * lanes)
		for p := 0; p < dec.npanels; p++ {
			for l := 0; l < lanes; l++ {
				c := min(p*lanes+l, n-1)
				for k := 0; k < d; k++ {
					dec.panels[(p*d+k)*lanes+l] = dec.rows[c*d+k]
				}
			}
		}
	}
	return dec
}

// alignedFloats returns n zeroed float32s starting on a 64-byte boundary,
// so each panel row is one cache line.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+15)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % 64; r != 0 {
		off = int((64 - r) / 4)
	}
	return buf[off : off+n : off+n]
}

// Kind returns the kind of values the decoder returns.
func (dec *Decoder) Kind() Kind { return dec.kind }

// Len returns the number of candidates.
func (dec *Decoder) Len() int { return len(dec.values) }

// Value returns candidate i; candidates are in ascending order (in the
// order given for [NewDecoder]).
func (dec *Decoder) Value(i int) uint16 { return dec.values[i] }

// Values returns the candidates, ascending (in the order given for
// [NewDecoder]).
func (dec *Decoder) Values() []uint16 { return slices.Clone(dec.values) }

// DecodeIndex finds, for each of the len(out) vectors in vecs (row-major,
// Dim() values each), the index of the candidate with the highest cosine
// similarity and writes it to out. Ties go to the lower candidate; a zero
// or NaN vector decodes to candidate 0. Large batches are split over all
// CPUs.
func (dec *Decoder) DecodeIndex(vecs []float32, out []int32) error {
	if len(vecs) != len(out)*dec.dim {
		return fmt.Errorf("ip2vec: decode %d values as %d vectors of %d: want %d values", len(vecs), len(out), dec.dim, len(out)*dec.dim)
	}
	if len(dec.values) == 0 {
		return fmt.Errorf("ip2vec: decoder has no candidates")
	}
	inChunks(len(out), queryChunk, len(dec.values), func(s, e int, sc *scratch) {
		dec.decodeRange(vecs[s*dec.dim:e*dec.dim], out[s:e], sc)
	})
	return nil
}

// inChunks calls f over [0, nq) in consecutive chunks [s, e) of at most qc
// queries, each worker with a scratch of its own: on all CPUs when there
// are several chunks and the work (nq queries against m candidates) is
// large enough to pay for the goroutines, else in order on the caller's.
func inChunks[S any](nq, qc, m int, f func(s, e int, sc *S)) {
	chunks := (nq + qc - 1) / qc
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 || nq*m < 1<<21 {
		var sc S
		for s := 0; s < nq; s += qc {
			f(s, min(s+qc, nq), &sc)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for s := 0; s < nq; s += qc {
		next <- s
	}
	close(next)
	for range workers {
		wg.Go(func() {
			var sc S
			for s := range next {
				f(s, min(s+qc, nq), &sc)
			}
		})
	}
	wg.Wait()
}

// scratch is a worker's per-lane running maxima.
type scratch struct {
	best []float32
	idx  []int32
}

// Decode is [Decoder.DecodeIndex] returning candidate values.
func (dec *Decoder) Decode(vecs []float32, out []uint16) error {
	idx := make([]int32, len(out))
	if err := dec.DecodeIndex(vecs, idx); err != nil {
		return err
	}
	for i, j := range idx {
		out[i] = dec.values[j]
	}
	return nil
}

// decodeRange decodes a chunk of queries sequentially.
func (dec *Decoder) decodeRange(vecs []float32, out []int32, sc *scratch) {
	if dec.panels != nil && useKernel {
		dec.decodeKernel(vecs, out, sc)
		return
	}
	dec.decodeGeneric(vecs, out)
}

// decodeGeneric is the portable exact search: a dot product with every
// candidate, four candidates at a time (four independent sums), keeping the
// first maximum.
func (dec *Decoder) decodeGeneric(vecs []float32, out []int32) {
	d := dec.dim
	n := len(dec.values)
	rows := dec.rows
	for i := range out {
		q := vecs[i*d : (i+1)*d : (i+1)*d]
		best := float32(math.Inf(-1))
		bi := int32(0)
		c := 0
		for ; c+4 <= n; c += 4 {
			s0, s1, s2, s3 := dot4(q, rows[c*d:(c+4)*d:(c+4)*d])
			if s0 > best {
				best, bi = s0, int32(c)
			}
			if s1 > best {
				best, bi = s1, int32(c+1)
			}
			if s2 > best {
				best, bi = s2, int32(c+2)
			}
			if s3 > best {
				best, bi = s3, int32(c+3)
			}
		}
		for ; c < n; c++ {
			if s := dot32(q, rows[c*d:(c+1)*d:(c+1)*d]); s > best {
				best, bi = s, int32(c)
			}
		}
		out[i] = bi
	}
}

// decodeKernel is the blocked, vectorised exact search: the candidates are
// scanned in L1-sized blocks, each matched against every query of the
// chunk, with per-lane running maxima carried across blocks.
func (dec *Decoder) decodeKernel(vecs []float32, out []int32, sc *scratch) {
	d := dec.dim
	nq := len(out)
	if cap(sc.best) < nq*lanes {
		sc.best = make([]float32, nq*lanes)
		sc.idx = make([]int32, nq*lanes)
	}
	best, idx := sc.best[:nq*lanes], sc.idx[:nq*lanes]
	negInf := float32(math.Inf(-1))
	for i := range best {
		best[i] = negInf
		idx[i] = 0
	}
	bp := max(1, blockBytes/(d*lanes*4))
	for cb := 0; cb < dec.npanels; cb += bp {
		np := min(bp, dec.npanels-cb)
		argmaxBlock(dec.panels[cb*d*lanes:], np, d, cb, vecs, nq, best, idx)
	}
	n := int32(len(dec.values))
	for i := range out {
		bv, bi := negInf, int32(0)
		for l := int32(0); l < lanes; l++ {
			c := idx[int32(i)*lanes+l]*lanes + l
			if c >= n {
				continue // padding: a copy of the last candidate
			}
			if v := best[int32(i)*lanes+l]; v > bv || (v == bv && c < bi) {
				bv, bi = v, c
			}
		}
		out[i] = bi
	}
}

// DecodePorts decodes a batch of vectors (row-major, Dim() values each) to
// ports: for each, the candidate port with the highest cosine similarity.
// With no candidates every known port is a candidate. Candidates the
// vocabulary lacks have no vector and are not considered (use
// [Model.NewPortDecoder] to have them reported); if none is known, every
// known port is a candidate. A trailing partial vector is ignored. The
// decoder of the last candidate set used is kept, so repeated calls with
// the same candidates do not rebuild it.
func (m *Model) DecodePorts(vecs []float32, candidates []uint16) []uint16 {
	known := make([]uint16, 0, len(candidates))
	for _, p := range candidates {
		if m.portIdx[p] >= 0 {
			known = append(known, p)
		}
	}
	dec := m.cachedDecoder(KindPort, known, func() *Decoder {
		d, _ := m.NewPortDecoder(known)
		return d
	})
	out := make([]uint16, len(vecs)/m.dim)
	_ = dec.Decode(vecs[:len(out)*m.dim], out)
	return out
}

// DecodeProtos is [Model.DecodePorts] for protocols.
func (m *Model) DecodeProtos(vecs []float32, candidates []uint8) []uint8 {
	known := make([]uint16, 0, len(candidates))
	for _, p := range candidates {
		if m.protoIdx[p] >= 0 {
			known = append(known, uint16(p))
		}
	}
	dec := m.cachedDecoder(KindProto, known, func() *Decoder {
		c := make([]uint8, len(known))
		for i, p := range known {
			c[i] = uint8(p)
		}
		d, _ := m.NewProtoDecoder(c)
		return d
	})
	n := len(vecs) / m.dim
	idx := make([]int32, n)
	_ = dec.DecodeIndex(vecs[:n*m.dim], idx)
	out := make([]uint8, n)
	for i, j := range idx {
		out[i] = uint8(dec.values[j])
	}
	return out
}

// decoderCache keeps, per kind, the decoder of the last candidate list.
type decoderCache struct {
	mu  sync.Mutex
	key [2][]uint16
	dec [2]*Decoder
}

func (m *Model) cachedDecoder(kind Kind, candidates []uint16, build func() *Decoder) *Decoder {
	c := &m.decoders
	c.mu.Lock()
	if d := c.dec[kind]; d != nil && slices.Equal(c.key[kind], candidates) {
		c.mu.Unlock()
		return d
	}
	c.mu.Unlock()
	d := build()
	c.mu.Lock()
	c.key[kind], c.dec[kind] = slices.Clone(candidates), d
	c.mu.Unlock()
	return d
}
