package fusebridge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/internal/logx"
	"github.com/vexfs/semevent/propagation"
)

// Bridge turns FUSE operations into semantic events. It wraps go-fuse
// nodes ([Bridge.Wrap], [Bridge.NewLoopbackRoot]); every operation on a
// wrapped node is forwarded unchanged and, when it succeeds, queued as an
// event with boundary [semevent.FUSE]. One goroutine publishes the queue to
// the Publisher, so a slow bus never stalls the file system: a full queue
// applies Options.Policy and counts the drop.
type Bridge struct {
	p    semevent.Publisher
	opts Options
	want [64]bool // kinds to emit, by semevent.Kind

	mu     sync.RWMutex // guards closed against sends on q
	closed bool
	q      chan *semevent.Event
	done   chan struct{}
	cancel context.CancelFunc
	ctx    context.Context

	pids pidCache

	log             *slog.Logger
	pubLog, dropLog logx.Limiter // hold back repeated lines

	// progress is closed and replaced (under progressMu) each time the
	// publishing goroutine has dealt with a batch; Sync waits on it.
	progressMu sync.Mutex
	progress   chan struct{}

	// in counts events that entered the queue, out those that left it
	// (published, failed or evicted); both only grow.
	in, out                                     atomic.Uint64
	queued, published, dropped, evicted, failed atomic.Uint64
	kinds                                       [64]atomic.Uint64 // events made, by kind
}

// Stats counts what a Bridge did with its events. Queued = Published +
// Failed + still queued; Dropped and Evicted events never reached the
// queue or left it unpublished. Every counter only grows (Queued
// excepted), so a rate is the difference of two readings over time.
type Stats struct {
	Queued    uint64 // accepted into the queue, less those evicted
	Published uint64 // accepted by the Publisher
	Dropped   uint64 // not queued: full queue (DropNewest, or Block past BlockTimeout), or after Close
	Evicted   uint64 // removed from a full queue by DropOldest
	Failed    uint64 // rejected by the Publisher (an authorized bus refusing the principal, a closed bus)
	// Ops counts the FUSE operations that made an event, by the event's
	// kind (a create, a write session, a read call, …): the operations
	// per second the mount serves, per kind. Kinds not wanted
	// (Options.Kinds) and per-call reads and writes in the modes that do
	// not report them are not counted.
	Ops map[semevent.Kind]uint64
	// Backlog is the number of events in the queue now.
	Backlog int
	// PIDCacheResets counts the times the thread→process cache was
	// cleared because it reached its cap of 4096 threads.
	PIDCacheResets uint64
}

