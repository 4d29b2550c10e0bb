package flows

import (
	"cmp"
	"encoding/binary"

	"github.com/netshare-go/netshare/trace"
)

// PacketCodec is the fixed-size form of a trace.Packet in spill files
// (31 bytes).
type PacketCodec struct{}

func (PacketCodec) Size() int { return 31 }

func (PacketCodec) Put(b []byte, p *trace.Packet) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(p.TS))
	le.PutUint32(b[8:], p.Src)
	le.PutUint32(b[12:], p.Dst)
	le.PutUint16(b[16:], p.SrcPort)
	le.PutUint16(b[18:], p.DstPort)
	b[20] = p.Proto
	le.PutUint16(b[21:], p.Len)
	b[23] = p.TOS
	le.PutUint16(b[24:], p.ID)
	b[26] = p.Flags
	le.PutUint16(b[27:], p.FragOff)
	b[29] = p.TTL
	b[30] = p.TCPFlags
}

func (PacketCodec) Get(b []byte, p *trace.Packet) {
	le := binary.LittleEndian
	*p = trace.Packet{
		TS: int64(le.Uint64(b[0:])), Src: le.Uint32(b[8:]), Dst: le.Uint32(b[12:]),
		SrcPort: le.Uint16(b[16:]), DstPort: le.Uint16(b[18:]), Proto: b[20],
		Len: le.Uint16(b[21:]), TOS: b[23], ID: le.Uint16(b[24:]), Flags: b[26],
		FragOff: le.Uint16(b[27:]), TTL: b[29], TCPFlags: b[30],
	}
}

// FlowCodec is the fixed-size form of a trace.Flow in spill files (52
// bytes). Labels are held as indices into the codec's dictionary of the
// labels seen, so one codec must write and read a file.
type FlowCodec struct {
	labels []string
	index  map[string]uint32
}

// NewFlowCodec returns a flow codec with an empty label dictionary.
func NewFlowCodec() *FlowCodec { return &FlowCodec{index: map[string]uint32{}} }

// Labels returns the labels seen, in order of first appearance.
func (c *FlowCodec) Labels() []string { return c.labels }

func (*FlowCodec) Size() int { return 52 }

func (c *FlowCodec) Put(b []byte, f *trace.Flow) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(f.Start))
	le.PutUint64(b[8:], uint64(f.Dur))
	le.PutUint32(b[16:], f.Src)
	le.PutUint32(b[20:], f.Dst)
	le.PutUint16(b[24:], f.SrcPort)
	le.PutUint16(b[26:], f.DstPort)
	b[28] = f.Proto
	le.PutUint64(b[29:], f.Packets)
	le.PutUint64(b[37:], f.Bytes)
	b[45] = f.TCPFlags
	b[46] = f.TOS
	b[47] = f.Fwd
	l, ok := c.index[f.Label]
	if !ok {
		l = uint32(len(c.labels))
		c.index[f.Label] = l
		c.labels = append(c.labels, f.Label)
	}
	le.PutUint32(b[48:], l)
}

func (c *FlowCodec) Get(b []byte, f *trace.Flow) {
	le := binary.LittleEndian
	*f = trace.Flow{
		Start: int64(le.Uint64(b[0:])), Dur: int64(le.Uint64(b[8:])),
		Src: le.Uint32(b[16:]), Dst: le.Uint32(b[20:]),
		SrcPort: le.Uint16(b[24:]), DstPort: le.Uint16(b[26:]), Proto: b[28],
		Packets: le.Uint64(b[29:]), Bytes: le.Uint64(b[37:]),
		TCPFlags: b[45], TOS: b[46], Fwd: b[47],
		Label: c.labels[le.Uint32(b[48:])],
	}
}

// CompareKeyTime orders records by 5-tuple, then time: the order in which
// a stream split takes them, each 5-tuple's records together.
func CompareKeyTime[R any, P Record[R]](a, b *R) int {
	ka, kb := P(a).Key(), P(b).Key()
	if c := trace.CompareKeys(ka, kb); c != 0 {
		return c
	}
	return CompareTime[R, P](a, b)
}

// CompareTime orders records by time alone; a Sorter keeps records of
// equal time in the order they were added.
func CompareTime[R any, P Record[R]](a, b *R) int {
	return cmp.Compare(P(a).Time(), P(b).Time())
}
