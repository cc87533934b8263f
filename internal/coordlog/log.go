// Package coordlog is the in-memory committed event log that coord.Local and
// the replicas of coord/raft keep per shard: append-only, indexed from 1,
// readable while it grows, with waiters woken on every append, and the
// subscription loop both coordinators hand to their users.
package coordlog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vexfs/semevent"
)

// ErrClosed is returned by Wait once the log is closed; coord.ErrClosed is
// the same value, so that a *Sub is a coord.Subscription as it is.
var ErrClosed = fmt.Errorf("coord: %w", semevent.ErrClosed)

// Log is one shard's committed entries (events, or their encodings). All methods may be called
// concurrently. Entries must not be modified once appended.
type Log[T any] struct {
	mu      sync.Mutex    // guards every field below
	chunks  [][]T         // full chunks of chunkSize entries, then the last, partial one
	n       int           // entries held
	notify  chan struct{} // closed on the next append or Close when non-nil
	closed  bool
	waiters bool
}

// New returns an empty log.
func New[T any]() *Log[T] { return &Log[T]{} }

// chunkSize is the capacity of each chunk: the log grows by chunks and
// never copies what it holds, so appending stays cheap however long it is.
const chunkSize = 4096

// Append adds evs and returns the index of the first (indexes start at 1).
func (l *Log[T]) Append(evs ...T) uint64 {
	l.mu.Lock()
	first := uint64(l.n) + 1
	l.appendLocked(evs)
	l.wakeLocked()
	l.mu.Unlock()
	return first
}

func (l *Log[T]) appendLocked(evs []T) {
	for len(evs) > 0 {
		k := len(l.chunks) - 1
		if k < 0 || len(l.chunks[k]) == chunkSize {
			l.chunks = append(l.chunks, make([]T, 0, chunkSize))
			k++
		}
		c := l.chunks[k]
		m := min(len(evs), chunkSize-len(c))
		l.chunks[k] = append(c, evs[:m]...)
		evs = evs[m:]
		l.n += m
	}
}

func (l *Log[T]) wakeLocked() {
	if l.waiters {
		close(l.notify)
		l.notify = nil
		l.waiters = false
	}
}

// Len returns the index of the last event, 0 when empty.
func (l *Log[T]) Len() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(l.n)
}

// Read appends to dst up to max events from index from (0 counts as 1)
// and returns it with the index of its first event.
func (l *Log[T]) Read(dst []T, from uint64, max int) ([]T, uint64) {
	if from == 0 {
		from = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if from > uint64(l.n) {
		return dst, from
	}
	left := l.n - int(from-1)
	if max > 0 && left > max {
		left = max
	}
	i := int(from - 1)
	for left > 0 {
		c := l.chunks[i/chunkSize][i%chunkSize:]
		m := min(left, len(c))
		dst = append(dst, c[:m]...)
		i += m
		left -= m
	}
	return dst, from
}

// All returns a copy of the list of every entry; the entries themselves
// are shared.
func (l *Log[T]) All() []T {
	all, _ := l.Read(nil, 1, 0)
	return all
}

// Reset replaces the content with evs (a snapshot being restored).
func (l *Log[T]) Reset(evs []T) {
	l.mu.Lock()
	l.chunks, l.n = nil, 0
	l.appendLocked(evs)
	l.wakeLocked()
	l.mu.Unlock()
}

// Wait blocks until the log holds index, ctx ends (ctx.Err()) or the log is
// closed (ErrClosed).
func (l *Log[T]) Wait(ctx context.Context, index uint64) error {
	for {
		l.mu.Lock()
		if uint64(l.n) >= index {
			l.mu.Unlock()
			return nil
		}
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if l.notify == nil {
			l.notify = make(chan struct{})
		}
		l.waiters = true
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close wakes every waiter; Wait returns ErrClosed from then on unless the
// index it waits for is already there.
func (l *Log[T]) Close() {
	l.mu.Lock()
	l.closed = true
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	l.waiters = true
	l.wakeLocked()
	l.mu.Unlock()
}

// Sub is a running subscription: a goroutine that hands every event of a
// log, from an index on, to a function, in order.
type Sub struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // guards err
	err    error
}

// Subscribe starts calling fn for each event of l from index from (0 counts
// as 1), waiting for new ones, until fn returns an error, Unsubscribe is called or
// the log is closed. fn runs on the subscription's goroutine, one call at a
// time.
func Subscribe[T any](l *Log[T], from uint64, fn func(ctx context.Context, index uint64, ev T) error) *Sub {
	if from == 0 {
		from = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sub{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer cancel()
		next := from
		var buf []T
		for {
			if err := l.Wait(ctx, next); err != nil {
				if errors.Is(err, ErrClosed) {
					s.setErr(err)
				}
				return
			}
			buf, _ = l.Read(buf[:0], next, 256)
			for _, ev := range buf {
				if ctx.Err() != nil {
					return
				}
				if err := fn(ctx, next, ev); err != nil {
					s.setErr(err)
					return
				}
				next++
			}
			clear(buf)
		}
	}()
	return s
}

func (s *Sub) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Unsubscribe ends the subscription without waiting for it; see Done.
func (s *Sub) Unsubscribe() { s.cancel() }

// Done is closed once the subscription's goroutine has returned.
func (s *Sub) Done() <-chan struct{} { return s.done }

// Err returns the error that ended the subscription: fn's, or ErrClosed;
// nil while it runs or after Unsubscribe.
func (s *Sub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// WaitDone waits until every subscription of subs has ended, or until ctx
// ends, whose error it then returns. Coordinators' Close calls it with the
// subscriptions they hold.
func WaitDone[S interface{ Done() <-chan struct{} }](ctx context.Context, subs []S) error {
	for _, s := range subs {
		select {
		case <-s.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
