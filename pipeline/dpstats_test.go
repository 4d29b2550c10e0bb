package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netshare-go/netshare/config"
	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/encoding/ip2vec"
	"github.com/netshare-go/netshare/internal/testutil"
	"github.com/netshare-go/netshare/postgen"
	"github.com/netshare-go/netshare/privacy"
	"github.com/netshare-go/netshare/trace"
)

// recordingReleaser records every release's exact input and either adds
// seeded Gaussian noise (and records the output) or replays the outputs of
// another run by name.
type recordingReleaser struct {
	rng    *rand.Rand
	replay map[string][]float64
	exact  map[string][]float64
	sens   map[string]float64
	out    map[string][]float64
	order  []string
}

func newRecorder(seed uint64, replay map[string][]float64) *recordingReleaser {
	return &recordingReleaser{rng: rand.New(rand.NewPCG(seed, 1)), replay: replay,
		exact: map[string][]float64{}, sens: map[string]float64{}, out: map[string][]float64{}}
}

func (r *recordingReleaser) release(name string, exact []float64, h privacy.GaussianHistogram) ([]float64, error) {
	if _, dup := r.exact[name]; dup {
		return nil, fmt.Errorf("release %q made twice", name)
	}
	r.order = append(r.order, name)
	r.exact[name] = slices.Clone(exact)
	r.sens[name] = h.Sensitivity
	if r.replay != nil {
		v, ok := r.replay[name]
		if !ok || len(v) != len(exact) {
			return nil, fmt.Errorf("release %q: nothing of %d values to replay", name, len(exact))
		}
		return slices.Clone(v), nil
	}
	v, err := h.Release(exact, r.rng)
	r.out[name] = slices.Clone(v)
	return v, err
}

