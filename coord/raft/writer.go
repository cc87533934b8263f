package raft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/client"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent/coord"
)

// request is one Append's events for one shard, already encoded as
// length-prefixed records.
type request struct {
	body []byte
	n    int
	done chan struct{}
	// Set before done closes: where each event ended up.
	slots []slot
	err   error
}

// writer packs the requests of one shard into proposals (group commit):
// requests queue up while up to MaxInflight proposals are in flight, and
// each proposer goroutine takes everything queued, up to MaxBatchBytes, as
// its next proposal. A proposal retried after a timeout or a leader change
// is applied once per event: the state machine skips events whose ID it
// already committed.
type writer struct {
	c       *Coordinator
	shard   int
	shardID uint64

	mu       sync.Mutex // guards queue, queued, inflight
	queue    []*request
	queued   int // bytes in queue
	inflight int
}

func (w *writer) submit(r *request) {
	w.mu.Lock()
	w.queue = append(w.queue, r)
	w.queued += len(r.body)
	start := w.inflight < w.c.opts.MaxInflight
	if start {
		w.inflight++
		w.c.wg.Add(1)
	}
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// run proposes batches until the queue is empty.
func (w *writer) run() {
	defer w.c.wg.Done()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.inflight--
			w.mu.Unlock()
			return
		}
		size, k := 0, 0
		for k < len(w.queue) && (k == 0 || size+len(w.queue[k].body) <= w.c.opts.MaxBatchBytes) {
			size += len(w.queue[k].body)
			k++
		}
		batch := w.queue[:k:k]
		w.queue = w.queue[k:]
		w.queued -= size
		w.mu.Unlock()
		w.propose(batch, size)
	}
}

func (w *writer) propose(batch []*request, size int) {
	n := 0
	for _, r := range batch {
		n += r.n
	}
	cmd := make([]byte, 0, size+16)
	// A random id, the same on every attempt, lets the state machine tell
	// a retry of this proposal from another append of the same events.
	cmd = proposalHeader(cmd, w.c.opts.Node, rand.Uint64()|1, n)
	for _, r := range batch {
		cmd = append(cmd, r.body...)
	}
	t0 := time.Now()
	res, err := w.proposeCmd(cmd)
	var slots []slot
	if err == nil {
		slots, err = decodeResult(res, n)
	}
	if err == nil {
		w.c.props.Add(1)
		w.c.propEvs.Add(uint64(n))
		w.c.propNs.Add(int64(time.Since(t0)))
	}
	for _, r := range batch {
		r.err = err
		if err == nil {
			r.slots, slots = slots[:r.n:r.n], slots[r.n:]
		}
		close(r.done)
	}
}

// proposeCmd commits cmd through a session, retrying what dragonboat says
// may be retried until ProposalTimeout, and returns the state machine's
// result (see decodeResult). An
// attempt ends after AttemptTimeout, or as soon as a new leader of the
// shard is known (see leaderWatch), and the next one starts at once. Once
// an attempt was handed to Raft without a definite answer the outcome is
// unknown, and a failure wraps coord.ErrOutcomeUnknown.
func (w *writer) proposeCmd(cmd []byte) (sm.Result, error) {
	c := w.c
	ctx, cancel := context.WithTimeout(c.base, c.opts.ProposalTimeout)
	defer cancel()
	// On-disk state machines take no client sessions: a proposal retried
	// after a timeout may be applied twice, and the state machine's
	// exactly-once window (DedupWindow) answers the second with the
	// first's positions (AlreadyCommitted).
	sess := c.nh.GetNoOPSession(w.shardID)
	unknown := false
	fail := func(err error) error {
		err = c.mapErr(fmt.Sprintf("append to shard %d", w.shard), err, ctx)
		if unknown {
			err = fmt.Errorf("%w: %w", coord.ErrOutcomeUnknown, err)
		}
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return sm.Result{}, fail(err) // closed or timed out before this attempt
		}
		actx, end := c.leaders.attempt(ctx, w.shardID, c.opts.AttemptTimeout)
		res, proposed, err := c.propose(actx, sess, cmd)
		end(err)
		if err == nil {
			return res, nil
		}
		unknown = unknown || proposed
		if !retryable(err) || ctx.Err() != nil {
			return sm.Result{}, fail(err)
		}
		c.retries.Add(1)
		if !sleepCtx(ctx, 2*time.Millisecond) {
			return sm.Result{}, fail(err)
		}
		// Retry the same proposal: its events are applied at most once.
	}
}

// propose makes one attempt at cmd, as dragonboat's SyncPropose does, and
// also says whether Raft took the proposal in (and so may apply it even
// though this attempt failed).
func (c *Coordinator) propose(ctx context.Context, sess *client.Session, cmd []byte) (sm.Result, bool, error) {
	d, ok := ctx.Deadline()
	if !ok {
		return sm.Result{}, false, dragonboat.ErrInvalidDeadline
	}
	timeout := time.Until(d)
	if timeout <= 0 {
		return sm.Result{}, false, dragonboat.ErrTimeout
	}
	rs, err := c.nh.Propose(sess, cmd, timeout)
	if err != nil {
		return sm.Result{}, false, err // refused before Raft saw it
	}
	select {
	case r := <-rs.AppliedC():
		switch {
		case r.Completed():
			rs.Release()
			return r.GetResult(), true, nil
		case r.Dropped():
			return sm.Result{}, false, dragonboat.ErrShardNotReady
		case r.Rejected():
			return sm.Result{}, false, dragonboat.ErrRejected
		case r.Timeout():
			return sm.Result{}, true, dragonboat.ErrTimeout
		case r.Terminated():
			return sm.Result{}, true, dragonboat.ErrShardClosed
		case r.Aborted():
			return sm.Result{}, true, dragonboat.ErrAborted
		}
		return sm.Result{}, true, fmt.Errorf("coord/raft: unexpected proposal result %+v", r)
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return sm.Result{}, true, dragonboat.ErrTimeout
		}
		return sm.Result{}, true, dragonboat.ErrCanceled
	}
}

// withdraw takes r out of the queue if no proposal has taken it yet, and
// reports whether it did: r is then known never to commit.
func (w *writer) withdraw(r *request) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, q := range w.queue {
		if q == r {
			w.queue = append(w.queue[:i:i], w.queue[i+1:]...)
			w.queued -= len(r.body)
			return true
		}
	}
	return false
}

// retryable reports whether a failed proposal or read may be retried: the
// shard is electing a leader, busy, or the attempt timed out.
func retryable(err error) bool {
	return errors.Is(err, dragonboat.ErrTimeout) || errors.Is(err, dragonboat.ErrShardNotReady) ||
		errors.Is(err, dragonboat.ErrSystemBusy) || errors.Is(err, dragonboat.ErrAborted) ||
		errors.Is(err, dragonboat.ErrCanceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, dragonboat.ErrInvalidDeadline) || errors.Is(err, dragonboat.ErrShardNotInitialized)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
