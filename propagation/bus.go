package propagation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/logx"
	"github.com/vexfs/semevent/internal/park"
)

// Bus is the default [Propagator]: an in-process event bus with one inbound
// queue per boundary, a dispatcher that serves the queues fairly, filters
// events per subscription and hands them to each subscription's workers
// through bounded buffers. Its methods may be called concurrently.
type Bus struct {
	opts       Options
	log        *slog.Logger // opts.Logger (or slog.Default()) with component=bus
	sampleMask uint32       // LatencySample rounded up to a power of two, minus 1
	ids        *semevent.IDGenerator
	inbound    [semevent.NumBoundaries]inbound
	wake       *park.Parker // the dispatcher sleeps on it
	recent     *recentIDs   // IDs of durable and replicated publishes; nil without a journal or coordinator
	cl         *cluster     // the coordinator's follower and replicator; nil without one

	closed  atomic.Bool   // set by Close: Publish refuses new events
	closing chan struct{} // closed when Close starts; wakes blocked publishers

	subMu   sync.Mutex                 // guards writes to subs, and all, ended and nextSub
	subs    atomic.Pointer[subSet]     // copy on write; the dispatcher reads it per event
	all     map[*subscription]struct{} // subscriptions whose workers still run
	ended   []SubscriptionStats        // final stats of subscriptions ended by Close
	nextSub uint64

	syncMu  sync.Mutex     // guards syncs
	syncs   []*syncRequest // Sync calls not yet seen by the dispatcher
	syncGen atomic.Uint64  // Sync calls so far; the dispatcher compares it with its own

	// epoch is odd while the dispatcher is dispatching a batch, even
	// between batches; quiesce waits on it.
	epoch atomic.Uint64

	draining chan struct{} // closed after the last publish: dispatcher drains
	aborting chan struct{} // closed when Close's ctx ends: stop delivering
	drained  chan struct{} // closed when the dispatcher has exited
	closeMu  sync.Mutex    // serialises Close

	dropClosed   atomic.Uint64 // inbound events dropped when Close gave up
	routerPanics atomic.Uint64
	deduplicated atomic.Uint64
	dedupEvicted atomic.Uint64
	journalErrs  atomic.Uint64
	tooLarge     atomic.Uint64
	finished     statsSum // totals of subscriptions that ended

	// For tests of the dispatcher's parking (export_test.go).
	rounds atomic.Uint64 // dispatcher rounds
	parked atomic.Bool   // the dispatcher sleeps
}

// inbound is one boundary's queue.
type inbound struct {
	q *xsync.MPMCQueueOf[envelope]
	// state counts publishes at this boundary in one word, so that a
	// publish costs two atomic adds: bits 0-19 and 20-39 are the publishes
	// in flight that registered in epoch 0 and 1 (Close waits them out;
	// the dispatcher's dedup watermark waits for the old epoch to drain),
	// and bits 40-63 the events accepted, modulo 2^24 (the dispatcher's
	// taken count is exact; the difference is the queue depth).
	state atomic.Uint64
	// ep's low bit is the epoch publishes register in. The dispatcher
	// flips it at deduplicated boundaries; see dispatcher.grace.
	ep    atomic.Uint32
	_     [52]byte // the dispatcher's fields on their own cache line
	taken atomic.Uint64
	space park.Signal // publishers wait on it when q is full
}

const (
	inflightBits = 20
	inflightMask = 1<<inflightBits - 1
	inflightAll  = 1<<(2*inflightBits) - 1
	acceptShift  = 2 * inflightBits
	acceptedMask = 1<<(64-acceptShift) - 1
	acceptOne    = 1 << acceptShift // add to count one accepted event
)

// enter registers a publish in flight in the current epoch and returns
// what leave or accept must take back. A publisher that stamps its event
// after enter stamps it no earlier than the dispatcher's clock reading
// before the flip that opened the epoch it registered in.
func (in *inbound) enter() uint64 {
	for {
		e := in.ep.Load() & 1
		inc := uint64(1) << (inflightBits * e)
		in.state.Add(inc)
		if in.ep.Load()&1 == e {
			return inc
		}
		in.state.Add(-inc) // the epoch flipped meanwhile: register in the new one
	}
}

// depth returns the number of accepted events not yet taken.
func (in *inbound) depth() uint64 {
	return (in.state.Load()>>acceptShift - in.taken.Load()) & acceptedMask
}

