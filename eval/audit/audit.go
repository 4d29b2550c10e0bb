package audit

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netshare-go/netshare/eval/downstream/ml"
	"github.com/netshare-go/netshare/eval/internal/hash"
	"github.com/netshare-go/netshare/eval/internal/radix"
	"github.com/netshare-go/netshare/trace"
)

// Options controls the audit. Zero fields take the defaults in comments.
type Options struct {
	Seed int64
	// MaxQueries caps the records whose nearest neighbour is looked up, per
	// set: synthetic, held-out and training candidates (2,000).
	MaxQueries int
	// MaxReference caps the training (and synthetic) records indexed for
	// nearest-neighbour search; larger sets are sampled (200,000).
	MaxReference int
}

func (o Options) withDefaults() Options {
	if o.MaxQueries <= 0 {
		o.MaxQueries = 2000
	}
	if o.MaxReference <= 0 {
		o.MaxReference = 200000
	}
	return o
}

// Report is the outcome of a memorisation audit.
type Report struct {
	// Unit is what is compared: "flow records" or "flows" (packet traces,
	// a 5-tuple with its sequence of packet lengths).
	Unit      string    `json:"unit"`
	ExactCopy ExactCopy `json:"exact_copy"`
	// DCR and Membership need held-out records; nil without them.
	DCR        *DCR        `json:"distance_to_closest_record,omitempty"`
	Membership *Membership `json:"membership_inference,omitempty"`
	// NotComputed lists what could not be measured, and why.
	NotComputed []string `json:"not_computed,omitempty"`
}

// ExactCopy holds exact-copy rates: the share of a set's units equal to
// some training unit.
type ExactCopy struct {
	Synthetic     int     `json:"synthetic"`
	SyntheticCopy int     `json:"synthetic_copies"`
	Rate          float64 `json:"rate"`
	// HoldoutRate is the share of held-out units equal to a training unit:
	// how often the real traffic repeats itself.
	Holdout     int      `json:"holdout,omitempty"`
	HoldoutRate *float64 `json:"holdout_rate,omitempty"`
	// Rates of the reference generators, when the evaluation drew them.
	BootstrapRate *float64 `json:"bootstrap_rate,omitempty"`
	MarginalRate  *float64 `json:"marginal_rate,omitempty"`
}

// DCR compares the distances of synthetic and of held-out records to
// their closest training record, in the normalised feature space.
type DCR struct {
	Queries         int     `json:"queries"`
	Reference       int     `json:"reference"`
	SyntheticMedian float64 `json:"synthetic_median"`
	SyntheticP5     float64 `json:"synthetic_p5"`
	HoldoutMedian   float64 `json:"holdout_median"`
	HoldoutP5       float64 `json:"holdout_p5"`
}

// Membership is a nearest-neighbour membership-inference attack: a
// candidate is guessed to be a training record the closer it lies to the
// synthetic trace. AUC 0.5 means the attack learns nothing.
type Membership struct {
	Members    int     `json:"members"`
	NonMembers int     `json:"non_members"`
	AUC        float64 `json:"auc"`
}

// CopyIndex answers whether units equal a training unit.
type CopyIndex struct {
	hashes []uint64 // sorted
	unit   string
	flows  bool
}

// DurationMillis is a flow's duration rounded to whole milliseconds, as the
// exact-copy comparison uses it.
func DurationMillis(f *trace.Flow) int64 { return (max(f.Dur, 0) + 500) / 1000 }

// flowHash hashes what makes two flow records copies: 5-tuple, packets,
// bytes and duration in ms. Distinct records collide with probability about
// 2^-64 per pair.
func flowHash(f *trace.Flow) uint64 {
	h := hash.Key(f.Key())
	h = hash.Mix(h ^ f.Packets)
	h = hash.Mix(h ^ f.Bytes + 0x632be59bd9b4e019)
	return hash.Mix(h ^ uint64(DurationMillis(f)) + 0x85157af5)
}

