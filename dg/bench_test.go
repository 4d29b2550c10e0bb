package dg

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/netshare-go/netshare/nn"
	"github.com/netshare-go/netshare/nn/blas"
)

// paperOutputs are outputs of the shape NetShare trains on PCAP data: 159
// attribute dims (two IPv4 addresses as 32 two-way bits each, three 10-d
// word2vec fields, flow start) and 9 feature dims per packet.
func paperOutputs() (attr, feat []Output) {
	for i := 0; i < 64; i++ {
		attr = append(attr, Output{Name: fmt.Sprintf("ipbit%d", i), Dim: 2, Act: Softmax})
	}
	attr = append(attr, Output{Name: "srcport", Dim: 10, Act: Tanh}, Output{Name: "dstport", Dim: 10, Act: Tanh},
		Output{Name: "proto", Dim: 10, Act: Tanh}, Output{Name: "flow_start", Dim: 1, Act: Sigmoid})
	feat = []Output{{"interarrival", 1, Sigmoid}, {"pkt_len", 1, Sigmoid}, {"tos", 1, Sigmoid}, {"id", 1, Sigmoid},
		{"flag", 3, Softmax}, {"off", 1, Sigmoid}, {"ttl", 1, Sigmoid}}
	return attr, feat
}

// synthData makes n random flows shaped for the given outputs, their
// features sparse (each flow's steps only).
func synthData(attrOut, featOut []Output, maxLen, n int, seed uint64) *Data {
	r := rand.New(rand.NewPCG(seed, 1))
	A, F := 0, 0
	for _, o := range attrOut {
		A += o.Dim
	}
	for _, o := range featOut {
		F += o.Dim
	}
	d := &Data{N: n, Attr: make([]float32, n*A), Len: make([]int, n)}
	fill := func(dst []float32, outs []Output) {
		off := 0
		for _, o := range outs {
			seg := dst[off : off+o.Dim]
			switch o.Act {
			case Softmax:
				seg[r.IntN(o.Dim)] = 1
			case Sigmoid:
				for k := range seg {
					seg[k] = r.Float32()
				}
			case Tanh:
				for k := range seg {
					seg[k] = 2*r.Float32() - 1
				}
			}
			off += o.Dim
		}
	}
	for i := 0; i < n; i++ {
		fill(d.Attr[i*A:(i+1)*A], attrOut)
		d.Len[i] = 1 + r.IntN(maxLen)
		for k := 0; k < d.Len[i]; k++ {
			d.Feat = append(d.Feat, make([]float32, F)...)
			fill(d.Feat[len(d.Feat)-F:], featOut)
		}
	}
	return d
}

// padded returns d with its features in the zero-padded layout, stride
// steps per flow.
func padded(d *Data, F, stride int) *Data {
	p := &Data{N: d.N, Attr: d.Attr, Len: d.Len, Feat: make([]float32, d.N*stride*F)}
	pos := 0
	for i, l := range d.Len {
		copy(p.Feat[i*stride*F:], d.Feat[pos:pos+l*F])
		pos += l * F
	}
	return p
}

// gemmFLOPs counts the matrix-product FLOPs of one iteration at cfg (2 per
// multiply-add), as implemented: per critic round a forward pass over 3b
// rows (2b for the first layer, whose output at the interpolates is
// interpolated), backward signals over 3b rows (input gradient only for the
// b interpolates), the penalty's tangent pass over b rows and one
// weight-gradient product over 3b rows, for D and D_a; the generator's
// passes; per generator round the critics' input gradients.
func gemmFLOPs(cfg Config, A, Fp, T int) float64 {
	b := float64(cfg.BatchSize)
	S := float64(cfg.SampleLen)
	mlp := func(in, layers, units int) (first, rest float64) {
		first = float64(in) * float64(units)
		rest = float64(layers-2)*float64(units)*float64(units) + float64(units)
		return
	}
	critic := func(in, layers, units int) (round, ginput float64) {
		f, r := mlp(in, layers, units)
		all := f + r
		round = (2*b*f + 3*b*r) + 3*b*r + b*f + b*all + 3*b*all
		ginput = 2 * b * all
		return
	}
	dr, dg := critic(int(S)*T*Fp+A, cfg.DiscLayers, cfg.DiscUnits)
	ar, ag := critic(A, cfg.AuxDiscLayers, cfg.AuxDiscUnits)
	H := float64(cfg.LSTMUnits)
	U := float64(cfg.AttrGenUnits)
	attrGen := float64(cfg.AttrNoiseDim)*U + float64(cfg.AttrGenLayers-2)*U*U + U*float64(A)
	lstm := float64(A)*4*H + float64(T)*(float64(cfg.FeatNoiseDim)*4*H+H*4*H+H*S*float64(Fp))
	gen := b * (attrGen + lstm)
	macs := float64(cfg.DRounds)*(dr+ar+gen) + float64(cfg.GRounds)*(dg+ag+3*gen)
	return 2 * macs
}

// neverEnd biases the generation flag towards "continue" so that generated
// flows run to the full length: the benchmarks measure the worst case,
// where the LSTM cannot stop early.
func neverEnd(m *Model) {
	n := m.n
	for s := 0; s < n.cfg.SampleLen; s++ {
		n.featHead.B.W[s*n.Fp+n.Fp-2] += 30
	}
}

