package breaker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vexfs/semevent"
)

// ErrCircuitOpen is returned by [Breaker.Allow] while the breaker is open
// (or half-open with its probe in flight); a workflow step attempt fails
// with it.
var ErrCircuitOpen = errors.New("automation/breaker: circuit open")

// Clock is the breaker's time source. automation.Clock and
// automationtest.Clock satisfy it.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Unix(0, semevent.Now()) }

// State is a circuit breaker's state.
type State uint8

// The breaker states.
const (
	Closed   State = iota // calls pass; consecutive failures are counted
	Open                  // calls fail fast with ErrCircuitOpen until OpenFor has passed
	HalfOpen              // one probe call passes; its outcome closes or reopens
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Options configure [New] and the executor's per-action
// breakers. The zero value means defaults.
type Options struct {
	// Failures is the number of consecutive failures that opens the
	// breaker. Default 5; negative disables the breaker.
	Failures int
	// OpenFor is how long an open breaker fails fast before letting one
	// probe through. Default 30 s.
	OpenFor time.Duration
	// Clock is the time source. Default the real clock.
	Clock Clock
}

// Validate lists every problem in o.
func (o *Options) Validate() error {
	e := &semevent.OptionsError{Options: "breaker.Options"}
	if o != nil && o.OpenFor < 0 {
		e.Addf("OpenFor", "%v is negative", o.OpenFor)
	}
	return e.Err()
}

// Breaker is a circuit breaker: after Failures consecutive failures it
// opens and rejects calls with [ErrCircuitOpen] for OpenFor; then it lets
// one probe through (half-open), which closes it on success and reopens
// it on failure. Call Allow before each call and, if it returned nil,
// Done exactly once after. Safe for concurrent use.
type Breaker struct {
	mu       sync.Mutex // guards the fields below
	state    State
	failures int
	openedAt time.Time
	probing  bool
	changes  uint64

	max     int
	openFor time.Duration
	clock   Clock
}

// New returns a closed breaker.
func New(opts *Options) (*Breaker, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenFor == 0 {
		o.OpenFor = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return &Breaker{max: o.Failures, openFor: o.OpenFor, clock: o.Clock}, nil
}

// Allow reports whether a call may proceed: nil, or [ErrCircuitOpen].
func (b *Breaker) Allow() error {
	if b.max < 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Open:
		if b.clock.Now().Sub(b.openedAt) < b.openFor {
			return ErrCircuitOpen
		}
		b.setLocked(HalfOpen)
		b.probing = true
		return nil
	case HalfOpen:
		if b.probing {
			return ErrCircuitOpen
		}
		b.probing = true
	}
	return nil
}

// Done records the outcome of a call that Allow let through.
func (b *Breaker) Done(err error) {
	if b.max < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.failures = 0
		b.probing = false
		b.setLocked(Closed)
		return
	}
	switch b.state {
	case Closed:
		b.failures++
		if b.failures >= b.max {
			b.openedAt = b.clock.Now()
			b.setLocked(Open)
		}
	case HalfOpen:
		b.probing = false
		b.openedAt = b.clock.Now()
		b.setLocked(Open)
	}
}

// Release gives back a call that Allow let through and that ended
// without telling anything about the action (it was cancelled): a
// half-open breaker lets the next probe through.
func (b *Breaker) Release() {
	if b.max < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

func (b *Breaker) setLocked(s State) {
	if b.state != s {
		b.state = s
		b.changes++
	}
}

// State returns the current state. An open breaker whose OpenFor has
// passed still reports Open until the next Allow.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
