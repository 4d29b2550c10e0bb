package ip2vec

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Config holds the word2vec training parameters. The zero value is not
// valid; start from [DefaultConfig].
type Config struct {
	Dim      int     // vector size (NetShare: 10)
	Window   int     // maximum context distance; each position draws a reduced window in [1, Window]
	Negative int     // negative samples per target word
	Alpha    float64 // initial learning rate
	MinAlpha float64 // final learning rate; the rate decays linearly over all epochs
	Epochs   int     // passes over the corpus; 0 leaves the random initial vectors
	Sample   float64 // down-sampling threshold for frequent tokens (0: none)
	MinCount int     // tokens rarer than this are left out of the vocabulary
	Seed     uint64  // random seed (initial vectors, windows, down-sampling, negatives)
}

// DefaultConfig returns NetShare's word2vec settings: vector size 10,
// window 5, and gensim 3.8.3's defaults for the rest (CBOW with mean of
// context vectors, 5 negative samples with the unigram^0.75 distribution,
// alpha 0.025 → 1e-4, 5 epochs, sample 1e-3, min_count 1, seed 1).
func DefaultConfig() Config {
	return Config{Dim: 10, Window: 5, Negative: 5, Alpha: 0.025, MinAlpha: 1e-4, Epochs: 5, Sample: 1e-3, MinCount: 1, Seed: 1}
}

// MaxDim is the largest vector size Train accepts.
const MaxDim = 1024

// Validate reports whether c's parameters are usable.
func (c Config) Validate() error {
	switch {
	case c.Dim < 1 || c.Dim > MaxDim:
		return fmt.Errorf("ip2vec: vector size %d: want 1…%d", c.Dim, MaxDim)
	case c.Window < 1:
		return fmt.Errorf("ip2vec: window %d: want at least 1", c.Window)
	case c.Negative < 1:
		return fmt.Errorf("ip2vec: %d negative samples: want at least 1", c.Negative)
	case !(c.Alpha > 0) || math.IsInf(c.Alpha, 0):
		return fmt.Errorf("ip2vec: learning rate %v: want a finite rate > 0", c.Alpha)
	case !(c.MinAlpha >= 0 && c.MinAlpha <= c.Alpha):
		return fmt.Errorf("ip2vec: final learning rate %v: want 0 ≤ min alpha ≤ alpha (%v)", c.MinAlpha, c.Alpha)
	case c.Epochs < 0:
		return fmt.Errorf("ip2vec: %d epochs: want ≥ 0", c.Epochs)
	case !(c.Sample >= 0) || math.IsInf(c.Sample, 0):
		return fmt.Errorf("ip2vec: down-sampling threshold %v: want a finite value ≥ 0", c.Sample)
	case c.MinCount < 1:
		return fmt.Errorf("ip2vec: min count %d: want at least 1", c.MinCount)
	}
	return nil
}

// ErrEmptyCorpus is returned by [Train] when there is nothing to learn from.
var ErrEmptyCorpus = errors.New("ip2vec: empty training corpus")

// vocab entry during training.
type entry struct {
	tok   Token
	count uint64
}

// Train fits an IP2Vec model to the sentences with configuration cfg. It is
// deterministic: the same sentences (in the same order) and configuration
// give bit-identical vectors. Every sentence contributes its three tokens;
// tokens rarer than cfg.MinCount are left out of the vocabulary (they are
// then encoded as their nearest known value). It fails if the corpus is
// empty or no port or no protocol token is left in the vocabulary.
func Train(sents []Sentence, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(sents) == 0 {
		return nil, ErrEmptyCorpus
	}
	var portCount [1 << 16]uint64
	var protoCount [256]uint64
	for _, s := range sents {
		portCount[s.SrcPort]++
		portCount[s.DstPort]++
		protoCount[s.Proto]++
	}
	return train(int64(len(sents)), func(i int64) Sentence { return sents[i] }, &portCount, &protoCount, cfg)
}

