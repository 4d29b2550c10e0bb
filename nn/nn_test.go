package nn

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare-go/netshare/nn/blas"
)

func TestExpf(t *testing.T) {
	var worst float64
	for x := -87.0; x < 88.5; x += 0.01237 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		if r := math.Abs(got-want) / want; r > worst {
			worst = r
		}
	}
	if worst > 5e-7 {
		t.Fatalf("expf worst relative error %g", worst)
	}
	if !math.IsInf(float64(expf(100)), 1) || expf(-100) != 0 {
		t.Fatal("expf out-of-range handling")
	}
}

func TestTanhfSigmoid(t *testing.T) {
	var worstT, worstS float64
	xs := []float32{}
	for x := -20.0; x <= 20; x += 0.000731 {
		xs = append(xs, float32(x))
	}
	ys := make([]float32, len(xs))
	tanhSlice(ys, xs)
	for i, x := range xs {
		if d := math.Abs(float64(ys[i]) - math.Tanh(float64(x))); d > worstT {
			worstT = d
		}
	}
	sigmoidSlice(ys, xs)
	for i, x := range xs {
		if d := math.Abs(float64(ys[i]) - 1/(1+math.Exp(-float64(x)))); d > worstS {
			worstS = d
		}
	}
	if worstT > 5e-7 || worstS > 5e-7 {
		t.Fatalf("worst absolute error: tanh %g, sigmoid %g", worstT, worstS)
	}
	if tanhf(100) != 1 || tanhf(-100) != -1 {
		t.Fatal("tanhf saturation")
	}
}

// perExampleSqNorms materialises each example's gradient by running the
// step on that example alone, and returns the squared norms.
func perExampleSqNorms[F Float](c *Critic[F], real, fake *Mat[F], alpha []F, lambda F) []float64 {
	out := make([]float64, real.R)
	for i := 0; i < real.R; i++ {
		ZeroGrad(c.Params())
		c.Prepare(real.Rows(i, i+1), fake.Rows(i, i+1), alpha[i:i+1], lambda, 1)
		c.Accumulate(nil)
		for _, p := range c.Params() {
			out[i] += dot64(p.G, p.G)
		}
	}
	return out
}

func TestCriticSqNormsMatchMaterialised(t *testing.T) {
	for _, leaky := range []bool{false, true} {
		g := NewRNG(21)
		const B, In = 6, 10
		c := newTestCritic(g, In, leaky)
		real, fake := randMat(g, B, In), randMat(g, B, In)
		alpha := make([]float64, B)
		FillUniform(g, alpha, 0, 1)
		want := perExampleSqNorms(c, real, fake, alpha, 10)
		got := make([]float64, B)
		c.Prepare(real, fake, alpha, 10, 1)
		c.SqNorms(got)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-10*want[i] {
				t.Fatalf("leaky=%v example %d: efficient %v, materialised %v", leaky, i, got[i], want[i])
			}
		}
	}
}

