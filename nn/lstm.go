package nn

// LSTM is a one-layer LSTM unrolled over T steps, with backpropagation
// through time. Its input at step t is the concatenation of a static part
// (the same for every step, e.g. DoppelGANger's attribute conditioning) and a
// per-step part; splitting them lets the static projection be computed once
// per sequence instead of once per step. Gates are ordered input, forget,
// cell, output:
//
//	[i f g o] = x_static·Ws + x_t·Wq + h_{t−1}·Wh + b
//	c_t = σ(f)⊙c_{t−1} + σ(i)⊙tanh(g);  h_t = σ(o)⊙tanh(c_t)
//
// Sequences are stored time-major: row t·B + j of a T·B-row matrix is
// example j at step t.
type LSTM[F Float] struct {
	StaticIn, SeqIn, H int
	Ws, Wq, Wh, B      *Param[F]

	t, b        int
	static, seq *Mat[F]
	gates       Mat[F] // T·B × 4H activated gates
	c, tc       Mat[F] // T·B × H cell state and its tanh
	h           Mat[F] // (T+1)·B × H: h0 then h_1..h_T
	c0          Mat[F]
	sp          Mat[F] // B × 4H static projection plus bias
	dG, dGsum   Mat[F]
	dh, dc      Mat[F]
	dSeq, dStat Mat[F]
	gp          []float32 // gateParams
}

// NewLSTM returns a zero LSTM; InitTorch sets NetShare's initialisation.
func NewLSTM[F Float](name string, staticIn, seqIn, hidden int) *LSTM[F] {
	return &LSTM[F]{StaticIn: staticIn, SeqIn: seqIn, H: hidden,
		Ws: NewParam[F](name+".weight_static", staticIn, 4*hidden),
		Wq: NewParam[F](name+".weight_seq", seqIn, 4*hidden),
		Wh: NewParam[F](name+".weight_hh", hidden, 4*hidden),
		B:  NewParam[F](name+".bias", 4*hidden)}
}

// Params returns the LSTM's parameters.
func (l *LSTM[F]) Params() []*Param[F] { return []*Param[F]{l.Ws, l.Wq, l.Wh, l.B} }

// Init sets Xavier-uniform input weights, an orthogonal recurrent weight,
// zero biases and a forget-gate bias of 1.
func (l *LSTM[F]) Init(g *RNG) {
	in := l.StaticIn + l.SeqIn
	XavierUniform(g, l.Ws.W, in, 4*l.H)
	XavierUniform(g, l.Wq.W, in, 4*l.H)
	Orthogonal(g, l.Wh.W, l.H, 4*l.H)
	clear(l.B.W)
	for j := l.H; j < 2*l.H; j++ {
		l.B.W[j] = 1
	}
}

// Forward runs T steps. static is B×StaticIn (nil when StaticIn is 0), seq is
// T·B×SeqIn (nil when SeqIn is 0), h0 and c0 are B×H (nil: zero). It returns
// the T·B×H hidden states h_1..h_T, valid until the next call.
func (l *LSTM[F]) Forward(static, seq *Mat[F], T, B int, h0, c0 *Mat[F]) *Mat[F] {
	hs, _ := l.ForwardUntil(static, seq, T, B, h0, c0, nil)
	return hs
}

