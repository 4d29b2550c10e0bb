package pipeline

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/netshare-go/netshare/trace"
)

// sortHeld is how many records of a chunk generation keeps in memory
// before it spills the chunk's sorted blocks to a temporary file and
// merges them from there.
var sortHeld = 1 << 19

// recordIO is what the chunk sorter needs of a record type: its time and a
// binary encoding for the spill file.
type recordIO[R any] struct {
	time   func(*R) int64
	encode func(b []byte, r *R) []byte
	decode func(r *bufio.Reader, rec *R) error
}

// chunkSorter puts one chunk's records in time order. Blocks come in
// sorted; while they hold fewer than sortHeld records together they stay
// in memory, past that every block goes, as a sorted run, to a temporary
// file in dir, and drain merges the runs (a stable k-way merge: records
// with equal times come in block order, as a stable sort of the chunk
// would leave them).
type chunkSorter[R any] struct {
	io   recordIO[R]
	dir  string
	mem  [][]R
	held int
	f    *os.File
	w    *bufio.Writer
	runs []run
	off  int64
	buf  []byte
}

// run is one sorted block in the spill file.
type run struct{ off, size, n int64 }

func (s *chunkSorter[R]) add(block []R) error {
	if len(block) == 0 {
		return nil
	}
	if s.f == nil && s.held+len(block) <= sortHeld {
		s.mem = append(s.mem, block)
		s.held += len(block)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "records-*.tmp")
		if err != nil {
			return fmt.Errorf("sorting generated records: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 1<<16)
		for _, b := range s.mem {
			if err := s.spill(b); err != nil {
				return err
			}
		}
		s.mem, s.held = nil, 0
	}
	return s.spill(block)
}

func (s *chunkSorter[R]) spill(block []R) error {
	start := s.off
	for i := range block {
		s.buf = s.io.encode(s.buf[:0], &block[i])
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("sorting generated records: %w", err)
		}
		s.off += int64(len(s.buf))
	}
	s.runs = append(s.runs, run{off: start, size: s.off - start, n: int64(len(block))})
	return nil
}

// drain emits the chunk's records in time order and leaves the sorter
// empty, its file removed.
func (s *chunkSorter[R]) drain(emit func(*R) error) error {
	defer s.close()
	if s.f == nil {
		return mergeRuns(len(s.mem), func(i int) (func(*R) (bool, error), error) {
			b, k := s.mem[i], 0
			return func(r *R) (bool, error) {
				if k == len(b) {
					return false, nil
				}
				*r = b[k]
				k++
				return true, nil
			}, nil
		}, s.io.time, emit)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("sorting generated records: %w", err)
	}
	return mergeRuns(len(s.runs), func(i int) (func(*R) (bool, error), error) {
		ru := s.runs[i]
		br := bufio.NewReaderSize(io.NewSectionReader(s.f, ru.off, ru.size), 1<<15)
		left := ru.n
		return func(r *R) (bool, error) {
			if left == 0 {
				return false, nil
			}
			left--
			if err := s.io.decode(br, r); err != nil {
				return false, fmt.Errorf("sorting generated records: reading back: %w", err)
			}
			return true, nil
		}, nil
	}, s.io.time, emit)
}

func (s *chunkSorter[R]) close() {
	s.mem, s.held, s.runs, s.off = nil, 0, nil, 0
	if s.f != nil {
		name := s.f.Name()
		s.f.Close()
		os.Remove(name)
		s.f, s.w = nil, nil
	}
}

