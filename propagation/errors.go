package propagation

import (
	"errors"
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

// ErrEventTooLarge is wrapped by *[EventTooLargeError]: Publish refuses an
// event larger than Options.MaxEventBytes.
var ErrEventTooLarge = errors.New("propagation: event too large")

// EventTooLargeError reports an event whose size, as [EventBytes] counts
// it, exceeds Options.MaxEventBytes.
type EventTooLargeError struct {
	ID    semevent.ID // zero when the publisher had not set one
	Bytes int
	Max   int
}

func (e *EventTooLargeError) Error() string {
	return fmt.Sprintf("propagation: event %s: %d bytes, at most %d allowed (Options.MaxEventBytes)", e.ID, e.Bytes, e.Max)
}

// Unwrap returns [ErrEventTooLarge].
func (e *EventTooLargeError) Unwrap() error { return ErrEventTooLarge }

// eventHeaderBytes is what EventBytes counts for an event's fixed fields.
const eventHeaderBytes = 128

// EventBytes returns the size Options.MaxEventBytes limits: 128 bytes for
// the fixed fields, plus the lengths of Topic, Tenant, Path, OldPath and
// Data, plus each attribute's key and value lengths and 8 bytes per
// attribute, plus 32 bytes per observation. It is close to the size the
// journal encodes, and it does not allocate.
func EventBytes(ev *semevent.Event) int {
	n := eventHeaderBytes + len(ev.Topic) + len(ev.Tenant) + len(ev.Path) + len(ev.OldPath) + len(ev.Data)
	for _, a := range ev.Attrs {
		n += 8 + len(a.Key) + len(a.Value)
	}
	return n + 32*len(ev.Observed)
}

// UnroutedError is reported once through Options.OnError for a
// subscription that no rule of Options.Router names: it gets no event from
// the live stream until a rule names it. Stats.Unrouted counts the events
// it did not get for that reason.
type UnroutedError struct {
	Subscription string
}

func (e *UnroutedError) Error() string {
	return fmt.Sprintf("propagation: subscription %q: no router rule names it, so it gets no events", e.Subscription)
}

// ReplayError reports a replaying subscription that stopped: its handler
// kept failing on the event at Offset after every retry and there was no
// dead-letter hook (or the hook failed too). The event was not committed:
// a new subscription with the same consumer gets it again.
type ReplayError struct {
	Subscription string
	Consumer     string
	Shard        int    // the coordinator's shard, for a replicated replay
	Offset       uint64 // the journal offset, or the shard's index for a replicated replay
	EventID      semevent.ID
	Err          error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("propagation: replay %q (consumer %q) stopped at offset %d, event %s: %v", e.Subscription, e.Consumer, e.Offset, e.EventID, e.Err)
}

// Unwrap returns the last handler (or dead-letter) error.
func (e *ReplayError) Unwrap() error { return e.Err }

// ErrConsumerName is wrapped by Subscribe's error for a Replay.Consumer
// name that the journal cannot store once scoped to its tenant.
var ErrConsumerName = errors.New("propagation: invalid consumer name")
