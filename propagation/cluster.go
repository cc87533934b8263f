package propagation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/internal/logx"
)

// ErrNoCoordinator is returned by a Replicated Publish, and by Subscribe
// for a Replay with Replicated, on a bus without Options.Coordinator.
var ErrNoCoordinator = errors.New("propagation: no coordinator configured")

// ErrNoOffsets is returned by Subscribe for a replicated Replay with a
// Consumer when Options.Coordinator does not keep consumer offsets (it
// does not implement coord.Offsets).
var ErrNoOffsets = errors.New("propagation: the coordinator keeps no consumer offsets")

// ReplicateError is the error of a replicated Publish that the coordinator
// refused: the event was not committed. It wraps the coordinator's error.
// (When the coordinator cannot know whether the event committed, Publish
// returns an *[OutcomeUnknownError] instead.)
type ReplicateError struct {
	ID  semevent.ID
	Err error
}

func (e *ReplicateError) Error() string {
	return fmt.Sprintf("propagation: replicated publish of %s: %v", e.ID, e.Err)
}

// Unwrap returns the coordinator's error.
func (e *ReplicateError) Unwrap() error { return e.Err }

// PrincipalBinder is implemented by an [Authorizer] that can check events
// for a principal given outside a ctx: BindPrincipal returns a ctx under
// which CheckPublish checks principal (an error if principal is not of the
// type it takes). The bus calls it once, at New, for
// Options.RemotePrincipal. *access.Authorizer implements it.
type PrincipalBinder interface {
	BindPrincipal(ctx context.Context, principal any) (context.Context, error)
}

// offsetStore is coord.Offsets: coordinators that keep named consumers'
// progress per shard.
type offsetStore interface {
	CommitOffset(shard int, name string, next uint64) error
	CommittedOffset(shard int, name string) (next uint64, ok bool, err error)
}

type positionKey struct{}

// ReplicatedPosition returns the position in the coordinator's log of the
// event being handled, from the ctx a handler of a replicated [Replay]
// receives.
func ReplicatedPosition(ctx context.Context) (coord.Position, bool) {
	p, ok := ctx.Value(positionKey{}).(coord.Position)
	return p, ok
}

// Bounds of one replication append: the replicator groups the replicated
// publishes waiting for it into one Append of at most this many events and
// bytes (as EventBytes counts them); a larger single event goes alone.
const (
	maxGroupEvents = 1024
	maxGroupBytes  = 512 << 10
)

// cluster is a bus's side of a coordinator: the followers that take every
// committed record of every shard into the dispatcher, and the replicator
// goroutine that appends replicated publishes.
type cluster struct {
	b         *Bus
	c         coord.Coordinator
	node      uint64          // the coordinator's node: records with another Origin are remote
	shards    int             // the coordinator's shards
	remoteCtx context.Context // carries RemotePrincipal; nil without an Authorizer
	from      []uint64        // per shard: the first index the followers take

	subs      []coord.Subscription
	ingested  []atomic.Uint64 // per shard: the last index taken into the dispatcher
	committed []atomic.Uint64 // per shard: the highest index this bus's appends committed

	mu     sync.Mutex // guards queue and closed
	queue  []replItem
	closed bool
	wake   chan struct{} // the replicator sleeps on it
	done   chan struct{} // closed when the replicator exits
	ctx    context.Context
	cancel context.CancelFunc

	replicated, replErrs, remoteDenied, remoteInvalid atomic.Uint64
	deniedLog                                         logx.Limiter
}

// replItem is a replicated publish, or a whole replicated batch.
type replItem struct {
	env   envelope
	batch []envelope
}

