package flows

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/netshare-go/netshare/trace"
)

// StreamSplitter is the streaming counterpart of SplitByTime: it takes the
// records one 5-tuple at a time (all of a 5-tuple's records together, in
// time order, as a Sorter ordered by CompareKeyTime gives them) and hands
// each chunk flow, with the same tags, splitting or truncation and
// statistics as SplitByTime, to a callback. Its memory is the records of
// one 5-tuple, not the trace's.
type StreamSplitter[R any, P Record[R]] struct {
	opt     Options
	n       int
	lo, hi  int64
	span    int64
	edges   []int64
	st      SplitStats
	flowsIn []int
	recsIn  []int
	emit    func(c int, f *ChunkFlow[R], first int64) error

	have   bool
	key    trace.Key
	last   int64
	recs   []R
	seqs   []int64
	chunks []int
}

// NewStreamSplitter returns a splitter over the time range [lo, hi] (the
// trace's first and last times), or over [opt.Start, opt.End] when that is
// set. emit receives every chunk flow with the sequence number of its first
// record; f and its records are only valid during the call.
func NewStreamSplitter[R any, P Record[R]](lo, hi int64, opt Options, emit func(c int, f *ChunkFlow[R], first int64) error) (*StreamSplitter[R, P], error) {
	n := opt.Chunks
	if n < 1 {
		return nil, fmt.Errorf("chunks must be at least 1, got %d", n)
	}
	if opt.MaxFlowLen < 0 {
		return nil, fmt.Errorf("max flow length must not be negative, got %d", opt.MaxFlowLen)
	}
	if opt.End > opt.Start {
		lo, hi = opt.Start, opt.End
	} else if hi < lo {
		return nil, ErrNoRecords
	}
	return &StreamSplitter[R, P]{opt: opt, n: n, lo: lo, hi: hi, span: hi - lo + 1, edges: Bounds(lo, hi, n),
		flowsIn: make([]int, n), recsIn: make([]int, n), emit: emit}, nil
}

// Edges returns the chunk edges (see Bounds).
func (s *StreamSplitter[R, P]) Edges() []int64 { return s.edges }

// Add takes the next record and its sequence number (its position in the
// time-ordered trace, which orders the flows of a chunk). Records of one
// 5-tuple must come together and in time order.
func (s *StreamSplitter[R, P]) Add(r *R, seq int64) error {
	s.st.Records++
	t := P(r).Time()
	if t < s.lo || t > s.hi {
		s.st.OutOfRange++
		return nil
	}
	k := P(r).Key()
	if s.have && k != s.key {
		if err := s.flush(); err != nil {
			return err
		}
	}
	if s.have && t < s.last {
		return fmt.Errorf("records of %v are not in time order", k)
	}
	s.have, s.key, s.last = true, k, t
	s.recs = append(s.recs, *r)
	s.seqs = append(s.seqs, seq)
	s.chunks = append(s.chunks, chunkOf(t, s.lo, s.span, s.n))
	return nil
}

// flush splits the current 5-tuple's records into chunk flows.
func (s *StreamSplitter[R, P]) flush() error {
	defer func() {
		s.recs, s.seqs, s.chunks = s.recs[:0], s.seqs[:0], s.chunks[:0]
		s.have = false
	}()
	if len(s.recs) == 0 {
		return nil
	}
	s.st.Flows++
	present := make([]bool, s.n)
	first, distinct, contiguous := s.chunks[0], 0, true
	prev := -1
	for _, c := range s.chunks {
		if c != prev {
			if prev >= 0 && c != prev+1 {
				contiguous = false
			}
			present[c] = true
			distinct++
			prev = c
		}
	}
	if distinct > 1 {
		s.st.MultiChunkFlows++
	}
	if !contiguous {
		s.st.NonContiguous++
	}
	max := s.opt.MaxFlowLen
	for i := 0; i < len(s.recs); {
		c := s.chunks[i]
		f := ChunkFlow[R]{Flow: Flow[R]{Key: s.key}, StartsHere: c == first, Present: present}
		if s.opt.Chain && max > 0 {
			var err error
			if i, err = s.chain(c, i, &f); err != nil {
				return err
			}
			continue
		}
		start, firstSeq := i, s.seqs[i]
		kept := 0
		for ; i < len(s.recs) && s.chunks[i] == c; i++ {
			if s.opt.SplitLong && max > 0 && kept >= max {
				f.Records = s.recs[start : start+kept]
				if err := s.out(c, &f, firstSeq); err != nil {
					return err
				}
				f = ChunkFlow[R]{Flow: Flow[R]{Key: s.key}, StartsHere: f.StartsHere, Present: present}
				start, firstSeq, kept = i, s.seqs[i], 0
				s.st.SplitFlows++
			}
			if max > 0 && kept >= max {
				if f.Truncated == 0 {
					s.st.TruncatedFlows++
				}
				f.Truncated++
				s.st.TruncatedRecords++
				continue
			}
			kept++
		}
		f.Records = s.recs[start : start+kept]
		if err := s.out(c, &f, firstSeq); err != nil {
			return err
		}
	}
	return nil
}

