// Package postgen holds the passes that run between a model's generated
// tensors and the decoded records: over the generated attribute rows,
// calibration of the length to its real marginal, matched
// decoding of ports and protocols, joint snapping of IP addresses, exact
// values for ports generated as a tail class's token,
// separation of packet flows that share a 5-tuple, and the merge that
// stitches flows across chunks; over the generated features, calibration of
// the quantile-encoded fields; over decoded flow records, durations and
// bytes given the packets (CalibrateSizes), port pairs exchanged so that
// they follow the packets (FollowPortSizes) and labels drawn given the
// record's ports and sizes (DrawLabels). Each pass draws from its own random stream,
// derived from the run's seed, so a pass switched on or off leaves the
// others' draws unchanged.
//
// The passes run block by block through a Stream (see its doc for what
// crosses blocks and chunks): the pipeline hands it each block of
// generated attribute rows (Own), then takes the chunk's continuations
// (Continuations), runs Features once it has generated the features for a
// block's rows, and, when configured, RepairProtocol on the block's decoded
// records.
package postgen

import (
	"github.com/netshare-go/netshare/encoding"
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
	// NearestLenders makes each continuation borrow from the lender nearest
	// its 5-tuple and then its length, each lender once a round
	// (lendPools), instead of from any lender of its port class, with
	// replacement. Set for chained long flows, where flows go on across
	// chunks by design; measured on the other traces it was no better
	// than the draw it replaces.
	NearestLenders bool
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
	// IPDistinct, when set, holds per chunk the addresses the real chunk
	// adds to the trace's distinct ones: the snapping of each block then
	// takes, per address field, the smallest weight at which the kept rows
	// bring no more addresses unseen in the blocks and chunks before than
	// the real chunk brings for as many flows (see snapIPs), so that the
	// trace's distinct sources and destinations follow the real trace's,
	// chunk after chunk. It makes the addresses used before snapping
	// candidates, as IPCarry does.
	IPDistinct []Distinct
	// IPCarry makes the addresses the flows written before used most
	// candidates of each block's snapping, at their past rates (see
	// snapIPs), so that popular addresses persist across blocks and chunks.
	IPCarry bool
	// IPProfile, per chunk and address field (srcip, dstip), when set, is
	// the rank-frequency profile of the addresses of the real chunks up to
	// it: each block's rows then move between the addresses the trace
	// holds so that the weight per address written so far follows it (see
	// followProfiles).
	IPProfile [][2]*AddrProfile
	// IPPacketProfile, per chunk and address field, is the same profile of
	// packets per address: with IPProfile, flows then also swap
	// addresses so that the packets per address follow it, keeping the
	// flows or records per address (swapPackets for a capture's rows,
	// FlowPackets for a flow trace's decoded records).
	IPPacketProfile [][2]*AddrProfile
	// SelfLoops keeps the rows whose source and destination address are
	// the same as generated: set for a real trace that holds such flows
	// (the addr_distinct check), which the protocol repair then brings
	// down to its share. Otherwise each takes another address on one side
	// (separateHosts), and the address profile moves no row onto its own
	// other address.
	SelfLoops bool
	// PortPairs, when set, is the real trace's port pairing per protocol:
	// ports are then exchanged between rows so that the block's pairs
	// follow it (followPortPairs).
	PortPairs *PortPairs
	// ServiceLengths, when set (captures), is the real flows per chunk,
	// port-pair cell and length class: port pairs are then exchanged
	// between rows of one protocol so that the block's joint of the two
	// follows it (followServiceLengths).
	ServiceLengths *ServiceLengths
	// Segments, when set (captures whose long flows are split), is the
	// real split segments per chunk and (protocol, destination port):
	// rows that stand for a long flow's later segments then take its
	// 5-tuple (rejoinSegments).
	Segments *SplitSegments
}

// Distinct is what a chunk adds to the real trace's distinct addresses:
// the sources and destinations its flows hold that no earlier chunk's
// flows did, and the number of flows that start in it, which bring them.
type Distinct struct {
	NewSrc, NewDst, Flows int
}

// Stats counts what the passes changed.
type Stats struct {
	Continuations int `json:"continued_flows"`
	FixedTags     int `json:"fixed_inconsistent_tags"`
	DroppedCopies int `json:"dropped_continuations"`
	// MadeLenders counts the rows of later chunks that the model marked as
	// starting there and that became lenders of continuations
	// (SetStartTargets).
	MadeLenders int `json:"rows_made_lenders,omitempty"`
	SnappedIPs  int `json:"snapped_ips"`
	// ProfiledIPs counts the addresses moved to follow the real
	// rank-frequency profile (IPProfile).
	ProfiledIPs int `json:"profiled_ips,omitempty"`
	// SeparatedHosts counts the rows given another address on one side
	// because their source and destination were the same (separateHosts).
	SeparatedHosts int `json:"separated_hosts,omitempty"`
	// PortPairSwaps counts the port exchanges that made the port pairs
	// follow the real ones (followPortPairs).
	PortPairSwaps int `json:"port_pair_swaps,omitempty"`
	// ServiceLengthSwaps counts the rows that took another port pair so
	// that the pairs follow the real ones given the flows' lengths
	// (followServiceLengths).
	ServiceLengthSwaps int `json:"service_length_swaps,omitempty"`
	TailPorts          int `json:"tail_ports_drawn"`
	SeparatedKeys      int `json:"separated_keys"`
	// RejoinedSegments counts the rows that took the 5-tuple of the flow
	// whose later segment they stand for (Options.Segments).
	RejoinedSegments int `json:"rejoined_segments,omitempty"`
	DroppedEmpty     int `json:"dropped_in_empty_chunks"`
	// PortLengths counts the flows whose lengths were ranked within their
	// port class (SetPortLengthTargets).
	PortLengths int `json:"flows_lengths_given_ports,omitempty"`
}