// ForwardUntil is Forward with an early exit: after each step t it calls
// stop(t, h_t) (h_t is B×H) and, when that returns true, ends the sequence
// there. It returns the hidden states of the steps run (T'·B×H) and T'.
// Backward then covers those T' steps.
func (l *LSTM[F]) ForwardUntil(static, seq *Mat[F], T, B int, h0, c0 *Mat[F], stop func(t int, ht *Mat[F]) bool) (*Mat[F], int) {
	H, G := l.H, 4*l.H
	l.t, l.b, l.static, l.seq = T, B, static, seq
	gates := l.gates.Resize(T*B, G)
	c := l.c.Resize(T*B, H)
	tc := l.tc.Resize(T*B, H)
	h := l.h.Resize((T+1)*B, H)
	cz := l.c0.Resize(B, H)
	if h0 != nil {
		copy(h.D[:B*H], h0.D)
	} else {
		clear(h.D[:B*H])
	}
	if c0 != nil {
		copy(cz.D, c0.D)
	} else {
		cz.Zero()
	}
	sp := l.sp.Resize(B, G)
	for i := 0; i < B; i++ {
		copy(sp.Row(i), l.B.W)
	}
	if l.StaticIn > 0 {
		Gemm(false, false, B, G, l.StaticIn, 1, static.D, l.StaticIn, l.Ws.W, G, 1, sp.D, G)
	}
	// Every step's gates start from the static projection, then add the
	// per-step input's (one product for all steps) and the recurrent one.
	for t := 0; t < T; t++ {
		copy(gates.D[t*B*G:(t+1)*B*G], sp.D)
	}
	if l.SeqIn > 0 {
		Gemm(false, false, T*B, G, l.SeqIn, 1, seq.D, l.SeqIn, l.Wq.W, G, 1, gates.D, G)
	}
	for t := 0; t < T; t++ {
		gt := gates.D[t*B*G : (t+1)*B*G]
		hPrev := h.D[t*B*H : (t+1)*B*H]
		Gemm(false, false, B, G, H, 1, hPrev, H, l.Wh.W, G, 1, gt, G)
		cPrev := cz.D
		if t > 0 {
			cPrev = c.D[(t-1)*B*H : t*B*H]
		}
		ct := c.D[t*B*H : (t+1)*B*H]
		tct := tc.D[t*B*H : (t+1)*B*H]
		ht := h.D[(t+1)*B*H : (t+2)*B*H]
		if g32, ok := any(gt).([]float32); ok {
			ps, pa, pc := l.gateParams()
			c32, cp32, tc32, h32 := any(ct).([]float32), any(cPrev).([]float32), any(tct).([]float32), any(ht).([]float32)
			parallelRange(B, 32, func(lo, hi int) { cellRows32(g32, cp32, c32, tc32, h32, ps, pa, pc, H, lo, hi) })
		} else {
			parallelRange(B, 32, func(lo, hi int) {
				for j := lo; j < hi; j++ {
					row := gt[j*G : (j+1)*G]
					sigmoidSlice(row[:2*H], row[:2*H])
					tanhSlice(row[2*H:3*H], row[2*H:3*H])
					sigmoidSlice(row[3*H:], row[3*H:])
					cp, cr, tr, hr := cPrev[j*H:(j+1)*H], ct[j*H:(j+1)*H], tct[j*H:(j+1)*H], ht[j*H:(j+1)*H]
					ig, fg, gg := row[:H], row[H:2*H], row[2*H:3*H]
					for k := range cr {
						cr[k] = fg[k]*cp[k] + ig[k]*gg[k]
					}
					tanhSlice(tr, cr)
					og := row[3*H:]
					for k := range hr {
						hr[k] = og[k] * tr[k]
					}
				}
			})
		}
		if stop != nil && t < T-1 && stop(t, h.Rows((t+1)*B, (t+2)*B)) {
			l.t = t + 1
			return h.Rows(B, (t+2)*B), t + 1
		}
	}
	if stop != nil {
		stop(T-1, h.Rows(T*B, (T+1)*B))
	}
	return h.Rows(B, (T+1)*B), T
}

// gateParams returns the per-column parameters that activate a float32
// gate row [i f g o] in one tanhVecLoop: sigmoid for i, f and o (as
// (1 + tanh(x/2))/2), tanh for g.
func (l *LSTM[F]) gateParams() (s, a, c []float32) {
	H := l.H
	if len(l.gp) != 3*4*H {
		l.gp = make([]float32, 3*4*H)
		s, a, c = l.gp[:4*H], l.gp[4*H:8*H], l.gp[8*H:]
		for k := 0; k < 4*H; k++ {
			if k >= 2*H && k < 3*H {
				s[k], a[k], c[k] = 1, 1, 0
			} else {
				s[k], a[k], c[k] = 0.5, 0.5, 0.5
			}
		}
	}
	return l.gp[:4*H], l.gp[4*H : 8*H], l.gp[8*H:]
}

// cellRows32 is one float32 step's cell update for rows [lo, hi): gate
// activations, c = f⊙c_prev + i⊙g, tanh(c) over the rows' contiguous block,
// h = o⊙tanh(c).
func cellRows32(gt, cPrev, ct, tct, ht, ps, pa, pc []float32, H, lo, hi int) {
	G := 4 * H
	for j := lo; j < hi; j++ {
		row := gt[j*G : (j+1)*G]
		tanhVecLoop(row, row, ps, pa, pc)
		cp, cr := cPrev[j*H:(j+1)*H], ct[j*H:(j+1)*H]
		ig, fg, gg := row[:H], row[H:2*H], row[2*H:3*H]
		for k := range cr {
			cr[k] = fg[k]*cp[k] + ig[k]*gg[k]
		}
	}
	tanhLoop(tct[lo*H:hi*H], ct[lo*H:hi*H], 1, 1, 0)
	for j := lo; j < hi; j++ {
		og, tr, hr := gt[j*G+3*H:(j+1)*G], tct[j*H:(j+1)*H], ht[j*H:(j+1)*H]
		for k := range hr {
			hr[k] = og[k] * tr[k]
		}
	}
}

