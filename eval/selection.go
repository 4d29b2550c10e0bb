package eval

import "github.com/netshare-go/netshare/trace"

// FastFlows computes the fidelity metrics of syn against real alone:
// no reference generators, downstream tasks, audit or plotting summaries.
// It is what scoring a training checkpoint needs.
func FastFlows(real, syn []trace.Flow) (*Fidelity, error) {
	if err := checkSizes(len(real), len(syn)); err != nil {
		return nil, err
	}
	return compare(flowProfile(real), flowProfile(syn)), nil
}

// FastPackets is FastFlows for packets.
func FastPackets(real, syn []trace.Packet) (*Fidelity, error) {
	if err := checkSizes(len(real), len(syn)); err != nil {
		return nil, err
	}
	return compare(packetProfile(real), packetProfile(syn)), nil
}

// SelectionScore is the score checkpoint selection minimises: the mean of
// the mean joint TVD and the mean JSD (both between 0 and about 1).
func SelectionScore(f *Fidelity) float64 { return (f.MeanJointTVD() + f.MeanJSD) / 2 }

// CheckpointScore is the fast fidelity of one training checkpoint: a
// sample generated at that iteration against the chunk's validation
// records.
type CheckpointScore struct {
	Iteration int     `json:"iteration"`
	JointTVD  float64 `json:"mean_joint_tvd"`
	MeanJSD   float64 `json:"mean_jsd"`
	Score     float64 `json:"score"`   // SelectionScore: lower is better
	Seconds   float64 `json:"seconds"` // time taken to score it
}

// ChunkSelection is one chunk's checkpoint selection: the score of each
// checkpoint and the one generation uses.
type ChunkSelection struct {
	Chunk int `json:"chunk"`
	// ValidationFlows is the number of the chunk's flows held out of
	// training to score against, GeneratedFlows the number generated per
	// score.
	ValidationFlows int               `json:"validation_flows"`
	GeneratedFlows  int               `json:"generated_flows"`
	Scores          []CheckpointScore `json:"scores"`
	// Chosen is the iteration of the best-scoring checkpoint (the first
	// of equal scores), 0 when none was scored.
	Chosen int `json:"chosen_iteration"`
}

// Best returns the lowest-scoring checkpoint (the earliest of equal
// scores), and false when there is none.
func (c *ChunkSelection) Best() (CheckpointScore, bool) {
	var best CheckpointScore
	found := false
	for _, s := range c.Scores {
		if !found || s.Score < best.Score {
			best, found = s, true
		}
	}
	return best, found
}

// Last returns the checkpoint scored at the highest iteration.
func (c *ChunkSelection) Last() (CheckpointScore, bool) {
	var last CheckpointScore
	found := false
	for _, s := range c.Scores {
		if !found || s.Iteration > last.Iteration {
			last, found = s, true
		}
	}
	return last, found
}
