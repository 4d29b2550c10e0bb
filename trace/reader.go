package trace

// PacketReader streams packets. Next fills *p and returns nil, io.EOF at
// the end of the trace, or an error (a *PosError for malformed input).
type PacketReader interface {
	Next(p *Packet) error
	Stats() Stats
	Close() error
}

// FlowReader streams flow records, with the same contract as PacketReader.
type FlowReader interface {
	Next(f *Flow) error
	Stats() Stats
	Close() error
}
