package encoding

import (
	"math/rand/v2"
	"testing"

	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// benchSetup builds a one-chunk split of n flow records (Zipf-like ports,
// heavy-tailed sizes, a third of the 5-tuples repeated) and its schema with
// a trained embedding, quantile encoding, posterior decoding and a length
// attribute, as the default preset uses.
func benchSetup(b *testing.B, n int) (*Schema, *flows.Split[trace.Flow]) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.2, 1, 5000)
	recs := make([]trace.Flow, n)
	for i := range recs {
		p := uint64(1 + z.Uint64()%200)
		recs[i] = trace.Flow{Start: int64(i) * 1000, Src: 0x0a000000 | uint32(r.IntN(n/3+1)), Dst: 0xc0a80000 | uint32(z.Uint64()),
			SrcPort: uint16(1024 + r.IntN(60000)), DstPort: uint16(z.Uint64()), Proto: []uint8{6, 17}[r.IntN(2)],
			Dur: int64(r.ExpFloat64() * 1e6), Packets: p, Bytes: p * uint64(40+r.IntN(1400)), TCPFlags: uint8(r.IntN(4)) * 8}
	}
	sp, err := flows.SplitByTime(recs, flows.Options{Chunks: 1, MaxFlowLen: 20, SplitLong: true})
	if err != nil {
		b.Fatal(err)
	}
	spec, err := BuildFlowSpec(sp, BuildOptions{MaxLen: sp.Stats.MaxFlowLen, QuantileKnots: 512, PosteriorKappa: 20, PosteriorTopK: 64, LengthAttr: true})
	if err != nil {
		b.Fatal(err)
	}
	sents := make([]ip2vec.Sentence, len(recs))
	for i := range recs {
		sents[i] = ip2vec.SentenceOf(recs[i].Key())
	}
	emb, err := ip2vec.Train(sents, ip2vec.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSchema(spec, emb)
	if err != nil {
		b.Fatal(err)
	}
	return s, sp
}

// BenchmarkEncodeFlows encodes 100,000 flow records into training tensors.
func BenchmarkEncodeFlows(b *testing.B) {
	s, sp := benchSetup(b, 100_000)
	b.ResetTimer()
	for range b.N {
		if _, _, err := s.EncodeFlows(&sp.Chunks[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sp.Chunks[0].Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeFlows decodes the tensors of 100,000 records back into
// records (attributes with posterior port decoding, then features).
func BenchmarkDecodeFlows(b *testing.B) {
	s, sp := benchSetup(b, 100_000)
	ch := &sp.Chunks[0]
	d, _, err := s.EncodeFlows(ch)
	if err != nil {
		b.Fatal(err)
	}
	dense := d.Dense()
	b.ResetTimer()
	for range b.N {
		attrs, err := s.DecodeAttributes(d.Attr, d.N)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.DecodeFlows(attrs, dense, d.Len, ChunkRange{Start: ch.Start, End: ch.End}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ch.Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(d.N)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
