package trace

import "fmt"

// Trace is a whole trace in memory.
type Trace struct {
	Name    string
	Format  Format
	Kind    Kind
	Flows   []Flow
	Packets []Packet
	Stats   Stats
}

// Len is the number of records.
func (t *Trace) Len() int {
	if t.Kind == KindPackets {
		return len(t.Packets)
	}
	return len(t.Flows)
}

// ReadAll reads every record of the trace at path into memory.
func ReadAll(path string, opt Options) (*Trace, error) {
	src, err := Open(path, opt)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return readSource(src)
}

func readSource(src *Source) (*Trace, error) {
	t := &Trace{Name: src.Name, Format: src.Format, Kind: src.Kind()}
	switch t.Kind {
	case KindPackets:
		r := src.Packets()
		var err error
		if t.Packets, err = collect(r.Next); err != nil {
			return nil, err
		}
		t.Stats = r.Stats()
	default:
		r := src.Flows()
		var err error
		if t.Flows, err = collect(r.Next); err != nil {
			return nil, err
		}
		t.Stats = r.Stats()
	}
	if t.Len() == 0 {
		return nil, fmt.Errorf("%s: no usable records (%s)", src.Name, t.Stats.SkippedText())
	}
	return t, nil
}
