// Package automationtest provides fakes for tests of code that uses
// package automation and its subpackages rules, cep and breaker: a
// controllable [Clock], an in-memory [Store] that
// can fail and "crash", and a recording [Publisher].
package automationtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// Clock is a fake automation.Clock: propagationtest.Clock, which has the
// same shape, so that one fake drives the bus and the executor. Time moves
// only through Advance, or, with auto set, whenever After is called: the
// timer fires at once and the clock jumps to its deadline, so retry
// backoff costs no real time. Every After duration is recorded in Sleeps.
// Safe for concurrent use.
type Clock = propagationtest.Clock

var _ automation.Clock = (*Clock)(nil)

// NewClock returns a clock at start; with auto, timers fire at once.
func NewClock(start time.Time, auto bool) *Clock { return propagationtest.NewClock(start, auto) }

// ErrInjected is the error Store returns for injected failures.
var ErrInjected = errors.New("automationtest: injected failure")

// Store is an in-memory automation.Store. It keeps encoded records, so
// every record goes through the real codec; FailAfter makes it fail, and
// Records returns what a restarted executor would load. Safe for
// concurrent use.
type Store struct {
	mu        sync.Mutex // guards the fields below
	recs      [][]byte
	failAfter int // -1: never
}

var _ automation.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store { return &Store{failAfter: -1} }

// FailAfter makes every Append after the next n fail with ErrInjected;
// a negative n stops failing.
func (s *Store) FailAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAfter = n
}

// Append records r.
func (s *Store) Append(ctx context.Context, r *automation.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAfter == 0 {
		return ErrInjected
	}
	if s.failAfter > 0 {
		s.failAfter--
	}
	s.recs = append(s.recs, automation.AppendRecord(nil, r))
	return nil
}

// Load decodes every record in order.
func (s *Store) Load(ctx context.Context, fn func(r *automation.Record) error) error {
	s.mu.Lock()
	recs := slices.Clone(s.recs)
	s.mu.Unlock()
	for _, b := range recs {
		r, err := automation.DecodeRecord(b)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Records returns decoded copies of every record.
func (s *Store) Records() []*automation.Record {
	var out []*automation.Record
	_ = s.Load(context.Background(), func(r *automation.Record) error {
		out = append(out, r)
		return nil
	})
	return out
}

// Publisher records the events published to it. Safe for concurrent use.
type Publisher struct {
	mu  sync.Mutex // guards evs
	evs []*semevent.Event
}

var _ semevent.Publisher = (*Publisher)(nil)

// Publish records a copy of ev.
func (p *Publisher) Publish(_ context.Context, ev *semevent.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, ev.Clone())
	return nil
}

// Events returns copies of the recorded events.
func (p *Publisher) Events() []*semevent.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*semevent.Event, len(p.evs))
	for i, ev := range p.evs {
		out[i] = ev.Clone()
	}
	return out
}

// Take returns the recorded events and forgets them.
func (p *Publisher) Take() []*semevent.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.evs
	p.evs = nil
	return out
}
