package semevent

import (
	"context"
	"time"
)

// Publisher is where components send the events they make: a rule that
// fired, a pattern that matched, a workflow step, a window's result, a FUSE
// operation. A propagation.Propagator is one; every package that publishes
// accepts this interface and nothing larger. Publish must be safe for
// concurrent use.
type Publisher interface {
	Publish(ctx context.Context, ev *Event) error
}

// PublishFunc adapts a function to [Publisher].
type PublishFunc func(ctx context.Context, ev *Event) error

// Publish calls f(ctx, ev).
func (f PublishFunc) Publish(ctx context.Context, ev *Event) error { return f(ctx, ev) }

// DefaultPublishTimeout bounds each publish a component makes into a bus it
// also listens to (the rule and pattern engines, the workflow executor,
// analytics results), unless its options say otherwise. Such a publish runs
// on a handler goroutine of that bus; with a blocking subscriber and full
// queues it would otherwise wait for itself forever. When the timeout
// expires the component counts the event as failed and reports the
// context.DeadlineExceeded error through its error hook.
const DefaultPublishTimeout = 5 * time.Second

// PublishTimeout publishes ev through p with ctx bounded by d (no bound when
// d < 0; [DefaultPublishTimeout] when d == 0). It is what every component
// that publishes into a bus it listens to calls.
func PublishTimeout(ctx context.Context, p Publisher, ev *Event, d time.Duration) error {
	if d == 0 {
		d = DefaultPublishTimeout
	}
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return p.Publish(ctx, ev)
}