func newCluster(o *Options) (*cluster, error) {
	cl := &cluster{c: o.Coordinator, wake: make(chan struct{}, 1), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := o.Coordinator.Health(ctx)
	cl.node, cl.shards = h.Node, len(h.Shards)
	if cl.shards == 0 {
		return nil, fmt.Errorf("propagation: new: the coordinator reports no shards (Health)")
	}
	cl.from = make([]uint64, cl.shards)
	for _, sh := range h.Shards {
		if sh.Shard >= 0 && sh.Shard < cl.shards {
			cl.from[sh.Shard] = sh.Applied + 1
		}
	}
	if o.Authorizer != nil {
		var err error
		if cl.remoteCtx, err = o.Authorizer.(PrincipalBinder).BindPrincipal(context.Background(), o.RemotePrincipal); err != nil {
			return nil, fmt.Errorf("propagation: new: Options.RemotePrincipal: %w", err)
		}
	}
	cl.ingested = make([]atomic.Uint64, cl.shards)
	cl.committed = make([]atomic.Uint64, cl.shards)
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	return cl, nil
}

// start follows every shard from where this node has applied, and starts
// the replicator.
func (cl *cluster) start(b *Bus) error {
	cl.b = b
	go cl.run()
	for shard := range cl.shards {
		cl.ingested[shard].Store(cl.from[shard] - 1)
		sub, err := cl.c.Subscribe(shard, cl.from[shard], coord.HandlerFunc(cl.ingest))
		if err != nil {
			return fmt.Errorf("propagation: new: following shard %d of the coordinator: %w", shard, err)
		}
		cl.subs = append(cl.subs, sub)
	}
	return nil
}

// ingest takes one committed record into the dispatcher, at the Remote
// queue: one queue keeps each shard's order.
func (cl *cluster) ingest(ctx context.Context, rec coord.Record) error {
	b := cl.b
	if ev, src, ok := cl.view(rec, true); ok {
		env := envelope{ev: ev, src: src}
		if rand.Uint32()&b.sampleMask == 0 {
			env.t = semevent.Now()
		}
		if err := b.enqueueAt(ctx, env, semevent.Remote); err != nil {
			return err
		}
	}
	storeMax(&cl.ingested[rec.Shard], rec.Index)
	return nil
}

// view returns a committed record's event as this node's subscribers see
// it: this node's own event (Origin is this node; or, from a coordinator
// that leaves Origin zero, an ID among the bus's recent publishes) as
// committed; another node's as a copy at the
// Remote boundary whose Observed keeps the original sighting — after the
// RemotePrincipal check. ok is false for an event this node does not
// deliver.
func (cl *cluster) view(rec coord.Record, count bool) (*semevent.Event, source, bool) {
	if rec.Event == nil {
		if count {
			cl.remoteInvalid.Add(1)
		}
		return nil, 0, false
	}
	if rec.Origin != 0 && rec.Origin == cl.node || rec.Origin == 0 && cl.b.recent.has(rec.Event.ID) {
		return rec.Event, srcOwn, true
	}
	ev := remoteView(rec.Event)
	if err := ev.Validate(); err != nil {
		if count {
			cl.remoteInvalid.Add(1)
			cl.logRefused(rec, "remote event invalid: not delivered", err)
		}
		return nil, 0, false
	}
	if cl.remoteCtx != nil {
		if err := cl.b.opts.Authorizer.CheckPublish(cl.remoteCtx, ev); err != nil {
			if count {
				cl.remoteDenied.Add(1)
				cl.logRefused(rec, "remote event denied to Options.RemotePrincipal: not delivered", err)
			}
			return nil, 0, false
		}
	}
	return ev, srcRemote, true
}

func (cl *cluster) logRefused(rec coord.Record, msg string, err error) {
	lg := cl.b.log
	if !lg.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	if n, ok := cl.deniedLog.Note(cl.b.now()); ok {
		lg.LogAttrs(context.Background(), slog.LevelWarn, msg, slog.String(logx.Event, rec.Event.ID.String()),
			slog.Int("shard", rec.Shard), slog.Uint64("index", rec.Index), slog.Uint64("origin", rec.Origin),
			slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
	}
}

// remoteView returns a copy of ev as seen from another node: Boundary
// Remote, Remote added to Seen, and the original sighting (ID, Boundary,
// Time, PID) appended to Observed. Every other field, trace context, cause
// and attributes included, is ev's (slices shared: events are read-only).
func remoteView(ev *semevent.Event) *semevent.Event {
	r := &remoteEvent{ev: *ev}
	c := &r.ev
	if len(ev.Observed) < len(r.obs) {
		c.Observed = append(append(r.obs[:0], ev.Observed...), sighting(ev))
	} else {
		c.Observed = append(slices.Clip(ev.Observed), sighting(ev))
	}
	c.Boundary = semevent.Remote
	c.Seen = ev.Seen.With(ev.Boundary).With(semevent.Remote)
	return c
}

// remoteEvent holds a remote view and room for its observations, so that
// a remote event with fewer than four sightings costs one allocation.
type remoteEvent struct {
	ev  semevent.Event
	obs [4]semevent.Observation
}

func storeMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// replicate hands a replicated publish (after dedup) to the replicator;
// the dispatcher calls it. It returns true: a closed replicator resolves
// the publish with an error instead.
func (cl *cluster) replicate(env envelope) bool {
	if !cl.add(replItem{env: env}) {
		cl.b.recent.resolve(env.c, fmt.Errorf("propagation: publish: %w", semevent.ErrClosed))
	}
	return true
}

func (cl *cluster) add(it replItem) bool {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return false
	}
	cl.queue = append(cl.queue, it)
	cl.mu.Unlock()
	select {
	case cl.wake <- struct{}{}:
	default:
	}
	return true
}

// publishBatch commits evs (checked, not yet stamped) in one atomic append
// and waits for it. Events whose IDs the bus remembers are not appended
// again: their first outcome is waited for.
func (cl *cluster) publishBatch(ctx context.Context, evs []*semevent.Event) error {
	b := cl.b
	commits := make([]*commit, len(evs))
	batch := make([]envelope, 0, len(evs))
	for i, ev := range evs {
		env, _ := b.stamp(ev) // checked by PublishBatch
		c := newCommit(ev.ID)
		if old := b.recent.claim(ev.ID, c); old != nil {
			commits[i] = old
			continue
		}
		env.c, env.src = c, srcReplicate
		commits[i] = c
		batch = append(batch, env)
	}
	if len(batch) > 0 && !cl.add(replItem{batch: batch}) {
		err := fmt.Errorf("propagation: publish: %w", semevent.ErrClosed)
		for _, env := range batch {
			b.recent.resolve(env.c, err)
		}
	}
	for i, c := range commits {
		if err := c.wait(ctx); err != nil {
			return &BatchError{Accepted: i, Err: b.outcome(err)}
		}
	}
	return nil
}

// run is the replicator: it appends what waits, a group of single
// publishes per Append, a batch alone (atomically), and resolves the
// publishers.
func (cl *cluster) run() {
	defer close(cl.done)
	var items []replItem
	var group []envelope
	var evs []*semevent.Event
	for {
		cl.mu.Lock()
		items, cl.queue = cl.queue, items[:0]
		closed := cl.closed
		cl.mu.Unlock()
		if len(items) == 0 {
			if closed {
				return
			}
			select {
			case <-cl.wake:
			case <-cl.ctx.Done():
			}
			continue
		}
		bytes := 0
		for _, it := range items {
			if it.batch != nil {
				evs = cl.appendGroup(group, evs, false)
				group, bytes = group[:0], 0
				evs = cl.appendGroup(it.batch, evs, true)
				continue
			}
			n := EventBytes(it.env.ev)
			if len(group) > 0 && (len(group) == maxGroupEvents || bytes+n > maxGroupBytes) {
				evs = cl.appendGroup(group, evs, false)
				group, bytes = group[:0], 0
			}
			group = append(group, it.env)
			bytes += n
		}
		evs = cl.appendGroup(group, evs, false)
		clear(group)
		group = group[:0]
		clear(items)
	}
}

// appendGroup appends group's events with one Append (AppendAtomic when
// atomic and the coordinator has it) and resolves their publishers. evs is
// scratch space, returned for reuse.
func (cl *cluster) appendGroup(group []envelope, evs []*semevent.Event, atomic bool) []*semevent.Event {
	if len(group) == 0 {
		return evs
	}
	evs = evs[:0]
	for _, env := range group {
		evs = append(evs, env.ev)
	}
	var pos []coord.Position
	var err error
	err = coord.ErrUnsupported
	if a, ok := cl.c.(coord.AtomicAppender); ok && atomic {
		pos, err = a.AppendAtomic(cl.ctx, evs...)
	}
	if errors.Is(err, coord.ErrUnsupported) {
		// Append commits the events of one shard in one proposal too.
		pos, err = cl.c.Append(cl.ctx, evs...)
	}
	clear(evs)
	if err != nil && !atomic && len(group) > 1 && !outcomeUnknown(err) && !anyCommitted(err) {
		// One event the coordinator refuses (too large for it, say)
		// must not fail the others grouped with it: append one by one.
		for i := range group {
			evs = cl.appendGroup(group[i:i+1], evs, false)
		}
		return evs
	}
	for i, env := range group {
		var p coord.Position
		switch {
		case err == nil && i < len(pos):
			p = pos[i]
		case err != nil:
			if ae, ok := errors.AsType[*coord.AppendError](err); ok && i < len(ae.Committed) {
				p = ae.Committed[i]
			}
		}
		var res error
		if p.Index != 0 {
			cl.replicated.Add(1)
			if p.Shard >= 0 && p.Shard < cl.shards {
				storeMax(&cl.committed[p.Shard], p.Index)
			}
		} else {
			cl.replErrs.Add(1)
			if err == nil {
				err = fmt.Errorf("coordinator returned %d positions for %d events", len(pos), len(group))
			}
			res = &ReplicateError{ID: env.ev.ID, Err: err}
			if outcomeUnknown(err) {
				res = &OutcomeUnknownError{ID: env.ev.ID, Err: err}
			}
		}
		cl.b.recent.resolve(env.c, res)
	}
	return evs
}

// outcomeUnknown reports whether a coordinator's error leaves the outcome
// of an append unknown: coord.ErrOutcomeUnknown, or the replicator's ctx
// ending (Close gave up) under a coordinator that says less. A closed
// coordinator's ErrClosed alone is a refusal: coord/raft wraps
// ErrOutcomeUnknown when it closed with the proposal in flight.
func outcomeUnknown(err error) bool {
	return errors.Is(err, coord.ErrOutcomeUnknown) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func anyCommitted(err error) bool {
	ae, ok := errors.AsType[*coord.AppendError](err)
	return ok && slices.ContainsFunc(ae.Committed, func(p coord.Position) bool { return p.Index != 0 })
}

// stopFollowing ends the followers; Close calls it once no publish is in
// flight. A follower blocked waiting for room wakes on Close.
func (cl *cluster) stopFollowing() {
	for _, s := range cl.subs {
		s.Unsubscribe()
	}
	for _, s := range cl.subs {
		<-s.Done()
	}
}

// stopReplicating lets the replicator append what the dispatcher handed
// it, then stops it; false if ctx ended first.
func (cl *cluster) stopReplicating(ctx context.Context) bool {
	cl.mu.Lock()
	cl.closed = true
	cl.mu.Unlock()
	select {
	case cl.wake <- struct{}{}:
	default:
	}
	select {
	case <-cl.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// abort ends the replicator's append in flight (its publishers learn the
// outcome is unknown) and fails what still waits.
func (cl *cluster) abort() {
	cl.mu.Lock()
	cl.closed = true
	cl.mu.Unlock()
	cl.cancel()
	<-cl.done
	// Items added after the replicator's last look are failed here.
	cl.mu.Lock()
	items := cl.queue
	cl.queue = nil
	cl.mu.Unlock()
	err := fmt.Errorf("propagation: close gave up before the coordinator append: %w", semevent.ErrClosed)
	for _, it := range items {
		cl.b.recent.resolve(it.env.c, err)
		for _, env := range it.batch {
			cl.b.recent.resolve(env.c, err)
		}
	}
}

// waitIngested returns once the followers have taken every record this
// bus's appends committed so far, and every record the coordinator had
// applied on this node at the call (Sync uses it).
func (cl *cluster) waitIngested(ctx context.Context) error {
	want := make([]uint64, cl.shards)
	for i := range want {
		want[i] = cl.committed[i].Load()
	}
	for _, sh := range cl.c.Health(ctx).Shards {
		if sh.Shard >= 0 && sh.Shard < cl.shards {
			want[sh.Shard] = max(want[sh.Shard], sh.Applied)
		}
	}
	for i := range want {
		for cl.ingested[i].Load() < want[i] {
			select {
			case <-ctx.Done():
				return fmt.Errorf("propagation: sync: waiting for shard %d's index %d from the coordinator: %w", i, want[i], ctx.Err())
			case <-cl.b.closing:
				return fmt.Errorf("propagation: sync: %w", semevent.ErrClosed)
			case <-time.After(200 * time.Microsecond):
			}
		}
	}
	return nil
}
