package ip2vec

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// serviceCorpus is n records of DNS over UDP (port 53) and web over TCP
// (ports 80 and 443), in both directions. The clients' ephemeral ports come
// from two disjoint pools, as when a resolver and web clients pick from
// different ranges: that gives 53 and UDP contexts in common that TCP lacks.
// (With one pool shared by both protocols, 53 and UDP only ever predict each
// other, and CBOW does not make co-occurring tokens similar.)
func serviceCorpus(n int, seed uint64) []Sentence {
	r := rng{seed}
	s := make([]Sentence, 0, n)
	for range n {
		tcpEph := uint16(40000 + r.below(300))
		udpEph := uint16(10000 + r.below(300))
		switch r.below(6) {
		case 0:
			s = append(s, Sentence{udpEph, 53, 17})
		case 1:
			s = append(s, Sentence{53, udpEph, 17})
		case 2:
			s = append(s, Sentence{tcpEph, 80, 6})
		case 3:
			s = append(s, Sentence{80, tcpEph, 6})
		case 4:
			s = append(s, Sentence{tcpEph, 443, 6})
		default:
			s = append(s, Sentence{443, tcpEph, 6})
		}
	}
	return s
}

// margins returns cos(53,UDP) − cos(53,TCP) and cos(80,443) − cos(80,53).
func margins(m *Model) (dns, web float64) {
	dns = m.Similarity(Port(53), Proto(17)) - m.Similarity(Port(53), Proto(6))
	web = m.Similarity(Port(80), Port(443)) - m.Similarity(Port(80), Port(53))
	return dns, web
}

func TestTrainingLearnsServiceStructure(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := DefaultConfig()
		cfg.Seed = seed
		m, err := Train(serviceCorpus(50000, seed), cfg)
		if err != nil {
			t.Fatal(err)
		}
		dns, web := margins(m)
		if dns < 0.5 || web < 0.5 {
			t.Errorf("seed %d: cos(53,UDP)−cos(53,TCP) = %.3f, cos(80,443)−cos(80,53) = %.3f; want both > 0.5", seed, dns, web)
		}
	}
	// The same vocabulary left at its random initial vectors does not show
	// the structure: the margins are noise around 0.
	shows, sum := 0, 0.0
	const seeds = 12
	for seed := uint64(1); seed <= seeds; seed++ {
		cfg := DefaultConfig()
		cfg.Seed = seed
		cfg.Epochs = 0
		m, err := Train(serviceCorpus(2000, seed), cfg)
		if err != nil {
			t.Fatal(err)
		}
		dns, web := margins(m)
		if dns > 0.5 && web > 0.5 {
			shows++
		}
		sum += dns + web
	}
	if shows > 1 || math.Abs(sum/(2*seeds)) > 0.3 {
		t.Errorf("untrained vectors: %d of %d seeds show both margins, mean margin %.3f", shows, seeds, sum/(2*seeds))
	}
}

func TestTrainingIsDeterministic(t *testing.T) {
	sents := serviceCorpus(5000, 7)
	cfg := DefaultConfig()
	a, err := Train(sents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(sents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.portVecs, b.portVecs) || !slices.Equal(a.protoVecs, b.protoVecs) {
		t.Fatal("same corpus and seed gave different vectors")
	}
	cfg.Seed = 2
	c, err := Train(sents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.portVecs, c.portVecs) {
		t.Error("different seeds gave identical vectors")
	}
}

func TestTrainedVectorsAreUnit(t *testing.T) {
	m, err := Train(serviceCorpus(3000, 1), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if m.Dim() != 10 {
		t.Fatalf("Dim() = %d", m.Dim())
	}
	for _, vecs := range [][]float32{m.portVecs, m.protoVecs} {
		for r := 0; r < len(vecs); r += m.dim {
			s := 0.0
			for _, x := range vecs[r : r+m.dim] {
				if x < -1 || x > 1 {
					t.Fatalf("component %v outside [−1, 1]", x)
				}
				s += float64(x) * float64(x)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("row %d has squared norm %v", r/m.dim, s)
			}
		}
	}
	// Every port seen as source or destination is known, and counted.
	if got := m.Count(Port(53)); got == 0 {
		t.Error("port 53 has count 0")
	}
	if !slices.Equal(m.Protos(), []uint8{6, 17}) {
		t.Errorf("protocols %v, want [6 17]", m.Protos())
	}
	// Port 6 and protocol 6 are different tokens.
	if _, ok := m.Vector(Port(6)); ok {
		t.Error("port 6 known though only protocol 6 occurs")
	}
}

func TestMinCount(t *testing.T) {
	sents := []Sentence{{1000, 80, 6}, {1001, 80, 6}, {1000, 80, 6}, {2000, 53, 17}}
	cfg := DefaultConfig()
	cfg.MinCount = 2
	m, err := Train(sents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Ports(), []uint16{80, 1000}) || !slices.Equal(m.Protos(), []uint8{6}) {
		t.Errorf("min count 2: ports %v protos %v", m.Ports(), m.Protos())
	}
	cfg.MinCount = 4
	if _, err := Train(sents, cfg); err == nil {
		t.Error("no protocol reaching min count accepted")
	}
}

func TestTrainBadInput(t *testing.T) {
	if _, err := Train(nil, DefaultConfig()); !errors.Is(err, ErrEmptyCorpus) {
		t.Errorf("empty corpus: err = %v", err)
	}
	ok := []Sentence{{1, 2, 6}}
	for _, mod := range []func(*Config){
		func(c *Config) { c.Dim = 0 },
		func(c *Config) { c.Dim = MaxDim + 1 },
		func(c *Config) { c.Window = 0 },
		func(c *Config) { c.Negative = 0 },
		func(c *Config) { c.Alpha = 0 },
		func(c *Config) { c.Alpha = math.NaN() },
		func(c *Config) { c.MinAlpha = 1 },
		func(c *Config) { c.Epochs = -1 },
		func(c *Config) { c.Sample = -1 },
		func(c *Config) { c.MinCount = 0 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if _, err := Train(ok, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestAliasTableMatchesDistribution(t *testing.T) {
	voc := []entry{{Port(1), 1000}, {Port(2), 100}, {Port(3), 10}, {Proto(6), 1}}
	tr := newTrainer(voc, DefaultConfig())
	const draws = 400000
	hits := make([]int, len(voc))
	for range draws {
		hits[tr.negative()]++
	}
	sum := 0.0
	for _, e := range voc {
		sum += math.Pow(float64(e.count), 0.75)
	}
	for i, e := range voc {
		want := math.Pow(float64(e.count), 0.75) / sum
		got := float64(hits[i]) / draws
		if math.Abs(got-want) > 4*math.Sqrt(want*(1-want)/draws)+1e-4 {
			t.Errorf("word %d: drawn %.4f of the time, want %.4f", i, got, want)
		}
	}
}
