// Package postgen holds the passes that run between a model's generated
// tensors and the decoded records: over the generated attribute rows of
// every chunk, calibration of the length to its real marginal, matched
// decoding of ports and protocols, joint snapping of IP addresses,
// separation of packet flows that share a 5-tuple, and the merge that
// stitches flows across chunks; over the generated features, calibration of
// the quantile-encoded fields. Each pass draws from its own random stream,
// derived from the run's seed, so a pass switched on or off leaves the
// others' draws unchanged.
//
// The pipeline calls Attributes once the chunk models have generated their
// attributes, Features once they have generated the features for the rows
// Attributes returned, and, when configured, RepairProtocol on the decoded
// records.
package postgen

import (
	"math/rand/v2"

	"github.com/netshare-go/netshare/encoding"
	"github.com/netshare-go/netshare/trace"
)

// Row is one generated attribute vector and its decoding. Passes that
// change a row's values change both, so that features are generated for
// what the row now holds; a pass that changes a vector replaces it rather
// than writing into one another row may share.
type Row struct {
	Vec  []float32
	Attr encoding.FlowAttr
}

// Generated is one chunk's generated flows before decoding: their
// attributes, features (n × MaxLen × FeatDim) and lengths.
type Generated struct {
	Attrs []encoding.FlowAttr
	Feat  []float32
	Lens  []int
}

// Options selects the passes (the configuration's generate: section) and
// seeds them.
type Options struct {
	Seed uint64
	// Calibrate makes the length, the flow starts and the quantile-encoded
	// features follow their real marginals.
	Calibrate bool
	// MatchPorts decodes protocols and ports with matched decoding.
	MatchPorts bool
	// IPSnapTop, when positive, snaps addresses among the most frequent
	// ones generated.
	IPSnapTop int
	// IPSnapWeight weighs the popularity term of the snapping score (0 or
	// 1: the plain score; see snapIPs).
	IPSnapWeight float64
}

// Stats counts what the passes changed.
type Stats struct {
	Continuations int `json:"continued_flows"`
	FixedTags     int `json:"fixed_inconsistent_tags"`
	DroppedCopies int `json:"dropped_continuations"`
	SnappedIPs    int `json:"snapped_ips"`
	SeparatedKeys int `json:"separated_keys"`
	DroppedEmpty  int `json:"dropped_in_empty_chunks"`
}

// Attributes runs the attribute passes over gen, the rows every chunk's
// model generated (nil for a chunk without a model), and returns the rows
// each chunk generates features for: its own flows and the continuations of
// earlier chunks' flows. In order: the length calibrated, ports and
// protocols matched and addresses snapped, over the rows that will be
// kept; packet flows separated; the merge; the length calibrated again over
// every row now generated.
func Attributes(s *encoding.Schema, gen [][]Row, o Options, st *Stats) [][]Row {
	n := len(gen)
	// Rows that survive the merge: those that start in their chunk.
	kept := func(row Row) bool { return n == 1 || row.Attr.StartsHere }
	if o.Calibrate {
		calibrateAttr(s, gen, "length", kept, rand.New(rand.NewPCG(o.Seed, 0x1e9)))
	}
	if o.MatchPorts {
		matchKeys(s, gen, kept, rand.New(rand.NewPCG(o.Seed, 0x6d61)))
	}
	if o.IPSnapTop > 0 {
		st.SnappedIPs = snapIPs(s, gen, o.IPSnapTop, o.IPSnapWeight)
	}
	if s.Kind() == trace.KindPackets {
		st.SeparatedKeys = separateKeys(s, gen, kept, rand.New(rand.NewPCG(o.Seed, 0x5e9)))
	}
	merged := mergeChunks(s, gen, rand.New(rand.NewPCG(o.Seed, 0xc0de)), st)
	if o.Calibrate {
		calibrateAttr(s, merged, "length", func(Row) bool { return true }, rand.New(rand.NewPCG(o.Seed, 0x1ea)))
	}
	return merged
}

// Features runs the feature passes over every chunk's generated flows (nil
// for a chunk without any): the quantile calibration of flow starts and
// features, when configured.
func Features(s *encoding.Schema, outs []*Generated, o Options) {
	if o.Calibrate {
		calibrate(s, outs, rand.New(rand.NewPCG(o.Seed, 0xca11)))
	}
}