// envelope is what queues hold: the event; when timed, the process clock
// reading at publish for the latency histogram (0 otherwise); at a
// deduplicated boundary, the bus clock's publish stamp; and for a durable
// publish the commits waiting for the journal. Queues store envelopes by
// value, so passing an event allocates nothing.
type envelope struct {
	ev  *semevent.Event
	t   int64
	ts  int64
	c   *commit
	src source
}

// queue returns the boundary whose queue env travels in (committed
// records share the Remote queue, which keeps each shard's order) and
// whose deduplication applies to it.
func (env *envelope) queue() semevent.Boundary {
	if env.src >= srcOwn {
		return semevent.Remote
	}
	return env.ev.Boundary
}

// source says where an envelope comes from.
type source uint8

const (
	srcPublish   source = iota // a volatile or durable Publish
	srcReplicate               // a replicated Publish, on its way to the coordinator
	srcOwn                     // a record this node committed, back from the coordinator
	srcRemote                  // a record another node committed
)

var (
	_ Propagator    = (*Bus)(nil)
	_ Batcher       = (*Bus)(nil)
	_ StatsReporter = (*Bus)(nil)
)

// New returns a running bus. A nil *Options means defaults. It fails only
// when the options are invalid, or when it cannot read the IDs of the
// journal's last records (see Options.RecentIDs).
func New(opts *Options) (*Bus, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	node := o.Node
	var cl *cluster
	if o.Coordinator != nil {
		var err error
		if cl, err = newCluster(&o); err != nil {
			return nil, err
		}
		if node == 0 {
			node = uint32(cl.node)
		}
	}
	if node == 0 {
		node = rand.Uint32() | 1
	}
	b := &Bus{
		opts:       o,
		log:        logx.For(o.Logger, "bus"),
		ids:        semevent.NewIDGenerator(node),
		wake:       park.New(),
		sampleMask: uint32(1)<<bits.Len32(uint32(o.LatencySample-1)) - 1,
		closing:    make(chan struct{}),
		draining:   make(chan struct{}),
		aborting:   make(chan struct{}),
		drained:    make(chan struct{}),
		all:        make(map[*subscription]struct{}),
		cl:         cl,
	}
	b.subs.Store(&subSet{})
	for i := range b.inbound {
		b.inbound[i].q = xsync.NewMPMCQueueOf[envelope](o.QueueSize)
	}
	if o.Journal != nil || cl != nil {
		b.recent = newRecentIDs(o.RecentIDs)
	}
	if o.Journal != nil {
		if err := b.loadRecentIDs(); err != nil {
			return nil, err
		}
	}
	d := newDispatcher(b)
	go d.run()
	if cl != nil {
		if err := cl.start(b); err != nil {
			b.Close(context.Background())
			return nil, err
		}
	}
	return b, nil
}

// now reads the bus clock in Unix nanoseconds.
func (b *Bus) now() int64 {
	if b.opts.Clock == nil {
		return semevent.Now()
	}
	return b.opts.Clock.Now().UnixNano()
}

// dedupAt reports whether events at boundary bd take part in dedup, and
// so need a publish stamp.
func (b *Bus) dedupAt(bd semevent.Boundary) bool {
	return b.opts.Dedup != nil && b.opts.Dedup.Boundaries.Has(bd)
}

// Publish hands ev to the bus; see [Propagator.Publish]. Publish assigns
// ev.ID and ev.Time when they are zero and adds ev.Boundary to ev.Seen; the
// caller must not modify ev afterwards. ctx matters only when Publish has to
// wait for room, or, for a durable publish, for the journal. Events from
// one goroutine at one boundary are delivered in publish order.
//
// A durable Publish returns nil once the event is committed, an error
// wrapping [ErrOutcomeUnknown] when ctx ended before the bus knew, and any
// other error when the event was not committed. Publishing again an event
// whose ID the bus remembers (Options.RecentIDs) returns the first
// publish's outcome and appends nothing.
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
	switch b.level(ctx) {
	case Volatile:
		return b.enqueue(ctx, env)
	case Replicated:
		if b.cl == nil {
			return fmt.Errorf("propagation: publish: %w", ErrNoCoordinator)
		}
		env.src = srcReplicate
	}
	{
		c := newCommit(ev.ID)
		if old := b.recent.claim(ev.ID, c); old != nil {
			return b.outcome(old.wait(ctx)) // a retry: the first publish's outcome
		}
		env.c = c
		if err := b.enqueue(ctx, env); err != nil {
			b.recent.resolve(c, err) // never handed over: forget the ID
			return err
		}
		return b.outcome(c.wait(ctx))
	}
}

