// Package trace defines netshare's record model and reads and writes the
// trace formats it supports.
//
// Two record kinds exist: a [Packet] (one IPv4 header as seen on the wire) and
// a [Flow] (one unidirectional NetFlow-style record). Both are plain values
// with a 5-tuple [Key] and a timestamp in microseconds since the Unix epoch, so
// later stages (flow grouping, encoding, evaluation) handle either kind through
// the same small accessors.
//
// Readers stream: they return one record per call to Next and never load a
// whole file. Records that cannot be represented (IPv6, ARP, non-IP frames)
// are skipped and counted by reason in [Stats]; malformed input is an error
// that names the file and the position (byte offset, record or line number).
package trace