// TestFloat32MatchesFloat64 runs the float32 critic step and LSTM, which use
// the fast float32 exponential and sgemm, against the float64 ones.
func TestFloat32MatchesFloat64(t *testing.T) {
	g := NewRNG(22)
	const B, In = 8, 12
	c64 := newTestCritic(g, In, false)
	c32 := NewCritic[float32]("critic", In, 4, 9, false, nil)
	for i, l := range c64.Layers {
		for j, v := range l.W.W {
			c32.Layers[i].W.W[j] = float32(v)
		}
		for j, v := range l.B.W {
			c32.Layers[i].B.W[j] = float32(v)
		}
	}
	real, fake := randMat(g, B, In), randMat(g, B, In)
	alpha := make([]float64, B)
	FillUniform(g, alpha, 0, 1)
	conv := func(m *Mat[float64]) *Mat[float32] {
		o := NewMat[float32](m.R, m.C)
		for i, v := range m.D {
			o.D[i] = float32(v)
		}
		return o
	}
	a32 := make([]float32, B)
	for i, v := range alpha {
		a32[i] = float32(v)
	}
	l64 := c64.Prepare(real, fake, alpha, 10, B)
	n64 := make([]float64, B)
	c64.SqNorms(n64)
	c64.Accumulate(nil)
	l32 := c32.Prepare(conv(real), conv(fake), a32, 10, B)
	n32 := make([]float64, B)
	c32.SqNorms(n32)
	c32.Accumulate(nil)
	if math.Abs(l32.Loss-l64.Loss) > 1e-4*(1+math.Abs(l64.Loss)) {
		t.Fatalf("loss float32 %v, float64 %v", l32.Loss, l64.Loss)
	}
	for i := range n64 {
		if math.Abs(n32[i]-n64[i]) > 1e-4*n64[i] {
			t.Fatalf("norm %d: float32 %v, float64 %v", i, n32[i], n64[i])
		}
	}
	for i, l := range c64.Layers {
		for j, v := range l.W.G {
			if math.Abs(float64(c32.Layers[i].W.G[j])-v) > 1e-4*(1+math.Abs(v)) {
				t.Fatalf("layer %d weight grad %d: float32 %v, float64 %v", i, j, c32.Layers[i].W.G[j], v)
			}
		}
	}

	const T, H = 6, 5
	lstm64 := NewLSTM[float64]("l", 3, 2, H)
	lstm64.Init(g)
	lstm32 := NewLSTM[float32]("l", 3, 2, H)
	for i, p := range lstm64.Params() {
		for j, v := range p.W {
			lstm32.Params()[i].W[j] = float32(v)
		}
	}
	st, sq := randMat(g, B, 3), randMat(g, T*B, 2)
	h64 := lstm64.Forward(st, sq, T, B, nil, nil)
	h32 := lstm32.Forward(conv(st), conv(sq), T, B, nil, nil)
	for i, v := range h64.D {
		if math.Abs(float64(h32.D[i])-v) > 1e-5 {
			t.Fatalf("lstm h[%d]: float32 %v, float64 %v", i, h32.D[i], v)
		}
	}
}

func TestAdamStep(t *testing.T) {
	p := NewParam[float64]("p", 2)
	p.W[0], p.W[1] = 1, -2
	a := NewAdam([]*Param[float64]{p}, 0.1, 0.5, 0.999, 1e-8)
	p.G[0], p.G[1] = 0.5, -3
	a.Step()
	// First step: m̂ = g, v̂ = g², so w moves by lr·g/(|g|+ε) = ±lr.
	if math.Abs(p.W[0]-(1-0.1)) > 1e-7 || math.Abs(p.W[1]-(-2+0.1)) > 1e-7 {
		t.Fatalf("after one step %v", p.W)
	}
	p.G[0], p.G[1] = 1, 1
	a.Step()
	m := 0.5*(0.5*0.5) + 0.5*1
	v := 0.999*(0.001*0.25) + 0.001*1
	mh, vh := m/(1-0.25), v/(1-0.999*0.999)
	want := 0.9 - 0.1*mh/(math.Sqrt(vh)+1e-8)
	if math.Abs(p.W[0]-want) > 1e-7 {
		t.Fatalf("second step %v, want %v", p.W[0], want)
	}
	a.Reset()
	if a.T != 0 || a.M[0][0] != 0 {
		t.Fatal("Reset kept state")
	}
}

func TestRNGReproducibleAndRestorable(t *testing.T) {
	a, b := NewRNG(7), NewRNG(7)
	for i := 0; i < 100; i++ {
		if a.Normal() != b.Normal() {
			t.Fatal("same seed, different draws")
		}
	}
	st, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{a.Normal(), a.Float64(), float64(a.IntN(1000))}
	c := NewRNG(99)
	if err := c.UnmarshalBinary(st); err != nil {
		t.Fatal(err)
	}
	y := []float64{c.Normal(), c.Float64(), float64(c.IntN(1000))}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("restored state diverges: %v vs %v", x, y)
		}
	}
	if NewRNG(8).Normal() == NewRNG(7).Normal() {
		t.Fatal("different seeds, same first draw")
	}
	if err := c.UnmarshalBinary([]byte("garbage")); err == nil {
		t.Fatal("garbage state accepted")
	}
}