// outcome wraps a durable publish's journal error.
func (b *Bus) outcome(err error) error {
	if _, ok := errors.AsType[*ReplicateError](err); ok || err == nil || errors.Is(err, ErrOutcomeUnknown) {
		return err
	}
	return fmt.Errorf("propagation: publish: journal: %w", err)
}

// enqueue registers a publish in flight at env's boundary, stamps it when
// it takes part in dedup, and puts it on the queue, waiting for room while
// ctx allows.
func (b *Bus) enqueue(ctx context.Context, env envelope) error {
	return b.enqueueAt(ctx, env, env.ev.Boundary)
}

// enqueueAt is enqueue to boundary bd's queue.
func (b *Bus) enqueueAt(ctx context.Context, env envelope, bd semevent.Boundary) error {
	in := &b.inbound[bd]
	inc := in.enter() // in flight: Close waits for us from here
	if b.closed.Load() {
		in.state.Add(-inc)
		b.wake.Wake()
		return fmt.Errorf("propagation: publish: %w", semevent.ErrClosed)
	}
	if b.dedupAt(bd) {
		env.ts = b.now()
	}
	if !in.q.TryEnqueue(env) {
		if err := b.waitEnqueue(ctx, in, env); err != nil {
			in.state.Add(-inc)
			b.wake.Wake() // the dispatcher may wait for this epoch to drain
			return err
		}
	}
	in.state.Add(acceptOne - inc) // accepted, no longer in flight
	b.wake.Wake()
	return nil
}

