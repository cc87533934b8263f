package propagation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/vexfs/semevent"
)

// commit is one durable publish waiting for the journal: the publisher
// waits on done; the dispatcher appends the event (folded, as subscribers
// see it) and resolves it. Sightings folded into one event chain their
// commits through next, so that one append resolves them all.
type commit struct {
	id   semevent.ID
	done chan struct{} // closed once err is set
	err  error
	next *commit
}

func newCommit(id semevent.ID) *commit { return &commit{id: id, done: make(chan struct{})} }

// join returns the chain c followed by o.
func (c *commit) join(o *commit) *commit {
	if c == nil {
		return o
	}
	if o != nil {
		t := c
		for t.next != nil {
			t = t.next
		}
		t.next = o
	}
	return c
}

// wait returns the commit's outcome, or an *OutcomeUnknownError once ctx
// ends first.
func (c *commit) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
	}
	select {
	case <-c.done:
		return c.err
	default:
		return &OutcomeUnknownError{ID: c.id, Err: ctx.Err()}
	}
}

// ErrOutcomeUnknown is wrapped by the error of a durable Publish whose ctx
// ended before the bus knew whether the journal committed the event: it
// may be committed (and then delivered) or not. Retrying the Publish with
// the same event (the same ID) is idempotent: it returns the first
// attempt's outcome, waiting for it if needed, instead of appending again.
var ErrOutcomeUnknown = errors.New("propagation: outcome unknown")

// OutcomeUnknownError is returned by a durable Publish whose ctx ended
// while the event was on its way to the journal, and by a replicated one
// whose ctx ended before the coordinator answered, or whose append's
// outcome the coordinator could not know. It wraps [ErrOutcomeUnknown]
// and the cause (ctx's error, or the coordinator's).
type OutcomeUnknownError struct {
	ID  semevent.ID // the event's ID: retry with the same event
	Err error       // ctx's error, or the coordinator's
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("propagation: publish of %s: outcome unknown, it may or may not be committed (retry with the same ID): %v", e.ID, e.Err)
}

// Unwrap returns ErrOutcomeUnknown and ctx's error.
func (e *OutcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.Err} }

// recentIDs remembers the IDs of recent durable publishes, pending or
// committed, up to a cap, so that a retry with the same ID is idempotent.
type recentIDs struct {
	mu      sync.Mutex              // guards byID, ring, head and n
	byID    map[semevent.ID]*commit // committed entries point to committedOK
	ring    []semevent.ID           // insertion order, for eviction
	head, n int
	evicted atomic.Uint64
}

// committedOK stands for every commit known to have succeeded.
var committedOK = func() *commit { c := newCommit(semevent.ID{}); close(c.done); return c }()

func newRecentIDs(capacity int) *recentIDs {
	return &recentIDs{byID: make(map[semevent.ID]*commit), ring: make([]semevent.ID, capacity)}
}

// claim returns the commit an earlier publish of id made, or registers c
// for id and returns nil.
func (r *recentIDs) claim(id semevent.ID, c *commit) *commit {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byID[id]; ok {
		return old
	}
	r.addLocked(id, c)
	return nil
}

func (r *recentIDs) addLocked(id semevent.ID, c *commit) {
	if r.n == len(r.ring) {
		old := r.ring[r.head]
		delete(r.byID, old)
		r.head = (r.head + 1) % len(r.ring)
		r.n--
		r.evicted.Add(1)
	}
	r.ring[(r.head+r.n)%len(r.ring)] = id
	r.n++
	r.byID[id] = c
}

// has reports whether id is among the remembered IDs.
func (r *recentIDs) has(id semevent.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byID[id]
	return ok
}

// committed records ids loaded from the journal at New.
func (r *recentIDs) committed(id semevent.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; !ok {
		r.addLocked(id, committedOK)
	}
}

// resolve ends every commit of chain c with err: a committed ID stays
// remembered; a failed one is forgotten, so that a retry appends again.
func (r *recentIDs) resolve(c *commit, err error) {
	if c == nil {
		return
	}
	r.mu.Lock()
	for t := c; t != nil; t = t.next {
		if r.byID[t.id] != t {
			continue // evicted, or not registered
		}
		if err == nil {
			r.byID[t.id] = committedOK
		} else {
			delete(r.byID, t.id) // stays in the ring; eviction then finds it gone
		}
	}
	r.mu.Unlock()
	for c != nil {
		next := c.next
		c.err = err
		close(c.done)
		c = next
	}
}