// Counted is a distinct sentence and how many times it occurs in a corpus.
type Counted struct {
	Sentence
	Count uint64
}

// SentenceCounts gathers a corpus as counts of its distinct sentences:
// memory bounded by the distinct [srcport, dstport, proto] triples, not by
// the sentences.
type SentenceCounts map[Sentence]uint64

// Add counts one sentence.
func (c SentenceCounts) Add(s Sentence) { c[s]++ }

// compareCounted orders distinct sentences by protocol, source port and
// destination port.
func compareCounted(a, b Counted) int {
	if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SrcPort, b.SrcPort); c != 0 {
		return c
	}
	return cmp.Compare(a.DstPort, b.DstPort)
}

// List returns the distinct sentences with their counts, in a fixed order
// (by protocol, source port, destination port).
func (c SentenceCounts) List() []Counted {
	out := make([]Counted, 0, len(c))
	for s, n := range c {
		out = append(out, Counted{s, n})
	}
	slices.SortFunc(out, compareCounted)
	return out
}

// TrainCounts fits a model to a corpus given as distinct sentences with
// their counts. The vocabulary and its counts are those of the whole corpus
// (as Train would count them); each epoch then draws as many sentences as
// the corpus holds, each distinct sentence with probability proportional to
// its count, from a generator seeded by cfg.Seed. Its memory is bounded by
// the distinct sentences, however many the corpus holds; it is
// deterministic for the same counts (in any order) and configuration.
func TrainCounts(counts []Counted, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	counts = slices.Clone(counts)
	slices.SortFunc(counts, compareCounted)
	var portCount [1 << 16]uint64
	var protoCount [256]uint64
	var total uint64
	w := make([]float64, 0, len(counts))
	kept := counts[:0]
	for _, c := range counts {
		if c.Count == 0 {
			continue
		}
		portCount[c.SrcPort] += c.Count
		portCount[c.DstPort] += c.Count
		protoCount[c.Proto] += c.Count
		total += c.Count
		w = append(w, float64(c.Count))
		kept = append(kept, c)
	}
	if total == 0 {
		return nil, ErrEmptyCorpus
	}
	prob, other := aliasTable(w)
	r := rng{cfg.Seed ^ 0x636f756e7473}
	draw := func(int64) Sentence {
		x := r.next()
		hi, _ := bits.Mul64(x>>32, uint64(len(prob))<<32)
		i := int(hi)
		if uint32(x) >= prob[i] {
			i = int(other[i])
		}
		return kept[i].Sentence
	}
	return train(int64(total), draw, &portCount, &protoCount, cfg)
}

