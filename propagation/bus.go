package propagation

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/park"
)

// Bus is the default [Propagator]: an in-process event bus with one inbound
// queue per boundary, a dispatcher that serves the queues fairly, filters
// events per subscription and hands them to each subscription's workers
// through bounded buffers. Its methods may be called concurrently.
type Bus struct {
	opts       Options
	sampleMask uint32 // LatencySample rounded up to a power of two, minus 1
	ids        *semevent.IDGenerator
	inbound    [semevent.NumBoundaries]inbound
	wake       *park.Parker // the dispatcher sleeps on it

	closed  atomic.Bool   // set by Close: Publish refuses new events
	closing chan struct{} // closed when Close starts; wakes blocked publishers

	subMu   sync.Mutex                 // guards writes to subs, and all, ended and nextSub
	subs    atomic.Pointer[subSet]     // copy on write; the dispatcher reads it per event
	all     map[*subscription]struct{} // subscriptions whose workers still run
	ended   []SubscriptionStats        // final stats of subscriptions ended by Close
	nextSub uint64

	// epoch is odd while the dispatcher is dispatching a batch, even
	// between batches; quiesce waits on it.
	epoch atomic.Uint64

	draining chan struct{} // closed after the last publish: dispatcher drains
	aborting chan struct{} // closed when Close's ctx ends: stop delivering
	drained  chan struct{} // closed when the dispatcher has exited
	closeMu  sync.Mutex    // serialises Close
	closeErr error         // guarded by closeMu

	dropClosed   atomic.Uint64 // inbound events dropped when Close gave up
	routerPanics atomic.Uint64
	deduplicated atomic.Uint64
	finished     statsSum // totals of subscriptions that ended
}

// inbound is one boundary's queue.
type inbound struct {
	q *xsync.MPMCQueueOf[envelope]
	// state counts publishes at this boundary in one word, so that a
	// publish costs two atomic adds: the low 24 bits are publishes in
	// flight, which Close waits out, and the high 40 bits the events
	// accepted, modulo 2^40 (the dispatcher's taken count is exact; the
	// difference is the queue depth).
	state atomic.Uint64
	_     [56]byte // the dispatcher's fields on their own cache line
	taken atomic.Uint64
	space park.Signal // publishers wait on it when q is full
}

const (
	inflightBits = 24
	inflightMask = 1<<inflightBits - 1
	acceptedMask = 1<<(64-inflightBits) - 1
	acceptOne    = 1 << inflightBits // add to count one accepted event
)

// depth returns the number of accepted events not yet taken.
func (in *inbound) depth() uint64 {
	return (in.state.Load()>>inflightBits - in.taken.Load()) & acceptedMask
}

// envelope is what queues hold: the event and, when timed, the process
// clock reading at publish (0 otherwise). Queues store envelopes by value,
// so passing an event allocates nothing.
type envelope struct {
	ev *semevent.Event
	t  int64
}

var (
	_ Propagator    = (*Bus)(nil)
	_ Batcher       = (*Bus)(nil)
	_ StatsReporter = (*Bus)(nil)
)

// New returns a running bus. A nil *Options means defaults. It fails only
// when the options are invalid.
func New(opts *Options) (*Bus, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	node := o.Node
	if node == 0 {
		node = rand.Uint32() | 1
	}
	b := &Bus{
		opts:       o,
		ids:        semevent.NewIDGenerator(node),
		wake:       park.New(),
		sampleMask: uint32(1)<<bits.Len32(uint32(o.LatencySample-1)) - 1,
		closing:    make(chan struct{}),
		draining:   make(chan struct{}),
		aborting:   make(chan struct{}),
		drained:    make(chan struct{}),
		all:        make(map[*subscription]struct{}),
	}
	b.subs.Store(&subSet{})
	for i := range b.inbound {
		b.inbound[i].q = xsync.NewMPMCQueueOf[envelope](o.QueueSize)
	}
	d := newDispatcher(b)
	go d.run()
	return b, nil
}

// Publish hands ev to the bus; see [Propagator.Publish]. Publish assigns
// ev.ID and ev.Time when they are zero and adds ev.Boundary to ev.Seen; the
// caller must not modify ev afterwards. ctx matters only when Publish has to
// wait for room. Events from one goroutine at one boundary are delivered in
// publish order.
func (b *Bus) Publish(ctx context.Context, ev *semevent.Event) error {
	env, err := b.stamp(ev)
	if err != nil {
		return err
	}
	if a := b.opts.Authorizer; a != nil {
		if err := a.CheckPublish(ctx, ev); err != nil {
			return fmt.Errorf("propagation: publish: %w", err)
		}
	}
	in := &b.inbound[ev.Boundary]
	in.state.Add(1) // in flight: Close waits for us from here
	if b.closed.Load() {
		in.state.Add(^uint64(0))
		return fmt.Errorf("propagation: publish: %w", semevent.ErrClosed)
	}
	if b.opts.Journal != nil && b.durable(ctx) {
		if _, err := b.opts.Journal.Append(ctx, ev); err != nil {
			in.state.Add(^uint64(0))
			return fmt.Errorf("propagation: publish: journal: %w", err)
		}
	}
	return b.enqueueInFlight(ctx, in, env)
}