// mergeRuns merges n sorted runs, opened by open, by time, equal times in
// run order.
func mergeRuns[R any](n int, open func(i int) (func(*R) (bool, error), error), time func(*R) int64, emit func(*R) error) error {
	h := &runHeap[R]{time: time}
	for i := range n {
		next, err := open(i)
		if err != nil {
			return err
		}
		e := runHead[R]{run: i, next: next}
		ok, err := next(&e.rec)
		if err != nil {
			return err
		}
		if ok {
			h.items = append(h.items, e)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		top := &h.items[0]
		if err := emit(&top.rec); err != nil {
			return err
		}
		ok, err := top.next(&top.rec)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type runHead[R any] struct {
	rec  R
	run  int
	next func(*R) (bool, error)
}

type runHeap[R any] struct {
	items []runHead[R]
	time  func(*R) int64
}

func (h *runHeap[R]) Len() int { return len(h.items) }
func (h *runHeap[R]) Less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if ta, tb := h.time(&a.rec), h.time(&b.rec); ta != tb {
		return ta < tb
	}
	return a.run < b.run
}
func (h *runHeap[R]) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *runHeap[R]) Push(x any)    { h.items = append(h.items, x.(runHead[R])) }
func (h *runHeap[R]) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	h.items = h.items[:n]
	return x
}

var le = binary.LittleEndian

// flowIO encodes flow records for the spill file.
var flowIO = recordIO[trace.Flow]{
	time: func(f *trace.Flow) int64 { return f.Start },
	encode: func(b []byte, f *trace.Flow) []byte {
		b = le.AppendUint64(b, uint64(f.Start))
		b = le.AppendUint64(b, uint64(f.Dur))
		b = le.AppendUint32(b, f.Src)
		b = le.AppendUint32(b, f.Dst)
		b = le.AppendUint16(b, f.SrcPort)
		b = le.AppendUint16(b, f.DstPort)
		b = append(b, f.Proto, f.TCPFlags, f.TOS, f.Fwd)
		b = le.AppendUint64(b, f.Packets)
		b = le.AppendUint64(b, f.Bytes)
		b = binary.AppendUvarint(b, uint64(len(f.Label)))
		return append(b, f.Label...)
	},
	decode: func(r *bufio.Reader, f *trace.Flow) error {
		var b [48]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return err
		}
		*f = trace.Flow{Start: int64(le.Uint64(b[0:])), Dur: int64(le.Uint64(b[8:])), Src: le.Uint32(b[16:]), Dst: le.Uint32(b[20:]),
			SrcPort: le.Uint16(b[24:]), DstPort: le.Uint16(b[26:]), Proto: b[28], TCPFlags: b[29], TOS: b[30], Fwd: b[31],
			Packets: le.Uint64(b[32:]), Bytes: le.Uint64(b[40:])}
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return err
		}
		if n > 0 {
			l := make([]byte, n)
			if _, err := io.ReadFull(r, l); err != nil {
				return err
			}
			f.Label = string(l)
		}
		return nil
	},
}

// packetIO encodes packets for the spill file.
var packetIO = recordIO[trace.Packet]{
	time: func(p *trace.Packet) int64 { return p.TS },
	encode: func(b []byte, p *trace.Packet) []byte {
		b = le.AppendUint64(b, uint64(p.TS))
		b = le.AppendUint32(b, p.Src)
		b = le.AppendUint32(b, p.Dst)
		b = le.AppendUint16(b, p.SrcPort)
		b = le.AppendUint16(b, p.DstPort)
		b = le.AppendUint16(b, p.Len)
		b = le.AppendUint16(b, p.ID)
		b = le.AppendUint16(b, p.FragOff)
		return append(b, p.Proto, p.TOS, p.Flags, p.TTL, p.TCPFlags)
	},
	decode: func(r *bufio.Reader, p *trace.Packet) error {
		var b [31]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return err
		}
		*p = trace.Packet{TS: int64(le.Uint64(b[0:])), Src: le.Uint32(b[8:]), Dst: le.Uint32(b[12:]), SrcPort: le.Uint16(b[16:]), DstPort: le.Uint16(b[18:]),
			Len: le.Uint16(b[20:]), ID: le.Uint16(b[22:]), FragOff: le.Uint16(b[24:]), Proto: b[26], TOS: b[27], Flags: b[28], TTL: b[29], TCPFlags: b[30]}
		return nil
	},
}