func benchIteration(b *testing.B, cfg Config, threads int) {
	attrOut, featOut := paperOutputs()
	const maxLen = 270
	m, err := New(cfg, attrOut, featOut, maxLen)
	if err != nil {
		b.Fatal(err)
	}
	neverEnd(m)
	d := synthData(attrOut, featOut, maxLen, 2000, 1)
	if os.Getenv("NETSHARE_BLAS_THREADING") == "openblas" {
		blas.SetThreading(blas.Internal)
		defer blas.SetThreading(blas.Split)
	}
	nn.SetThreads(threads)
	defer nn.SetThreads(1)
	b.Logf("BLAS: %v", blas.Info())
	if _, err := m.Step(d); err != nil { // warm-up: buffers grow
		b.Fatal(err)
	}
	b.ResetTimer()
	best := time.Hour
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := m.Step(d); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	if m.n.teff != m.n.T {
		b.Fatalf("generated flows ended early (%d of %d LSTM steps)", m.n.teff, m.n.T)
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/iter")
	// The fastest iteration: on a machine shared with other work, the
	// speed when the cores were free.
	b.ReportMetric(best.Seconds()*1e3, "best-ms/iter")
	b.ReportMetric(gemmFLOPs(cfg, m.n.A, m.n.Fp, m.n.T)/sec/1e9, "GFLOP/s")
}

// blasMode is a BLAS backend (with an own kernel) the iteration
// benchmarks compare.
type blasMode struct {
	name   string
	be     blas.Backend
	kernel string
}

// blasModes: netshare's own SIMD kernels that this CPU runs (the generic
// one only where there is none), OpenBLAS (when it loads: its kernel
// follows OPENBLAS_CORETYPE) and gonum's pure Go.
func blasModes() []blasMode {
	var ms []blasMode
	for i, k := range blas.Kernels() {
		if k == "generic" && i > 0 {
			continue
		}
		ms = append(ms, blasMode{"netshare-" + k, blas.Own, k})
	}
	return append(ms, blasMode{"openblas", blas.OpenBLAS, ""}, blasMode{"gonum", blas.Gonum, ""})
}

// use selects the mode for the benchmark, or skips it.
func (m blasMode) use(b *testing.B) {
	prev, err := blas.Use(m.be)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { blas.Use(prev) })
	if m.kernel != "" {
		pk, err := blas.UseKernel(m.kernel)
		if err != nil {
			b.Skip(err)
		}
		b.Cleanup(func() { blas.UseKernel(pk) })
	}
}

// BenchmarkDGIteration is one training iteration at NetShare's default
// configuration (batch 100, 159 attribute dims, 9+2 feature dims, 270 steps
// at sample_len 10, 5×512 attribute generator with BatchNorm, LSTM 100,
// 5×512 D and D_a, d_rounds 5, g_rounds 1) with 1 and 2 BLAS threads, on
// each BLAS backend (blasModes). GFLOP/s counts the matrix products only.
func BenchmarkDGIteration(b *testing.B) {
	for _, md := range blasModes() {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("blas=%s/threads=%d", md.name, threads), func(b *testing.B) {
				md.use(b)
				benchIteration(b, DefaultConfig(), threads)
			})
		}
	}
}

// BenchmarkDGIterationDP is the same iteration with DP-SGD on the critics,
// on the default BLAS ($NETSHARE_BLAS).
func BenchmarkDGIterationDP(b *testing.B) {
	cfg := DefaultConfig()
	cfg.DP = DP{Enabled: true, Clip: 1, Noise: 1}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) { benchIteration(b, cfg, threads) })
	}
}

// BenchmarkGenerate measures generation at the default configuration, with
// every flow running to the full 270 steps (the worst case).
func BenchmarkGenerate(b *testing.B) {
	attrOut, featOut := paperOutputs()
	m, err := New(DefaultConfig(), attrOut, featOut, 270)
	if err != nil {
		b.Fatal(err)
	}
	neverEnd(m)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			nn.SetThreads(threads)
			defer nn.SetThreads(1)
			const n = 1000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, _, err := m.Generate(n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

// BenchmarkRealBatch assembles one real batch (batch 100, 270 steps, the
// paper's feature widths) from 2000 synthetic flows: the padding of each
// flow's steps and flags that every critic round does.
func BenchmarkRealBatch(b *testing.B) {
	attrOut, featOut := paperOutputs()
	const maxLen = 270
	m, err := New(DefaultConfig(), attrOut, featOut, maxLen)
	if err != nil {
		b.Fatal(err)
	}
	d := synthData(attrOut, featOut, maxLen, 2000, 1)
	if err := m.validate(d); err != nil {
		b.Fatal(err)
	}
	idx := make([]int, m.n.cfg.BatchSize)
	r := rand.New(rand.NewPCG(2, 3))
	for i := range idx {
		idx[i] = r.IntN(d.N)
	}
	m.n.realBatch(d, idx)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.n.realBatch(d, idx)
	}
}