// PublishBatch publishes evs in order; see [PublishBatch]. It validates the
// whole batch first, so an invalid event rejects the batch before any is
// accepted. A durable batch is handed over whole, then waited for: the
// *BatchError's Accepted counts the events known to be committed, and its
// error wraps [ErrOutcomeUnknown] when ctx ended before the bus knew the
// outcome of the others; publishing the same batch again is idempotent.
// A replicated batch is appended atomically (see the package doc's Cluster
// section), unless some of its events take part in dedup: each is then
// deduplicated and replicated as a replicated Publish would be, and the
// batch is handed over and waited for as a durable one.
func (b *Bus) PublishBatch(ctx context.Context, evs []*semevent.Event) error {
	for i, ev := range evs {
		if err := b.check(ev); err != nil {
			return &BatchError{Accepted: 0, Err: fmt.Errorf("event %d: %w", i, err)}
		}
	}
	level := b.level(ctx)
	if level == Replicated && b.cl == nil {
		return &BatchError{Err: fmt.Errorf("propagation: publish: %w", ErrNoCoordinator)}
	}
	if level == Volatile {
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
	src := srcPublish
	if level == Replicated {
		// Events that take part in dedup fold before they are replicated,
		// each on its own; a batch with none is appended atomically.
		if !slices.ContainsFunc(evs, func(ev *semevent.Event) bool { return b.dedupAt(ev.Boundary) }) {
			return b.cl.publishBatch(ctx, evs)
		}
		src = srcReplicate
	}
	commits := make([]*commit, len(evs))
	var failed error
	for i, ev := range evs {
		env, _ := b.stamp(ev) // checked above
		c := newCommit(ev.ID)
		if old := b.recent.claim(ev.ID, c); old != nil {
			commits[i] = old // a retry: wait for the first outcome
			continue
		}
		commits[i] = c
		if failed != nil {
			b.recent.resolve(c, failed)
			continue
		}
		env.c, env.src = c, src
		if err := b.enqueue(ctx, env); err != nil {
			b.recent.resolve(c, err)
			failed = err
		}
	}
	for i, c := range commits {
		if err := c.wait(ctx); err != nil {
			return &BatchError{Accepted: i, Err: b.outcome(err)}
		}
	}
	return nil
}

// check validates ev and checks its size against Options.MaxEventBytes.
func (b *Bus) check(ev *semevent.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	if max := b.opts.MaxEventBytes; max > 0 {
		if n := EventBytes(ev); n > max {
			b.tooLarge.Add(1)
			return &EventTooLargeError{ID: ev.ID, Bytes: n, Max: max}
		}
	}
	return nil
}

// stamp checks ev and fills in what the bus assigns.
func (b *Bus) stamp(ev *semevent.Event) (envelope, error) {
	if err := b.check(ev); err != nil {
		return envelope{}, err
	}
	env := envelope{ev: ev}
	if now := b.ids.Stamp(ev); now != 0 {
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
	if r := o.Replay; r != nil {
		switch {
		case !r.Replicated && b.opts.Journal == nil:
			return nil, fmt.Errorf("propagation: subscribe %q: %w", o.Name, ErrNoJournal)
		case r.Replicated && b.cl == nil:
			return nil, fmt.Errorf("propagation: subscribe %q: %w", o.Name, ErrNoCoordinator)
		case r.Replicated && r.Consumer != "":
			if _, ok := b.opts.Coordinator.(offsetStore); !ok {
				return nil, fmt.Errorf("propagation: subscribe %q: %T: %w", o.Name, b.opts.Coordinator, ErrNoOffsets)
			}
		}
	}
	var checker EventChecker
	if a := b.opts.Authorizer; a != nil {
		var err error
		if checker, err = a.SubscribeChecker(o.Principal, o.Replay != nil); err != nil {
			return nil, fmt.Errorf("propagation: subscribe %q: %w", o.Name, err)
		}
	}
	var consumer string
	if o.Replay != nil && o.Replay.Consumer != "" {
		var err error
		if consumer, err = scopedConsumer(subscriberTenant(&o), o.Replay.Consumer); err != nil {
			return nil, fmt.Errorf("propagation: subscribe %q: %w", o.Name, err)
		}
	}
	b.nextSub++
	s := newSubscription(b, h, o)
	s.checker = checker
	s.consumer = consumer
	if o.Replay == nil {
		b.subs.Store(b.subs.Load().with(s))
		b.checkRouted(s)
	}
	b.all[s] = struct{}{}
	s.start()
	return s, nil
}

// destinationLister is implemented by routers that can list every name
// their rules may produce (*routing.Table does); the bus uses it to report
// subscriptions no rule names.
type destinationLister interface {
	Destinations() []string
}

// checkRouted marks s unrouted, and reports it once through OnError, when
// the router lists its destinations and s's name is not among them.
func (b *Bus) checkRouted(s *subscription) {
	l, ok := b.opts.Router.(destinationLister)
	if !ok {
		return
	}
	named := slices.Contains(l.Destinations(), s.opts.Name)
	s.unrouted.Store(!named)
	if !named && !s.reportedUnrouted.Swap(true) {
		b.log.LogAttrs(context.Background(), slog.LevelWarn, "subscription named by no router rule: it receives nothing",
			slog.String(logx.Subscription, s.opts.Name))
		if f := b.opts.OnError; f != nil {
			f(&UnroutedError{Subscription: s.opts.Name})
		}
	}
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
		for b.inbound[i].state.Load()&inflightAll != 0 {
			time.Sleep(10 * time.Microsecond)
		}
	}
	if b.cl != nil {
		b.cl.stopFollowing() // committed records not yet taken stay in the log
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
		if b.cl != nil && !b.cl.stopReplicating(ctx) {
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
		if b.cl != nil {
			b.cl.abort()
		}
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
	st.DedupEvicted = b.dedupEvicted.Load()
	st.JournalErrors = b.journalErrs.Load()
	st.TooLarge = b.tooLarge.Load()
	if b.recent != nil {
		st.RecentIDsEvicted = b.recent.evicted.Load()
	}
	st.Dropped.Closed = b.dropClosed.Load()
	if cl := b.cl; cl != nil {
		st.Replicated = cl.replicated.Load()
		st.ReplicationErrors = cl.replErrs.Load()
		st.RemoteDenied = cl.remoteDenied.Load()
		st.RemoteInvalid = cl.remoteInvalid.Load()
	}
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
		st.Retries += ss.Retries
		st.DeadLettered += ss.DeadLettered
		if ss.Unrouted {
			st.Unrouted++
		}
	}
	st.Subscriptions = append(st.Subscriptions, b.ended...)
	slices.SortFunc(st.Subscriptions, func(a, b SubscriptionStats) int { return strings.Compare(a.Name, b.Name) })
	st.Latency = lat.stats()
	return st
}
