package temporal

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	sdktemporal "go.temporal.io/sdk/temporal"
)

// Causes with which a guard cancels an activity's work. In every case the
// work stops at its next step boundary; chunk training saves a checkpoint
// first.
var (
	// errWorkerStopping: the worker is shutting down (SIGINT, SIGTERM);
	// the attempt fails and is retried on another worker.
	errWorkerStopping = errors.New("worker stopping")
	// errLostContact: the Temporal service has not acknowledged a
	// heartbeat for half the heartbeat timeout. The service times the
	// attempt out after the whole timeout and retries it elsewhere; by
	// stopping first, the attempt leaves the chunk's folder to its
	// successor instead of writing checkpoints beside it.
	errLostContact = errors.New("lost contact with the Temporal service")
	// errTimedOut: the service answered that the attempt no longer
	// exists (it timed out and is being retried).
	errTimedOut = errors.New("attempt timed out on the Temporal service")
)

// guard keeps an activity alive and honest: it heartbeats several times
// per heartbeat timeout with the latest details, whatever the pace of the
// work (a long iteration, pre-processing a large trace), and cancels the
// work when the worker stops, when the service says the attempt is gone,
// or when the service has been unreachable for half the heartbeat timeout.
type guard struct {
	mu      sync.Mutex
	details any
	beat    func(any) // the SDK's (batched) heartbeat
	cancel  context.CancelCauseFunc
	stop    chan struct{}
	done    chan struct{}
}

// guard starts a guard for the activity whose context is ctx and returns
// the context its work should use.
func (a *Activities) guard(ctx context.Context, details any) (context.Context, *guard) {
	info := activity.GetInfo(ctx)
	var probe func(context.Context, any) error
	if a.Client != nil {
		token := info.TaskToken
		probe = func(pctx context.Context, d any) error { return a.Client.RecordActivityHeartbeat(pctx, token, d) }
	}
	beat := func(d any) { activity.RecordHeartbeat(ctx, d) }
	return newGuard(ctx, details, info.HeartbeatTimeout, probe, beat, activity.GetWorkerStopChannel(ctx))
}

// newGuard starts a guard. probe, when set, sends a heartbeat and reports
// whether the service acknowledged it; without it the guard heartbeats
// through beat and cannot tell when contact is lost.
func newGuard(ctx context.Context, details any, timeout time.Duration, probe func(context.Context, any) error, beat func(any), stopping <-chan struct{}) (context.Context, *guard) {
	wctx, cancel := context.WithCancelCause(ctx)
	g := &guard{details: details, beat: beat, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	every := 30 * time.Second
	if timeout > 0 {
		every = min(max(timeout/4, 50*time.Millisecond), every)
	}
	beat(details)
	go func() {
		defer close(g.done)
		t := time.NewTicker(every)
		defer t.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-g.stop:
				return
			case <-ctx.Done():
				return
			case <-stopping:
				stopping = nil
				cancel(errWorkerStopping)
			case <-t.C:
				g.mu.Lock()
				d := g.details
				g.mu.Unlock()
				if probe == nil {
					beat(d)
					continue
				}
				pctx, pcancel := context.WithTimeout(ctx, every)
				err := probe(pctx, d)
				pcancel()
				var (
					notFound *serviceerror.NotFound
					canceled *sdktemporal.CanceledError
				)
				switch {
				case err == nil:
					lastOK = time.Now()
				case ctx.Err() != nil:
					return
				case errors.As(err, &notFound):
					cancel(errTimedOut)
				case errors.As(err, &canceled):
					cancel(context.Canceled)
				case timeout > 0 && time.Since(lastOK) > timeout/2:
					cancel(errLostContact)
				}
			}
		}
	}()
	return wctx, g
}

// set replaces the heartbeat details and sends them through the SDK (which
// batches heartbeats, so frequent calls are cheap).
func (g *guard) set(details any) {
	g.mu.Lock()
	g.details = details
	g.mu.Unlock()
	g.beat(details)
}

// close stops the guard.
func (g *guard) close() {
	close(g.stop)
	<-g.done
	g.cancel(nil)
}