func TestOrthogonal(t *testing.T) {
	g := NewRNG(3)
	for _, sh := range [][2]int{{4, 12}, {12, 4}, {5, 5}} {
		r, c := sh[0], sh[1]
		w := make([]float64, r*c)
		Orthogonal(g, w, r, c)
		// The smaller dimension's vectors must be orthonormal.
		n, m := r, c
		get := func(i, j int) float64 { return w[i*c+j] }
		if r > c {
			n, m = c, r
			get = func(i, j int) float64 { return w[j*c+i] }
		}
		for i := 0; i < n; i++ {
			for k := 0; k < n; k++ {
				var d float64
				for j := 0; j < m; j++ {
					d += get(i, j) * get(k, j)
				}
				want := 0.0
				if i == k {
					want = 1
				}
				if math.Abs(d-want) > 1e-9 {
					t.Fatalf("%dx%d: <v%d,v%d> = %v", r, c, i, k, d)
				}
			}
		}
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	in := []Tensor{
		{Name: "b", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, float32(math.Inf(-1))}},
		{Name: "a", Shape: []int{1}, Data: []float32{-0.5}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
	}
	if err := WriteSafetensors(p, in, map[string]string{"step": "12"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if hl := int(raw[0]) | int(raw[1])<<8; (8+hl)%8 != 0 {
		t.Fatalf("data not 8-byte aligned: header %d", hl)
	}
	out, meta, err := ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	if meta["step"] != "12" || len(out) != 3 {
		t.Fatalf("meta %v, %d tensors", meta, len(out))
	}
	for _, w := range in {
		g := out[w.Name]
		if len(g.Data) != len(w.Data) || len(g.Shape) != len(w.Shape) {
			t.Fatalf("%s: got %+v", w.Name, g)
		}
		for i := range w.Data {
			if g.Data[i] != w.Data[i] {
				t.Fatalf("%s[%d] = %v, want %v", w.Name, i, g.Data[i], w.Data[i])
			}
		}
	}
	// Damaged files give errors naming the file.
	for name, data := range map[string][]byte{
		"short":     raw[:5],
		"truncated": raw[:len(raw)-4],
		"badjson":   append(append([]byte{}, raw[:8]...), []byte("{not json at all........")...),
	} {
		q := filepath.Join(dir, name)
		os.WriteFile(q, data, 0o644)
		if _, _, err := ReadSafetensors(q); err == nil {
			t.Errorf("%s: no error", name)
		} else if !contains(err.Error(), q) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if err := WriteSafetensors(p, []Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1}}}, nil); err == nil {
		t.Fatal("shape mismatch accepted")
	}
	if err := WriteSafetensors(p, []Tensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}, {Name: "x", Shape: []int{1}, Data: []float32{1}}}, nil); err == nil {
		t.Fatal("duplicate name accepted")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestBackendsAgree runs a critic step with each BLAS backend (each of
// netshare's kernels that the CPU runs, OpenBLAS when it loads) and
// compares it with gonum's.
func TestBackendsAgree(t *testing.T) {
	g := NewRNG(5)
	const B, In = 16, 40
	c := NewCritic[float32]("c", In, 3, 32, false, g)
	real, fake := NewMat[float32](B, In), NewMat[float32](B, In)
	FillNormal(g, real.D, 1)
	FillNormal(g, fake.D, 1)
	alpha := make([]float32, B)
	FillUniform(g, alpha, 0, 1)
	run := func(be blas.Backend, kernel string) ([]float32, float64, bool) {
		prev, err := blas.Use(be)
		if err != nil {
			return nil, 0, false
		}
		defer blas.Use(prev)
		if kernel != "" {
			pk, err := blas.UseKernel(kernel)
			if err != nil {
				t.Fatal(err)
			}
			defer blas.UseKernel(pk)
		}
		ZeroGrad(c.Params())
		l := c.Prepare(real, fake, alpha, 10, B)
		c.Accumulate(nil)
		return append([]float32(nil), c.Layers[0].W.G...), l.Loss, true
	}
	g1, l1, _ := run(blas.Gonum, "")
	check := func(name string, g2 []float32, l2 float64) {
		if math.Abs(l1-l2) > 1e-4*(1+math.Abs(l1)) {
			t.Fatalf("loss gonum %v, %s %v", l1, name, l2)
		}
		for i := range g1 {
			if math.Abs(float64(g1[i]-g2[i])) > 1e-4*(1+math.Abs(float64(g1[i]))) {
				t.Fatalf("grad %d: gonum %v, %s %v", i, g1[i], name, g2[i])
			}
		}
	}
	for _, k := range blas.Kernels() {
		g2, l2, _ := run(blas.Own, k)
		check("netshare "+k, g2, l2)
	}
	if g2, l2, ok := run(blas.OpenBLAS, ""); ok {
		check("openblas", g2, l2)
	}
}

func TestHeadsValidation(t *testing.T) {
	if _, err := NewHeads[float32]([]Slice{{0, 2, Softmax}, {3, 1, Sigmoid}}); err == nil {
		t.Fatal("gap accepted")
	}
	if _, err := NewHeads[float32]([]Slice{{0, 0, Softmax}}); err == nil {
		t.Fatal("empty slice accepted")
	}
	if _, err := NewHeads[float32]([]Slice{{0, 1, Activation(9)}}); err == nil {
		t.Fatal("bad activation accepted")
	}
}

// TestThreadsDoNotChangeResults runs the LSTM and heads with one and two
// threads: nn's own loops split rows into disjoint blocks, so the results
// are identical.
func TestThreadsDoNotChangeResults(t *testing.T) {
	run := func(threads int) ([]float32, []float32) {
		SetThreads(threads)
		defer SetThreads(1)
		g := NewRNG(31)
		const T, B, H = 4, 130, 16
		l := NewLSTM[float32]("l", 5, 3, H)
		l.Init(g)
		st, sq := NewMat[float32](B, 5), NewMat[float32](T*B, 3)
		FillNormal(g, st.D, 1)
		FillNormal(g, sq.D, 1)
		h := l.Forward(st, sq, T, B, nil, nil)
		dh := NewMat[float32](T*B, H)
		FillNormal(g, dh.D, 1)
		l.Backward(dh, false)
		hd, _ := NewHeads[float32]([]Slice{{0, 6, Softmax}, {6, 10, Sigmoid}})
		y := hd.Forward(h)
		return append([]float32(nil), y.D...), append([]float32(nil), l.Wh.G...)
	}
	y1, g1 := run(1)
	y2, g2 := run(2)
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("output %d differs: %v vs %v", i, y1[i], y2[i])
		}
	}
	for i := range g1 {
		if g1[i] != g2[i] {
			t.Fatalf("gradient %d differs: %v vs %v", i, g1[i], g2[i])
		}
	}
	if Threads() != 1 {
		t.Fatal("SetThreads not restored")
	}
}

