package flows

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// Codec writes a record of type R in a fixed number of bytes and reads it
// back: the form records take in spill files.
type Codec[R any] interface {
	// Size is the number of bytes of every encoded record.
	Size() int
	Put(b []byte, r *R)
	Get(b []byte, r *R)
}

// DefaultSortBuffer is the number of records a Sorter holds in memory
// before it writes them to disk as a sorted run.
const DefaultSortBuffer = 1 << 18

// mergeFanIn is the most runs merged at once; more runs are first merged
// into longer ones, so that the open files stay few.
const mergeFanIn = 64

// item is a record with its position in the input (Seq), which breaks ties
// so that the sort is stable.
type item[R any] struct {
	rec R
	seq int64
}

// Sorter is a stable external sort: records are added in any number,
// buffered up to a fixed count, written to disk as sorted runs in Codec's
// fixed-size form, and read back in order by a k-way merge. Memory is the
// buffer plus one read buffer per merged run, whatever the input's size.
// Each record keeps its position in the input (its sequence number, from
// 0), which orders records that compare equal.
type Sorter[R any] struct {
	dir   string
	codec Codec[R]
	cmp   func(a, b *R) int
	max   int
	buf   []item[R]
	runs  []string
	n     int64
	done  bool
}

// NewSorter returns a sorter that spills runs of bufRecords records (at
// least 1; DefaultSortBuffer when 0) into dir, which must exist. cmp orders
// records; ties keep the input order.
func NewSorter[R any](dir string, codec Codec[R], cmp func(a, b *R) int, bufRecords int) *Sorter[R] {
	if bufRecords <= 0 {
		bufRecords = DefaultSortBuffer
	}
	return &Sorter[R]{dir: dir, codec: codec, cmp: cmp, max: bufRecords}
}

// Len returns the number of records added.
func (s *Sorter[R]) Len() int64 { return s.n }

// Runs returns the number of runs written to disk so far.
func (s *Sorter[R]) Runs() int { return len(s.runs) }

// Add adds a record; it returns the record's sequence number.
func (s *Sorter[R]) Add(r *R) (int64, error) {
	if s.done {
		return 0, errors.New("sorter: Add after Merge")
	}
	seq := s.n
	s.buf = append(s.buf, item[R]{*r, seq})
	s.n++
	if len(s.buf) >= s.max {
		return seq, s.spill()
	}
	return seq, nil
}

func (s *Sorter[R]) less(a, b *item[R]) int {
	if c := s.cmp(&a.rec, &b.rec); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// spill sorts the buffer and writes it as a run.
func (s *Sorter[R]) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.SortFunc(s.buf, func(a, b item[R]) int { return s.less(&a, &b) })
	w, err := s.newRun()
	if err != nil {
		return err
	}
	for i := range s.buf {
		if err := w.write(&s.buf[i]); err != nil {
			w.abort()
			return err
		}
	}
	if err := w.close(); err != nil {
		return err
	}
	s.runs = append(s.runs, w.path)
	s.buf = s.buf[:0]
	return nil
}

// Merge returns the records in order. No record may be added afterwards.
// Close the merger to remove the sorter's files.
func (s *Sorter[R]) Merge() (*Merger[R], error) {
	s.done = true
	if len(s.runs) == 0 {
		// Everything fits in memory: no file at all.
		slices.SortFunc(s.buf, func(a, b item[R]) int { return s.less(&a, &b) })
		return &Merger[R]{mem: s.buf}, nil
	}
	if err := s.spill(); err != nil {
		return nil, err
	}
	s.buf = nil
	for len(s.runs) > mergeFanIn {
		m, err := s.open(s.runs[:mergeFanIn])
		if err != nil {
			return nil, err
		}
		w, err := s.newRun()
		if err != nil {
			m.Close()
			return nil, err
		}
		for {
			it, err := m.next()
			if err == io.EOF {
				break
			}
			if err == nil {
				err = w.write(it)
			}
			if err != nil {
				w.abort()
				m.Close()
				return nil, err
			}
		}
		if err := w.close(); err != nil {
			m.Close()
			return nil, err
		}
		if err := m.Close(); err != nil {
			return nil, err
		}
		s.runs = append(s.runs[mergeFanIn:], w.path)
	}
	m, err := s.open(s.runs)
	s.runs = nil
	return m, err
}

// Scan calls fn with every record added so far and its sequence number, in
// no particular order, reading the runs on disk sequentially.
func (s *Sorter[R]) Scan(fn func(r *R, seq int64)) error {
	for _, p := range s.runs {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		rd := &runReader[R]{f: f, r: bufio.NewReaderSize(f, 1<<16), b: make([]byte, s.codec.Size()+8)}
		for {
			ok, err := rd.read(s.codec)
			if err != nil {
				f.Close()
				return err
			}
			if !ok {
				break
			}
			fn(&rd.cur.rec, rd.cur.seq)
		}
		f.Close()
	}
	for i := range s.buf {
		fn(&s.buf[i].rec, s.buf[i].seq)
	}
	return nil
}

