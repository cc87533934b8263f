package filter

import "github.com/vexfs/semevent"

// Filter decides whether an event is wanted. Match must be safe for
// concurrent use and must not modify or retain the event.
type Filter interface {
	Match(ev *semevent.Event) bool
}

// Func adapts a plain function to [Filter].
type Func func(ev *semevent.Event) bool

// Match calls f(ev).
func (f Func) Match(ev *semevent.Event) bool { return f(ev) }
