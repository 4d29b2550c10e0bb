package dg

import (
	"fmt"
	"math"

	"github.com/netshare-go/netshare/nn"
)

// net is DoppelGANger's networks, optimisers and training step, generic over
// the element type (float32 in Model, float64 in gradient checks).
type net[F nn.Float] struct {
	cfg      Config
	attrOut  []Output
	featOut  []Output // the caller's outputs plus the generation flag, last
	A        int      // attribute width
	Fd       int      // feature width without the flag
	Fp       int      // feature width with the flag
	maxLen   int      // the caller's maximum flow length
	T        int      // LSTM steps
	L        int      // padded length T·SampleLen
	featSize int      // L·Fp: the flattened features in D's input

	attrDense []*nn.Dense[F]
	attrBN    []*nn.BatchNorm[F]
	attrHead  *nn.Dense[F]
	attrHeads *nn.Heads[F]
	lstm      *nn.LSTM[F]
	featHead  *nn.Dense[F]
	featHeads *nn.Heads[F]
	disc, aux *nn.Critic[F]

	optG, optD, optA *nn.Adam[F]
	rng              *nn.RNG // training draws (batches, noise, α, DP noise)
	step             int

	// buffers
	za, zf, h0, c0 nn.Mat[F]
	attrDisc       nn.Mat[F]
	attr           *nn.Mat[F] // soft attributes of the last generator pass
	hsOut          *nn.Mat[F] // LSTM hidden states of the last pass
	featOutM       *nn.Mat[F] // activated per-step outputs (T'·b × S·Fp)
	outBuf         nn.Mat[F]
	teff           int // LSTM steps run in the last pass (≤ T)
	active         []bool
	// noEarlyStop runs every LSTM step (tests compare the two).
	noEarlyStop bool
	// forceLen, when set, gives each generated flow's length: steps are
	// active up to it whatever the generation flags say.
	forceLen      []int
	feat          nn.Mat[F] // b × L·Fp, masked
	mask          []bool    // b × L
	lengths       []int
	reluOut       []*nn.Mat[F]
	fakeX, realX  nn.Mat[F]
	fakeA, realA  nn.Mat[F]
	dOut, dAttr   nn.Mat[F]
	alpha, alphaA []F
	dy, dyA       []F
	idx           []int
	rounds        [2]round[F]
	// the generator round's noise (drawGen)
	zfG, h0G, c0G *nn.Mat[F]
	// condOverride, when set, replaces the LSTM\'s conditioning: the
	// gradient checks hold it fixed, as the detached conditioning is.
	condOverride *nn.Mat[F]
	sqn          []float64
	wts          []F
}

