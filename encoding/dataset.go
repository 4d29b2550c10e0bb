package encoding

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/netshare-go/netshare/flows"
	"github.com/netshare-go/netshare/trace"
)

// Data is one chunk's training set: per flow an attribute vector and the
// feature vectors of its records. Features are stored sparse: only each
// flow's real records, flow after flow, with no padding up to MaxLen (most
// flows have one record); Dense builds the padded layout, and the model
// pads when it assembles a batch.
type Data struct {
	N, AttrDim, FeatDim, MaxLen int
	Attr                        []float32 // N × AttrDim
	// Feat is Records() × FeatDim: flow 0's Len[0] records, then flow 1's,
	// and so on.
	Feat []float32
	Len  []int // records per flow, 1..MaxLen
}

// Records is the number of records, the sum of Len.
func (d *Data) Records() int {
	n := 0
	for _, l := range d.Len {
		n += l
	}
	return n
}

// Dense returns the features zero-padded to N × MaxLen × FeatDim.
func (d *Data) Dense() []float32 {
	out := make([]float32, d.N*d.MaxLen*d.FeatDim)
	pos := 0
	for i, l := range d.Len {
		n := l * d.FeatDim
		copy(out[i*d.MaxLen*d.FeatDim:], d.Feat[pos:pos+n])
		pos += n
	}
	return out
}

// EncodeStats counts what encoding had to change.
type EncodeStats struct {
	Flows, Records int
	// Changed counts values, by field, that were clamped into a fixed range
	// or mapped to the nearest known value.
	Changed map[string]int
	// Truncated counts records beyond MaxLen that were dropped.
	Truncated int
}

func (st *EncodeStats) changed(field string) {
	if st.Changed == nil {
		st.Changed = map[string]int{}
	}
	st.Changed[field]++
}

// chunkRel is a time's position in [start, end) as a fraction.
func chunkRel(t, start, end int64) float64 {
	if end <= start {
		return 0
	}
	return float64(t-start) / float64(end-start)
}

