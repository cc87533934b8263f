package automation

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// BreakerState is a circuit breaker's state.
type BreakerState uint8

// The breaker states.
const (
	Closed   BreakerState = iota // calls pass; consecutive failures are counted
	Open                         // calls fail fast with ErrCircuitOpen until OpenFor has passed
	HalfOpen                     // one probe call passes; its outcome closes or reopens
)

func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", uint8(s))
}

// BreakerOptions configure [NewBreaker] and the executor's per-action
// breakers. The zero value means defaults.
type BreakerOptions struct {
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
func (o *BreakerOptions) Validate() error {
	p := problems{name: "BreakerOptions"}
	if o != nil && o.OpenFor < 0 {
		p.addf("OpenFor %v is negative", o.OpenFor)
	}
	return p.err()
}

// Breaker is a circuit breaker: after Failures consecutive failures it
// opens and rejects calls with [ErrCircuitOpen] for OpenFor; then it lets
// one probe through (half-open), which closes it on success and reopens
// it on failure. Call Allow before each call and, if it returned nil,
// Done exactly once after. Safe for concurrent use.
type Breaker struct {
	mu       sync.Mutex // guards the fields below
	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
	changes  uint64

	max     int
	openFor time.Duration
	clock   Clock
}

// NewBreaker returns a closed breaker.
func NewBreaker(opts *BreakerOptions) (*Breaker, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o BreakerOptions
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

// release gives back a call that Allow let through and that ended
// without telling anything about the action (it was cancelled).
func (b *Breaker) release() {
	if b.max < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

func (b *Breaker) setLocked(s BreakerState) {
	if b.state != s {
		b.state = s
		b.changes++
	}
}

// State returns the current state. An open breaker whose OpenFor has
// passed still reports Open until the next Allow.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// RetryPolicy says how a step is retried: up to MaxAttempts attempts,
// waiting Initial, Initial×Multiplier, … (at most Max) between them, each
// wait varied at random by ±Jitter of itself. The zero value means
// defaults: 3 attempts, 100 ms, ×2, at most 10 s, jitter 0.2. Use
// MaxAttempts 1 for no retry. Errors wrapped by [Permanent] and context
// cancellation are not retried.
type RetryPolicy struct {
	MaxAttempts int
	Initial     time.Duration
	Max         time.Duration
	Multiplier  float64
	Jitter      float64 // 0 to 1; negative means none
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.Initial <= 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	p.Jitter = min(p.Jitter, 1)
	return p
}

// Backoff returns the wait after the given failed attempt (1-based),
// using u, a uniform random number in [0, 1), for the jitter.
func (p RetryPolicy) Backoff(attempt int, u float64) time.Duration {
	p = p.withDefaults()
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-1))
	d = min(d, float64(p.Max))
	d *= 1 - p.Jitter + 2*p.Jitter*u
	return time.Duration(d)
}

func defaultRand() float64 { return rand.Float64() }

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that the step is not retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was wrapped by [Permanent].
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
