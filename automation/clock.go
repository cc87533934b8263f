package automation

import (
	"context"
	"time"

	"github.com/vexfs/semevent"
)

// Clock is the time source of an [Executor], its breakers and its rate
// quota: Now for timestamps and breaker and quota arithmetic, After for
// retry backoff and [Run.Await] timeouts. The zero value of every Options
// struct uses the real clock; tests pass automationtest.Clock so that
// backoff does not sleep. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Unix(0, semevent.Now()) }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on c, or until ctx ends.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