func (s *Schema) encodeAttr(dst []float32, a *FlowAttr, st *EncodeStats) {
	if s.TailPorts != nil {
		canon := *a
		canon.Key = s.TailPorts.CanonKey(a.Key)
		a = &canon
	}
	for i, c := range s.attr {
		if c.Encode(s.attrAcc[i].get(a), dst[s.attrOff[i]:s.attrOff[i]+c.Dim()]) {
			st.changed(c.Name())
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// encodeFlow encodes one flow of chunk ch into attr (AttrDim values) and
// feat (room for min(len(f.Records), MaxLen) × FeatDim values), counting
// into st, and returns the number of records encoded.
func encodeFlow[R any, P flows.Record[R]](s *Schema, rc *recordCodec[R], ch ChunkRange, f *flows.ChunkFlow[R], attr, feat []float32, st *EncodeStats) int {
	recs := f.Records
	if len(recs) > s.MaxLen {
		st.Truncated += len(recs) - s.MaxLen
		recs = recs[:s.MaxLen]
	}
	start := chunkRel(P(&recs[0]).Time(), ch.Start, ch.End)
	if ch.Index >= 0 && ch.Index < len(s.startQ) {
		start, _ = s.startQ[ch.Index].position(start)
	}
	a := FlowAttr{Key: f.Key, Start: start, Len: s.FlowLen(len(recs), f.FlowLen), StartsHere: f.StartsHere, Present: f.Present}
	if s.ChainLen > 0 && f.FlowLen > 0 {
		a.Follows = f.Follows
	}
	s.encodeAttr(attr, &a, st)
	st.Flows++
	st.Records += len(recs)
	for k := range recs {
		gap := 0.0
		if k > 0 {
			gap = float64(P(&recs[k]).Time() - P(&recs[k-1]).Time())
		} else if a.Follows {
			gap = float64(f.Lead)
		}
		row := feat[k*s.featDim:]
		for i, c := range s.feat {
			v := rc.get[i](&recs[k], gap)
			if c.Encode(v, row[s.featOff[i]:s.featOff[i]+c.Dim()]) {
				st.changed(c.Name())
			}
		}
	}
	return len(recs)
}

// encodeChunk encodes a chunk's flows; rc gives the records' features.
func encodeChunk[R any, P flows.Record[R]](s *Schema, ch *flows.Chunk[R], rc *recordCodec[R]) (*Data, EncodeStats) {
	n := len(ch.Flows)
	total := 0
	for fi := range ch.Flows {
		total += min(len(ch.Flows[fi].Records), s.MaxLen)
	}
	d := &Data{N: n, AttrDim: s.attrDim, FeatDim: s.featDim, MaxLen: s.MaxLen,
		Attr: make([]float32, n*s.attrDim), Feat: make([]float32, total*s.featDim), Len: make([]int, n)}
	var st EncodeStats
	rng := ChunkRange{Index: ch.Index, Start: ch.Start, End: ch.End}
	pos := 0 // the next record's row in d.Feat
	for fi := range ch.Flows {
		d.Len[fi] = encodeFlow[R, P](s, rc, rng, &ch.Flows[fi], d.Attr[fi*s.attrDim:(fi+1)*s.attrDim], d.Feat[pos*s.featDim:], &st)
		pos += d.Len[fi]
	}
	return d, st
}

// ChunkWriter encodes one chunk's flows one at a time, as a stream gives
// them, and appends each to the chunk's training-set file, so that neither
// the chunk's flows nor its training set are held whole. The file it writes
// is the one that encoding the same flows, in the same order, with
// EncodeFlows or EncodePackets and saving the result gives. A chunk with
// no flows writes no file.
type ChunkWriter[R any, P flows.Record[R]] struct {
	s          *Schema
	rc         *recordCodec[R]
	ch         ChunkRange
	path       string
	w          *DataWriter
	attr, feat []float32
	st         EncodeStats
}

// NewFlowChunkWriter returns a writer of chunk ch of a flow-record trace to
// the training-set file at path.
func (s *Schema) NewFlowChunkWriter(path string, ch ChunkRange) (*ChunkWriter[trace.Flow, *trace.Flow], error) {
	if s.kind != trace.KindFlows {
		return nil, fmt.Errorf("schema encodes %s, not flows", s.kind)
	}
	return newChunkWriter[trace.Flow, *trace.Flow](s, s.flowRec, path, ch), nil
}

// NewPacketChunkWriter returns a writer of chunk ch of a packet trace to
// the training-set file at path.
func (s *Schema) NewPacketChunkWriter(path string, ch ChunkRange) (*ChunkWriter[trace.Packet, *trace.Packet], error) {
	if s.kind != trace.KindPackets {
		return nil, fmt.Errorf("schema encodes %s, not packets", s.kind)
	}
	return newChunkWriter[trace.Packet, *trace.Packet](s, s.packetRec, path, ch), nil
}

func newChunkWriter[R any, P flows.Record[R]](s *Schema, rc *recordCodec[R], path string, ch ChunkRange) *ChunkWriter[R, P] {
	return &ChunkWriter[R, P]{s: s, rc: rc, ch: ch, path: path, attr: make([]float32, s.attrDim)}
}

// Add encodes the next flow and appends it to the file. f is not kept.
func (w *ChunkWriter[R, P]) Add(f *flows.ChunkFlow[R]) error {
	if len(f.Records) == 0 {
		return fmt.Errorf("%s: flow %d has no records", w.path, w.st.Flows)
	}
	if w.w == nil {
		dw, err := CreateData(w.path, w.s.attrDim, w.s.featDim, w.s.MaxLen)
		if err != nil {
			return err
		}
		w.w = dw
	}
	n := min(len(f.Records), w.s.MaxLen)
	feat := slices.Grow(w.feat[:0], n*w.s.featDim)[:n*w.s.featDim]
	clear(feat)
	clear(w.attr)
	n = encodeFlow[R, P](w.s, w.rc, w.ch, f, w.attr, feat, &w.st)
	w.feat = feat
	return w.w.Append(w.attr, feat[:n*w.s.featDim])
}

// Close completes the file (when any flow was added) and returns what
// encoding changed. After an error from Add, call Abort instead.
func (w *ChunkWriter[R, P]) Close() (EncodeStats, error) {
	if w.w == nil {
		return w.st, nil
	}
	return w.st, w.w.Close()
}

// Abort drops the file; the destination is left as it was.
func (w *ChunkWriter[R, P]) Abort() {
	if w.w != nil {
		w.w.Abort()
	}
}

// EncodeFlows encodes a chunk of a flow-record trace.
func (s *Schema) EncodeFlows(ch *flows.Chunk[trace.Flow]) (*Data, EncodeStats, error) {
	if s.kind != trace.KindFlows {
		return nil, EncodeStats{}, fmt.Errorf("schema encodes %s, not flows", s.kind)
	}
	d, st := encodeChunk(s, ch, s.flowRec)
	return d, st, nil
}

// EncodePackets encodes a chunk of a packet trace.
func (s *Schema) EncodePackets(ch *flows.Chunk[trace.Packet]) (*Data, EncodeStats, error) {
	if s.kind != trace.KindPackets {
		return nil, EncodeStats{}, fmt.Errorf("schema encodes %s, not packets", s.kind)
	}
	d, st := encodeChunk(s, ch, s.packetRec)
	return d, st, nil
}

// FlowAttr is a decoded attribute vector.
type FlowAttr struct {
	Key trace.Key
	// Start is the flow's encoded start: its first record's position in
	// its chunk, in [0, 1] (a quantile position when the spec has start
	// knots; see ChunkRange).
	Start      float64
	StartsHere bool
	Present    []bool
	// Len is the flow's length from its length attribute (0 when the
	// schema has none); with chained flows (Spec.ChainLen), the whole
	// flow's, or, once generation has cut a flow into its segments, the
	// segment's.
	Len int
	// Follows marks a segment after a chained flow's first: decoding
	// starts it at the previous flow's last record plus its first gap.
	Follows bool
}

// DecodeAttributes decodes n attribute vectors.
func (s *Schema) DecodeAttributes(attr []float32, n int) ([]FlowAttr, error) {
	if len(attr) != n*s.attrDim {
		return nil, fmt.Errorf("attributes: got %d values, want %d×%d", len(attr), n, s.attrDim)
	}
	out := make([]FlowAttr, n)
	col := make([]float64, n)
	for i := range out {
		out[i].StartsHere = true
		if s.Chunks > 1 {
			out[i].Present = make([]bool, s.Chunks)
		}
	}
	for ci, c := range s.attr {
		c.Decode(attr, s.attrDim, s.attrOff[ci], col)
		set := s.attrAcc[ci].set
		for i, v := range col {
			set(&out[i], v)
		}
	}
	return out, nil
}

// featCols are decoded features: cols[f][i][k] is feature f of flow i's
// step k.
type featCols struct {
	cols [][][]float64
	gap  int // the gap's column
}

// gaps returns flow i's decoded gaps.
func (c *featCols) gaps(i int) []float64 { return c.cols[c.gap][i] }

// decodeFeatures decodes the active steps of n generated sequences.
func (s *Schema) decodeFeatures(feat []float32, lengths []int, n int) (*featCols, error) {
	if len(feat) != n*s.MaxLen*s.featDim || len(lengths) != n {
		return nil, fmt.Errorf("features: got %d values and %d lengths, want %d×%d×%d", len(feat), len(lengths), n, s.MaxLen, s.featDim)
	}
	total := 0
	for i, l := range lengths {
		if l < 0 || l > s.MaxLen {
			return nil, fmt.Errorf("features: flow %d has length %d outside [0, %d]", i, l, s.MaxLen)
		}
		total += l
	}
	// Gather the active rows contiguously, decode each codec once.
	rows := make([]float32, 0, total*s.featDim)
	for i, l := range lengths {
		rows = append(rows, feat[i*s.MaxLen*s.featDim:(i*s.MaxLen+l)*s.featDim]...)
	}
	cols := make([][][]float64, len(s.feat))
	flat := make([]float64, total)
	for ci, c := range s.feat {
		c.Decode(rows, s.featDim, s.featOff[ci], flat)
		per := make([][]float64, n)
		vals := append([]float64(nil), flat...)
		pos := 0
		for i, l := range lengths {
			per[i] = vals[pos : pos+l : pos+l]
			pos += l
		}
		cols[ci] = per
	}
	return &featCols{cols: cols, gap: s.featIndex("gap")}, nil
}

// ChunkRange identifies the chunk generated flows belong to: its index and
// its time range [Start, End) in microseconds.
type ChunkRange struct {
	Index      int
	Start, End int64
}

// fitFlow scales the times of a flow's records (of a chained flow's
// segments), in place, about the flow's first, so that its last is at
// most end: nothing bounds the sum of the generated gaps, where a real
// flow's records in a chunk all lie inside it (a flow that goes on is
// continued in the next chunk). A flow that already ends by end, or starts
// after it, is left as it is.
func fitFlow(ts [][]int64, end int64) {
	if len(ts) == 0 || len(ts[0]) == 0 {
		return
	}
	span, first := flowSpan(ts)
	last := first + span
	if last <= end || first >= end {
		return
	}
	f := float64(end-first) / float64(last-first)
	for _, seg := range ts {
		for k, t := range seg {
			seg[k] = first + int64(float64(t-first)*f)
		}
	}
}

// spanFlow scales the times of a chained flow's segments, in place, about
// the flow's first, so that its last is span µs after it. Times all equal
// are spread evenly over the span. A span of 0 leaves them as they are.
func spanFlow(ts [][]int64, span float64) {
	if span <= 0 || len(ts) == 0 || len(ts[0]) == 0 {
		return
	}
	n := 0
	for _, seg := range ts {
		n += len(seg)
	}
	if n < 2 {
		return
	}
	was, first := flowSpan(ts)
	f, i := 0.0, 0
	if was > 0 {
		f = span / float64(was)
	}
	for _, seg := range ts {
		for k, t := range seg {
			if f > 0 {
				seg[k] = first + int64(math.Round(float64(t-first)*f))
			} else {
				seg[k] = first + int64(math.Round(span*float64(i)/float64(n-1)))
			}
			i++
		}
	}
}

// flowSpan is the time from a flow's first record to its last, and its
// first record's time (that of the first segment's first record: callers
// check that it has one).
func flowSpan(ts [][]int64) (span, first int64) {
	var last int64
	for k, seg := range ts {
		if len(seg) == 0 {
			continue
		}
		if k == 0 {
			first = seg[0]
		}
		last = seg[len(seg)-1]
	}
	return last - first, first
}

// calibrateSpans scales the chained flows among flows (the times of each
// flow's segments) of a chunk ending at end (exclusive) to the chunk's
// real spans, q (ChainSpanKnots), each a share of the time from the flow's
// first record to the chunk's end: ranked by their generated shares (ties
// in order), the flow of rank r of n takes the real share at position
// r/(n − 1) (the median when alone), so that n flows ranked as the real
// ones take the real shares. The segments' gaps are generated one segment
// at a time and nothing in them ties their sum to the flow's: on a
// capture whose long flows each span the whole trace, the chained flows
// crowded into its first quarter.
func calibrateSpans(flows [][][]int64, q *Quantile, end int64) {
	if q == nil {
		return
	}
	var chained []int
	share := make([]float64, len(flows))
	room := make([]int64, len(flows))
	for i, ts := range flows {
		if len(ts) < 2 {
			continue
		}
		span, first := flowSpan(ts)
		if room[i] = end - 1 - first; room[i] > 0 { // a flow starting at the chunk's last instant has no room
			share[i] = spanShare(span, first, end)
			chained = append(chained, i)
		}
	}
	slices.SortStableFunc(chained, func(a, b int) int { return cmp.Compare(share[a], share[b]) })
	for r, i := range chained {
		u := 0.5
		if len(chained) > 1 {
			u = float64(r) / float64(len(chained)-1)
		}
		spanFlow(flows[i], q.value(u)*float64(room[i]))
	}
}

// times reconstructs each step's timestamp: the flow starts at its
// position in the chunk, or, for a segment that follows another, at
// prev (the previous segment's last timestamp) plus its first gap; each
// later step adds its gap.
func (s *Schema) times(a FlowAttr, gaps []float64, ch ChunkRange, prev int64) []int64 {
	ts := make([]int64, len(gaps))
	var t int64
	if a.Follows && len(gaps) > 0 {
		t = prev + int64(math.Max(0, gaps[0]))
	} else {
		rel := a.Start
		if ch.Index >= 0 && ch.Index < len(s.startQ) {
			rel = s.startQ[ch.Index].value(rel)
		}
		t = ch.Start + int64(math.Round(math.Max(0, math.Min(1, rel))*float64(ch.End-ch.Start)))
		if t >= ch.End && ch.End > ch.Start {
			t = ch.End - 1 // a start at the very end is still in the chunk
		}
	}
	for k := range gaps {
		if k > 0 {
			t += int64(math.Max(0, gaps[k]))
		}
		ts[k] = t
	}
	return ts
}

// DecodeFlows turns generated flows of a chunk into flow records, in time
// order.
func (s *Schema) DecodeFlows(attrs []FlowAttr, feat []float32, lengths []int, ch ChunkRange) ([]trace.Flow, error) {
	if s.kind != trace.KindFlows {
		return nil, fmt.Errorf("schema decodes %s, not flows", s.kind)
	}
	return decodeRecords(s, s.flowRec, attrs, feat, lengths, ch)
}

// DecodePackets turns generated flows of a chunk into packets, in time
// order.
func (s *Schema) DecodePackets(attrs []FlowAttr, feat []float32, lengths []int, ch ChunkRange) ([]trace.Packet, error) {
	if s.kind != trace.KindPackets {
		return nil, fmt.Errorf("schema decodes %s, not packets", s.kind)
	}
	return decodeRecords(s, s.packetRec, attrs, feat, lengths, ch)
}

// decodeRecords turns generated flows into records, rc giving their
// features, in time order. A segment that follows another
// (FlowAttr.Follows) continues the flow of the row before it: the
// segments of a chained flow come together and in order. A flow that
// would run past its chunk's end has its gaps scaled down so that it ends
// inside the chunk (fitFlow): dropping the records past the end, as
// before 2026-12, lost up to a sixth of a multi-chunk trace's records.
// Before that, the chained flows' spans are calibrated to the chunk's real
// ones (calibrateSpans), when the schema has them.
func decodeRecords[R any, P flows.Record[R]](s *Schema, rc *recordCodec[R], attrs []FlowAttr, feat []float32, lengths []int, ch ChunkRange) ([]R, error) {
	c, err := s.decodeFeatures(feat, lengths, len(attrs))
	if err != nil {
		return nil, err
	}
	var q *Quantile
	if ch.Index >= 0 && ch.Index < len(s.spanQ) {
		q = s.spanQ[ch.Index]
	}
	var out []R
	var r R // one record, decoded in place
	emit := func(ts [][]int64, head int) {
		fitFlow(ts, ch.End-1)
		for k := range ts {
			for step, t := range ts[k] {
				r = rc.newRecord(attrs[head+k].Key, t)
				rc.decode(&r, c, head+k, step)
				out = append(out, r)
			}
		}
	}
	// Each flow (row i and the segments following it) is emitted once its
	// times are known, or, with span knots, once every flow's are.
	var times [][][]int64
	var heads []int
	var ts [][]int64
	for i := 0; i < len(attrs); {
		j := i + 1
		for j < len(attrs) && attrs[j].Follows {
			j++
		}
		if q != nil {
			ts = make([][]int64, 0, j-i)
		} else {
			ts = ts[:0]
		}
		var last int64
		for k := i; k < j; k++ {
			t := s.times(attrs[k], c.gaps(k), ch, last)
			if len(t) > 0 {
				last = t[len(t)-1]
			}
			ts = append(ts, t)
		}
		if q != nil {
			times, heads = append(times, ts), append(heads, i)
		} else {
			emit(ts, i)
		}
		i = j
	}
	calibrateSpans(times, q, ch.End)
	for f, ts := range times {
		emit(ts, heads[f])
	}
	sort.SliceStable(out, func(a, b int) bool { return P(&out[a]).Time() < P(&out[b]).Time() })
	return out, nil
}