// dpConfig is a tiny DP configuration with no public data over a fixed
// time range.
func dpConfig(t *testing.T, eps float64, start, end int64) *config.Config {
	t.Helper()
	cfg := tinyConfig(t, 5)
	cfg.DP.Enabled, cfg.DP.Epsilon, cfg.DP.Noise = true, eps, 0
	cfg.LongFlows = "truncate"
	if end > start {
		cfg.DP.Start = time.UnixMicro(start).UTC().Format(time.RFC3339Nano)
		cfg.DP.End = time.UnixMicro(end).UTC().Format(time.RFC3339Nano)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func preprocessWith(t *testing.T, dir, input string, cfg *config.Config, rel releaser) *Run {
	t.Helper()
	r, err := Open(Options{Dir: dir, Input: input, Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.dpRelease = rel
	if err := r.Preprocess(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// released is the part of split.json a DP run makes public: the noisy
// counts, the statistics' releases, δ, the chunk edges and the embedding's
// origin.
func released(t *testing.T, dir string) string {
	t.Helper()
	s, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	var edges [][2]int64
	for _, c := range s.Chunks {
		edges = append(edges, [2]int64{c.Start, c.End})
	}
	b, _ := json.Marshal(struct {
		Noisy  []int
		Addrs  [][2]int
		Prof   [][2]*postgen.AddrProfile
		Stats  []DPRelease
		Delta  float64
		Edges  [][2]int64
		MaxLen int
		Embed  string
	}{s.NoisyFlows, s.NoisyAddrsUpTo, s.AddrProfiles, s.DPStats, s.DPDelta, edges, s.MaxLen, s.Embedding})
	return string(b)
}

// Nothing of the private trace reaches the schema, the embedding or the
// released part of split.json outside an accounted mechanism: for two
// traces that differ in one flow (all records of one 5-tuple), with the
// mechanisms' outputs of the first replayed for the second, pre-processing
// writes byte-identical schemas, embeddings and released fields; and each
// mechanism's exact input moves by at most its sensitivity in L2 norm.
// Together: the outputs are post-processing of the mechanisms, and each
// mechanism has the sensitivity its noise was calibrated for.
func TestDPPreprocessingReadsOnlyThroughMechanisms(t *testing.T) {
	in, err := trace.ReadAll(testutil.Testdata("netshare", "ugr16-small.csv"), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The neighbour lacks the 5-tuple with the most records.
	per := map[trace.Key]int{}
	for i := range in.Flows {
		per[in.Flows[i].Key()]++
	}
	var drop trace.Key
	for k, n := range per {
		if n > per[drop] || (n == per[drop] && fmt.Sprint(k) < fmt.Sprint(drop)) {
			drop = k
		}
	}
	if per[drop] < 2 {
		t.Fatalf("the sample has no 5-tuple with several records")
	}
	nb := &trace.Trace{Name: in.Name, Format: in.Format, Kind: in.Kind}
	for _, f := range in.Flows {
		if f.Key() != drop {
			nb.Flows = append(nb.Flows, f)
		}
	}
	tmp := t.TempDir()
	pathA, pathB := filepath.Join(tmp, "a.csv"), filepath.Join(tmp, "b.csv")
	if err := writeTrace(pathA, in, in.Format); err != nil {
		t.Fatal(err)
	}
	if err := writeTrace(pathB, nb, in.Format); err != nil {
		t.Fatal(err)
	}
	lo, hi := timeRange(in.Flows, func(f *trace.Flow) int64 { return f.Start })
	cfg := dpConfig(t, 4, lo-1_000_000, hi+1_000_000)
	cfg.Chunks = 2 // the flow spans chunks or not: both are covered by the bound

	recA := newRecorder(7, nil)
	dirA, dirB := filepath.Join(tmp, "runA"), filepath.Join(tmp, "runB")
	preprocessWith(t, dirA, pathA, cfg, recA)
	recB := newRecorder(0, recA.out)
	preprocessWith(t, dirB, pathB, cfg, recB)

	for _, f := range []string{SchemaFile, EmbeddingFile} {
		a, errA := os.ReadFile(filepath.Join(dirA, PreDir, f))
		b, errB := os.ReadFile(filepath.Join(dirB, PreDir, f))
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between neighbouring traces with the same mechanism outputs: it reads the trace outside a mechanism", f)
		}
	}
	if a, b := released(t, dirA), released(t, dirB); a != b {
		t.Errorf("split.json's released fields differ between neighbours:\n%s\n%s", a, b)
	}
	if !slices.Equal(recA.order, recB.order) {
		t.Fatalf("the neighbours made different releases:\n%v\n%v", recA.order, recB.order)
	}
	moved := 0
	for _, name := range recA.order {
		a, b := recA.exact[name], recB.exact[name]
		var ss float64
		for i := range a {
			ss += (a[i] - b[i]) * (a[i] - b[i])
		}
		if d := math.Sqrt(ss); d > recA.sens[name]+1e-9 {
			t.Errorf("%s: one flow moved the exact counts by %.6g in L2 norm, beyond the sensitivity %g the noise is calibrated for", name, d, recA.sens[name])
		} else if d > 0 {
			moved++
		}
	}
	// Not vacuous: the flow left its mark on the exact statistics, and the
	// releases cover the statistics the schema needs.
	if moved < 5 {
		t.Errorf("only %d of %d releases saw the removed flow", moved, len(recA.order))
	}
	for _, want := range []string{"srcport", "dstport", "proto", "td", "pkt", "byt", "gap", dpDurGivenPkt, dpBytGivenPkt, dpAddrsName, dpProfileName, "flow count of chunk 0"} {
		if _, ok := recA.exact[want]; !ok {
			t.Errorf("no release %q among %v", want, recA.order)
		}
	}
	// And the schema does depend on the released values: other noise gives
	// another schema.
	recC := newRecorder(8, nil)
	dirC := filepath.Join(tmp, "runC")
	preprocessWith(t, dirC, pathA, cfg, recC)
	a, _ := os.ReadFile(filepath.Join(dirA, PreDir, SchemaFile))
	c, _ := os.ReadFile(filepath.Join(dirC, PreDir, SchemaFile))
	if bytes.Equal(a, c) {
		t.Error("the schema is the same under other noise: it does not come from the mechanisms")
	}
}

// A DP run with no public data plans training within the target ε,
// states every mechanism with its share, and logs the split.
func TestDPBudgetSplitWithinTarget(t *testing.T) {
	in := testutil.Testdata("netshare", "ugr16-small.csv")
	for _, eps := range []float64{0.5, 4, 30} {
		for _, share := range []float64{0.05, 0.2, 0.6} {
			t.Run(fmt.Sprintf("eps%g_share%g", eps, share), func(t *testing.T) {
				cfg := dpConfig(t, eps, 0, 0)
				cfg.DP.StatsShare = share
				var logs bytes.Buffer
				r, err := Open(Options{Dir: t.TempDir(), Input: in, Config: cfg, Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if err := r.Preprocess(context.Background()); err != nil {
					t.Fatal(err)
				}
				p, err := r.PlanTraining()
				if err != nil {
					t.Fatal(err)
				}
				v := p.Privacy
				if v == nil || v.Epsilon > eps || v.Epsilon < 0.98*eps {
					t.Fatalf("privacy %+v: want ε within [0.98, 1] of %g", v, eps)
				}
				split, _ := LoadSplit(r.Dir)
				if len(split.DPStats) < 8 {
					t.Fatalf("%d statistics released", len(split.DPStats))
				}
				// The statistics alone spend their share.
				acct := privacy.NewAccountant()
				for _, d := range split.DPStats {
					if err := acct.Add(d.Mechanism()); err != nil {
						t.Fatal(err)
					}
				}
				g, err := acct.Epsilon(v.Delta)
				if err != nil || g.Epsilon > share*eps*(1+1e-9) || g.Epsilon < 0.99*share*eps {
					t.Errorf("the statistics spend ε = %v (%v), want %g", g.Epsilon, err, share*eps)
				}
				var sum float64
				names := map[string]bool{}
				for _, m := range v.Mechanisms {
					sum += m.Share
					names[m.Name] = true
					if m.Epsilon > eps*(1+1e-9) {
						t.Errorf("%s alone spends ε = %g > %g", m.Name, m.Epsilon, eps)
					}
					if want := fmt.Sprintf("mechanism=%q", m.Name); !strings.Contains(logs.String(), want) && !strings.Contains(logs.String(), "mechanism="+m.Name+" ") {
						t.Errorf("the log does not print the split for %s", m.Name)
					}
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Errorf("shares add up to %g", sum)
				}
				for _, want := range append([]string{dpSGDName, dpCountsName}, split.DPStats[0].Name, split.DPStats[len(split.DPStats)-1].Name) {
					if !names[want] {
						t.Errorf("no mechanism %q in %v", want, v.Mechanisms)
					}
				}
				if v.Unit == "" || len(v.Public) == 0 || v.StatsShare != share {
					t.Errorf("privacy info lacks the unit, the public parts or the share: %+v", v)
				}
			})
		}
	}
}

// Knots from a noisy histogram: a one-integer bin is a point mass, mass
// spreads uniformly within a bin (in log space for log fields), and an
// empty histogram gives the uniform distribution over the domain.
func TestKnotsFrom(t *testing.T) {
	b, err := privacy.IntLogBins(0, 1000, 64)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float64, b.Len())
	w[b.Index(1)] = 3 // three quarters of the mass on exactly 1
	w[b.Index(500)] = 1
	k := knotsFrom(b, w, 8, true)
	for j := 0; j <= 6; j++ {
		if k[j] != math.Log1p(1) {
			t.Errorf("knot %d = %v, want log1p(1): a one-integer bin is a point mass", j, k[j])
		}
	}
	i := b.Index(500)
	if lo, hi := math.Log1p(b.Edges[i]), math.Log1p(b.Edges[i+1]-1); !(k[7] >= lo && k[8] <= hi && k[8] > k[7]) {
		t.Errorf("knots 7, 8 = %v, %v: want inside 500's bin [%v, %v] in log space", k[7], k[8], lo, hi)
	}
	u := knotsFrom(b, make([]float64, b.Len()), 4, false)
	if u[0] != 0 || u[4] != 1000 || u[2] != 500 {
		t.Errorf("empty histogram knots %v: want uniform over [0, 1000]", u)
	}
}

// A DP run with no public data goes end to end: trained, generated and
// evaluated, with the privacy section and the DP baseline in metrics.json.
func TestRunDPWithoutPublicData(t *testing.T) {
	cfg := dpConfig(t, 4, 0, 0)
	cfg.DP.Iterations = 5
	dir := t.TempDir()
	runAll(t, Options{Dir: dir, Input: testutil.Testdata("netshare", "ugr16-small.csv"), Config: cfg})
	var m struct {
		Privacy   *struct{ Epsilon float64 } `json:"privacy"`
		Baselines map[string]json.RawMessage `json:"baselines"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Privacy == nil || m.Privacy.Epsilon > 4 || m.Baselines["dp_marginal"] == nil {
		t.Fatalf("metrics.json: privacy %+v, baselines %v (%v)", m.Privacy, len(m.Baselines), err)
	}
	split, _ := LoadSplit(dir)
	if split.Embedding == "" || len(split.DPStats) == 0 || len(split.Chunks) != 1 {
		t.Errorf("split: embedding %q, %d statistics, %d chunks (want one under DP)", split.Embedding, len(split.DPStats), len(split.Chunks))
	}
	// generate.ip_distinct runs on noisy address counts; the exact ones
	// are not kept.
	if len(split.NoisyAddrsUpTo) != 1 || split.NoisyAddrsUpTo[0][0] < 1 || split.Chunks[0].SrcAddrsUpTo != 0 || split.Chunks[0].DstAddrs != 0 {
		t.Errorf("split: noisy addresses %v, exact %+v", split.NoisyAddrsUpTo, split.Chunks[0])
	}
	// generate.ip_profile follows the released profile of 5-tuples per
	// address: as many ranks as the noisy distinct addresses, summing to
	// the noisy flows.
	if len(split.AddrProfiles) != 1 {
		t.Fatalf("split: %d address profiles under DP, want one chunk's", len(split.AddrProfiles))
	}
	for f, p := range split.AddrProfiles[0] {
		if p == nil || p.Distinct() != split.NoisyAddrsUpTo[0][f] || math.Abs(p.Total-float64(split.NoisyFlows[0])) > 1e-6*p.Total {
			t.Errorf("address profile %d: %+v, want %d addresses summing to %d", f, p, split.NoisyAddrsUpTo[0][f], split.NoisyFlows[0])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, PreDir, ProtocolFile)); err == nil {
		t.Error("protocol.json written under DP")
	}
	checkReport(t, dir, "flows")
	// generate.sizes_given_packets runs on the DP knots.
	s, err := LoadSchema(dir)
	if err != nil || len(s.SizeKnots) == 0 || len(s.SizeKnots[0]) == 0 {
		t.Fatalf("DP schema without knots of sizes given packets (%v)", err)
	}
	man, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gen GenStats
	if err := man.Stage("generate").DecodeInfo(&gen); err != nil || gen.SizedRecords == 0 {
		t.Errorf("no record calibrated to the DP sizes given packets: %+v (%v)", gen, err)
	}
}

// The knots of sizes given packets come from the conditional histograms
// alone: a class keeps a field's knots when its noisy weight is at least
// dpSizeClassMass thresholds, and the knots follow the class's weight.
func TestDPSizeKnots(t *testing.T) {
	d := dpDomain{maxGap: 3600e6, maxDur: 86400e6, maxPackets: 1 << 20, maxByts: 1 << 40}
	var dur, byt dpFeature[trace.Flow]
	for _, f := range dpFlowFeatures(d) {
		switch f.name {
		case dpDurGivenPkt:
			dur = f
		case dpBytGivenPkt:
			byt = f
		}
	}
	if dur.given == nil || byt.given == nil || len(byt.classBins) != 22 {
		t.Fatalf("conditional features missing or of %d classes", len(byt.classBins))
	}
	// A class's bytes bins end at what its packets can carry.
	for c, b := range byt.classBins {
		most := max(1, 1<<c-1)
		if top := b.Edges[len(b.Edges)-1]; top != float64(most*65535+1) {
			t.Errorf("class %d: bytes bins end at %v, want %d", c, top, most*65535+1)
		}
	}
	// One record's bin is its class's block of the histogram.
	f := trace.Flow{Packets: 5, Bytes: 700, Dur: 2000}
	if i, per := byt.index(&f, 700), byt.per(); i/per != 3 || i%per != byt.classBins[3].Index(700) {
		t.Errorf("bytes of a 5-packet record in bin %d (%d a class): want class 3", i, per)
	}
	const thr = 10.0
	hist := func(f dpFeature[trace.Flow], fill map[int]map[float64]float64) *dpHist {
		w := make([]float64, len(f.classBins)*f.per())
		for c, vals := range fill {
			for v, x := range vals {
				w[c*f.per()+f.classBins[c].Index(v)] += x
			}
		}
		return &dpHist{rel: DPRelease{Name: f.name, Threshold: thr}, noisy: w}
	}
	st := &dpStats{hists: map[string]*dpHist{
		// Class 2: 300 records of 100 bytes, 100 of 1,000; class 3 has one
		// bin just above the threshold: noise, not a class.
		dpBytGivenPkt: hist(byt, map[int]map[float64]float64{2: {100: 300, 1000: 100}, 3: {2000: thr + 1}}),
		dpDurGivenPkt: hist(dur, map[int]map[float64]float64{2: {0: 400}}),
	}}
	k := dpSizeKnots(st, []dpFeature[trace.Flow]{dur, byt}, 2, 8)
	if len(k) != 2 || len(k[0]) != 1 {
		t.Fatalf("knots %v: want one class in each of 2 chunks", k)
	}
	c2, ok := k[1][2]
	if !ok || len(c2.Bytes) != 9 || len(c2.Dur) != 9 {
		t.Fatalf("class 2: %+v", c2)
	}
	if lo, hi := encoding.At(c2.Bytes, 0.5), encoding.At(c2.Bytes, 0.9); !(lo >= 70 && lo <= 140 && hi >= 800 && hi <= 1300) {
		t.Errorf("class 2 bytes at quantiles 0.5, 0.9: %v, %v; want about 100 and 1,000", lo, hi)
	}
	if v := encoding.At(c2.Dur, 0.9); v != 0 {
		t.Errorf("class 2 duration at 0.9: %v, want 0", v)
	}
	if k := dpSizeKnots(st, []dpFeature[trace.Flow]{dur, byt}, 1, 0); k != nil {
		t.Errorf("knots without quantile encoding: %v", k)
	}
}

// The noisy distinct-address counts become targets that never fall from
// one chunk to the next and stay within 1 and the flows up to the chunk.
func TestNoisyAddrs(t *testing.T) {
	got := noisyAddrs([]float64{10.4, 8, 30, -3, 2.6, 500}, []int{20, 5, 10})
	want := [][2]int{{10, 1}, {10, 3}, {30, 35}}
	if !slices.Equal(got, want) {
		t.Errorf("noisyAddrs = %v, want %v", got, want)
	}
	if noisyAddrs([]float64{1, 2, 3}, []int{4, 5}) != nil {
		t.Error("counts of the wrong length accepted")
	}
}

// spuriousReleaser releases every histogram without noise except the
// protocol one, which gets one empty bin lifted to z noise deviations.
type spuriousReleaser struct {
	bin int
	z   float64
}

func (r spuriousReleaser) release(name string, exact []float64, h privacy.GaussianHistogram) ([]float64, error) {
	v := slices.Clone(exact)
	if name == "proto" {
		v[r.bin] += r.z * h.Std()
	}
	return v, nil
}

// A protocol the trace does not hold survives thresholding with
// probability dpFalsePositive over the whole domain, not 1/256 a bin: a
// bin that noise lifts to 3 deviations (past the 2.66 of a 1/256 rate)
// is dropped, one lifted to 4 (past 3.55) is kept.
func TestDPProtoThreshold(t *testing.T) {
	for _, c := range []struct {
		z    float64
		keep bool
	}{{3, false}, {4, true}} {
		cfg := dpConfig(t, 4, 0, 0)
		dir := t.TempDir()
		preprocessWith(t, dir, testutil.Testdata("netshare", "ugr16-small.csv"), cfg, spuriousReleaser{bin: 219, z: c.z})
		s, err := LoadSchema(dir)
		if err != nil {
			t.Fatal(err)
		}
		var protos []int
		for _, f := range s.Attr {
			if f.Name == "proto" {
				protos = f.Candidates
			}
		}
		if !slices.Contains(protos, 6) {
			t.Fatalf("z %v: protocols %v without TCP", c.z, protos)
		}
		if got := slices.Contains(protos, 219); got != c.keep {
			t.Errorf("z %v: protocols %v: 219 kept %v, want %v", c.z, protos, got, c.keep)
		}
	}
}

// With a public run and posterior decoding, a port of the DP vocabulary
// that the public embedding does not know stays a candidate: its vector
// is the nearest known port's, the one its flows are encoded with.
func TestDPVocabKeepsPortsUnknownToThePublicEmbedding(t *testing.T) {
	in := testutil.Testdata("netshare", "ugr16-small.csv")
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	// The public trace: the same with port 8000 (126 flow records to it)
	// moved to 8001.
	lines := strings.Split(string(b), "\n")
	for i := 1; i < len(lines); i++ {
		f := strings.Split(lines[i], ",")
		for j := 2; j <= 3 && len(f) > 3; j++ {
			if f[j] == "8000" {
				f[j] = "8001"
			}
		}
		lines[i] = strings.Join(f, ",")
	}
	pubIn := filepath.Join(t.TempDir(), "public.csv")
	if err := os.WriteFile(pubIn, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := t.TempDir()
	runAll(t, Options{Dir: pub, Input: pubIn, Config: tinyConfig(t, 5)})
	cfg := dpConfig(t, 4, 0, 0)
	cfg.DP.Pretrained, cfg.DP.Init = pub, "public"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	preprocessWith(t, dir, in, cfg, spuriousReleaser{}) // no noise
	s, err := LoadSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := ip2vec.Load(preFile(dir, EmbeddingFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := emb.Vector(ip2vec.Port(8000)); ok {
		t.Fatal("the public embedding knows port 8000")
	}
	var cand []int
	for _, f := range s.Attr {
		if f.Name == "dstport" {
			cand = f.Candidates
		}
	}
	if !slices.Contains(cand, 8000) || !slices.Contains(cand, 443) {
		t.Errorf("destination ports %v without 8000 or 443", cand)
	}
}

// A surviving bin below 2τ with no mass within max(2, n/8) bins of it in
// its block is dropped; one with a neighbour, or at 2τ or more, stays;
// blocks do not see each other's bins.
func TestDropIsolated(t *testing.T) {
	const tau, n = 10.0, 64 // 8 bins each side
	w := make([]float64, 2*n)
	for i := range 11 {
		w[i] = 100
	}
	w[18] = 12                // eight bins from bin 10: kept
	w[28] = 15                // ten from bin 18: dropped
	w[45] = 25                // lone but at 2.5τ: kept
	w[63] = 11                // lone in block 0 (bin 64 is block 1's): dropped
	w[n] = 11                 // block 1's first bin, lone: dropped
	w[n+30], w[n+37] = 11, 11 // each other's neighbours: kept
	want := slices.Clone(w)
	want[28], want[63], want[n] = 0, 0, 0
	if got := dropIsolated(w, n, tau); got != 3 {
		t.Errorf("dropped %d bins, want 3", got)
	}
	if !slices.Equal(w, want) {
		for i := range w {
			if w[i] != want[i] {
				t.Errorf("bin %d: %v, want %v", i, w[i], want[i])
			}
		}
	}
	// A block of 24 bins looks 3 bins each side.
	v := make([]float64, 24)
	v[5], v[7], v[12] = 11, 11, 11
	if dropIsolated(v, 24, tau); v[5] != 11 || v[7] != 11 || v[12] != 0 {
		t.Errorf("24 bins: %v %v %v, want 11 11 0", v[5], v[7], v[12])
	}
}

// Every thresholded statistic keeps a spurious bin with probability
// dpFalsePositive over its domain, but the sizes given packets, at 1/bins
// a bin; split.json records each threshold.
func TestDPThresholds(t *testing.T) {
	cfg := dpConfig(t, 4, 0, 0)
	dir := t.TempDir()
	preprocessWith(t, dir, testutil.Testdata("netshare", "ugr16-small.csv"), cfg, spuriousReleaser{})
	split, err := LoadSplit(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rel := range split.DPStats {
		if rel.Threshold == 0 {
			continue
		}
		seen[rel.Name] = true
		p := dpFalsePositive / float64(rel.Bins)
		if rel.Name == "td_given_pkt" || rel.Name == "byt_given_pkt" {
			p = 1 / float64(rel.Bins)
		}
		want, err := privacy.ThresholdFor(rel.Noise, p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(rel.Threshold-want) > 1e-9*want {
			t.Errorf("%s: threshold %v, want %v (σ %v, %d bins)", rel.Name, rel.Threshold, want, rel.Noise, rel.Bins)
		}
	}
	for _, n := range []string{"proto", "dstport", "pkt", "td_given_pkt"} {
		if !seen[n] {
			t.Errorf("no thresholded release %q in %v", n, split.DPStats)
		}
	}
}
