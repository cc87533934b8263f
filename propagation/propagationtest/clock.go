package propagationtest

import (
	"slices"
	"sync"
	"time"

	"github.com/vexfs/semevent/propagation"
)

// Clock is a fake [propagation.Clock] (the same shape as automation's):
// time moves only through Advance, or, with auto set, whenever After is
// called (the timer fires at once and the clock jumps to its deadline).
// Pass it as propagation.Options.Clock so that dedup windows and replay
// backoff depend on no wall time. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex // guards the fields below
	now    time.Time
	auto   bool
	timers []fakeTimer
	sleeps []time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

var _ propagation.Clock = (*Clock)(nil)

// NewClock returns a clock at start; with auto, timers fire at once.
func NewClock(start time.Time, auto bool) *Clock { return &Clock{now: start, auto: auto} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once it reaches
// Now()+d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	ch := make(chan time.Time, 1)
	if c.auto || d <= 0 {
		if d > 0 {
			c.now = c.now.Add(d)
		}
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// Sleeps returns a copy of the durations passed to After, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// Waiting returns the number of timers not yet fired.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Deadlines returns the deadlines of the timers not yet fired, in the
// order they were set.
func (c *Clock) Deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := make([]time.Time, len(c.timers))
	for i, t := range c.timers {
		at[i] = t.at
	}
	return at
}