// TestLSTMForwardUntil: stopping after step 2 of 5 gives the same states and
// gradients as a 3-step sequence.
func TestLSTMForwardUntil(t *testing.T) {
	g := NewRNG(41)
	const T, B, H = 5, 4, 6
	a := NewLSTM[float64]("l", 3, 2, H)
	a.Init(g)
	b := NewLSTM[float64]("l", 3, 2, H)
	for i, p := range a.Params() {
		copy(b.Params()[i].W, p.W)
	}
	st, sq := randMat(g, B, 3), randMat(g, T*B, 2)
	calls := 0
	ha, ta := a.ForwardUntil(st, sq, T, B, nil, nil, func(t int, ht *Mat[float64]) bool {
		calls++
		if ht.R != B || ht.C != H {
			t = -1
		}
		return t == 2
	})
	hb := b.Forward(st, sq.Rows(0, 3*B), 3, B, nil, nil)
	if ta != 3 || calls != 3 || ha.R != 3*B {
		t.Fatalf("stopped after %d steps, %d calls, %d rows", ta, calls, ha.R)
	}
	for i := range hb.D {
		if ha.D[i] != hb.D[i] {
			t.Fatalf("state %d: %v vs %v", i, ha.D[i], hb.D[i])
		}
	}
	dh := randMat(g, 3*B, H)
	a.Backward(dh, false)
	b.Backward(dh, false)
	for i, p := range a.Params() {
		for j, v := range p.G {
			if math.Abs(v-b.Params()[i].G[j]) > 1e-12 {
				t.Fatalf("%s[%d]: %v vs %v", p.Name, j, v, b.Params()[i].G[j])
			}
		}
	}
}

