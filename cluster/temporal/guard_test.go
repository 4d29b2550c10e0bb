package temporal

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
)

func TestGuardCancelsWork(t *testing.T) {
	const timeout = 400 * time.Millisecond
	unreachable := func(context.Context, any) error { return errors.New("connection refused") }
	for _, tc := range []struct {
		name  string
		probe func(context.Context, any) error
		stop  bool
		want  error // nil: the work goes on
	}{
		{"service reachable", func(context.Context, any) error { return nil }, false, nil},
		{"service unreachable", unreachable, false, errLostContact},
		{"attempt gone", func(context.Context, any) error { return serviceerror.NewNotFound("no such activity") }, false, errTimedOut},
		{"worker stopping", func(context.Context, any) error { return nil }, true, errWorkerStopping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var beats atomic.Int32
			stopping := make(chan struct{})
			if tc.stop {
				close(stopping)
			}
			ctx, g := newGuard(context.Background(), "d", timeout, tc.probe, func(any) { beats.Add(1) }, stopping)
			defer g.close()
			select {
			case <-ctx.Done():
				if tc.want == nil {
					t.Fatalf("work cancelled: %v", context.Cause(ctx))
				}
				if got := context.Cause(ctx); !errors.Is(got, tc.want) {
					t.Fatalf("cancelled with %v, want %v", got, tc.want)
				}
			case <-time.After(3 * timeout):
				if tc.want != nil {
					t.Fatalf("work not cancelled, want %v", tc.want)
				}
			}
			if beats.Load() < 1 {
				t.Error("no heartbeat at start")
			}
		})
	}
}

// Without a probe the guard heartbeats through the SDK several times per
// timeout.
func TestGuardHeartbeatsWithoutProbe(t *testing.T) {
	var beats atomic.Int32
	_, g := newGuard(context.Background(), "d", 200*time.Millisecond, nil, func(any) { beats.Add(1) }, nil)
	time.Sleep(450 * time.Millisecond)
	g.close()
	if n := beats.Load(); n < 5 {
		t.Errorf("%d heartbeats in 450 ms with a 200 ms timeout, want at least 5", n)
	}
}
