package raft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/propagation/journal"
)

// compacted reports a read before the first index this node holds.
func compacted(shard int, index uint64, j *journal.Journal) error {
	return fmt.Errorf("coord/raft: shard %d index %d: %w (this node holds %d to %d)", shard, index, coord.ErrCompacted, j.FirstOffset()+1, j.NextOffset())
}

// Read returns committed records, linearizably: a Raft ReadIndex through
// the leader makes sure this node applied every entry committed before
// the call, then the records are read from this node's journal. See
// [coord.Coordinator.Read]. An index this node no longer holds (retention,
// or a fresh start after it) fails with an error wrapping
// coord.ErrCompacted.
func (c *Coordinator) Read(ctx context.Context, shard int, from uint64, max int) ([]coord.Record, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("coord/raft: read: %w", coord.ErrClosed)
	}
	if err := c.checkShard(shard); err != nil {
		return nil, err
	}
	ctx, cancel := c.readCtx(ctx)
	defer cancel()
	for {
		actx, end := c.leaders.attempt(ctx, shardID(shard), c.opts.AttemptTimeout)
		_, err := c.nh.SyncRead(actx, shardID(shard), nil)
		end(err)
		if err == nil {
			break
		}
		if !retryable(err) || c.closed.Load() || !sleepCtx(ctx, 2*time.Millisecond) {
			return nil, c.mapErr(fmt.Sprintf("read shard %d", shard), err, ctx)
		}
	}
	s := c.reps.get(shard)
	if s == nil {
		return nil, fmt.Errorf("coord/raft: shard %d is not started on node %d: %w", shard, c.opts.Node, coord.ErrShardNotFound)
	}
	return s.read(shard, from, max)
}

// read returns up to max records from index from (no limit when max <= 0)
// from the local journal.
func (s *shardSM) read(shard int, from uint64, max int) ([]coord.Record, error) {
	if from == 0 {
		from = 1
	}
	j, _, _, closed := s.view()
	if closed {
		return nil, fmt.Errorf("coord/raft: read: %w", coord.ErrClosed)
	}
	if from-1 < j.FirstOffset() {
		return nil, compacted(shard, from, j)
	}
	if from-1 >= j.NextOffset() {
		return nil, nil
	}
	// An entry is applied record by record, and a full buffer makes some
	// of them readable before the rest: a read returns the entries applied
	// when it starts, never part of one (part of an atomic append;
	// TestReadNeverSplitsAnEntry).
	applied := s.appliedIdx.Load()
	r, err := j.NewReader(from - 1)
	if err != nil {
		if errors.Is(err, journal.ErrOutOfRange) {
			return nil, compacted(shard, from, j)
		}
		return nil, fmt.Errorf("coord/raft: read shard %d: %w", shard, err)
	}
	defer r.Close()
	var recs []coord.Record
	for max <= 0 || len(recs) < max {
		ev := new(semevent.Event)
		off, err := r.Next(ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			return recs, fmt.Errorf("coord/raft: read shard %d index %d: %w", shard, r.Offset()+1, err)
		}
		m := parseMeta(r.Meta())
		if m.index > applied {
			break
		}
		recs = append(recs, coord.Record{Position: coord.Position{Shard: shard, Index: off + 1}, Event: ev, Origin: m.origin})
	}
	return recs, nil
}