// enqueueInFlight puts env on its boundary's queue, waiting for room while
// ctx allows, and ends the publish that the caller counted in flight.
func (b *Bus) enqueueInFlight(ctx context.Context, in *inbound, env envelope) error {
	if !in.q.TryEnqueue(env) {
		if err := b.waitEnqueue(ctx, in, env); err != nil {
			in.state.Add(^uint64(0))
			return err
		}
	}
	in.state.Add(acceptOne - 1) // accepted, no longer in flight
	b.wake.Wake()
	return nil
}

// PublishBatch publishes evs in order; see [PublishBatch]. It validates the
// whole batch first, so an invalid event rejects the batch before any is
// accepted. A durable batch is committed to the journal with one append
// before any of it is offered to subscriptions; if that offer then fails
// (ctx ended while waiting for room), the *BatchError's Accepted counts
// the events offered, and all of them stay in the journal.
func (b *Bus) PublishBatch(ctx context.Context, evs []*semevent.Event) error {
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			return &BatchError{Accepted: 0, Err: fmt.Errorf("event %d: %w", i, err)}
		}
	}
	if !b.durable(ctx) {
		for i, ev := range evs {
			if err := b.Publish(ctx, ev); err != nil {
				return &BatchError{Accepted: i, Err: err}
			}
		}
		return nil
	}
	if a := b.opts.Authorizer; a != nil {
		for i, ev := range evs {
			if err := a.CheckPublish(ctx, ev); err != nil {
				return &BatchError{Err: fmt.Errorf("propagation: publish: event %d: %w", i, err)}
			}
		}
	}
	envs := make([]envelope, len(evs))
	for i, ev := range evs {
		envs[i], _ = b.stamp(ev) // validated above
		b.inbound[ev.Boundary].state.Add(1)
	}
	endFrom := func(i int) {
		for _, ev := range evs[i:] {
			b.inbound[ev.Boundary].state.Add(^uint64(0))
		}
	}
	if b.closed.Load() {
		endFrom(0)
		return &BatchError{Err: fmt.Errorf("propagation: publish: %w", semevent.ErrClosed)}
	}
	if _, err := b.opts.Journal.AppendBatch(ctx, evs); err != nil {
		endFrom(0)
		return &BatchError{Err: fmt.Errorf("propagation: publish: journal: %w", err)}
	}
	for i, env := range envs {
		if err := b.enqueueInFlight(ctx, &b.inbound[env.ev.Boundary], env); err != nil {
			endFrom(i + 1)
			return &BatchError{Accepted: i, Err: err}
		}
	}
	return nil
}

// stamp validates ev and fills in what the bus assigns.
func (b *Bus) stamp(ev *semevent.Event) (envelope, error) {
	if err := ev.Validate(); err != nil {
		return envelope{}, err
	}
	env := envelope{ev: ev}
	if ev.Time == 0 || ev.ID.IsZero() {
		now := semevent.Now()
		if ev.Time == 0 {
			ev.Time = now
		}
		if ev.ID.IsZero() {
			ev.ID = b.ids.NextAt(now)
		}
		env.t = now
	} else if rand.Uint32()&b.sampleMask == 0 {
		env.t = semevent.Now()
	}
	if !ev.Seen.Has(ev.Boundary) {
		ev.Seen = ev.Seen.With(ev.Boundary)
	}
	return env, nil
}

func (b *Bus) waitEnqueue(ctx context.Context, in *inbound, env envelope) error {
	for {
		ch := in.space.Enter()
		if in.q.TryEnqueue(env) {
			in.space.Leave()
			return nil
		}
		b.wake.Wake() // the dispatcher may be asleep with a full queue
		select {
		case <-ch:
			in.space.Leave()
		case <-ctx.Done():
			in.space.Leave()
			return fmt.Errorf("propagation: publish: waiting for room at the %s queue: %w", env.ev.Boundary, ctx.Err())
		case <-b.closing:
			in.space.Leave()
			return fmt.Errorf("propagation: publish: %w", semevent.ErrClosed)
		}
		if in.q.TryEnqueue(env) {
			return nil
		}
	}
}

// Subscribe registers h; see [Propagator.Subscribe]. Events published after
// Subscribe returns are offered to the new subscription.
func (b *Bus) Subscribe(h semevent.Handler, opts *SubscribeOptions) (Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("propagation: subscribe: %w", semevent.ErrNilHandler)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b.subMu.Lock()
	defer b.subMu.Unlock()
	select {
	case <-b.closing:
		return nil, fmt.Errorf("propagation: subscribe: %w", semevent.ErrClosed)
	default:
	}
	o := opts.withDefaults(b.nextSub + 1)
	if o.Replay != nil && b.opts.Journal == nil {
		return nil, fmt.Errorf("propagation: subscribe %q: %w", o.Name, ErrNoJournal)
	}
	var checker EventChecker
	if a := b.opts.Authorizer; a != nil {
		var err error
		if checker, err = a.SubscribeChecker(o.Principal, o.Replay != nil); err != nil {
			return nil, fmt.Errorf("propagation: subscribe %q: %w", o.Name, err)
		}
	}
	b.nextSub++
	s := newSubscription(b, h, o)
	s.checker = checker
	if o.Replay == nil {
		b.subs.Store(b.subs.Load().with(s))
	}
	b.all[s] = struct{}{}
	s.start()
	return s, nil
}