// train fits a model to n sentences given in turn by sentence (called
// with 0…n−1 in every epoch), whose tokens were counted in portCount and
// protoCount.
func train(n int64, sentence func(int64) Sentence, portCount *[1 << 16]uint64, protoCount *[256]uint64, cfg Config) (*Model, error) {
	// The vocabulary, most frequent first (ties by kind, then value), as
	// word2vec orders it; the order fixes the initial vectors.
	var voc []entry
	mc := uint64(cfg.MinCount)
	nPorts, nProtos := 0, 0
	for p, c := range portCount {
		if c >= mc {
			voc = append(voc, entry{Port(uint16(p)), c})
			nPorts++
		}
	}
	for p, c := range protoCount {
		if c >= mc {
			voc = append(voc, entry{Proto(uint8(p)), c})
			nProtos++
		}
	}
	if nPorts == 0 {
		return nil, fmt.Errorf("ip2vec: no port occurs at least %d times (min count)", cfg.MinCount)
	}
	if nProtos == 0 {
		return nil, fmt.Errorf("ip2vec: no protocol occurs at least %d times (min count)", cfg.MinCount)
	}
	slices.SortFunc(voc, func(a, b entry) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		if c := cmp.Compare(a.tok.Kind, b.tok.Kind); c != 0 {
			return c
		}
		return cmp.Compare(a.tok.Value, b.tok.Value)
	})
	// Token → vocabulary index (−1: below min count).
	var portWord [1 << 16]int32
	var protoWord [256]int32
	for i := range portWord {
		portWord[i] = -1
	}
	for i := range protoWord {
		protoWord[i] = -1
	}
	for i, e := range voc {
		if e.tok.Kind == KindPort {
			portWord[e.tok.Value] = int32(i)
		} else {
			protoWord[e.tok.Value] = int32(i)
		}
	}

	t := newTrainer(voc, cfg)
	t.run(n, sentence, &portWord, &protoWord)

	// Split the vectors by kind, ascending by value, and normalise.
	m := &Model{cfg: cfg, sentences: n, dim: cfg.Dim}
	m.ports = make([]uint16, 0, nPorts)
	m.protos = make([]uint8, 0, nProtos)
	for p := range portWord {
		if portWord[p] >= 0 {
			m.ports = append(m.ports, uint16(p))
		}
	}
	for p := range protoWord {
		if protoWord[p] >= 0 {
			m.protos = append(m.protos, uint8(p))
		}
	}
	d := cfg.Dim
	m.portVecs = make([]float32, len(m.ports)*d)
	m.portCounts = make([]uint64, len(m.ports))
	for i, p := range m.ports {
		w := int(portWord[p])
		copy(m.portVecs[i*d:(i+1)*d], t.syn0[w*d:(w+1)*d])
		m.portCounts[i] = voc[w].count
	}
	m.protoVecs = make([]float32, len(m.protos)*d)
	m.protoCounts = make([]uint64, len(m.protos))
	for i, p := range m.protos {
		w := int(protoWord[p])
		copy(m.protoVecs[i*d:(i+1)*d], t.syn0[w*d:(w+1)*d])
		m.protoCounts[i] = voc[w].count
	}
	normalize(m.portVecs, d)
	normalize(m.protoVecs, d)
	m.buildIndex()
	return m, nil
}