// Subscribe follows this node's journal of a shard; see
// [coord.Coordinator.Subscribe]. Records arrive once this node applied
// them. A subscription whose next index this node no longer holds (it
// fell behind retention, or the replica started fresh after it) ends with
// an error wrapping coord.ErrCompacted: never a silent gap.
func (c *Coordinator) Subscribe(shard int, from uint64, h coord.Handler) (coord.Subscription, error) {
	if h == nil {
		return nil, semevent.ErrNilHandler
	}
	if c.closed.Load() {
		return nil, fmt.Errorf("coord/raft: subscribe: %w", coord.ErrClosed)
	}
	if err := c.checkShard(shard); err != nil {
		return nil, err
	}
	s := c.reps.get(shard)
	if s == nil {
		return nil, fmt.Errorf("coord/raft: shard %d is not started on node %d: %w", shard, c.opts.Node, coord.ErrShardNotFound)
	}
	if from == 0 {
		from = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub := &subscription{cancel: cancel, done: make(chan struct{})}
	c.mu.Lock()
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	go func() {
		defer func() {
			cancel()
			c.mu.Lock()
			delete(c.subs, sub)
			c.mu.Unlock()
			close(sub.done)
		}()
		if err := s.follow(ctx, shard, from, h); err != nil && ctx.Err() == nil {
			sub.setErr(err)
		}
	}()
	return sub, nil
}

// follow hands every record from index next on to h, waiting for new ones,
// until ctx ends, h fails, or the shard closes.
func (s *shardSM) follow(ctx context.Context, shard int, next uint64, h coord.Handler) error {
	for {
		j, gen, changed, closed := s.view()
		if closed {
			return fmt.Errorf("coord/raft: shard %d: %w", shard, coord.ErrClosed)
		}
		if next-1 < j.FirstOffset() {
			return compacted(shard, next, j)
		}
		if next-1 > j.NextOffset() {
			select { // not applied here yet
			case <-ctx.Done():
				return nil
			case <-changed:
			}
			continue
		}
		r, err := j.NewReader(next - 1)
		if err != nil {
			if g := s.generation(); g != gen {
				continue
			}
			return fmt.Errorf("coord/raft: shard %d index %d: %w", shard, next, err)
		}
		err = s.followReader(ctx, shard, r, gen, changed, &next, h)
		r.Close()
		if err != errReopen {
			return err
		}
	}
}

var errReopen = errors.New("reopen")

func (s *shardSM) followReader(ctx context.Context, shard int, r *journal.Reader, gen uint64, changed <-chan struct{}, next *uint64, h coord.Handler) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		ev := new(semevent.Event)
		off, err := r.Next(ev)
		if err == nil {
			*next = off + 2
			rec := coord.Record{Position: coord.Position{Shard: shard, Index: off + 1}, Event: ev, Origin: parseMeta(r.Meta()).origin}
			if err := h.HandleRecord(ctx, rec); err != nil {
				return err
			}
			continue
		}
		if s.generation() != gen {
			return errReopen
		}
		if err != io.EOF {
			if _, _, _, closed := s.view(); closed {
				return fmt.Errorf("coord/raft: shard %d: %w", shard, coord.ErrClosed)
			}
			return fmt.Errorf("coord/raft: shard %d index %d: %w", shard, *next, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		var closed bool
		_, _, changed, closed = s.view()
		if closed {
			// Deliver what was applied before the close, then end.
			for {
				off, err := r.Next(ev)
				if err != nil {
					return fmt.Errorf("coord/raft: shard %d: %w", shard, coord.ErrClosed)
				}
				*next = off + 2
				rec := coord.Record{Position: coord.Position{Shard: shard, Index: off + 1}, Event: ev, Origin: parseMeta(r.Meta()).origin}
				if err := h.HandleRecord(ctx, rec); err != nil {
					return err
				}
				ev = new(semevent.Event)
			}
		}
	}
}

func (s *shardSM) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// subscription is one running Subscribe.
type subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // guards err
	err    error
}

func (s *subscription) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Unsubscribe ends the subscription without waiting; see Done.
func (s *subscription) Unsubscribe() { s.cancel() }

// Done is closed once the handler has returned for the last time.
func (s *subscription) Done() <-chan struct{} { return s.done }

// Err returns what ended the subscription; nil while it runs or after
// Unsubscribe.
func (s *subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// CommitOffset records, in the shard's journal on this node (its
// consumers/ directory, fsynced), that consumer name handled every record
// before index next; see [coord.Offsets]. Offsets are per node: each
// node's consumers resume from their own.
func (c *Coordinator) CommitOffset(shard int, name string, next uint64) error {
	s, err := c.localShard("commit offset", shard)
	if err != nil {
		return err
	}
	j, _, _, _ := s.view()
	if _, ok, err := j.CommittedOffset(name); err == nil && !ok {
		if es, err := s.fsys().ReadDir(filepath.Join(j.Dir(), "consumers")); err == nil && len(es) >= c.opts.MaxConsumers {
			return fmt.Errorf("coord/raft: shard %d: commit offset of %q: %w (MaxConsumers %d)", shard, name, coord.ErrTooManyConsumers, c.opts.MaxConsumers)
		}
	}
	if err := j.CommitOffset(name, max(next, 1)-1); err != nil {
		return fmt.Errorf("coord/raft: shard %d: commit offset of %q: %w", shard, name, err)
	}
	return nil
}

// CommittedOffset returns consumer name's committed next index on shard;
// see [coord.Offsets].
func (c *Coordinator) CommittedOffset(shard int, name string) (uint64, bool, error) {
	s, err := c.localShard("committed offset", shard)
	if err != nil {
		return 0, false, err
	}
	j, _, _, _ := s.view()
	off, ok, err := j.CommittedOffset(name)
	if err != nil || !ok {
		return 0, false, err
	}
	return off + 1, true, nil
}

func (c *Coordinator) localShard(op string, shard int) (*shardSM, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("coord/raft: %s: %w", op, coord.ErrClosed)
	}
	if err := c.checkShard(shard); err != nil {
		return nil, err
	}
	s := c.reps.get(shard)
	if s == nil {
		return nil, fmt.Errorf("coord/raft: shard %d is not started on node %d: %w", shard, c.opts.Node, coord.ErrShardNotFound)
	}
	return s, nil
}
