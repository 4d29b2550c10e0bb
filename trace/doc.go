// Package trace defines netshare's record model and reads and writes the
// trace formats it supports.
//
// Two record kinds exist: a [Packet] (one IPv4 header as seen on the wire) and
// a [Flow] (one unidirectional NetFlow-style record). Both are plain values
// with a 5-tuple [Key] and a timestamp in microseconds since the Unix epoch, so
// later stages (flow grouping, encoding, evaluation) handle either kind through
// the same small accessors.
//
// Input formats ([Format]) are detected from the content ([Detect]): pcap and
// pcapng captures (Ethernet with VLAN tags or MPLS, raw IPv4, Linux cooked
// v1/v2, BSD loopback), NetShare's and UGR'16's flow CSV layouts, and Zeek
// conn logs as TSV or CSV; gzip-compressed files are read transparently.
// [Open] and [NewSource] return a [Source] with a streaming [PacketReader] or
// [FlowReader].
//
// Readers stream: they return one record per call to Next and never load a
// whole file. Records that cannot be represented (IPv6, ARP, non-IP frames)
// are skipped and counted by reason in [Stats]; malformed input is an error
// that names the file and the position (byte offset, record or line number,
// column), a [*PosError], unless [Options].SkipBad asks to skip and count
// malformed rows of text formats, or to read a capture cut short up to the
// cut.
//
// Writers: [FlowWriter] writes flow CSV in either layout ([Layout]),
// [PcapWriter] writes packets as pcap with full, checksummed IPv4 and
// TCP/UDP/ICMP headers, and [FlowAggregator] turns packets into flow records
// with NetFlow active and inactive timeouts. Files are written atomically.
// [Convert] streams a trace file into flow CSV or pcap with these.
//
// docs/formats.md describes every format, the field mapping and what is
// skipped.
package trace
