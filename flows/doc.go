// Package flows groups trace records into flows and cuts a trace into time
// chunks, the unit of training in NetShare.
//
// A flow is every record sharing a 5-tuple, in time order, across the whole
// trace. [Split] divides the trace's time span into N equal intervals (as
// NetShare's fixed_time split, the last record included); a flow spanning
// several intervals appears as a partial flow in each, tagged with the
// chunks it is present in and whether it starts in this chunk (NetShare's
// multichunk_dep_v2 tags), so that generation can stitch flows back together
// across chunks.
//
// A trace too large for memory is split by streaming instead, in the same
// way: a [Sorter] sorts the records by 5-tuple and time (an external sort:
// sorted runs of a bounded number of records in a fixed-size binary form
// given by a [Codec], merged k ways, stable by input position); a
// [StreamSplitter] takes each 5-tuple's records in turn and hands on its
// chunk flows with the same tags, splitting or truncation and statistics as
// [SplitByTime]; a [ChunkSpill] keeps them in one file per chunk and reads
// one chunk back at a time. A chunk read back orders its flows by their
// first record's time, then by that record's position in the input: with a
// stable sort by time, the order SplitByTime gives. Memory is the sort
// buffer, the records of one 5-tuple and one chunk.
//
// The functions are generic over the record kind: any type whose pointer has
// Key and Time methods, such as trace.Packet and trace.Flow.
package flows
