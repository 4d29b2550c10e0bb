package encoding

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/encoding/ip2vec"
)

// Embedding maps ports and protocols to unit vectors and generated vectors
// back to the nearest known value (implemented by ip2vec.Model).
type Embedding interface {
	Dim() int
	EncodePort(p uint16) (vec []float32, inVocab bool)
	EncodeProto(p uint8) (vec []float32, inVocab bool)
	DecodePorts(vecs []float32, candidates []uint16) []uint16
	DecodeProtos(vecs []float32, candidates []uint8) []uint8
}

// Embedded encodes a port or a protocol number as its embedding vector (a
// tanh output). Decoding returns the candidate whose vector is nearest by
// cosine, so generated values are always values that were seen.
type Embedded struct {
	Field string
	// IsProto selects protocol tokens; otherwise ports.
	IsProto bool
	E       Embedding
	// Candidates are the values decoding may return (all known values of
	// the kind when empty).
	Candidates []int
	// Post, when set, selects posterior decoding over Candidates (see
	// Posterior); otherwise decoding returns the nearest candidate.
	Post *Posterior
	// ByProto holds, for a port field, the priors of the values seen with
	// each protocol (aligned with Candidates; see ForProto).
	ByProto map[uint8]*Posterior
	sub     map[uint8]*Embedded

	rng      *rand.Rand
	candVecs []float32
	candDec  *ip2vec.Decoder // top-K search over candVecs
}

// seed restarts the random stream of posterior decoding.
func (c *Embedded) seed(s uint64) { c.rng = rand.New(rand.NewPCG(s, 0x706f7374)) }

func (c *Embedded) candidateVectors() []float32 {
	if c.candVecs == nil {
		d := c.Dim()
		c.candVecs = make([]float32, 0, len(c.Candidates)*d)
		for _, v := range c.Candidates {
			var vec []float32
			if c.IsProto {
				vec, _ = c.E.EncodeProto(uint8(v))
			} else {
				vec, _ = c.E.EncodePort(uint16(v))
			}
			c.candVecs = append(c.candVecs, vec...)
		}
	}
	return c.candVecs
}

// search returns the top-K search over the candidates' vectors (whatever
// the embedding), built on first use.
func (c *Embedded) search() topKFunc {
	if c.candDec == nil {
		kind := ip2vec.KindPort
		if c.IsProto {
			kind = ip2vec.KindProto
		}
		vals := make([]uint16, len(c.Candidates))
		for i, v := range c.Candidates {
			vals[i] = uint16(v)
		}
		dec, err := ip2vec.NewDecoder(kind, vals, c.candidateVectors())
		if err != nil {
			panic(fmt.Sprintf("field %s: %v", c.Field, err)) // no candidates, or vectors of size 0
		}
		c.candDec = dec
	}
	return searchOf(c.candDec)
}

func (c *Embedded) Name() string { return c.Field }
func (c *Embedded) Dim() int     { return c.E.Dim() }
func (c *Embedded) Outputs() []Output {
	return []Output{{Name: c.Field, Dim: c.E.Dim(), Act: Tanh}}
}

func (c *Embedded) Encode(v float64, dst []float32) bool {
	var vec []float32
	var ok bool
	if c.IsProto {
		vec, ok = c.E.EncodeProto(uint8(v))
	} else {
		vec, ok = c.E.EncodePort(uint16(v))
	}
	copy(dst[:c.Dim()], vec)
	return !ok || v != float64(int(v))
}

// vectors gathers the field's vectors of n rows of src (row stride stride,
// the field at offset) contiguously.
func (c *Embedded) vectors(src []float32, stride, offset, n int) (vecs []float32, dim int) {
	d := c.Dim()
	vecs = make([]float32, n*d)
	for r := range n {
		copy(vecs[r*d:(r+1)*d], src[r*stride+offset:r*stride+offset+d])
	}
	return vecs, d
}

func (c *Embedded) Decode(src []float32, stride, offset int, out []float64) {
	vecs, d := c.vectors(src, stride, offset, len(out))
	if c.Post != nil && len(c.Candidates) > 0 {
		if c.rng == nil {
			c.seed(0)
		}
		idx := make([]int, len(out))
		decodePosterior(vecs, len(out), d, len(c.Candidates), c.search(), c.Post, c.rng, idx)
		for i, j := range idx {
			out[i] = float64(c.Candidates[j])
		}
		return
	}
	if c.IsProto {
		decodeNearest(c.E.DecodeProtos, vecs, c.Candidates, out)
	} else {
		decodeNearest(c.E.DecodePorts, vecs, c.Candidates, out)
	}
}

// decodeNearest decodes vecs into out with decode, restricted to the
// candidates (all known values when there are none).
func decodeNearest[T uint8 | uint16](decode func([]float32, []T) []T, vecs []float32, candidates []int, out []float64) {
	var cand []T
	for _, v := range candidates {
		cand = append(cand, T(v))
	}
	for i, v := range decode(vecs, cand) {
		out[i] = float64(v)
	}
}

func checkCandidates(field string, cand []int, max int) error {
	if !slices.IsSorted(cand) {
		return fmt.Errorf("field %s: candidates not sorted", field)
	}
	for _, v := range cand {
		if v < 0 || v > max {
			return fmt.Errorf("field %s: candidate %d out of range", field, v)
		}
	}
	return nil
}