// New returns a Bridge publishing to p (a propagation.Bus, usually).
func New(p semevent.Publisher, opts *Options) (*Bridge, error) {
	if p == nil {
		return nil, ErrNilPublisher
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b := &Bridge{p: p, opts: opts.withDefaults(), done: make(chan struct{}), progress: make(chan struct{})}
	b.log = logx.For(b.opts.Logger, "fusebridge")
	if b.opts.Kinds == nil {
		for _, k := range semevent.Kinds() {
			b.want[k] = k.IsFile()
		}
	} else {
		for _, k := range b.opts.Kinds {
			b.want[k] = true
		}
	}
	b.q = make(chan *semevent.Event, b.opts.QueueSize)
	ctx := context.Background()
	if b.opts.Principal != nil {
		ctx = access.WithPrincipal(ctx, b.opts.Principal)
	}
	b.ctx, b.cancel = context.WithCancel(ctx)
	go b.run()
	return b, nil
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	s := Stats{
		Queued:    b.queued.Load(),
		Published: b.published.Load(),
		Dropped:   b.dropped.Load(),
		Evicted:   b.evicted.Load(),
		Failed:    b.failed.Load(),
		Backlog:   len(b.q),
		Ops:       map[semevent.Kind]uint64{},
	}
	for k := range b.kinds {
		if n := b.kinds[k].Load(); n > 0 {
			s.Ops[semevent.Kind(k)] = n
		}
	}
	b.pids.mu.RLock()
	s.PIDCacheResets = b.pids.resets
	b.pids.mu.RUnlock()
	return s
}

// Sync returns once every event the bridge had made before the call has
// left its queue — published, or counted as failed or evicted — and, when
// the Publisher can wait for its deliveries (a [propagation.Syncer] such as
// propagation.Bus), once the Publisher has delivered them to its
// subscribers, including the twins deduplication holds. Events of
// operations that are still running, or that start later, are not waited
// for; with a kernel [Watcher] on the backing directory, call
// [Watcher.Sync] before Sync so that the kernel's twins are published
// too. Sync does not stop the bridge. It returns ctx's error if ctx ends
// first, and an error wrapping [semevent.ErrClosed] after Close.
func (b *Bridge) Sync(ctx context.Context) error {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return fmt.Errorf("fusebridge: sync: %w", semevent.ErrClosed)
	}
	target := b.in.Load()
	for b.out.Load() < target {
		b.progressMu.Lock()
		ch := b.progress
		b.progressMu.Unlock()
		if b.out.Load() >= target {
			break
		}
		select {
		case <-ch:
		case <-b.done:
			if b.out.Load() < target {
				return fmt.Errorf("fusebridge: sync: %w", semevent.ErrClosed)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s, ok := b.p.(propagation.Syncer); ok {
		return s.Sync(ctx)
	}
	return nil
}

// advance records that n events left the queue and wakes Sync callers.
func (b *Bridge) advance(n int) {
	b.out.Add(uint64(n))
	b.progressMu.Lock()
	close(b.progress)
	b.progress = make(chan struct{})
	b.progressMu.Unlock()
}

// Close stops accepting events, publishes what is queued and returns when
// the publishing goroutine has ended. If ctx ends first, the rest is
// abandoned and ctx.Err() returned. Wrapped nodes stay usable: their
// operations still work, and their events are counted as dropped. Calling
// Close again returns nil.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.q)
	b.mu.Unlock()
	select {
	case <-b.done:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		<-b.done
		return ctx.Err()
	}
}

func (b *Bridge) run() {
	defer close(b.done)
	batch := make([]*semevent.Event, 0, 256)
	for ev := range b.q {
		batch = append(batch[:0], ev)
		if b.opts.BatchDelay > 0 {
			time.Sleep(b.opts.BatchDelay)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case ev, ok := <-b.q:
				if !ok {
					break fill
				}
				batch = append(batch, ev)
			default:
				break fill
			}
		}
		b.publish(batch)
		b.advance(len(batch))
		clear(batch)
	}
}

func (b *Bridge) publish(batch []*semevent.Event) {
	ok, failed, err := publishAll(b.ctx, b.p, batch)
	b.published.Add(ok)
	b.failed.Add(failed)
	if failed > 0 {
		logFailed(b.log, &b.pubLog, failed, b.failed.Load(), err)
	}
}

// logFailed logs refused publishes: the first, then a summary per interval.
func logFailed(lg *slog.Logger, lim *logx.Limiter, failed, total uint64, err error) {
	if n, ok := lim.Note(semevent.Now()); ok {
		lg.LogAttrs(context.Background(), slog.LevelError, "publish refused events", slog.Uint64("failed", failed),
			slog.Uint64(logx.Total, total), slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
	}
}

// logDrop logs an event the queue could not take (reason full, evicted,
// timeout or closed): the first, then a summary per interval. It reads no
// clock and allocates nothing when warnings are not logged.
func (b *Bridge) logDrop(reason string) {
	if !b.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	if n, ok := b.dropLog.Note(semevent.Now()); ok {
		b.log.LogAttrs(context.Background(), slog.LevelWarn, "bridge dropped events", slog.String(logx.Reason, reason),
			slog.Uint64(logx.Count, n), slog.Uint64(logx.Total, b.dropped.Load()+b.evicted.Load()))
	}
}

// publishAll publishes batch on p in order, as one batch when p is a
// [propagation.Batcher] (one wake-up of the bus instead of one per event),
// and returns how many were accepted and refused, and the first refusal's
// error. After a refusal the rest go one by one, so that one bad event
// costs only itself.
func publishAll(ctx context.Context, p semevent.Publisher, batch []*semevent.Event) (ok, failed uint64, first error) {
	n := 0 // accepted as one batch
	if bp, isB := p.(propagation.Batcher); isB {
		err := bp.PublishBatch(ctx, batch)
		if err == nil {
			return uint64(len(batch)), 0, nil
		}
		if be, isBE := err.(*propagation.BatchError); isBE {
			n = be.Accepted
		}
	}
	ok = uint64(n)
	for _, ev := range batch[n:] {
		if err := p.Publish(ctx, ev); err == nil {
			ok++
		} else {
			if first == nil {
				first = err
			}
			failed++
		}
	}
	return ok, failed, first
}

// emit queues ev under the bridge's policy. It never waits longer than
// Options.BlockTimeout.
func (b *Bridge) emit(ctx context.Context, ev *semevent.Event) {
	if b.opts.Annotate != nil {
		b.opts.Annotate(ctx, ev)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		b.dropped.Add(1)
		b.logDrop("closed")
		return
	}
	select {
	case b.q <- ev:
		b.accepted()
		return
	default:
	}
	switch b.opts.Policy {
	case propagation.DropNewest:
		b.dropped.Add(1)
		b.logDrop("full")
	case propagation.DropOldest:
		for {
			select {
			case b.q <- ev:
				b.accepted()
				return
			default:
			}
			select {
			case <-b.q:
				b.evicted.Add(1)
				b.logDrop("evicted")
				b.queued.Add(^uint64(0))
				b.advance(1)
			default:
			}
		}
	default:
		t := time.NewTimer(b.opts.BlockTimeout)
		defer t.Stop()
		select {
		case b.q <- ev:
			b.accepted()
		case <-t.C:
			b.dropped.Add(1)
			b.logDrop("timeout")
		}
	}
}

// accepted counts an event that entered the queue.
func (b *Bridge) accepted() {
	b.queued.Add(1)
	b.in.Add(1)
}

// event returns a new FUSE event of kind k at path, filled from the
// caller in ctx, or nil when k is not wanted.
func (b *Bridge) event(ctx context.Context, k semevent.Kind, path, op string) *semevent.Event {
	if !b.want[k] {
		return nil
	}
	b.kinds[k].Add(1)
	ev := &semevent.Event{
		Kind:     k,
		Boundary: semevent.FUSE,
		Seen:     semevent.Boundaries(semevent.FUSE),
		Tenant:   b.opts.Tenant,
		Path:     path,
		Time:     time.Now().UnixNano(),
		Attrs:    make([]semevent.Attr, 1, 3),
	}
	ev.Attrs[0] = semevent.Attr{Key: AttrOp, Value: op}
	if c, ok := fuse.FromContext(ctx); ok {
		ev.PID = b.pids.tgid(c.Pid)
		ev.UID = c.Uid
		ev.GID = c.Gid
	}
	return ev
}

// Wrap returns node wrapped so that every operation on it, and on every
// node created beneath it, emits events. Mount the result (or pass it
// where go-fuse expects the node); node keeps its behaviour. Code that
// type-asserts [fs.Inode.Operations] to its own type must use [Unwrap].
func (b *Bridge) Wrap(node fs.InodeEmbedder) fs.InodeEmbedder {
	if n, ok := node.(*eventNode); ok && n.b == b {
		return n
	}
	return &eventNode{InodeEmbedder: node, b: b}
}

// Unwrap returns the node that [Bridge.Wrap] wrapped, or node itself.
func Unwrap(node fs.InodeEmbedder) fs.InodeEmbedder {
	if n, ok := node.(*eventNode); ok {
		return n.InodeEmbedder
	}
	return node
}

// NewLoopbackRoot returns the root of a go-fuse loopback file system over
// the directory backing, wrapped by b: mount it with [MountFS].
func (b *Bridge) NewLoopbackRoot(backing string) (fs.InodeEmbedder, error) {
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, err
	}
	return b.Wrap(root), nil
}