func flowHashes(fs []trace.Flow) []uint64 {
	h := make([]uint64, len(fs))
	for i := range fs {
		h[i] = flowHash(&fs[i])
	}
	return h
}

// packetFlowHashes groups packets by 5-tuple in order of appearance and
// hashes each group's key with its whole sequence of packet lengths.
func packetFlowHashes(ps []trace.Packet) []uint64 {
	idx := map[trace.Key]int{}
	var hs []uint64
	var ns []uint64
	for i := range ps {
		k := ps[i].Key()
		j, ok := idx[k]
		if !ok {
			j = len(hs)
			idx[k] = j
			hs = append(hs, hash.Key(k))
			ns = append(ns, 0)
		}
		hs[j] = hash.Mix(hs[j] ^ (uint64(ps[i].Len) + 0x9e3779b97f4a7c15))
		ns[j]++
	}
	for j := range hs {
		hs[j] = hash.Mix(hs[j] ^ ns[j]<<20)
	}
	return hs
}

// NewFlowCopyIndex indexes training flow records.
func NewFlowCopyIndex(train []trace.Flow) *CopyIndex {
	h := flowHashes(train)
	radix.Sort(h, make([]uint64, len(h)))
	return &CopyIndex{hashes: h, unit: "flow records", flows: true}
}

// NewPacketCopyIndex indexes the flows (5-tuple and packet-length
// sequence) of training packets.
func NewPacketCopyIndex(train []trace.Packet) *CopyIndex {
	h := packetFlowHashes(train)
	radix.Sort(h, make([]uint64, len(h)))
	return &CopyIndex{hashes: h, unit: "flows"}
}

// count sorts hs and counts its elements present in the index (a merge of
// two sorted lists).
func (c *CopyIndex) count(hs []uint64) (int, float64) {
	if len(hs) == 0 {
		return 0, 0
	}
	radix.Sort(hs, make([]uint64, len(hs)))
	n, j := 0, 0
	for _, h := range hs {
		for j < len(c.hashes) && c.hashes[j] < h {
			j++
		}
		if j < len(c.hashes) && c.hashes[j] == h {
			n++
		}
	}
	return n, float64(n) / float64(len(hs))
}

// FlowCopies returns how many of fs equal a training record, and the share.
func (c *CopyIndex) FlowCopies(fs []trace.Flow) (int, float64) { return c.count(flowHashes(fs)) }

// PacketCopies returns how many of the flows of ps equal a training flow,
// and the share of ps's flows.
func (c *CopyIndex) PacketCopies(ps []trace.Packet) (int, float64) {
	return c.count(packetFlowHashes(ps))
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0xa54ff53a5f1d36f1))
}

func sampleIdx(r *rand.Rand, n, k int) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	p := r.Perm(n)[:k]
	slices.Sort(p)
	return p
}

// space maps records to a normalised feature space: addresses, ports and
// protocol scaled to [0,1] by their range of values, the other features
// log1p-transformed and min–max scaled on the training records.
type space struct {
	d      int
	lo, hi []float64 // of the log features, from training
	nfixed int
}

func newSpace(train [][]float64, nfixed int) *space {
	d := len(train[0])
	s := &space{d: d, nfixed: nfixed, lo: make([]float64, d), hi: make([]float64, d)}
	for j := nfixed; j < d; j++ {
		s.lo[j], s.hi[j] = math.Inf(1), math.Inf(-1)
		for _, r := range train {
			s.lo[j], s.hi[j] = math.Min(s.lo[j], r[j]), math.Max(s.hi[j], r[j])
		}
	}
	return s
}