// chain emits the records of chunk c from s.recs[i] on as one chained
// flow (Options.Chain): segments of at most MaxFlowLen records, each with
// the flow's length, the later ones following the one before. f holds the
// flow's key and tags. It returns the index past the chunk's records.
func (s *StreamSplitter[R, P]) chain(c, i int, f *ChunkFlow[R]) (int, error) {
	end := i
	for end < len(s.recs) && s.chunks[end] == c {
		end++
	}
	total := end - i
	if s.opt.MaxChainLen > 0 && total > s.opt.MaxChainLen {
		f.Truncated = total - s.opt.MaxChainLen
		s.st.TruncatedFlows++
		s.st.TruncatedRecords += f.Truncated
		total = s.opt.MaxChainLen
	}
	f.FlowLen = total
	f.Span = P(&s.recs[i+total-1]).Time() - P(&s.recs[i]).Time()
	s.st.LongestChain = max(s.st.LongestChain, total)
	if total > s.opt.MaxFlowLen {
		s.st.ChainedFlows++
	}
	trunc := f.Truncated
	for at := i; at < i+total; at += s.opt.MaxFlowLen {
		seg := *f
		if at > i {
			seg.Follows = true
			seg.Lead = P(&s.recs[at]).Time() - P(&s.recs[at-1]).Time()
			s.st.SplitFlows++
		}
		// As SplitByTime counts them: the records cut, on the last segment.
		seg.Truncated = 0
		if at+s.opt.MaxFlowLen >= i+total {
			seg.Truncated = trunc
		}
		seg.Records = s.recs[at:min(at+s.opt.MaxFlowLen, i+total)]
		if err := s.out(c, &seg, s.seqs[at]); err != nil {
			return end, err
		}
	}
	return end, nil
}

func (s *StreamSplitter[R, P]) out(c int, f *ChunkFlow[R], first int64) error {
	s.flowsIn[c]++
	s.recsIn[c] += len(f.Records)
	s.st.MaxFlowLen = max(s.st.MaxFlowLen, len(f.Records))
	return s.emit(c, f, first)
}

// Close splits the last 5-tuple and returns the split's statistics and
// the number of flows and records in each chunk.
func (s *StreamSplitter[R, P]) Close() (st SplitStats, flows, records []int, err error) {
	if err := s.flush(); err != nil {
		return st, nil, nil, err
	}
	for _, n := range s.flowsIn {
		if n == 0 {
			s.st.EmptyChunks++
		}
	}
	return s.st, s.flowsIn, s.recsIn, nil
}

// ChunkSpill keeps the chunk flows of a stream split on disk, one file per
// chunk, and reads one chunk back at a time.
//
// A chunk read back holds its flows in the order of their first record's
// time, then of that record's sequence number: with sequence numbers that
// are positions in the time-sorted trace (see SortByTime), that is the order
// SplitByTime gives.
type ChunkSpill[R any, P Record[R]] struct {
	dir     string
	codec   Codec[R]
	n       int
	files   []*os.File
	w       []*bufio.Writer
	records []int
	flows   []int
	b       []byte
}

// NewChunkSpill returns a spill of n chunks in dir, which must exist.
func NewChunkSpill[R any, P Record[R]](dir string, codec Codec[R], n int) *ChunkSpill[R, P] {
	return &ChunkSpill[R, P]{dir: dir, codec: codec, n: n, files: make([]*os.File, n), w: make([]*bufio.Writer, n),
		records: make([]int, n), flows: make([]int, n), b: make([]byte, max(codec.Size(), spillHdr+(n+7)/8))}
}

func (s *ChunkSpill[R, P]) path(c int) string {
	return filepath.Join(s.dir, fmt.Sprintf("chunk-%03d.spill", c))
}