// Backward takes dL/dh_t for every step (T·B×H, time-major), accumulates the
// parameter gradients and, when needInputGrad is set, returns dL/dstatic
// (B×StaticIn) and dL/dseq (T·B×SeqIn); otherwise both are nil. The
// gradients with respect to h0 and c0 are not computed (they are noise or
// zero in DoppelGANger).
func (l *LSTM[F]) Backward(dOut *Mat[F], needInputGrad bool) (dStatic, dSeq *Mat[F]) {
	T, B, H, G := l.t, l.b, l.H, 4*l.H
	dG := l.dG.Resize(T*B, G)
	dh := l.dh.Resize(B, H)
	dc := l.dc.Resize(B, H)
	dh.Zero()
	dc.Zero()
	for t := T - 1; t >= 0; t-- {
		gt := l.gates.D[t*B*G : (t+1)*B*G]
		dgt := dG.D[t*B*G : (t+1)*B*G]
		cPrev := l.c0.D
		if t > 0 {
			cPrev = l.c.D[(t-1)*B*H : t*B*H]
		}
		tct := l.tc.D[t*B*H : (t+1)*B*H]
		dOt := dOut.D[t*B*H : (t+1)*B*H]
		parallelRange(B, 32, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				row, drow := gt[j*G:(j+1)*G], dgt[j*G:(j+1)*G]
				ig, fg, gg, og := row[:H], row[H:2*H], row[2*H:3*H], row[3*H:]
				di, df, dgg, do := drow[:H], drow[H:2*H], drow[2*H:3*H], drow[3*H:]
				tr, cp := tct[j*H:(j+1)*H], cPrev[j*H:(j+1)*H]
				dhr, dcr, dor := dh.D[j*H:(j+1)*H], dc.D[j*H:(j+1)*H], dOt[j*H:(j+1)*H]
				for k := 0; k < H; k++ {
					dhk := dor[k] + dhr[k]
					o, tck := og[k], tr[k]
					dck := dhk*o*(1-tck*tck) + dcr[k]
					i, f, g := ig[k], fg[k], gg[k]
					di[k] = dck * g * i * (1 - i)
					df[k] = dck * cp[k] * f * (1 - f)
					dgg[k] = dck * i * (1 - g*g)
					do[k] = dhk * tck * o * (1 - o)
					dcr[k] = dck * f
				}
			}
		})
		// dh_{t−1} = dG_t · Whᵀ
		Gemm(false, true, B, H, G, 1, dgt, G, l.Wh.W, G, 0, dh.D, H)
	}
	// Weight gradients over all steps at once.
	Gemm(true, false, H, G, T*B, 1, l.h.D[:T*B*H], H, dG.D, G, 1, l.Wh.G, G)
	if l.SeqIn > 0 {
		Gemm(true, false, l.SeqIn, G, T*B, 1, l.seq.D, l.SeqIn, dG.D, G, 1, l.Wq.G, G)
	}
	dGsum := l.dGsum.Resize(B, G)
	copy(dGsum.D, dG.D[:B*G])
	for t := 1; t < T; t++ {
		src := dG.D[t*B*G : (t+1)*B*G]
		for k, v := range src {
			dGsum.D[k] += v
		}
	}
	colSumAdd(l.B.G, dGsum, nil)
	if l.StaticIn > 0 {
		Gemm(true, false, l.StaticIn, G, B, 1, l.static.D, l.StaticIn, dGsum.D, G, 1, l.Ws.G, G)
	}
	if !needInputGrad {
		return nil, nil
	}
	if l.StaticIn > 0 {
		dStatic = l.dStat.Resize(B, l.StaticIn)
		Gemm(false, true, B, l.StaticIn, G, 1, dGsum.D, G, l.Ws.W, G, 0, dStatic.D, l.StaticIn)
	}
	if l.SeqIn > 0 {
		dSeq = l.dSeq.Resize(T*B, l.SeqIn)
		Gemm(false, true, T*B, l.SeqIn, G, 1, dG.D, G, l.Wq.W, G, 0, dSeq.D, l.SeqIn)
	}
	return dStatic, dSeq
}
