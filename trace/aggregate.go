package trace

import (
	"cmp"
	"container/heap"
	"io"
	"time"
)

// Default NetFlow timeouts, as nfdump's nfpcapd uses.
const (
	DefaultActiveTimeout   = 300 * time.Second
	DefaultInactiveTimeout = 60 * time.Second
)

// AggregateConfig sets the flow timeouts of a [FlowAggregator]. Zero
// values take the defaults.
type AggregateConfig struct {
	// Active closes a flow once a packet arrives at or after Start+Active
	// (that packet opens the next flow of the same 5-tuple).
	Active time.Duration
	// Inactive closes a flow when no packet of it has been seen for longer
	// than Inactive.
	Inactive time.Duration
}

func (c AggregateConfig) withDefaults() AggregateConfig {
	if c.Active <= 0 {
		c.Active = DefaultActiveTimeout
	}
	if c.Inactive <= 0 {
		c.Inactive = DefaultInactiveTimeout
	}
	return c
}

// FlowAggregator turns a packet stream into unidirectional NetFlow-style
// records keyed by 5-tuple: packets = count, bytes = sum of IP total
// lengths, TCP flags OR-ed, TOS of the first packet, Start = first packet,
// Dur = last - first. Memory is proportional to the open flows (plus the
// closed ones waiting to be emitted in order), not to the packets.
//
// For input in time order, records come out in order of Start (ties by
// 5-tuple), each as soon as no open or later flow can precede it. Time is
// the largest packet timestamp seen; packets a little out of order are
// tolerated (a flow's start is its earliest packet, its end its latest),
// though they may then come out slightly out of order. TCP FIN and RST do
// not close a flow; only the timeouts and Flush do.
type FlowAggregator struct {
	cfg      AggregateConfig
	active   int64
	inactive int64
	now      int64
	open     map[Key]*aggFlow
	lru      aggFlow // sentinel of the list of open flows, least recently seen first
	byStart  startHeap
	closed   closedHeap
	seq      uint64
	nPackets int64
	openPeak int
	flushed  bool
}

type aggFlow struct {
	Flow
	last       int64
	prev, next *aggFlow
	heapIdx    int
}

// NewFlowAggregator returns an aggregator with cfg's timeouts.
func NewFlowAggregator(cfg AggregateConfig) *FlowAggregator {
	cfg = cfg.withDefaults()
	a := &FlowAggregator{cfg: cfg, active: cfg.Active.Microseconds(), inactive: cfg.Inactive.Microseconds(),
		open: make(map[Key]*aggFlow)}
	a.lru.prev, a.lru.next = &a.lru, &a.lru
	return a
}

// Add adds one packet. Packets added after Flush start new flows.
func (a *FlowAggregator) Add(p *Packet) {
	a.flushed = false
	a.nPackets++
	if p.TS > a.now {
		a.now = p.TS
	}
	a.expire()
	k := p.Key()
	f := a.open[k]
	if f != nil && p.TS >= f.Start+a.active {
		a.close(f)
		f = nil
	}
	if f == nil {
		f = &aggFlow{Flow: Flow{Start: p.TS, Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort,
			Proto: p.Proto, TOS: p.TOS}, last: p.TS}
		a.open[k] = f
		heap.Push(&a.byStart, f)
		if len(a.open) > a.openPeak {
			a.openPeak = len(a.open)
		}
	} else {
		f.unlink()
	}
	a.lru.pushBack(f)
	f.Packets++
	f.Bytes += uint64(p.Len)
	f.TCPFlags |= p.TCPFlags
	if p.TS > f.last {
		f.last = p.TS
	}
	if p.TS < f.Start {
		// An out-of-order packet earlier than the flow's first.
		f.Start = p.TS
		heap.Fix(&a.byStart, f.heapIdx)
	}
}

// expire closes the flows idle for longer than the inactive timeout.
func (a *FlowAggregator) expire() {
	for f := a.lru.next; f != &a.lru && a.now-f.last > a.inactive; f = a.lru.next {
		a.close(f)
	}
}

func (a *FlowAggregator) close(f *aggFlow) {
	f.unlink()
	delete(a.open, f.Key())
	heap.Remove(&a.byStart, f.heapIdx)
	fl := f.Flow
	fl.Dur = f.last - f.Start
	a.seq++
	heap.Push(&a.closed, closedFlow{fl, a.seq})
}

