// Package temporal runs netshare on a Temporal cluster (go.temporal.io/sdk):
// a workflow drives one run directory through its stages, each stage an
// activity that any worker may run, so that training scales out across
// machines the way NetShare's Ray deployment did.
//
// The workflow ([RunWorkflow]) pre-processes the trace, trains the base
// chunk, trains the other chunks in parallel (fine-tuned from the base),
// then generates and evaluates the synthetic trace. Chunk training runs
// pipeline.TrainChunk, which resumes from the chunk's last checkpoint, so a
// retried activity (after its worker died, was cut off or was stopped)
// continues where the checkpoint left off on whichever worker takes it,
// provided every worker sees the run directory at the same absolute path
// (shared storage such as NFS). Training activities heartbeat their
// progress (iteration, losses, the iteration they resumed at); a client
// follows a run from those heartbeats and the workflow's status query.
//
// Every manifest update is made by one activity at a time: chunk
// activities write only their own model folder, and the workflow records
// each chunk's completion through a separate activity that it runs
// serially. The timeouts and retries are described by [Policy]; docs/cluster.md
// describes a deployment and the failure semantics.
package temporal
