package ip2vec

import (
	"slices"
	"testing"
)

func countsOf(sents []Sentence) []Counted {
	c := SentenceCounts{}
	for _, s := range sents {
		c.Add(s)
	}
	return c.List()
}

func TestTrainCountsLearnsFromDistinctSentences(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		sents := serviceCorpus(50000, seed)
		counts := countsOf(sents)
		if len(counts) >= len(sents)/5 {
			t.Fatalf("the corpus has %d distinct sentences of %d: not a test of bounded training", len(counts), len(sents))
		}
		cfg := DefaultConfig()
		cfg.Seed = seed
		m, err := TrainCounts(counts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := Train(sents, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// The vocabulary and its counts are the whole corpus's.
		if !slices.Equal(m.Ports(), ref.Ports()) || !slices.Equal(m.Protos(), ref.Protos()) || m.Sentences() != int64(len(sents)) {
			t.Fatalf("seed %d: vocabulary %d ports, %d protocols, %d sentences; Train: %d, %d, %d", seed,
				len(m.Ports()), len(m.Protos()), m.Sentences(), len(ref.Ports()), len(ref.Protos()), len(sents))
		}
		for _, p := range m.Ports() {
			if m.Count(Port(p)) != ref.Count(Port(p)) {
				t.Fatalf("port %d: count %d, Train's %d", p, m.Count(Port(p)), ref.Count(Port(p)))
			}
		}
		dns, web := margins(m)
		if dns < 0.5 || web < 0.5 {
			t.Errorf("seed %d: cos(53,UDP)−cos(53,TCP) = %.3f, cos(80,443)−cos(80,53) = %.3f; want both > 0.5", seed, dns, web)
		}
	}
}

func TestTrainCountsIsDeterministicInAnyOrder(t *testing.T) {
	counts := countsOf(serviceCorpus(5000, 7))
	cfg := DefaultConfig()
	a, err := TrainCounts(counts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(counts)
	slices.Reverse(rev)
	b, err := TrainCounts(rev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.portVecs, b.portVecs) || !slices.Equal(a.protoVecs, b.protoVecs) {
		t.Fatal("the same counts in another order gave different vectors")
	}
	cfg.Seed = 2
	c, err := TrainCounts(counts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.portVecs, c.portVecs) {
		t.Error("different seeds gave identical vectors")
	}
	if _, err := TrainCounts(nil, cfg); err != ErrEmptyCorpus {
		t.Errorf("no counts: %v, want ErrEmptyCorpus", err)
	}
}
