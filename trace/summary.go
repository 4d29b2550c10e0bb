package trace

import (
	"io"
	"time"
)

// Summary describes a trace: what `netshare inspect` prints. Memory use
// is proportional to the distinct keys (5-tuples, addresses), not to the
// records.
type Summary struct {
	Format         Format           `json:"format"`
	Records        int64            `json:"records"`         // records in the input: returned + skipped
	Skipped        int64            `json:"skipped"`         // records skipped
	SkippedReasons map[string]int64 `json:"skipped_reasons"` // skipped records by reason
	IPv4Records    int64            `json:"ipv4_records"`    // records returned (all IPv4)
	Flows          int64            `json:"flows"`           // distinct 5-tuples
	SrcIPs         int64            `json:"src_ips"`         // distinct source addresses
	DstIPs         int64            `json:"dst_ips"`         // distinct destination addresses
	Start          *string          `json:"start"`           // first record timestamp, RFC 3339 UTC with µs; null when empty
	End            *string          `json:"end"`             // last record timestamp (a flow's start, not its end)
	Protocols      map[string]int64 `json:"protocols"`       // returned records by protocol name
}

// TimeLayout is the RFC 3339 layout with microseconds used for timestamps
// in reports.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// FormatMicros formats µs since the epoch with TimeLayout in UTC.
func FormatMicros(us int64) string { return time.UnixMicro(us).UTC().Format(TimeLayout) }

// Summarize reads the whole source and summarises it.
func Summarize(s *Source) (Summary, error) {
	keys := make(map[Key]struct{})
	src := make(map[uint32]struct{})
	dst := make(map[uint32]struct{})
	var protos [256]int64
	var first, last int64
	var n int64
	add := func(k Key, ts int64) {
		if _, seen := keys[k]; !seen {
			// A key seen before brought its addresses then.
			keys[k] = struct{}{}
			src[k.Src] = struct{}{}
			dst[k.Dst] = struct{}{}
		}
		protos[k.Proto]++
		if n == 0 || ts < first {
			first = ts
		}
		if n == 0 || ts > last {
			last = ts
		}
		n++
	}
	var st Stats
	var err error
	if s.Kind() == KindPackets {
		pr := s.Packets()
		var p Packet
		for err = pr.Next(&p); err == nil; err = pr.Next(&p) {
			add(p.Key(), p.TS)
		}
		st = pr.Stats()
	} else {
		fr := s.Flows()
		var f Flow
		for err = fr.Next(&f); err == nil; err = fr.Next(&f) {
			add(f.Key(), f.Start)
		}
		st = fr.Stats()
	}
	if err != io.EOF {
		return Summary{}, err
	}
	sum := Summary{
		Format:         s.Format,
		Skipped:        st.TotalSkipped(),
		SkippedReasons: st.Skipped,
		IPv4Records:    n,
		Flows:          int64(len(keys)),
		SrcIPs:         int64(len(src)),
		DstIPs:         int64(len(dst)),
		Protocols:      make(map[string]int64),
	}
	if sum.SkippedReasons == nil {
		sum.SkippedReasons = map[string]int64{}
	}
	sum.Records = n + sum.Skipped
	for p, c := range protos {
		if c > 0 {
			sum.Protocols[ProtoName(uint8(p))] += c
		}
	}
	if n > 0 {
		a, b := FormatMicros(first), FormatMicros(last)
		sum.Start, sum.End = &a, &b
	}
	return sum, nil
}