// Write appends a chunk flow (and the sequence number of its first record)
// to chunk c's file.
func (s *ChunkSpill[R, P]) Write(c int, f *ChunkFlow[R], first int64) error {
	if s.w[c] == nil {
		fh, err := os.Create(s.path(c))
		if err != nil {
			return SpillError(err)
		}
		s.files[c], s.w[c] = fh, bufio.NewWriterSize(fh, 1<<16)
	}
	w := s.w[c]
	hdr := s.b[:spillHdr+(s.n+7)/8]
	putSpillHdr(hdr, f, first)
	if _, err := w.Write(hdr); err != nil {
		return SpillError(err)
	}
	rb := s.b[:s.codec.Size()]
	for i := range f.Records {
		s.codec.Put(rb, &f.Records[i])
		if _, err := w.Write(rb); err != nil {
			return SpillError(err)
		}
	}
	s.records[c] += len(f.Records)
	s.flows[c]++
	return nil
}

// spillHdr is the fixed part of a spilled flow's header: its first
// record's sequence number, its record count, its truncated records, its
// flags (starts here, follows), its chained flow length, lead time and
// span; the presence bits follow.
const spillHdr = 37

func putSpillHdr[R any](hdr []byte, f *ChunkFlow[R], first int64) {
	clear(hdr)
	binary.LittleEndian.PutUint64(hdr[0:], uint64(first))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(f.Records)))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(f.Truncated))
	if f.StartsHere {
		hdr[16] |= 1
	}
	if f.Follows {
		hdr[16] |= 2
	}
	binary.LittleEndian.PutUint32(hdr[17:], uint32(f.FlowLen))
	binary.LittleEndian.PutUint64(hdr[21:], uint64(f.Lead))
	binary.LittleEndian.PutUint64(hdr[29:], uint64(f.Span))
	for i, p := range f.Present {
		if p {
			hdr[spillHdr+i/8] |= 1 << (i % 8)
		}
	}
}

// getSpillHdr reads a header's tags into f, its presence bits into
// present (which f then holds).
func getSpillHdr[R any](hdr []byte, f *ChunkFlow[R], present []bool) {
	f.StartsHere, f.Follows = hdr[16]&1 != 0, hdr[16]&2 != 0
	f.Truncated = int(binary.LittleEndian.Uint32(hdr[12:]))
	f.FlowLen = int(binary.LittleEndian.Uint32(hdr[17:]))
	f.Lead = int64(binary.LittleEndian.Uint64(hdr[21:]))
	f.Span = int64(binary.LittleEndian.Uint64(hdr[29:]))
	for i := range present {
		present[i] = hdr[spillHdr+i/8]&(1<<(i%8)) != 0
	}
	f.Present = present
}

// Finish flushes and closes the chunk files; it must be called before
// Load.
func (s *ChunkSpill[R, P]) Finish() error {
	var err error
	for c, w := range s.w {
		if w == nil {
			continue
		}
		if e := w.Flush(); e != nil && err == nil {
			err = SpillError(e)
		}
		if e := s.files[c].Close(); e != nil && err == nil {
			err = SpillError(e)
		}
		s.w[c], s.files[c] = nil, nil
	}
	return err
}

// Load reads chunk c back (its flows ordered as the type's doc says), with
// the given edges, and removes its file.
func (s *ChunkSpill[R, P]) Load(c int, start, end int64) (*Chunk[R], error) {
	ch := &Chunk[R]{Index: c, Start: start, End: end}
	p := s.path(c)
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return ch, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		fh.Close()
		os.Remove(p)
	}()
	rd := bufio.NewReaderSize(fh, 1<<16)
	all := make([]R, s.records[c])
	ch.Flows = make([]ChunkFlow[R], 0, s.flows[c])
	firsts := make([]int64, 0, s.flows[c])
	hdr := make([]byte, spillHdr+(s.n+7)/8)
	rb := make([]byte, s.codec.Size())
	used := 0
	presence := map[string][]bool{}
	for {
		if _, err := io.ReadFull(rd, hdr); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		cnt := int(binary.LittleEndian.Uint32(hdr[8:]))
		if cnt > len(all)-used {
			return nil, fmt.Errorf("reading %s: more records than written", p)
		}
		// Flows present in the same chunks share one Present slice.
		present, ok := presence[string(hdr[spillHdr:])]
		if !ok {
			present = make([]bool, s.n)
			presence[string(hdr[spillHdr:])] = present
		}
		var f ChunkFlow[R]
		getSpillHdr(hdr, &f, present)
		f.Records = all[used : used+cnt : used+cnt]
		for i := range cnt {
			if _, err := io.ReadFull(rd, rb); err != nil {
				return nil, fmt.Errorf("reading %s: %w", p, err)
			}
			s.codec.Get(rb, &f.Records[i])
		}
		used += cnt
		if cnt > 0 {
			f.Key = P(&f.Records[0]).Key()
		}
		ch.Flows = append(ch.Flows, f)
		firsts = append(firsts, int64(binary.LittleEndian.Uint64(hdr[0:])))
	}
	ch.Records = used
	order := make([]int32, len(ch.Flows))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(P(&ch.Flows[a].Records[0]).Time(), P(&ch.Flows[b].Records[0]).Time()); c != 0 {
			return c
		}
		return cmp.Compare(firsts[a], firsts[b])
	})
	permute(ch.Flows, order)
	return ch, nil
}

