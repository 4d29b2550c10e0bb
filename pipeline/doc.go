// Package pipeline runs netshare end to end over a run directory:
// pre-process (read the trace, cut it into time chunks, learn the port and
// protocol embedding, encode each chunk), train one DoppelGANger model per
// chunk as the run's [Plan] orders (chunk 0 first, then the others
// fine-tuned from it, in parallel), through a [Driver], generate (chunk by
// chunk, in blocks of a bounded number of flows: attributes, flows that
// span chunks carried to the later chunks their tags name, features,
// records, each chunk sorted and streamed to the output, so that memory
// does not grow with the number of flows generated), and evaluate
// (metrics.json and the HTML report).
//
// Pre-processing streams the trace (an external sort by 5-tuple and time,
// a streaming split into per-chunk spill files, statistics gathered on the
// way, one chunk encoded at a time; see stream.go and
// docs/architecture.md), so its memory does not grow with the trace's
// records beyond one chunk's.
//
// Every stage records in the run's manifest a key hashing its inputs and
// configuration; a re-run skips stages whose key is unchanged, and a
// training job killed at any point resumes from its last checkpoint. Every
// file is written atomically.
package pipeline