// Cleanup removes the runs of a sorter that is abandoned before Merge.
func (s *Sorter[R]) Cleanup() {
	for _, p := range s.runs {
		os.Remove(p)
	}
	s.runs, s.buf = nil, nil
}

func (s *Sorter[R]) open(paths []string) (*Merger[R], error) {
	m := &Merger[R]{codec: s.codec, less: s.less}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			m.Close()
			return nil, err
		}
		rd := &runReader[R]{f: f, r: bufio.NewReaderSize(f, 1<<16), b: make([]byte, s.codec.Size()+8)}
		m.files = append(m.files, rd)
		ok, err := rd.read(s.codec)
		if err != nil {
			m.Close()
			return nil, err
		}
		if ok {
			m.h = append(m.h, rd)
		}
	}
	heap.Init(mergeHeap[R]{m})
	return m, nil
}

type runWriter[R any] struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	b     []byte
	codec Codec[R]
}

func (s *Sorter[R]) newRun() (*runWriter[R], error) {
	f, err := os.CreateTemp(s.dir, "run-*.bin")
	if err != nil {
		return nil, SpillError(err)
	}
	return &runWriter[R]{path: f.Name(), f: f, w: bufio.NewWriterSize(f, 1<<16), b: make([]byte, s.codec.Size()+8), codec: s.codec}, nil
}

func (w *runWriter[R]) write(it *item[R]) error {
	binary.LittleEndian.PutUint64(w.b, uint64(it.seq))
	w.codec.Put(w.b[8:], &it.rec)
	if _, err := w.w.Write(w.b); err != nil {
		return SpillError(err)
	}
	return nil
}

func (w *runWriter[R]) close() error {
	err := w.w.Flush()
	if e := w.f.Close(); err == nil {
		err = e
	}
	if err != nil {
		os.Remove(w.path)
		return SpillError(err)
	}
	return nil
}

func (w *runWriter[R]) abort() {
	w.f.Close()
	os.Remove(w.path)
}

// SpillError wraps an error of writing a spill file, saying plainly when
// the disk is full.
func SpillError(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("the disk is full while writing pre-processing's temporary files (about 60 bytes per record, twice over): free space or use a run directory on a larger disk: %w", err)
	}
	return fmt.Errorf("writing a temporary file: %w", err)
}

type runReader[R any] struct {
	f   *os.File
	r   *bufio.Reader
	b   []byte
	cur item[R]
}

// read loads the run's next record into cur; ok is false at the end.
func (rd *runReader[R]) read(c Codec[R]) (bool, error) {
	if _, err := io.ReadFull(rd.r, rd.b); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("reading %s: %w", filepath.Base(rd.f.Name()), err)
	}
	rd.cur.seq = int64(binary.LittleEndian.Uint64(rd.b))
	c.Get(rd.b[8:], &rd.cur.rec)
	return true, nil
}

// Merger reads a Sorter's records in order.
type Merger[R any] struct {
	codec Codec[R]
	less  func(a, b *item[R]) int
	files []*runReader[R]
	h     []*runReader[R]
	mem   []item[R]
	out   item[R]
	init  bool
}

type mergeHeap[R any] struct{ m *Merger[R] }

func (h mergeHeap[R]) Len() int { return len(h.m.h) }
func (h mergeHeap[R]) Less(i, j int) bool {
	return h.m.less(&h.m.h[i].cur, &h.m.h[j].cur) < 0
}
func (h mergeHeap[R]) Swap(i, j int) { h.m.h[i], h.m.h[j] = h.m.h[j], h.m.h[i] }
func (h mergeHeap[R]) Push(x any)    { h.m.h = append(h.m.h, x.(*runReader[R])) }
func (h mergeHeap[R]) Pop() any {
	x := h.m.h[len(h.m.h)-1]
	h.m.h = h.m.h[:len(h.m.h)-1]
	return x
}

// next returns the next item (valid until the following call), or io.EOF.
func (m *Merger[R]) next() (*item[R], error) {
	if m.files == nil {
		if len(m.mem) == 0 {
			return nil, io.EOF
		}
		m.out = m.mem[0]
		m.mem = m.mem[1:]
		return &m.out, nil
	}
	if m.init {
		// Advance the run that gave the previous item.
		top := m.h[0]
		ok, err := top.read(m.codec)
		if err != nil {
			return nil, err
		}
		if ok {
			heap.Fix(mergeHeap[R]{m}, 0)
		} else {
			heap.Pop(mergeHeap[R]{m})
		}
	}
	m.init = true
	if len(m.h) == 0 {
		return nil, io.EOF
	}
	m.out = m.h[0].cur
	return &m.out, nil
}

// Next stores the next record in r and returns its sequence number, or
// io.EOF after the last record.
func (m *Merger[R]) Next(r *R) (int64, error) {
	it, err := m.next()
	if err != nil {
		return 0, err
	}
	*r = it.rec
	return it.seq, nil
}

// Close closes and removes the merged runs.
func (m *Merger[R]) Close() error {
	var err error
	for _, rd := range m.files {
		if e := rd.f.Close(); e != nil && err == nil {
			err = e
		}
		os.Remove(rd.f.Name())
	}
	m.files, m.h, m.mem = nil, nil, nil
	return err
}