// TestTanhVectorMatchesScalar compares the vector loop (where the CPU has
// it) with the scalar formula on slices of every length up to 40.
func TestTanhVectorMatchesScalar(t *testing.T) {
	g := NewRNG(51)
	for n := 0; n <= 40; n++ {
		x := make([]float32, n)
		FillNormal(g, x, 4)
		y := make([]float32, n)
		tanhLoop(y, x, 0.5, 0.5, 0.5)
		for i, v := range x {
			want := 0.5 + 0.5*tanhf(0.5*v)
			if math.Abs(float64(y[i]-want)) > 2e-7 {
				t.Fatalf("n=%d i=%d: %v, scalar %v", n, i, y[i], want)
			}
		}
	}
	t.Logf("vector loop in use: %v", useAVX2)
}

// TestAdamFloat32MatchesFloat64 steps float32 Adam (the vector loop where
// the CPU has it, with a scalar tail) next to float64 Adam.
func TestAdamFloat32MatchesFloat64(t *testing.T) {
	g := NewRNG(61)
	const n = 37
	p32, p64 := NewParam[float32]("p", n), NewParam[float64]("p", n)
	FillNormal(g, p64.W, 1)
	for i, v := range p64.W {
		p32.W[i] = float32(v)
	}
	a32 := NewAdam([]*Param[float32]{p32}, 1e-2, 0.5, 0.999, 1e-8)
	a64 := NewAdam([]*Param[float64]{p64}, 1e-2, 0.5, 0.999, 1e-8)
	for step := 0; step < 5; step++ {
		FillNormal(g, p64.G, 1)
		for i, v := range p64.G {
			p32.G[i] = float32(v)
		}
		a32.Step()
		a64.Step()
	}
	for i := range p64.W {
		if d := math.Abs(float64(p32.W[i]) - p64.W[i]); d > 1e-6 {
			t.Fatalf("w[%d]: float32 %v, float64 %v", i, p32.W[i], p64.W[i])
		}
	}
}

func TestCriticSetGradsOverwrites(t *testing.T) {
	g := NewRNG(71)
	c := newTestCritic(g, 6, false)
	real, fake := randMat(g, 3, 6), randMat(g, 3, 6)
	alpha := []float64{0.2, 0.5, 0.8}
	ZeroGrad(c.Params())
	c.Prepare(real, fake, alpha, 10, 3)
	c.Accumulate(nil)
	var want [][]float64
	for _, p := range c.Params() {
		want = append(want, append([]float64(nil), p.G...))
		for i := range p.G {
			p.G[i] = 123 // stale values SetGrads must replace
		}
	}
	c.Prepare(real, fake, alpha, 10, 3)
	c.SetGrads(nil)
	for k, p := range c.Params() {
		for i, v := range p.G {
			if math.Abs(v-want[k][i]) > 1e-12 {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, i, v, want[k][i])
			}
		}
	}
}