// spillEntry locates one chunk flow in a chunk file and carries what
// orders it: its first record's time and sequence number.
type spillEntry struct {
	t, seq, off int64
}

// Each reads chunk c back one flow at a time, in the order Load gives, and
// hands each to fn; then it removes the chunk's file. The flow and its
// records and Present slice are only valid during the call.
//
// It does not hold the chunk: a first pass over the file gathers, per flow,
// its offset and its first record's time and sequence number (24 bytes a
// flow), which are sorted; a second pass reads each flow at its offset.
func (s *ChunkSpill[R, P]) Each(c int, fn func(f *ChunkFlow[R]) error) error {
	p := s.path(c)
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() {
		fh.Close()
		os.Remove(p)
	}()
	hlen := int64(spillHdr + (s.n+7)/8)
	size := int64(s.codec.Size())
	index := make([]spillEntry, 0, s.flows[c])
	rd := bufio.NewReaderSize(fh, 1<<16)
	hdr := make([]byte, hlen)
	rb := make([]byte, size)
	var r R
	off, total := int64(0), 0
	for {
		if _, err := io.ReadFull(rd, hdr); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		cnt := int(binary.LittleEndian.Uint32(hdr[8:]))
		if cnt > s.records[c]-total || cnt == 0 {
			return fmt.Errorf("reading %s: flow at byte %d: %d records, %d left of those written", p, off, cnt, s.records[c]-total)
		}
		if _, err := io.ReadFull(rd, rb); err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		s.codec.Get(rb, &r)
		index = append(index, spillEntry{t: P(&r).Time(), seq: int64(binary.LittleEndian.Uint64(hdr[0:])), off: off})
		if _, err := rd.Discard(int((int64(cnt) - 1) * size)); err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		total += cnt
		off += hlen + int64(cnt)*size
	}
	slices.SortFunc(index, func(a, b spillEntry) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	present := make([]bool, s.n)
	var recs []R
	var buf []byte
	for _, e := range index {
		if _, err := fh.ReadAt(hdr, e.off); err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		cnt := int(binary.LittleEndian.Uint32(hdr[8:]))
		buf = slices.Grow(buf[:0], cnt*int(size))[:cnt*int(size)]
		if _, err := fh.ReadAt(buf, e.off+hlen); err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		recs = slices.Grow(recs[:0], cnt)[:cnt]
		for i := range recs {
			s.codec.Get(buf[i*int(size):(i+1)*int(size)], &recs[i])
		}
		f := ChunkFlow[R]{Flow: Flow[R]{Key: P(&recs[0]).Key(), Records: recs}}
		getSpillHdr(hdr, &f, present)
		if err := fn(&f); err != nil {
			return err
		}
	}
	return nil
}

// permute puts xs[order[i]] at position i, in place (order is consumed).
func permute[T any](xs []T, order []int32) {
	for i := range order {
		if order[i] < 0 {
			continue
		}
		// Follow the cycle through i.
		tmp := xs[i]
		j := i
		for {
			k := int(order[j])
			order[j] = -1
			if k == i {
				xs[j] = tmp
				break
			}
			xs[j] = xs[k]
			j = k
		}
	}
}

// Cleanup closes and removes every chunk file left.
func (s *ChunkSpill[R, P]) Cleanup() {
	for c := range s.n {
		if s.files[c] != nil {
			s.files[c].Close()
			s.files[c], s.w[c] = nil, nil
		}
		os.Remove(s.path(c))
	}
}
