package downstream

import (
	"math"
	"math/rand/v2"

	"github.com/netshare-go/netshare/trace"
)

// Options controls the downstream tasks. Zero fields take the defaults
// given in their comments.
type Options struct {
	Seed int64
	// MaxTrain caps the training rows of each classifier side (5,000).
	MaxTrain int
	// MaxTest caps the real test rows of the classifiers and detectors (5,000).
	MaxTest int
	// MaxFit caps the rows each anomaly detector is fitted on (4,000).
	MaxFit int
	// MinClass is the fewest real records a class needs to be kept (5).
	MinClass int
	// SketchDepth is the Count-Min Sketch depth (5).
	SketchDepth int
	// SketchWidths are the sketch widths as fractions of the number of
	// distinct keys (0.1, 0.2, 0.3, 0.5, 0.7, 0.9).
	SketchWidths []float64
	// TopFraction is the share of distinct keys counted as heavy hitters (0.1).
	TopFraction float64
}

func (o Options) withDefaults() Options {
	if o.MaxTrain <= 0 {
		o.MaxTrain = 5000
	}
	if o.MaxTest <= 0 {
		o.MaxTest = 5000
	}
	if o.MaxFit <= 0 {
		o.MaxFit = 4000
	}
	if o.MinClass <= 0 {
		o.MinClass = 5
	}
	if o.SketchDepth <= 0 {
		o.SketchDepth = 5
	}
	if len(o.SketchWidths) == 0 {
		o.SketchWidths = []float64{0.1, 0.2, 0.3, 0.5, 0.7, 0.9}
	}
	if o.TopFraction <= 0 || o.TopFraction > 1 {
		o.TopFraction = 0.1
	}
	return o
}

// Report holds the outcome of every downstream task.
type Report struct {
	TrafficType *Classification `json:"traffic_type"`
	Telemetry   *Telemetry      `json:"telemetry"`
	Anomaly     *Anomaly        `json:"anomaly"`
}

// Score is one method's figure when trained (or fitted) on real records and
// when trained on synthetic records.
type Score struct {
	Name      string  `json:"name"`
	Real      float64 `json:"real"`
	Synthetic float64 `json:"synthetic"`
}

// spearmanPtr returns a pointer to ρ, or nil with a note when ρ is
// undefined.
func spearmanPtr(rho float64) (*float64, string) {
	if math.IsNaN(rho) {
		return nil, "Spearman correlation undefined: one side gives every method the same score"
	}
	return &rho, ""
}

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x3c6ef372fe94f82b^stream))
}

// sample returns at most n of the indices, chosen uniformly without
// replacement (all of them, in order, when there are at most n).
func sample(r *rand.Rand, idx []int, n int) []int {
	if len(idx) <= n {
		return idx
	}
	c := append([]int(nil), idx...)
	for i := 0; i < n; i++ {
		j := i + r.IntN(len(c)-i)
		c[i], c[j] = c[j], c[i]
	}
	return c[:n]
}

// FeatureNames are the flow features the classifiers and detectors use.
var FeatureNames = []string{"srcport", "dstport", "proto", "log1p(td s)", "log1p(pkt)", "log1p(byt)"}

func features(f *trace.Flow) []float64 {
	return []float64{
		float64(f.SrcPort), float64(f.DstPort), float64(f.Proto),
		math.Log1p(float64(max(f.Dur, 0)) / 1e6),
		math.Log1p(float64(f.Packets)), math.Log1p(float64(f.Bytes)),
	}
}

func rows(fs []trace.Flow, idx []int) [][]float64 {
	out := make([][]float64, len(idx))
	for i, j := range idx {
		out[i] = features(&fs[j])
	}
	return out
}

// Flows runs every task on flow traces.
func Flows(real, syn []trace.Flow, opt Options) *Report {
	opt = opt.withDefaults()
	rep := &Report{}
	done := make(chan struct{}, 2)
	go func() { rep.TrafficType = trafficType(real, syn, opt); done <- struct{}{} }()
	go func() { rep.Anomaly = anomaly(real, syn, opt); done <- struct{}{} }()
	rep.Telemetry = flowTelemetry(real, syn, opt)
	<-done
	<-done
	return rep
}

// Packets runs every task that applies to packet traces; the label tasks
// are reported as skipped.
func Packets(real, syn []trace.Packet, opt Options) *Report {
	opt = opt.withDefaults()
	const why = "packet traces carry no traffic-type labels"
	return &Report{
		TrafficType: &Classification{Skipped: why},
		Anomaly:     &Anomaly{Skipped: why},
		Telemetry:   packetTelemetry(real, syn, opt),
	}
}