func newNet[F nn.Float](cfg Config, attrOut, featOut []Output, maxLen int) (*net[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	A, err := validateOutputs("attribute", attrOut)
	if err != nil {
		return nil, err
	}
	Fd, err := validateOutputs("feature", featOut)
	if err != nil {
		return nil, err
	}
	if maxLen < 1 {
		return nil, fmt.Errorf("dg: maximum flow length must be at least 1, got %d", maxLen)
	}
	S := cfg.SampleLen
	n := &net[F]{cfg: cfg, attrOut: append([]Output(nil), attrOut...), A: A, Fd: Fd, Fp: Fd + 2, maxLen: maxLen}
	n.featOut = append(append([]Output(nil), featOut...), Output{Name: GenFlagName, Dim: 2, Act: Softmax})
	n.T = (maxLen + S - 1) / S
	n.L = n.T * S
	n.featSize = n.L * n.Fp
	n.rng = nn.NewRNG(cfg.Seed)
	g := n.rng

	in := cfg.AttrNoiseDim
	for i := 0; i < cfg.AttrGenLayers-1; i++ {
		d := nn.NewDense[F](fmt.Sprintf("gen.attr.%d", i), in, cfg.AttrGenUnits)
		nn.TorchDefault(g, d.W.W, d.B.W, in)
		n.attrDense = append(n.attrDense, d)
		n.attrBN = append(n.attrBN, nn.NewBatchNorm[F](fmt.Sprintf("gen.attr.bn%d", i), cfg.AttrGenUnits))
		in = cfg.AttrGenUnits
	}
	n.reluOut = make([]*nn.Mat[F], len(n.attrDense))
	n.attrHead = nn.NewDense[F]("gen.attr.head", in, A)
	nn.TorchDefault(g, n.attrHead.W.W, n.attrHead.B.W, in)
	if n.attrHeads, err = nn.NewHeads[F](headSlices(n.attrOut, 1)); err != nil {
		return nil, err
	}
	n.lstm = nn.NewLSTM[F]("gen.lstm", A, cfg.FeatNoiseDim, cfg.LSTMUnits)
	n.lstm.Init(g)
	n.featHead = nn.NewDense[F]("gen.feat.head", cfg.LSTMUnits, S*n.Fp)
	nn.TorchDefault(g, n.featHead.W.W, n.featHead.B.W, cfg.LSTMUnits)
	if n.featHeads, err = nn.NewHeads[F](headSlices(n.featOut, S)); err != nil {
		return nil, err
	}
	n.disc = nn.NewCritic[F]("disc", n.featSize+A, cfg.DiscLayers, cfg.DiscUnits, cfg.LeakyReLU, g)
	n.disc.ShareGrads = true // D's update is the longer lane of a critic round
	if cfg.UseAuxDisc {
		n.aux = nn.NewCritic[F]("aux_disc", A, cfg.AuxDiscLayers, cfg.AuxDiscUnits, cfg.LeakyReLU, g)
	}
	n.optG = nn.NewAdam(n.genParams(), cfg.GLR, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	n.optD = nn.NewAdam(n.disc.Params(), cfg.DLR, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	if n.aux != nil {
		n.optA = nn.NewAdam(n.aux.Params(), cfg.AuxDLR, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	}
	return n, nil
}

func (n *net[F]) genParams() []*nn.Param[F] {
	var ps []*nn.Param[F]
	for i, d := range n.attrDense {
		ps = append(ps, d.W, d.B, n.attrBN[i].Gamma, n.attrBN[i].Beta)
	}
	ps = append(ps, n.attrHead.W, n.attrHead.B)
	ps = append(ps, n.lstm.Params()...)
	ps = append(ps, n.featHead.W, n.featHead.B)
	return ps
}

func (n *net[F]) allParams() []*nn.Param[F] {
	ps := append(n.genParams(), n.disc.Params()...)
	if n.aux != nil {
		ps = append(ps, n.aux.Params()...)
	}
	return ps
}

// Losses reports one training iteration (the last critic round and the last
// generator round).
type Losses struct {
	D, DA         float64 // critic losses: Wasserstein term + λ·penalty
	WassersteinD  float64 // mean D(fake) − mean D(real)
	WassersteinDA float64
	GP, GPA       float64 // mean penalties before λ
	G             float64 // −mean D(fake) − β·mean D_a(fake attributes)
	BatchSize     int     // real flows in the last critic round (varies under DP)
}

func (l Losses) finite() bool {
	for _, v := range []float64{l.D, l.DA, l.G, l.GP, l.GPA} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// iteration runs DRounds critic rounds and GRounds generator rounds. The
// generator's weights do not change during the critic rounds, so each of
// its passes (the next round's fakes, or the first generator round's) runs
// beside the critics' update of the round before; the random draws keep
// their order, so the result is the same as one step after the other.
func (n *net[F]) iteration(d *Data) Losses {
	var l Losses
	B := n.cfg.BatchSize
	D, G := n.cfg.DRounds, n.cfg.GRounds
	if D > 0 {
		n.drawRound(d.N, &n.rounds[0])
		n.genRound(&n.rounds[0])
	}
	for r := 0; r < D; r++ {
		var next func()
		switch {
		case r+1 < D:
			p := &n.rounds[(r+1)%2]
			n.drawRound(d.N, p)
			next = func() { n.genRound(p) }
		case G > 0:
			n.drawGen(B, n.rng)
			next = n.genFake
		}
		n.runRound(d, &n.rounds[r%2], next, &l)
	}
	for r := 0; r < G; r++ {
		if r > 0 || D == 0 {
			n.drawGen(B, n.rng)
			n.genFake()
		}
		nn.ZeroGrad(n.optG.Params)
		l.G = n.genLossFrom(B, true)
		n.optG.Step()
	}
	n.step++
	return l
}

// resize returns s with length n, reusing its storage when it is large
// enough (the contents are then whatever s held).
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