// Flush closes every open flow (at the end of the input).
func (a *FlowAggregator) Flush() {
	for f := a.lru.next; f != &a.lru; f = a.lru.next {
		a.close(f)
	}
	a.flushed = true
}

// Next pops the next record that is ready, in order of Start, and reports
// whether there was one. After Flush every record is ready.
func (a *FlowAggregator) Next(out *Flow) bool {
	if a.closed.Len() == 0 {
		return false
	}
	top := a.closed.items[0]
	if a.byStart.Len() > 0 && top.Start >= a.byStart.items[0].Start {
		return false // an open flow may still come before it
	}
	if !a.flushed && top.Start >= a.now {
		return false // so may a flow that a later packet opens
	}
	*out = heap.Pop(&a.closed).(closedFlow).Flow
	return true
}

// Open returns the number of open flows; Peak the largest it has been.
func (a *FlowAggregator) Open() int { return len(a.open) }

// Peak returns the largest number of flows open at once.
func (a *FlowAggregator) Peak() int { return a.openPeak }

// Pending returns the number of closed records not yet popped by Next.
func (a *FlowAggregator) Pending() int { return a.closed.Len() }

func (l *aggFlow) pushBack(f *aggFlow) {
	f.prev, f.next = l.prev, l
	l.prev.next = f
	l.prev = f
}

func (f *aggFlow) unlink() {
	if f.prev != nil {
		f.prev.next = f.next
		f.next.prev = f.prev
		f.prev, f.next = nil, nil
	}
}

// startHeap orders open flows by Start.
type startHeap struct{ items []*aggFlow }

func (h *startHeap) Len() int           { return len(h.items) }
func (h *startHeap) Less(i, j int) bool { return h.items[i].Start < h.items[j].Start }
func (h *startHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx = i
	h.items[j].heapIdx = j
}
func (h *startHeap) Push(x any) {
	f := x.(*aggFlow)
	f.heapIdx = len(h.items)
	h.items = append(h.items, f)
}
func (h *startHeap) Pop() any {
	n := len(h.items) - 1
	f := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	return f
}

type closedFlow struct {
	Flow
	seq uint64
}

// closedHeap orders closed flows by Start, then 5-tuple, then close order.
type closedHeap struct{ items []closedFlow }

func (h *closedHeap) Len() int { return len(h.items) }
func (h *closedHeap) Less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	if c := CompareKeys(a.Key(), b.Key()); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}
func (h *closedHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *closedHeap) Push(x any)    { h.items = append(h.items, x.(closedFlow)) }
func (h *closedHeap) Pop() any {
	n := len(h.items) - 1
	f := h.items[n]
	h.items = h.items[:n]
	return f
}

// CompareKeys orders 5-tuples by source, destination, ports and protocol.
func CompareKeys(a, b Key) int {
	switch {
	case a.Src != b.Src:
		return cmp.Compare(a.Src, b.Src)
	case a.Dst != b.Dst:
		return cmp.Compare(a.Dst, b.Dst)
	case a.SrcPort != b.SrcPort:
		return cmp.Compare(a.SrcPort, b.SrcPort)
	case a.DstPort != b.DstPort:
		return cmp.Compare(a.DstPort, b.DstPort)
	}
	return cmp.Compare(a.Proto, b.Proto)
}

// aggReader is the FlowReader of AggregateFlows.
type aggReader struct {
	pr    PacketReader
	agg   *FlowAggregator
	pkt   Packet
	done  bool
	stats Stats
}

// AggregateFlows returns a FlowReader of the flow records of a packet
// stream (see [FlowAggregator]). Its Stats are the packet reader's, with
// Read counting the flow records returned. Closing it closes pr.
func AggregateFlows(pr PacketReader, cfg AggregateConfig) FlowReader {
	return &aggReader{pr: pr, agg: NewFlowAggregator(cfg)}
}

func (r *aggReader) Next(f *Flow) error {
	for {
		if r.agg.Next(f) {
			r.stats.Read++
			return nil
		}
		if r.done {
			return io.EOF
		}
		if err := r.pr.Next(&r.pkt); err != nil {
			if err != io.EOF {
				return err
			}
			r.done = true
			r.agg.Flush()
			continue
		}
		r.agg.Add(&r.pkt)
	}
}

func (r *aggReader) Stats() Stats {
	s := r.pr.Stats()
	s.Read = r.stats.Read
	return s
}

func (r *aggReader) Close() error { return r.pr.Close() }
