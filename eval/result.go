package eval

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/netshare-go/netshare/eval/audit"
	"github.com/netshare-go/netshare/eval/downstream"
	"github.com/netshare-go/netshare/eval/protocol"
)

// MeanJointKey is the key of the mean total variation distance in
// [Fidelity.Joint].
const MeanJointKey = "mean_joint_tvd"

// Fidelity holds the distributional metrics of one trace against the real
// one. Its JSON form is the core of metrics.json.
type Fidelity struct {
	Kind             string `json:"kind"` // "flows" or "packets"
	RealRecords      int    `json:"real_records"`
	SyntheticRecords int    `json:"synthetic_records"`
	// JSD per field: srcip, dstip (popularity rank), srcport, dstport, proto.
	JSD map[string]float64 `json:"jsd"`
	// EMD per numeric field in its natural unit (seconds for ts and td).
	EMD map[string]float64 `json:"emd"`
	// EMDNormalized per numeric field: log1p (except ts), then scaled by
	// the real sample's range.
	EMDNormalized     map[string]float64 `json:"emd_normalized"`
	MeanJSD           float64            `json:"mean_jsd"`
	MeanEMDNormalized float64            `json:"mean_emd_normalized"`
	// Joint holds the total variation distance of each 2-way histogram and
	// their mean under MeanJointKey.
	Joint map[string]float64 `json:"joint"`
	// FlowIAT is, for packet traces, the normalised EMD (log1p of
	// seconds, over the real range) of the time between consecutive
	// packets of one 5-tuple: the within-flow dynamics that ts and
	// flow_size do not see. Reported beside the means, not in them; nil
	// when either trace has no flow of two packets.
	FlowIAT *float64 `json:"flow_iat_emd_normalized,omitempty"`
	// JointExtra holds the TVD of 2-way histograms that no generation
	// pass calibrates. For flow traces (generate.sizes_given_packets makes
	// durations and bytes follow the real ones given the packets, so
	// pkt_byt and td_pkt measure that pass as much as the model): td_byt
	// (duration in ms, bytes) and dstport_pkt (destination port, packets);
	// and proto_bpp (protocol, bytes per packet), which the sizes pass
	// ranks by but does not fit. For packet traces
	// (generate.packet_sizes_given_protocol gives each protocol its real
	// packet lengths, so pkt_len_proto measures that pass as much as the
	// model): dstport_pkt_len (destination port, packet length), per
	// packet.
	// Reported beside the means, not in them, so that earlier means stay
	// comparable.
	JointExtra map[string]float64 `json:"joint_extra,omitempty"`
}

// MeanJointTVD returns the mean total variation distance of the joint
// histograms.
func (f *Fidelity) MeanJointTVD() float64 { return f.Joint[MeanJointKey] }

// JSDFields, EMDFields and JointNames list the metric keys for a kind
// ("flows" or "packets"), in report order.
func JSDFields() []string { return append([]string(nil), jsdFields...) }

// EMDFields lists the EMD fields of a kind ("flows" or "packets").
func EMDFields(kind string) []string {
	if kind == "packets" {
		return append([]string(nil), packetEMDFields...)
	}
	return append([]string(nil), flowEMDFields...)
}

// JointNames lists the joint-histogram metrics of a kind.
func JointNames(kind string) []string {
	if kind == "packets" {
		return append([]string(nil), packetJointNames...)
	}
	return append([]string(nil), flowJointNames...)
}

// ExtraJointNames lists the joint histograms of a kind reported beside
// the mean, not in it (Fidelity.JointExtra).
func ExtraJointNames(kind string) []string {
	if kind == "packets" {
		return append([]string(nil), packetExtraJoint...)
	}
	return append([]string(nil), flowExtraJoint...)
}

