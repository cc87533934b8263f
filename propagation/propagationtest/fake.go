// Package propagationtest provides a recording, synchronous fake
// [propagation.Propagator] for users' unit tests, and [TestPropagator], the
// conformance suite that every Propagator, the fake and the real bus alike,
// must pass.
package propagationtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

// Fake is an in-memory Propagator that delivers synchronously: Publish calls
// every matching handler on the caller's goroutine before it returns, so a
// test can assert right after Publish. It honours SubscribeOptions.Filter
// and Tenant; it has no router, journal or access control, and it neither
// queues nor drops. It records a copy of every published
// event, lets a test inject events as if they came from elsewhere, and can
// be told to fail. It is safe for concurrent use; handlers are called with
// no lock held, so they may publish, subscribe or unsubscribe.
type Fake struct {
	mu        sync.Mutex // guards every field below
	published []*semevent.Event
	count     uint64 // events published, never reset
	subs      []*fakeSub
	closed    bool
	failNext  []error
	nextID    uint64
	ids       *semevent.IDGenerator
	errs      []error
}

var (
	_ propagation.Propagator    = (*Fake)(nil)
	_ propagation.Batcher       = (*Fake)(nil)
	_ propagation.StatsReporter = (*Fake)(nil)
)

// New returns an empty Fake.
func New() *Fake { return &Fake{ids: semevent.NewIDGenerator(1)} }

type fakeSub struct {
	f     *Fake
	name  string
	h     semevent.Handler
	opts  propagation.SubscribeOptions
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}
	once  sync.Once
	stats propagation.SubscriptionStats // guarded by f.mu
}

func (s *fakeSub) Name() string          { return s.name }
func (s *fakeSub) Done() <-chan struct{} { return s.done }
func (s *fakeSub) Unsubscribe() {
	s.once.Do(func() {
		s.f.mu.Lock()
		for i, o := range s.f.subs {
			if o == s {
				s.f.subs = append(s.f.subs[:i:i], s.f.subs[i+1:]...)
				break
			}
		}
		s.f.mu.Unlock()
		s.stop()
		close(s.done)
	})
}

// Publish records a copy of ev and delivers ev to every matching
// subscription before returning. Like the bus it assigns ev.ID and ev.Time
// when zero and adds ev.Boundary to ev.Seen.
func (f *Fake) Publish(ctx context.Context, ev *semevent.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return fmt.Errorf("propagationtest: publish: %w", semevent.ErrClosed)
	}
	if len(f.failNext) > 0 {
		err := f.failNext[0]
		f.failNext = f.failNext[1:]
		f.mu.Unlock()
		return err
	}
	f.ids.Stamp(ev)
	ev.Seen = ev.Seen.With(ev.Boundary)
	f.published = append(f.published, ev.Clone())
	f.count++
	f.mu.Unlock()
	f.deliver(ev)
	return nil
}

// PublishBatch publishes evs in order, stopping at the first error.
func (f *Fake) PublishBatch(ctx context.Context, evs []*semevent.Event) error {
	for i, ev := range evs {
		if err := f.Publish(ctx, ev); err != nil {
			return &propagation.BatchError{Accepted: i, Err: err}
		}
	}
	return nil
}

// Inject delivers ev to the matching subscriptions as if it came from
// elsewhere (the kernel, a FUSE server, a remote node): it is not recorded
// as published and the fake's failure injection does not apply.
func (f *Fake) Inject(ev *semevent.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	f.deliver(ev)
	return nil
}

func (f *Fake) deliver(ev *semevent.Event) {
	f.mu.Lock()
	subs := append([]*fakeSub(nil), f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		if s.opts.Tenant != "" && s.opts.Tenant != ev.Tenant {
			continue
		}
		if s.opts.Filter != nil && !s.opts.Filter.Match(ev) {
			continue
		}
		err := s.call(ev)
		f.mu.Lock()
		s.stats.Matched++
		s.stats.Delivered++
		switch err.(type) {
		case nil:
		case *semevent.PanicError:
			s.stats.Panics++
		default:
			s.stats.Errors++
		}
		if err != nil {
			f.errs = append(f.errs, &propagation.HandlerError{Subscription: s.name, EventID: ev.ID, Err: err})
		}
		f.mu.Unlock()
	}
}

func (s *fakeSub) call(ev *semevent.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &semevent.PanicError{Where: fmt.Sprintf("handler of subscription %q", s.name), Value: r}
		}
	}()
	return s.h.Handle(s.ctx, ev)
}

// Subscribe registers h; delivery is synchronous with Publish and Inject.
func (f *Fake) Subscribe(h semevent.Handler, opts *propagation.SubscribeOptions) (propagation.Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("propagationtest: subscribe: %w", semevent.ErrNilHandler)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts != nil && opts.Replay != nil {
		return nil, fmt.Errorf("propagationtest: subscribe: the fake keeps no journal: %w", propagation.ErrNoJournal)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("propagationtest: subscribe: %w", semevent.ErrClosed)
	}
	f.nextID++
	var o propagation.SubscribeOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("sub-%d", f.nextID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeSub{f: f, name: o.Name, h: h, opts: o, ctx: ctx, stop: cancel, done: make(chan struct{})}
	s.stats.Name = o.Name
	f.subs = append(f.subs, s)
	return s, nil
}

// Close ends every subscription; later publishes fail with ErrClosed.
func (f *Fake) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	subs := append([]*fakeSub(nil), f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	return nil
}

// FailNext makes the next len(errs) calls to Publish return these errors,
// in order, without recording or delivering the event.
func (f *Fake) FailNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = append(f.failNext, errs...)
}

// Published returns copies of the events published so far, in order.
func (f *Fake) Published() []*semevent.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*semevent.Event, len(f.published))
	for i, ev := range f.published {
		out[i] = ev.Clone()
	}
	return out
}

// TakePublished returns the events published so far and forgets them.
func (f *Fake) TakePublished() []*semevent.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.published
	f.published = nil
	return out
}

// HandlerErrors returns the errors and recovered panics of handlers, each a
// *propagation.HandlerError.
func (f *Fake) HandlerErrors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

// Stats reports what the fake counted; it never queues, drops or
// deduplicates.
func (f *Fake) Stats() propagation.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := propagation.Stats{Published: f.count}
	for _, s := range f.subs {
		st.Subscriptions = append(st.Subscriptions, s.stats)
		st.Matched += s.stats.Matched
		st.Delivered += s.stats.Delivered
		st.Errors += s.stats.Errors
		st.Panics += s.stats.Panics
	}
	return st
}
