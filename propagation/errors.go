package propagation

import (
	"fmt"

	"github.com/vexfs/semevent"
)

// BatchError reports a batch publish that stopped part way: the first
// Accepted events were accepted, the rest were not.
type BatchError struct {
	Accepted int
	Err      error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("propagation: batch stopped after %d events: %v", e.Accepted, e.Err)
}

// Unwrap returns the cause.
func (e *BatchError) Unwrap() error { return e.Err }

// HandlerError is what Options.OnError receives: the subscription and event
// whose handler failed, and the error (a *semevent.PanicError for a panic).
type HandlerError struct {
	Subscription string
	EventID      semevent.ID
	Err          error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("propagation: subscription %q: event %s: %v", e.Subscription, e.EventID, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }
