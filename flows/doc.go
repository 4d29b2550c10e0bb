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
// The functions are generic over the record kind: any type whose pointer has
// Key and Time methods, such as trace.Packet and trace.Flow.
package flows
