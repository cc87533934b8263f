package fusebridge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

// Bridge turns FUSE operations into semantic events. It wraps go-fuse
// nodes ([Bridge.Wrap], [Bridge.NewLoopbackRoot]); every operation on a
// wrapped node is forwarded unchanged and, when it succeeds, queued as an
// event with boundary [semevent.FUSE]. One goroutine publishes the queue to
// the Propagator, so a slow bus never stalls the file system: a full queue
// applies Options.Policy and counts the drop.
type Bridge struct {
	p    propagation.Propagator
	opts Options
	want [64]bool // kinds to emit, by semevent.Kind

	mu     sync.RWMutex // guards closed against sends on q
	closed bool
	q      chan *semevent.Event
	done   chan struct{}
	cancel context.CancelFunc
	ctx    context.Context

	pids pidCache

	queued, published, dropped, evicted, failed atomic.Uint64
}

// Stats counts what a Bridge did with its events. Queued = Published +
// Failed + still queued; Dropped and Evicted events never reached the
// queue or left it unpublished.
type Stats struct {
	Queued    uint64 // accepted into the queue
	Published uint64 // accepted by the Propagator
	Dropped   uint64 // not queued: full queue (DropNewest, or Block past BlockTimeout)
	Evicted   uint64 // removed from a full queue by DropOldest
	Failed    uint64 // rejected by the Propagator
}

// New returns a Bridge publishing to p.
func New(p propagation.Propagator, opts *Options) (*Bridge, error) {
	if p == nil {
		return nil, ErrNilPropagator
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b := &Bridge{p: p, opts: opts.withDefaults(), done: make(chan struct{})}
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
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.run()
	return b, nil
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		Queued:    b.queued.Load(),
		Published: b.published.Load(),
		Dropped:   b.dropped.Load(),
		Evicted:   b.evicted.Load(),
		Failed:    b.failed.Load(),
	}
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
		clear(batch)
	}
}

func (b *Bridge) publish(batch []*semevent.Event) {
	err := propagation.PublishBatch(b.ctx, b.p, batch)
	if err == nil {
		b.published.Add(uint64(len(batch)))
		return
	}
	n := len(batch)
	if be, ok := err.(*propagation.BatchError); ok {
		n = be.Accepted
	}
	b.published.Add(uint64(n))
	// Publish the rest one by one so that one bad event costs only itself.
	for _, ev := range batch[n:] {
		if b.p.Publish(b.ctx, ev) == nil {
			b.published.Add(1)
		} else {
			b.failed.Add(1)
		}
	}
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
		return
	}
	select {
	case b.q <- ev:
		b.queued.Add(1)
		return
	default:
	}
	switch b.opts.Policy {
	case propagation.DropNewest:
		b.dropped.Add(1)
	case propagation.DropOldest:
		for {
			select {
			case b.q <- ev:
				b.queued.Add(1)
				return
			default:
			}
			select {
			case <-b.q:
				b.evicted.Add(1)
				b.queued.Add(^uint64(0))
			default:
			}
		}
	default:
		t := time.NewTimer(b.opts.BlockTimeout)
		defer t.Stop()
		select {
		case b.q <- ev:
			b.queued.Add(1)
		case <-t.C:
			b.dropped.Add(1)
		}
	}
}

// event returns a new FUSE event of kind k at path, filled from the
// caller in ctx, or nil when k is not wanted.
func (b *Bridge) event(ctx context.Context, k semevent.Kind, path, op string) *semevent.Event {
	if !b.want[k] {
		return nil
	}
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
// the directory backing, wrapped by b: mount it with [Mount].
func (b *Bridge) NewLoopbackRoot(backing string) (fs.InodeEmbedder, error) {
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, err
	}
	return b.Wrap(root), nil
}
