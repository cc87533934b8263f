package propagation

import (
	"context"
	"fmt"

	"github.com/vexfs/semevent"
)

// Syncer is implemented by propagators that can wait until every event
// published before the call has been delivered, without closing. See
// [Sync].
type Syncer interface {
	Sync(ctx context.Context) error
}

// Sync waits until p has delivered every event published on it before the
// call, using p's Syncer; a propagator without one (a synchronous one, such
// as propagationtest.Fake) has nothing to wait for, and Sync returns nil.
func Sync(ctx context.Context, p Propagator) error {
	if s, ok := p.(Syncer); ok {
		return s.Sync(ctx)
	}
	return nil
}

var _ Syncer = (*Bus)(nil)

// syncRequest is one Sync call waiting for the dispatcher.
type syncRequest struct {
	marks   [semevent.NumBoundaries]uint64 // events accepted per boundary at the call (mod 2^24)
	seq     uint64                         // dispatcher's take count once it took them all; 0 before
	workers []workerMark                   // set by the dispatcher when served
	err     error
	done    chan struct{}
}

// workerMark says how many events a worker must have settled.
type workerMark struct {
	w *worker
	n uint64
}

// Sync returns once every event published on b before the call (whose
// Publish returned) has been handled by every live subscription it was
// offered to — or dropped by that subscription's policy and counted —
// including events deduplication still held, which are waited for until
// their twin comes or their window ends. Publishing goes on meanwhile;
// later events are not waited for. Replaying subscriptions, which follow
// the journal at their own pace, are not waited for. Sync must not be
// called from a handler of b (it would wait for itself). It returns ctx's
// error if ctx ends first, and an error wrapping semevent.ErrClosed if b
// closed before it could tell.
func (b *Bus) Sync(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("propagation: sync: %w", semevent.ErrClosed)
	}
	if b.cl != nil {
		// Replicated publishes are delivered when they come back from the
		// coordinator: first wait until they are all in the queue.
		if err := b.cl.waitIngested(ctx); err != nil {
			return err
		}
	}
	req := &syncRequest{done: make(chan struct{})}
	for i := range b.inbound {
		req.marks[i] = b.inbound[i].state.Load() >> acceptShift & acceptedMask
	}
	b.syncMu.Lock()
	b.syncs = append(b.syncs, req)
	b.syncMu.Unlock()
	b.syncGen.Add(1)
	b.wake.Wake()
	select {
	case <-req.done:
	case <-b.drained: // Close finished: the dispatcher may have left before seeing req
		select {
		case <-req.done:
		default:
			return fmt.Errorf("propagation: sync: %w", semevent.ErrClosed)
		}
	case <-ctx.Done():
		return fmt.Errorf("propagation: sync: %w", ctx.Err())
	}
	if req.err != nil {
		return req.err
	}
	for _, m := range req.workers {
		if err := m.wait(ctx); err != nil {
			return fmt.Errorf("propagation: sync: %w", err)
		}
	}
	return nil
}

// wait returns once the worker settled m.n events or its subscription
// ended.
func (m workerMark) wait(ctx context.Context) error {
	w := m.w
	for {
		ch := w.finished.Enter()
		if w.settled() >= m.n {
			w.finished.Leave()
			return nil
		}
		select {
		case <-ch:
		case <-w.sub.done:
			w.finished.Leave()
			return nil
		case <-ctx.Done():
			w.finished.Leave()
			return ctx.Err()
		}
		w.finished.Leave()
	}
}

// serveSyncs answers the Sync requests whose events have all been taken,
// released by dedup and offered: it hands each the buffer positions its
// caller then waits for.
func (d *dispatcher) serveSyncs() {
	b := d.b
	if g := b.syncGen.Load(); g == d.syncGen && len(d.syncs) == 0 {
		return
	} else {
		d.syncGen = g
	}
	b.syncMu.Lock()
	d.syncs = append(d.syncs, b.syncs...)
	clear(b.syncs)
	b.syncs = b.syncs[:0]
	b.syncMu.Unlock()
	if len(d.syncs) == 0 {
		return
	}
	minHeld := d.minHeldSeq()
	kept := d.syncs[:0]
	for _, req := range d.syncs {
		if req.seq == 0 && d.took(&req.marks) {
			req.seq = d.takeSeq + 1
		}
		if req.seq == 0 || minHeld < req.seq || len(d.out) > 0 {
			kept = append(kept, req)
			continue
		}
		for _, s := range b.subs.Load().list {
			for _, w := range s.workers {
				req.workers = append(req.workers, workerMark{w: w, n: w.enq.Load()})
			}
		}
		close(req.done)
	}
	clear(d.syncs[len(kept):])
	d.syncs = kept
}

// syncPending reports whether Sync requests wait, or came since the last
// serveSyncs: the dispatcher then re-checks before sleeping.
func (d *dispatcher) syncPending() bool {
	return d.b.syncGen.Load() != d.syncGen
}

// took reports whether the dispatcher has taken every event counted in
// marks.
func (d *dispatcher) took(marks *[semevent.NumBoundaries]uint64) bool {
	for i := range d.b.inbound {
		if behind := (marks[i] - d.b.inbound[i].taken.Load()) & acceptedMask; behind != 0 && behind <= acceptedMask/2 {
			return false
		}
	}
	return true
}

// minHeldSeq returns the smallest take sequence among the events dedup
// holds, or the maximum when it holds none.
func (d *dispatcher) minHeldSeq() uint64 {
	m := ^uint64(0)
	if d.dedup == nil || d.dedup.len() == 0 {
		return m
	}
	for i := 1; i < len(d.dedup.slab); i++ {
		if h := &d.dedup.slab[i]; h.env.ev != nil && h.seq < m {
			m = h.seq
		}
	}
	return m
}

// failSyncs ends the Sync requests left when the dispatcher exits.
func (d *dispatcher) failSyncs() {
	b := d.b
	b.syncMu.Lock()
	d.syncs = append(d.syncs, b.syncs...)
	b.syncs = nil
	b.syncMu.Unlock()
	for _, req := range d.syncs {
		req.err = fmt.Errorf("propagation: sync: %w", semevent.ErrClosed)
		close(req.done)
	}
	d.syncs = nil
}
