package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/netshare-go/netshare/eval/internal/hash"
	"github.com/netshare-go/netshare/trace"
)

// DefaultSubsampleLimit is the most records of one side (real, synthetic
// or held-out) that the downstream tasks and the nearest-neighbour part of
// the memorisation audit see when Options.SubsampleLimit is zero.
const DefaultSubsampleLimit = 1_000_000

// Parts of the evaluation that run on the subsample.
const (
	SubsampleDownstream = "downstream"
	SubsampleAudit      = "audit"
)

// Subsample records that the costly parts of an evaluation (the downstream
// tasks and the memorisation audit) ran on a seeded random subsample
// because a trace held more records than Limit. The fidelity metrics, the
// reference generators and the training set of the exact-copy index always
// use every record.
type Subsample struct {
	// Limit is the most records of each side the parts see.
	Limit int `json:"limit"`
	// Seed is the seed the subsample was drawn with, derived from the
	// evaluation's seed (53 bits).
	Seed uint64 `json:"seed"`
	// Parts lists the parts that used the subsample: "downstream", "audit".
	Parts []string `json:"parts"`
	// Sides gives, per side over the limit, the records it has and how many
	// the parts saw.
	Sides []SubsampleSide `json:"sides"`
	// Unit is what was drawn: "flow records", or for packet traces "flows"
	// (whole 5-tuples, so Kept is then close to Limit, not equal).
	Unit string `json:"unit"`
}

// SubsampleSide is one subsampled trace.
type SubsampleSide struct {
	Side    string `json:"side"` // "real", "synthetic" or "holdout"
	Records int    `json:"records"`
	Kept    int    `json:"kept"`
}

// Covers reports whether part ran on the subsample.
func (s *Subsample) Covers(part string) bool {
	if s == nil {
		return false
	}
	for _, p := range s.Parts {
		if p == part {
			return true
		}
	}
	return false
}

// Note is a one-line account of the subsample for part, or "" when the
// part did not use it.
func (s *Subsample) Note(part string) string {
	if !s.Covers(part) {
		return ""
	}
	var sides []string
	for _, sd := range s.Sides {
		if part == SubsampleAudit && sd.Side == "real" {
			continue
		}
		sides = append(sides, fmt.Sprintf("%s %s of %s", sd.Side, num(sd.Kept), num(sd.Records)))
	}
	head, tail := "these tasks ran on", "the fidelity metrics use every record"
	if part == SubsampleAudit {
		head, tail = "the synthetic and held-out records looked up here are", "every training record is indexed"
	}
	return fmt.Sprintf("%s a seeded random subsample (%s; limit %s a side; seed %d): %s records; %s",
		head, s.Unit, Plural(s.Limit, "record"), s.Seed, strings.Join(sides, ", "), tail)
}

// num writes n with thousands separators, as Plural does.
func num(n int) string {
	s := Plural(n, "")
	return s[:strings.IndexByte(s, ' ')]
}

// subsampleSeed derives the subsample's seed from the evaluation's. It has
// 53 bits, so that every JSON reader keeps it exact.
func subsampleSeed(seed int64) uint64 { return hash.Mix(uint64(seed)^0x5bd1e9955bd1e995) >> 11 }

// sideStream tells the sides' random streams apart.
var sideStream = map[string]uint64{"real": 1, "synthetic": 2, "holdout": 3}

// sampleFlows returns k of the records chosen uniformly without
// replacement, in their original order, or fs itself when it holds at most
// k. It draws the smaller of the kept and the dropped sets (Floyd's
// algorithm) and copies the kept records in runs, so a trace just over the
// limit costs little more than one copy.
func sampleFlows(fs []trace.Flow, k int, seed uint64, side string) []trace.Flow {
	n := len(fs)
	if n <= k {
		return fs
	}
	r := rand.New(rand.NewPCG(seed, sideStream[side]))
	m := min(k, n-k)
	chosen := make([]uint64, (n+63)/64)
	has := func(i int) bool { return chosen[i>>6]&(1<<(i&63)) != 0 }
	for j := n - m; j < n; j++ {
		t := r.IntN(j + 1)
		if has(t) {
			t = j
		}
		chosen[t>>6] |= 1 << (t & 63)
	}
	keepChosen := m == k
	out := make([]trace.Flow, 0, k)
	for i := 0; i < n; {
		// Skip a run of dropped records, then copy a run of kept ones.
		for i < n && has(i) != keepChosen {
			i++
		}
		j := i
		for j < n && has(j) == keepChosen {
			j++
		}
		out = append(out, fs[i:j]...)
		i = j
	}
	return out
}

// samplePackets keeps the packets of a seeded random share of the flows
// (5-tuples), about k packets in all, in their original order, or ps itself
// when it holds at most k. Whole flows are kept so that per-flow units (the
// audit's) stay intact.
func samplePackets(ps []trace.Packet, k int, seed uint64, side string) []trace.Packet {
	if len(ps) <= k {
		return ps
	}
	cut := uint64(float64(k) / float64(len(ps)) * math.MaxUint64)
	salt := hash.Mix(seed ^ sideStream[side])
	out := make([]trace.Packet, 0, k+k/8)
	for i := range ps {
		if hash.Mix(hash.Key(ps[i].Key())^salt) < cut {
			out = append(out, ps[i])
		}
	}
	return out
}
