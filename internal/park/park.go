// Package park lets a goroutine sleep until there is work, and lets the
// goroutines that make work wake it cheaply: a waker pays one atomic load
// when nobody sleeps.
package park

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parker puts one consumer goroutine to sleep until a producer calls Wake.
// Any number of goroutines may call Wake; one goroutine at a time may use
// Prepare/Cancel/Wait.
//
// The consumer's protocol: Prepare, check again for work, then Cancel if
// there is some or Wait if there is none. A producer makes its work visible
// before calling Wake, so either the consumer's check sees the work or the
// producer sees the consumer sleeping.
type Parker struct {
	sleeping atomic.Bool
	ch       chan struct{}
}

// New returns a Parker.
func New() *Parker { return &Parker{ch: make(chan struct{}, 1)} }

// Wake wakes the consumer if it is sleeping or about to.
func (p *Parker) Wake() {
	if p.sleeping.Load() {
		select {
		case p.ch <- struct{}{}:
		default:
		}
	}
}

// Prepare announces that the consumer is about to sleep.
func (p *Parker) Prepare() { p.sleeping.Store(true) }

// Cancel withdraws Prepare when the re-check found work.
func (p *Parker) Cancel() { p.sleeping.Store(false) }

// Wait sleeps until Wake, a receive on stop or extra, or a receive on the
// timer channel tc (nil channels never fire). It may return spuriously.
func (p *Parker) Wait(stop, extra <-chan struct{}, tc <-chan time.Time) {
	select {
	case <-p.ch:
	case <-stop:
	case <-extra:
	case <-tc:
	}
	p.sleeping.Store(false)
}

// Signal wakes every goroutine waiting for a condition (room in a queue)
// when the condition may have changed. Broadcast costs one atomic load when
// nobody waits.
type Signal struct {
	waiters atomic.Int32
	mu      sync.Mutex    // guards ch
	ch      chan struct{} // closed by Broadcast; nil when nobody waits
}

// Enter registers a waiter and returns the channel that Broadcast closes.
// The waiter must check its condition again after Enter, then either wait
// on the channel or not, and call Leave in both cases.
func (s *Signal) Enter() <-chan struct{} {
	s.waiters.Add(1)
	s.mu.Lock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	ch := s.ch
	s.mu.Unlock()
	return ch
}

// Leave unregisters a waiter.
func (s *Signal) Leave() { s.waiters.Add(-1) }

// Broadcast wakes every registered waiter.
func (s *Signal) Broadcast() {
	if s.waiters.Load() == 0 {
		return
	}
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}

// Spinner bounds a polling loop in time and learns whether polling pays:
// a consumer that finds no work polls again for a while, yielding the
// processor between polls, before it parks. Waking a parked goroutine costs
// microseconds (and tens of them when the waker's processor is busy); a
// spinning one sees new work within one yield. But a spin that ends without
// work burns its whole limit and, on a machine with fewer processors than
// busy goroutines, delays the goroutines that would make the work (each
// yield queues the spinner behind them). So the Spinner keeps a score of
// recent waits: a wait whose work came within a quarter of the limit (seen
// while spinning, or right after a wake) raises it, one that did not halves it,
// and the consumer spins only while the score is positive. After a few
// waits longer than the limit it parks at once, until short waits come
// back; parked waits keep teaching it, so it needs no probing.
//
// The consumer's protocol: Reset when it runs out of work, Spin while it
// may poll, and Found when work came (after spinning or after a wake).
type Spinner struct {
	limit time.Duration
	start int64 // nanotime of Reset
	n     int
	score int
}

// hitFraction: a wait counts as a hit when its work came within
// limit/hitFraction. Spinning through a gap burns the whole gap, parking
// costs a wake (a few microseconds of processor on both sides), so polling
// saves processor time only when gaps are much shorter than the limit; the
// full limit is still polled, to catch a late one.
const hitFraction = 4

// Bounds of Spinner.score.
const (
	scoreMax  = 8
	scoreInit = 2
)

// NewSpinner returns a Spinner that spins for up to limit; a limit of zero
// or less never spins.
func NewSpinner(limit time.Duration) Spinner { return Spinner{limit: limit, score: scoreInit} }

// Reset starts a new wait.
func (s *Spinner) Reset() {
	s.n = 0
	if s.limit > 0 {
		s.start = nanotime()
	}
}

// Spin yields the processor and reports whether the caller may poll again;
// false means the caller should park: polling has not paid lately, or the
// limit passed.
func (s *Spinner) Spin() bool {
	if s.limit <= 0 || s.score <= 0 {
		return false
	}
	if s.n&7 == 7 && nanotime()-s.start > int64(s.limit) {
		return false // Found will count the miss
	}
	s.n++
	runtime.Gosched()
	return true
}

// Found records that the wait Reset began ended with work: a hit when it
// came within limit/hitFraction.
func (s *Spinner) Found() {
	if s.limit <= 0 {
		return
	}
	if nanotime()-s.start <= int64(s.limit)/hitFraction {
		s.score = min(s.score+1, scoreMax)
	} else {
		s.score /= 2
	}
}

// Spinning reports whether the next wait will poll before parking.
func (s *Spinner) Spinning() bool { return s.limit > 0 && s.score > 0 }

var epoch = time.Now()

// nanotime reads the monotonic clock.
func nanotime() int64 { return int64(time.Since(epoch)) }
