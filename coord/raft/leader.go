package raft

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4/raftio"
)

// leaderWatch ends the attempts waiting on a shard as soon as a new leader
// of it becomes known, so that they are retried at once instead of after
// Options.AttemptTimeout: a proposal forwarded to a leader that died is
// lost without an answer, and waiting out the attempt would add the whole
// timeout to every failover. dragonboat calls LeaderUpdated, on one
// goroutine of its own, for every replica on this node; attempts call
// attempt from any goroutine.
type leaderWatch struct {
	mu     sync.Mutex        // guards epochs
	epochs map[uint64]*epoch // by shard ID: at most Options.Shards entries

	wakes atomic.Uint64 // attempts ended by a leader change
}

// epoch is one shard's time under one known leader: its ctx is cancelled
// when the next leader becomes known.
type epoch struct {
	ctx    context.Context
	cancel context.CancelFunc
}

var _ raftio.IRaftEventListener = (*leaderWatch)(nil)

func newLeaderWatch() *leaderWatch {
	return &leaderWatch{epochs: make(map[uint64]*epoch)}
}

// LeaderUpdated ends the shard's epoch when a leader is known (LeaderID
// 0, an election under way, changes nothing: the retry would find no
// leader either).
func (l *leaderWatch) LeaderUpdated(info raftio.LeaderInfo) {
	if info.LeaderID == raftio.NoLeader {
		return
	}
	l.mu.Lock()
	e := l.epochs[info.ShardID]
	delete(l.epochs, info.ShardID)
	l.mu.Unlock()
	if e != nil {
		e.cancel()
	}
}

// epochCtx returns the context of shardID's current epoch.
func (l *leaderWatch) epochCtx(shardID uint64) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.epochs[shardID]
	if e == nil {
		e = new(epoch)
		e.ctx, e.cancel = context.WithCancel(context.Background())
		l.epochs[shardID] = e
	}
	return e.ctx
}

// attempt returns a context for one attempt of a request to shardID: it
// ends with ctx, after timeout, or when a new leader of the shard becomes
// known. Call end once the attempt returned, with its error: it releases
// the context and counts a failed attempt that the leader change ended.
func (l *leaderWatch) attempt(ctx context.Context, shardID uint64, timeout time.Duration) (actx context.Context, end func(err error)) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	var woken atomic.Bool
	stop := context.AfterFunc(l.epochCtx(shardID), func() {
		woken.Store(true)
		cancel()
	})
	return actx, func(err error) {
		stop()
		cancel()
		if err != nil && woken.Load() && ctx.Err() == nil {
			l.wakes.Add(1)
		}
	}
}

// close ends every epoch (releasing their contexts).
func (l *leaderWatch) close() {
	l.mu.Lock()
	es := l.epochs
	l.epochs = make(map[uint64]*epoch)
	l.mu.Unlock()
	for _, e := range es {
		e.cancel()
	}
}