// TestHeadsFloat32MatchesFloat64 compares the float32 heads (whole-row
// vector loops) with the float64 ones, forward and backward, for fields of
// every kind and width (vector bodies and scalar tails), on one and two
// threads.
func TestHeadsFloat32MatchesFloat64(t *testing.T) {
	slices := []Slice{{0, 1, Sigmoid}, {1, 3, Softmax}, {4, 10, Tanh}, {14, 2, Softmax}, {16, 9, Sigmoid}, {25, 1, Tanh}, {26, 12, Softmax}}
	h64, err := NewHeads[float64](slices)
	if err != nil {
		t.Fatal(err)
	}
	h32, _ := NewHeads[float32](slices)
	for _, threads := range []int{1, 2} {
		SetThreads(threads)
		g := NewRNG(81)
		const B = 70
		z := randMat(g, B, h64.Width)
		for i := range z.D {
			z.D[i] *= 6
		}
		dy := randMat(g, B, h64.Width)
		z32, dy32 := NewMat[float32](B, h64.Width), NewMat[float32](B, h64.Width)
		for i := range z.D {
			z32.D[i], dy32.D[i] = float32(z.D[i]), float32(dy.D[i])
		}
		y64 := h64.Forward(z)
		y32 := h32.Forward(z32)
		for i, v := range y64.D {
			if math.Abs(float64(y32.D[i])-v) > 1e-6 {
				t.Fatalf("threads=%d y[%d]: float32 %v, float64 %v", threads, i, y32.D[i], v)
			}
		}
		d64 := h64.Backward(dy, y64)
		d32 := h32.Backward(dy32, y32)
		for i, v := range d64.D {
			if math.Abs(float64(d32.D[i])-v) > 1e-5 {
				t.Fatalf("threads=%d dz[%d]: float32 %v, float64 %v", threads, i, d32.D[i], v)
			}
		}
	}
	SetThreads(1)
	nan := NewMat[float32](1, h32.Width)
	nan.D[2], nan.D[5] = float32(math.NaN()), float32(math.NaN())
	h32.Apply(nan)
	if !math.IsNaN(float64(nan.D[2])) || !math.IsNaN(float64(nan.D[5])) {
		t.Fatalf("NaN logits gave %v, %v", nan.D[2], nan.D[5])
	}
}

// TestGram3 compares the one-pass float64 dot products of three float32
// rows (a vector loop where the CPU has it) with separate dot64 sums, for
// every length up to 40 and a long row.
func TestGram3(t *testing.T) {
	g := NewRNG(91)
	for n := 0; n <= 41; n++ {
		if n == 41 {
			n = 3129
		}
		a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
		FillNormal(g, a, 1)
		FillNormal(g, b, 3)
		FillNormal(g, c, 0.1)
		got := gram3(a, b, c)
		want := [6]float64{dot64(a, a), dot64(b, b), dot64(c, c), dot64(a, b), dot64(a, c), dot64(b, c)}
		for k := range want {
			if math.Abs(got[k]-want[k]) > 1e-12*(1+math.Abs(want[k])) {
				t.Fatalf("n=%d product %d: %v, dot64 %v", n, k, got[k], want[k])
			}
		}
	}
}

// TestAddNormalMatchesRNG: AddNormal's draws are NewRNG(seed).Normal()'s,
// bit for bit, over enough draws to take the ziggurat's rare branches
// (wedges and the tail) many times.
func TestAddNormalMatchesRNG(t *testing.T) {
	for _, seed := range []uint64{0, 1, 0xdeadbeef, 1 << 63} {
		const n = 1 << 20
		got := make([]float64, n)
		for i := range got {
			got[i] = 0.25
		}
		AddNormal(got, seed, 1.5)
		g := NewRNG(seed)
		for i, v := range got {
			if want := 0.25 + g.Normal()*1.5; math.Float64bits(v) != math.Float64bits(want) {
				t.Fatalf("seed %x draw %d: %v, want %v", seed, i, v, want)
			}
		}
		g32 := NewRNG(seed)
		f := make([]float32, 1000)
		AddNormal(f, seed, 0.5)
		for i, v := range f {
			if want := float32(g32.Normal() * 0.5); v != want {
				t.Fatalf("float32 seed %x draw %d: %v, want %v", seed, i, v, want)
			}
		}
	}
}
