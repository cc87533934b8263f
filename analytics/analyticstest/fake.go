// Package analyticstest provides a recording fake [analytics.Analyzer] for
// users' unit tests and [TestAnalyzer], the conformance suite that every
// Analyzer, the fake, [analytics.Processor] and [analytics.Miner] alike,
// must pass.
package analyticstest

import (
	"context"
	"sync"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

// Fake is an in-memory Analyzer that records a copy of every event it is
// given, counts flushes, lets a test make the next calls fail, and emits
// results that the test injects (as if a window had closed) to OnResult.
// It is safe for concurrent use; OnResult is called with no lock held.
type Fake struct {
	// OnResult receives the results passed to Emit.
	OnResult func(analytics.Result)

	mu       sync.Mutex // guards the fields below
	events   []*semevent.Event
	flushes  int
	failNext []error
	wm       int64
}

var (
	_ analytics.Analyzer      = (*Fake)(nil)
	_ analytics.Advancer      = (*Fake)(nil)
	_ analytics.StatsReporter = (*Fake)(nil)
)

// New returns an empty Fake.
func New() *Fake { return &Fake{} }

// Handle records a copy of ev, or returns the next injected error.
func (f *Fake) Handle(_ context.Context, ev *semevent.Event) error {
	if ev == nil {
		return semevent.ErrNilEvent
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.popErrLocked(); err != nil {
		return err
	}
	f.events = append(f.events, ev.Clone())
	return nil
}

// Flush counts the flush, or returns the next injected error.
func (f *Fake) Flush(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.popErrLocked(); err != nil {
		return err
	}
	f.flushes++
	return nil
}

// Advance records t as the watermark when it is later than the current one.
func (f *Fake) Advance(_ context.Context, t int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wm = max(f.wm, t)
	return nil
}

// Stats reports the events recorded and the watermark.
func (f *Fake) Stats() analytics.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return analytics.Stats{Events: uint64(len(f.events)), Watermark: f.wm}
}

func (f *Fake) popErrLocked() error {
	if len(f.failNext) == 0 {
		return nil
	}
	err := f.failNext[0]
	f.failNext = f.failNext[1:]
	return err
}

// FailNext makes the next calls of Handle or Flush return errs, in order.
func (f *Fake) FailNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = append(f.failNext, errs...)
}

// Emit passes r to OnResult, as a Processor does when a window closes.
func (f *Fake) Emit(r analytics.Result) {
	if f.OnResult != nil {
		f.OnResult(r)
	}
}

// Events returns copies of the events handled so far.
func (f *Fake) Events() []*semevent.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*semevent.Event, len(f.events))
	for i, ev := range f.events {
		out[i] = ev.Clone()
	}
	return out
}

// TakeEvents returns the events handled so far and forgets them.
func (f *Fake) TakeEvents() []*semevent.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.events
	f.events = nil
	return out
}

// Flushes returns how many times Flush succeeded.
func (f *Fake) Flushes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushes
}
