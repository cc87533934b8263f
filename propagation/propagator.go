package propagation

import (
	"context"

	"github.com/vexfs/semevent"
)

// Propagator moves events from publishers to subscribers.
//
// All methods may be called concurrently, including from inside a handler
// (a handler may publish, subscribe or unsubscribe; a handler must not call
// Close on the propagator delivering to it).
type Propagator interface {
	// Publish hands ev over for delivery to every matching subscription.
	// It returns once the event is accepted (or, for a durable publish,
	// committed), not once it is handled. It may block under backpressure
	// until ctx is done, returning ctx.Err(); after Close it returns an error
	// wrapping semevent.ErrClosed.
	Publish(ctx context.Context, ev *semevent.Event) error

	// Subscribe registers h for the events that opts selects (all events
	// when opts or opts.Filter is nil). Delivery starts at once.
	Subscribe(h semevent.Handler, opts *SubscribeOptions) (Subscription, error)

	// Close stops accepting events, delivers what was accepted, waits for
	// handlers to return and releases every goroutine. If ctx ends first,
	// Close returns ctx.Err() with undelivered events counted as dropped.
	// Calling Close again returns nil.
	Close(ctx context.Context) error
}

// Subscription is one registration made by Subscribe.
type Subscription interface {
	// Name returns the subscription's name from its options, or a
	// generated one.
	Name() string
	// Unsubscribe stops delivery without waiting: the handler is not called
	// for events after the one it is handling, and buffered events are
	// counted as dropped (reason unsubscribed). Safe to call from the
	// handler itself and more than once.
	Unsubscribe()
	// Done is closed once the handler has returned for the last time after
	// Unsubscribe or Close.
	Done() <-chan struct{}
}

// Batcher is implemented by propagators that accept a batch of events more
// cheaply than one at a time. See [PublishBatch].
type Batcher interface {
	PublishBatch(ctx context.Context, evs []*semevent.Event) error
}

// PublishBatch publishes evs on p, in order, using p's Batcher when it has
// one. It stops at the first error and returns it wrapped in a
// *[BatchError] that says how many events were accepted.
func PublishBatch(ctx context.Context, p Propagator, evs []*semevent.Event) error {
	if b, ok := p.(Batcher); ok {
		return b.PublishBatch(ctx, evs)
	}
	for i, ev := range evs {
		if err := p.Publish(ctx, ev); err != nil {
			return &BatchError{Accepted: i, Err: err}
		}
	}
	return nil
}

// StatsReporter is implemented by propagators that keep statistics.
type StatsReporter interface {
	Stats() Stats
}
