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

// blockPanels is how many panels (lanes candidates each) one pass over the
// queries covers: 4,096 candidates, 160 KiB at 10 dimensions, which stays in
// a core's L2 cache while a block of queries is scanned against it.
const blockPanels = 256

// Decoder maps generated vectors to the nearest of a fixed set of candidate
// values by cosine similarity (exact search). Make one with
// [Model.NewPortDecoder] or [Model.NewProtoDecoder] and reuse it for every
// batch with the same candidates. A Decoder is safe for concurrent use.
type Decoder struct {
	kind   Kind
	dim    int
	values []uint16  // candidate values, ascending and distinct
	rows   []float32 // len(values) × dim, row-major unit vectors
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
	c := slices.Clone(candidates)
	slices.Sort(c)
	c = slices.Compact(c)
	var unknown []uint16
	for _, p := range c {
		if m.portIdx[p] < 0 {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("ip2vec: %d candidate port(s) not in the vocabulary: %s", len(unknown), listValues(unknown))
	}
	return m.newDecoder(KindPort, c), nil
}

// NewProtoDecoder is [Model.NewPortDecoder] for protocols.
func (m *Model) NewProtoDecoder(candidates []uint8) (*Decoder, error) {
	c := candidates
	if len(c) == 0 {
		c = m.protos
	}
	c = slices.Clone(c)
	slices.Sort(c)
	c = slices.Compact(c)
	var unknown []uint8
	for _, p := range c {
		if m.protoIdx[p] < 0 {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("ip2vec: %d candidate protocol(s) not in the vocabulary: %s", len(unknown), listValues(unknown))
	}
	vals := make([]uint16, len(c))
	for i, p := range c {
		vals[i] = uint16(p)
	}
	return m.newDecoder(KindProto, vals), nil
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
	dec := &Decoder{kind: kind, dim: d, values: slices.Clone(values)}
	n := len(values)
	dec.rows = make([]float32, n*d)
	for i, v := range values {
		tok := Token{kind, v}
		vec, _ := m.Vector(tok)
		copy(dec.rows[i*d:], vec)
	}
	if kernelOK(d) {
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

// Value returns candidate i; candidates are in ascending order.
func (dec *Decoder) Value(i int) uint16 { return dec.values[i] }

// Values returns the candidates, ascending.
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
	nq := len(out)
	const chunk = 512
	work := nq * len(dec.values)
	workers := min(runtime.GOMAXPROCS(0), (nq+chunk-1)/chunk)
	if workers <= 1 || work < 1<<21 {
		dec.decodeRange(vecs, out)
		return nil
	}
	var wg sync.WaitGroup
	next := make(chan int, (nq+chunk-1)/chunk)
	for s := 0; s < nq; s += chunk {
		next <- s
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for s := range next {
				e := min(s+chunk, nq)
				dec.decodeRange(vecs[s*dec.dim:e*dec.dim], out[s:e])
			}
		})
	}
	wg.Wait()
	return nil
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

// decodeRange decodes sequentially.
func (dec *Decoder) decodeRange(vecs []float32, out []int32) {
	if dec.panels != nil && useKernel {
		dec.decodeKernel(vecs, out)
		return
	}
	dec.decodeGeneric(vecs, out)
}

// decodeGeneric is the portable exact search: a dot product with every
// candidate, keeping the first maximum.
func (dec *Decoder) decodeGeneric(vecs []float32, out []int32) {
	d := dec.dim
	n := len(dec.values)
	for i := range out {
		q := vecs[i*d : (i+1)*d : (i+1)*d]
		best := float32(math.Inf(-1))
		bi := int32(0)
		for c := 0; c < n; c++ {
			r := dec.rows[c*d : (c+1)*d : (c+1)*d]
			var s float32
			for k, x := range q {
				s += x * r[k]
			}
			if s > best {
				best, bi = s, int32(c)
			}
		}
		out[i] = bi
	}
}

// decodeKernel is the blocked, vectorised exact search: the candidates are
// scanned in blocks that stay in cache while every query of the range is
// matched against them.
func (dec *Decoder) decodeKernel(vecs []float32, out []int32) {
	d := dec.dim
	n := int32(len(dec.values))
	nq := len(out)
	best := make([]float32, nq)
	for i := range best {
		best[i] = float32(math.Inf(-1))
		out[i] = 0
	}
	var q, lb [lanes]float32
	var li [lanes]int32
	for cb := 0; cb < dec.npanels; cb += blockPanels {
		np := min(blockPanels, dec.npanels-cb)
		block := &dec.panels[cb*d*lanes]
		for i := 0; i < nq; i++ {
			copy(q[:d], vecs[i*d:(i+1)*d])
			argmaxPanels(block, np, d, &q, &lb, &li)
			bv, bi := best[i], out[i]
			for l := 0; l < lanes; l++ {
				idx := int32((cb+int(li[l]))*lanes + l)
				if idx >= n {
					continue // padding: a copy of the last candidate
				}
				if v := lb[l]; v > bv || (v == bv && idx < bi) {
					bv, bi = v, idx
				}
			}
			best[i], out[i] = bv, bi
		}
	}
}

// DecodePorts decodes a batch of vectors (row-major, Dim() values each) to
// ports: for each, the candidate port with the highest cosine similarity.
// With no candidates every known port is a candidate. Candidates the
// vocabulary lacks have no vector and are not considered (use
// [Model.NewPortDecoder] to have them reported, and to reuse a candidate set
// across batches); if none is known, every known port is a candidate. A
// trailing partial vector is ignored.
func (m *Model) DecodePorts(vecs []float32, candidates []uint16) []uint16 {
	var known []uint16
	for _, p := range candidates {
		if m.portIdx[p] >= 0 {
			known = append(known, p)
		}
	}
	dec, _ := m.NewPortDecoder(known)
	out := make([]uint16, len(vecs)/m.dim)
	_ = dec.Decode(vecs[:len(out)*m.dim], out)
	return out
}

// DecodeProtos is [Model.DecodePorts] for protocols.
func (m *Model) DecodeProtos(vecs []float32, candidates []uint8) []uint8 {
	var known []uint8
	for _, p := range candidates {
		if m.protoIdx[p] >= 0 {
			known = append(known, p)
		}
	}
	dec, _ := m.NewProtoDecoder(known)
	n := len(vecs) / m.dim
	idx := make([]int32, n)
	_ = dec.DecodeIndex(vecs[:n*m.dim], idx)
	out := make([]uint8, n)
	for i, j := range idx {
		out[i] = uint8(dec.values[j])
	}
	return out
}
