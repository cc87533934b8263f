package propagation

import (
	"context"

	"github.com/vexfs/semevent"
)

// Authorizer is the access control a [Bus] enforces when
// [Options].Authorizer is set: the checks the bus calls, and nothing more.
// *access.Authorizer implements it; the bus never imports access. Its
// methods may be called concurrently.
type Authorizer interface {
	// CheckPublish returns nil when the principal ctx carries may publish
	// ev, and the refusal otherwise (Publish wraps it). It is called once
	// per published event and should not allocate.
	CheckPublish(ctx context.Context, ev *semevent.Event) error
	// SubscribeChecker returns the checker that decides which events a
	// subscription of principal (its [SubscribeOptions].Principal) may
	// receive, or the error that refuses the subscription: a principal
	// that may never receive anything. replay is true for a subscription
	// that reads the journal.
	SubscribeChecker(principal any, replay bool) (EventChecker, error)
}

// EventChecker decides, event by event, what one subscription may
// receive. Allow is called by one goroutine at a time (the dispatcher, or
// the subscription's replay goroutine); Denied may be called from any.
type EventChecker interface {
	// Allow reports whether the subscription may receive ev.
	Allow(ev *semevent.Event) bool
	// Denied returns how many events Allow refused.
	Denied() uint64
}