// remove takes s out of the set the dispatcher reads.
func (b *Bus) remove(s *subscription) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.subs.Store(b.subs.Load().without(s))
}

// subSet is an immutable snapshot of the live-stream subscriptions, in
// order and, for routing, by name.
type subSet struct {
	list   []*subscription
	byName map[string][]*subscription
}

func (ss *subSet) with(s *subscription) *subSet {
	return newSubSet(append(slices.Clip(ss.list), s))
}

func (ss *subSet) without(s *subscription) *subSet {
	return newSubSet(slices.DeleteFunc(slices.Clone(ss.list), func(o *subscription) bool { return o == s }))
}

func newSubSet(list []*subscription) *subSet {
	ss := &subSet{list: list, byName: make(map[string][]*subscription, len(list))}
	for _, s := range list {
		ss.byName[s.opts.Name] = append(ss.byName[s.opts.Name], s)
	}
	return ss
}

// retire folds the totals of a subscription whose workers have all exited
// into the bus's, so that counters never go down.
func (b *Bus) retire(s *subscription) {
	var lat latencySum
	ss := s.stats(&lat)
	b.subMu.Lock()
	defer b.subMu.Unlock()
	delete(b.all, s)
	if !s.leaving.Load() {
		b.ended = append(b.ended, ss) // ended by Close: still listed
	}
	b.finished.add(ss, &lat.s)
}

// quiesce returns once the dispatcher is between batches (or gone), so that
// a subscription removed from the list before the call gets no more events.
func (b *Bus) quiesce() {
	e := b.epoch.Load()
	if e%2 == 0 {
		return
	}
	for b.epoch.Load() == e {
		select {
		case <-b.drained:
			return
		default:
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// Close stops the bus; see [Propagator.Close]. Publishers blocked waiting
// for room get an error wrapping semevent.ErrClosed; everything accepted
// before is delivered unless ctx ends first.
func (b *Bus) Close(ctx context.Context) error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	select {
	case <-b.closing:
		return nil // closed before; its result was returned then
	default:
	}
	b.subMu.Lock()
	close(b.closing)
	b.subMu.Unlock()

	b.closed.Store(true)
	for i := range b.inbound { // wait out publishes in flight; none can block now
		for b.inbound[i].state.Load()&inflightMask != 0 {
			time.Sleep(10 * time.Microsecond)
		}
	}
	close(b.draining)
	b.wake.Wake()

	b.subMu.Lock()
	subs := make([]*subscription, 0, len(b.all))
	for s := range b.all {
		subs = append(subs, s)
	}
	b.subMu.Unlock()
	wait := func() bool {
		select {
		case <-b.drained:
		case <-ctx.Done():
			return false
		}
		for _, s := range subs {
			if s.opts.Replay != nil {
				s.cancel() // a replay follows the journal forever: end it
			}
		}
		for _, s := range subs {
			select {
			case <-s.done:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	if !wait() {
		close(b.aborting)
		for _, s := range subs {
			s.abort()
		}
		// The dispatcher calls no handler once aborting, so this wait is
		// short: it counts what is still queued as dropped and exits.
		<-b.drained
		return fmt.Errorf("propagation: close: %w", ctx.Err())
	}
	return nil
}

// Stats returns a snapshot of the bus's counters.
func (b *Bus) Stats() Stats {
	var st Stats
	for i := range b.inbound {
		in := &b.inbound[i]
		depth := in.depth()
		st.Boundaries[i] = BoundaryStats{Published: in.taken.Load() + depth, Depth: int(depth)}
		st.Published += st.Boundaries[i].Published
	}
	st.Deduplicated = b.deduplicated.Load()
	st.Dropped.Closed = b.dropClosed.Load()
	st.Panics = b.routerPanics.Load()
	var lat latencySum
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.finished.addTo(&st, &lat)
	for s := range b.all {
		ss := s.stats(&lat)
		st.Subscriptions = append(st.Subscriptions, ss)
		st.Matched += ss.Matched
		st.Denied += ss.Denied
		st.Delivered += ss.Delivered
		st.Dropped.add(ss.Dropped)
		st.Errors += ss.Errors
		st.Panics += ss.Panics
	}
	st.Subscriptions = append(st.Subscriptions, b.ended...)
	slices.SortFunc(st.Subscriptions, func(a, b SubscriptionStats) int { return strings.Compare(a.Name, b.Name) })
	st.Latency = lat.stats()
	return st
}
