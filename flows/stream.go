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
		records: make([]int, n), flows: make([]int, n), b: make([]byte, max(codec.Size(), 17+(n+7)/8))}
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
	hdr := s.b[:17+(s.n+7)/8]
	clear(hdr)
	binary.LittleEndian.PutUint64(hdr[0:], uint64(first))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(f.Records)))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(f.Truncated))
	if f.StartsHere {
		hdr[16] = 1
	}
	for i, p := range f.Present {
		if p {
			hdr[17+i/8] |= 1 << (i % 8)
		}
	}
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
	hdr := make([]byte, 17+(s.n+7)/8)
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
		present, ok := presence[string(hdr[17:])]
		if !ok {
			present = make([]bool, s.n)
			for i := range present {
				present[i] = hdr[17+i/8]&(1<<(i%8)) != 0
			}
			presence[string(hdr[17:])] = present
		}
		f := ChunkFlow[R]{StartsHere: hdr[16] == 1, Truncated: int(binary.LittleEndian.Uint32(hdr[12:])), Present: present}
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