// rng is wyrand: a 64-bit generator, fast and of good statistical quality,
// fully determined by its seed.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// below returns a uniform integer in [0, n) (Lemire's multiply-shift; the
// bias is below 2^-32 for the small n used here).
func (r *rng) below(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

const (
	sigmoidMax  = 6    // σ(x) is taken as 0 or 1 beyond ±sigmoidMax, as word2vec does
	sigmoidSize = 1024 // table resolution
)

type trainer struct {
	cfg        Config
	dim        int
	syn0       []float32 // input vectors (the embedding)
	syn1       []float32 // output vectors for negative sampling
	keep       []uint64  // down-sampling: keep a token if a 32-bit draw is below this
	aliasProb  []uint32  // negative-sampling alias table
	aliasOther []int32
	sigmoid    [sigmoidSize + 1]float32
	rng        rng
}

func newTrainer(voc []entry, cfg Config) *trainer {
	d := cfg.Dim
	t := &trainer{cfg: cfg, dim: d, rng: rng{cfg.Seed}}
	t.syn0 = make([]float32, len(voc)*d)
	t.syn1 = make([]float32, len(voc)*d)
	for i := range t.syn0 {
		t.syn0[i] = float32((t.rng.float() - 0.5) / float64(d))
	}
	// Down-sampling (word2vec's formula): keep a token of count c with
	// probability (√(c/τ) + 1)·τ/c, τ = sample × total, at most 1.
	var total uint64
	for _, e := range voc {
		total += e.count
	}
	t.keep = make([]uint64, len(voc))
	for i, e := range voc {
		p := 1.0
		if cfg.Sample > 0 {
			tau := cfg.Sample * float64(total)
			c := float64(e.count)
			p = math.Min(1, (math.Sqrt(c/tau)+1)*tau/c)
		}
		t.keep[i] = uint64(math.Round(p * (1 << 32)))
	}
	// Negative-sampling distribution ∝ count^0.75, as a Vose alias table.
	w := make([]float64, len(voc))
	for i, e := range voc {
		w[i] = math.Pow(float64(e.count), 0.75)
	}
	t.aliasProb, t.aliasOther = aliasTable(w)
	for i := range t.sigmoid {
		x := (float64(i)/sigmoidSize*2 - 1) * sigmoidMax
		t.sigmoid[i] = float32(1 / (1 + math.Exp(-x)))
	}
	return t
}

// aliasTable returns Vose's alias table of the weights w: draw i uniformly,
// keep it if a 32-bit draw is below prob[i], else take other[i].
func aliasTable(w []float64) (prob []uint32, other []int32) {
	n := len(w)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	prob = make([]uint32, n)
	other = make([]int32, n)
	scaled := make([]float64, n)
	var small, large []int32
	for i := range w {
		scaled[i] = w[i] * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		prob[s] = uint32(scaled[s] * (1 << 32))
		other[s] = l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		prob[i] = math.MaxUint32
		other[i] = i
	}
	return prob, other
}

// negative draws a word from the negative-sampling distribution.
func (t *trainer) negative() int {
	r := t.rng.next()
	hi, _ := bits.Mul64(r>>32, uint64(len(t.aliasProb))<<32)
	i := int(hi)
	if uint32(r) < t.aliasProb[i] {
		return i
	}
	return int(t.aliasOther[i])
}

func (t *trainer) sig(x float32) float32 {
	switch {
	case x >= sigmoidMax:
		return 1
	case x <= -sigmoidMax:
		return 0
	}
	return t.sigmoid[int((x+sigmoidMax)*(sigmoidSize/(2*sigmoidMax)))]
}

func (t *trainer) run(nSents int64, sentence func(int64) Sentence, portWord *[1 << 16]int32, protoWord *[256]int32) {
	cfg := t.cfg
	d := t.dim
	l1 := make([]float32, d)
	neu1e := make([]float32, d)
	totalWords := float64(cfg.Epochs) * 3 * float64(nSents)
	done := 0.0
	var words [3]int32
	for range cfg.Epochs {
		for si := range nSents {
			s := sentence(si)
			alpha := float32(cfg.Alpha - (cfg.Alpha-cfg.MinAlpha)*done/totalWords)
			done += 3
			n := 0
			for _, w := range [3]int32{portWord[s.SrcPort], portWord[s.DstPort], protoWord[s.Proto]} {
				if w < 0 {
					continue
				}
				if t.keep[w] < 1<<32 && t.rng.next()&(1<<32-1) >= t.keep[w] {
					continue
				}
				words[n] = w
				n++
			}
			if n < 2 {
				continue // no context to learn from
			}
			for i := 0; i < n; i++ {
				reduced := cfg.Window - int(t.rng.below(uint64(cfg.Window)))
				// Mean of the context vectors.
				clear(l1)
				cnt := 0
				for j := 0; j < n; j++ {
					if j == i || j < i-reduced || j > i+reduced {
						continue
					}
					c := t.syn0[int(words[j])*d : int(words[j])*d+d]
					for k := range l1 {
						l1[k] += c[k]
					}
					cnt++
				}
				if cnt == 0 {
					continue
				}
				inv := 1 / float32(cnt)
				for k := range l1 {
					l1[k] *= inv
				}
				clear(neu1e)
				target := int(words[i])
				for s := 0; s <= cfg.Negative; s++ {
					w, label := target, float32(1)
					if s > 0 {
						if w = t.negative(); w == target {
							continue
						}
						label = 0
					}
					o := t.syn1[w*d : w*d+d]
					var f float32
					for k := range o {
						f += l1[k] * o[k]
					}
					g := (label - t.sig(f)) * alpha
					for k := range o {
						neu1e[k] += g * o[k]
						o[k] += g * l1[k]
					}
				}
				// Each context word gets the whole error (word2vec's CBOW).
				for j := 0; j < n; j++ {
					if j == i || j < i-reduced || j > i+reduced {
						continue
					}
					c := t.syn0[int(words[j])*d : int(words[j])*d+d]
					for k := range c {
						c[k] += neu1e[k]
					}
				}
			}
		}
	}
}