// Baselines holds the metrics of the reference generators against the
// real trace: the bootstrap and the marginal sampler always, and in DP runs
// the differentially private marginal sampler at the run's ε and δ.
type Baselines struct {
	Bootstrap  *Fidelity `json:"bootstrap"`
	Marginal   *Fidelity `json:"marginal"`
	DPMarginal *Fidelity `json:"dp_marginal,omitempty"`
	// SplitHalf compares two halves of the real trace, split by 5-tuple
	// (reference.SplitHalfFlows): what a sample of the same traffic that
	// shares no flow with it scores, at half the size. Absent when a half
	// is empty.
	SplitHalf *Fidelity `json:"split_half,omitempty"`
}

// PrivacyInfo describes the differential-privacy guarantee of the training
// run that produced the synthetic trace.
type PrivacyInfo struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	Noise   float64 `json:"noise"` // noise multiplier σ
	Clip    float64 `json:"clip"`  // per-example clipping norm C
	Steps   int64   `json:"steps"` // discriminator steps accounted
	// Target is the ε the run was asked for (0: the noise was given).
	Target float64 `json:"target_epsilon,omitempty"`
	// Unit is what one privacy unit is (the adjacency the guarantee is for).
	Unit string `json:"unit,omitempty"`
	// StatsShare is the part of ε the DP statistics of pre-processing were
	// calibrated to spend among themselves (0: none released).
	StatsShare float64 `json:"stats_share,omitempty"`
	// Mechanisms lists every release composed into ε.
	Mechanisms []MechanismInfo `json:"mechanisms,omitempty"`
	// Public lists what the run took from public knowledge or public data
	// rather than from the private trace.
	Public []string `json:"public,omitempty"`
}

// MechanismInfo is one release of a DP run: its noise multiplier, its
// number of compositions, the ε it would spend alone at the run's δ and
// its share of the composed Rényi divergence at the order that gives the
// run's ε (the shares add up to 1; the ε alone add up to more than the
// run's ε, composition being sub-additive).
type MechanismInfo struct {
	Name     string    `json:"name"`
	Noise    float64   `json:"noise"`
	Releases int64     `json:"releases"`
	Epsilon  float64   `json:"epsilon_alone"`
	Share    float64   `json:"share"`
	RDP      []float64 `json:"-"`
}

// Result is the outcome of one evaluation: the synthetic trace's fidelity
// (embedded, so its fields are at the top level of the JSON object) and
// everything around it.
type Result struct {
	// Verdict sums the targets up in one line (see [Judge]); it comes
	// first in metrics.json.
	Verdict *Verdict `json:"verdict,omitempty"`
	Fidelity
	Downstream    *downstream.Report `json:"downstream"`
	Baselines     *Baselines         `json:"baselines,omitempty"`
	PrivacyAudit  *audit.Report      `json:"privacy_audit,omitempty"`
	Targets       []Target           `json:"targets,omitempty"`
	Privacy       *PrivacyInfo       `json:"privacy,omitempty"`
	Distributions *Distributions     `json:"distributions,omitempty"`
	// Protocol is the protocol validity of both traces.
	Protocol *protocol.Report `json:"protocol,omitempty"`
	// Addresses compares the traces' distinct addresses and how
	// concentrated their traffic is on the busiest.
	Addresses *Addresses `json:"addresses,omitempty"`
	// Subsample, when set, says which costly parts ran on a seeded random
	// subsample of a trace larger than the limit, and how large it was.
	Subsample *Subsample `json:"subsample,omitempty"`
	// Notes are remarks on the inputs, e.g. records a reader skipped.
	Notes []string `json:"notes,omitempty"`
	// CheckpointSelection, for a pipeline run that selected its best
	// checkpoints, is each chunk's checkpoint scores and choice.
	CheckpointSelection []ChunkSelection `json:"checkpoint_selection,omitempty"`
}

// JSON returns the result as an indented JSON object.
func (r *Result) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// ReadResult reads a Result from a metrics.json file.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Kind != "flows" && r.Kind != "packets" {
		return nil, fmt.Errorf("%s: not a metrics file (kind %q)", path, r.Kind)
	}
	return &r, nil
}