func (s *space) project(rows [][]float64) []float64 {
	out := make([]float64, 0, len(rows)*s.d)
	for _, r := range rows {
		for j, v := range r {
			if j >= s.nfixed {
				if s.hi[j] > s.lo[j] {
					v = (v - s.lo[j]) / (s.hi[j] - s.lo[j])
				} else {
					v = 0
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// flowRaw is a flow's features before scaling: 5 fixed-scale ones, then
// log1p(duration s), log1p(packets), log1p(bytes).
func flowRaw(f *trace.Flow) []float64 {
	return []float64{
		float64(f.Src) / math.MaxUint32, float64(f.Dst) / math.MaxUint32,
		float64(f.SrcPort) / 65535, float64(f.DstPort) / 65535, float64(f.Proto) / 255,
		math.Log1p(float64(max(f.Dur, 0)) / 1e6), math.Log1p(float64(f.Packets)), math.Log1p(float64(f.Bytes)),
	}
}

// packetFlowRaw is one packet flow's features: fixed-scale 5-tuple, then
// log1p(packets), mean packet length and log1p(duration s).
func packetFlowRaws(ps []trace.Packet) [][]float64 {
	type acc struct {
		k          trace.Key
		n, sum     float64
		first, end int64
	}
	idx := map[trace.Key]int{}
	var as []acc
	for i := range ps {
		k := ps[i].Key()
		j, ok := idx[k]
		if !ok {
			j = len(as)
			idx[k] = j
			as = append(as, acc{k: k, first: ps[i].TS, end: ps[i].TS})
		}
		a := &as[j]
		a.n++
		a.sum += float64(ps[i].Len)
		a.first, a.end = min(a.first, ps[i].TS), max(a.end, ps[i].TS)
	}
	out := make([][]float64, len(as))
	for i, a := range as {
		out[i] = []float64{
			float64(a.k.Src) / math.MaxUint32, float64(a.k.Dst) / math.MaxUint32,
			float64(a.k.SrcPort) / 65535, float64(a.k.DstPort) / 65535, float64(a.k.Proto) / 255,
			math.Log1p(a.n), a.sum / a.n, math.Log1p(float64(a.end-a.first) / 1e6),
		}
	}
	return out
}

// auc is the AUC of scores for telling positives from negatives.
func auc(pos, neg []float64) float64 {
	scores := append(append([]float64(nil), pos...), neg...)
	truth := make([]bool, len(scores))
	for i := range pos {
		truth[i] = true
	}
	return ml.AUC(scores, truth)
}

// rowSet gives the raw feature rows of one set of units on demand, so that
// only sampled units are materialised.
type rowSet struct {
	n   int
	row func(i int) []float64
}

func (rs rowSet) pick(idx []int) [][]float64 {
	out := make([][]float64, len(idx))
	for i, j := range idx {
		out[i] = rs.row(j)
	}
	return out
}

func flowRows(fs []trace.Flow) rowSet {
	return rowSet{n: len(fs), row: func(i int) []float64 { return flowRaw(&fs[i]) }}
}

func tableRows(t [][]float64) rowSet {
	return rowSet{n: len(t), row: func(i int) []float64 { return t[i] }}
}

// distances runs the nearest-neighbour part of the audit. The training
// records indexed (at most MaxReference, sampled) also fix the scaling of
// the feature space.
func distances(train, holdout, syn rowSet, opt Options) (*DCR, *Membership) {
	r := newRand(opt.Seed)
	refIdx := sampleIdx(r, train.n, opt.MaxReference)
	ref := train.pick(refIdx)
	sp := newSpace(ref, 5)
	trainTree := newKDTree(sp.project(ref), sp.d)
	near := func(t *kdTree, rows [][]float64) []float64 {
		pts := sp.project(rows)
		out := make([]float64, len(rows))
		for i := range out {
			out[i] = t.nearest(pts[i*sp.d : (i+1)*sp.d])
		}
		return out
	}
	sq := near(trainTree, syn.pick(sampleIdx(r, syn.n, opt.MaxQueries)))
	hq := near(trainTree, holdout.pick(sampleIdx(r, holdout.n, opt.MaxQueries)))
	dcr := &DCR{Queries: len(sq), Reference: len(refIdx),
		SyntheticMedian: quantile(sq, 0.5), SyntheticP5: quantile(sq, 0.05),
		HoldoutMedian: quantile(hq, 0.5), HoldoutP5: quantile(hq, 0.05)}

	synTree := newKDTree(sp.project(syn.pick(sampleIdx(r, syn.n, opt.MaxReference))), sp.d)
	k := min(opt.MaxQueries, holdout.n, train.n)
	members := near(synTree, train.pick(sampleIdx(r, train.n, k)))
	non := near(synTree, holdout.pick(sampleIdx(r, holdout.n, k)))
	// Closer to the synthetic trace ⇒ more likely a member: score = −distance.
	for i := range members {
		members[i] = -members[i]
	}
	for i := range non {
		non[i] = -non[i]
	}
	return dcr, &Membership{Members: len(members), NonMembers: len(non), AUC: auc(members, non)}
}

const noHoldout = "needs real records held out of training (netshare eval --holdout FILE, or netshare run --audit)"

// Run audits synthetic flow records against the training records and,
// when given, held-out real records.
func Run(train, holdout, syn []trace.Flow, opt Options) *Report {
	return runFlows(NewFlowCopyIndex(train), train, holdout, syn, opt)
}

// RunWithIndex is Run with a prebuilt index of train.
func RunWithIndex(idx *CopyIndex, train, holdout, syn []trace.Flow, opt Options) *Report {
	return runFlows(idx, train, holdout, syn, opt)
}

func runFlows(idx *CopyIndex, train, holdout, syn []trace.Flow, opt Options) *Report {
	opt = opt.withDefaults()
	rep := &Report{Unit: idx.unit}
	rep.ExactCopy.Synthetic = len(syn)
	rep.ExactCopy.SyntheticCopy, rep.ExactCopy.Rate = idx.FlowCopies(syn)
	if len(holdout) == 0 || len(train) == 0 || len(syn) == 0 {
		rep.NotComputed = []string{"held-out exact-copy rate: " + noHoldout, "distance to closest record: " + noHoldout, "membership inference: " + noHoldout}
		return rep
	}
	_, hr := idx.FlowCopies(holdout)
	rep.ExactCopy.Holdout, rep.ExactCopy.HoldoutRate = len(holdout), &hr
	rep.DCR, rep.Membership = distances(flowRows(train), flowRows(holdout), flowRows(syn), opt)
	return rep
}

// RunPackets audits a synthetic packet trace flow by flow (5-tuple and
// sequence of packet lengths) against training packets and, when given,
// held-out packets.
func RunPackets(train, holdout, syn []trace.Packet, opt Options) *Report {
	return RunPacketsWithIndex(NewPacketCopyIndex(train), train, holdout, syn, opt)
}

// RunPacketsWithIndex is RunPackets with a prebuilt index of train.
func RunPacketsWithIndex(idx *CopyIndex, train, holdout, syn []trace.Packet, opt Options) *Report {
	opt = opt.withDefaults()
	rep := &Report{Unit: idx.unit}
	sh := packetFlowHashes(syn)
	rep.ExactCopy.Synthetic = len(sh)
	rep.ExactCopy.SyntheticCopy, rep.ExactCopy.Rate = idx.count(sh)
	if len(holdout) == 0 || len(train) == 0 || len(syn) == 0 {
		rep.NotComputed = []string{"held-out exact-copy rate: " + noHoldout, "distance to closest record: " + noHoldout, "membership inference: " + noHoldout}
		return rep
	}
	hh := packetFlowHashes(holdout)
	_, hr := idx.count(hh)
	rep.ExactCopy.Holdout, rep.ExactCopy.HoldoutRate = len(hh), &hr
	rep.DCR, rep.Membership = distances(tableRows(packetFlowRaws(train)), tableRows(packetFlowRaws(holdout)), tableRows(packetFlowRaws(syn)), opt)
	return rep
}
