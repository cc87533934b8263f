package raft

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4/raftio"
)

// observerSet holds every shard's observers (non-voting replicas) as this
// node last read them from the shard's membership, for Health and for the
// TLS transport's identities. dragonboat reports a membership change on
// this node (MembershipChanged, on a goroutine of its own); run then reads
// the changed shards' membership again. It is safe for concurrent use.
type observerSet struct {
	wake chan struct{} // one pending wake-up

	mu      sync.Mutex // guards dirty, byShard
	dirty   []bool     // by shard: to be read again
	byShard []map[uint64]string
}

var _ raftio.ISystemEventListener = (*observerSet)(nil)

func newObserverSet(shards int) *observerSet {
	return &observerSet{wake: make(chan struct{}, 1), dirty: make([]bool, shards), byShard: make([]map[uint64]string, shards)}
}

// changed marks shard (by dragonboat shard ID) to be read again.
func (o *observerSet) changed(sid uint64) {
	o.mu.Lock()
	if s := int(sid) - 1; s >= 0 && s < len(o.dirty) {
		o.dirty[s] = true
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// changedAll marks every shard to be read again.
func (o *observerSet) changedAll() {
	for s := range o.dirty {
		o.changed(shardID(s))
	}
}

// ids returns shard's observers, sorted; nil for none.
func (o *observerSet) ids(shard int) []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if shard < 0 || shard >= len(o.byShard) || len(o.byShard[shard]) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(o.byShard[shard]))
}

// addrs returns shard's observers and their addresses.
func (o *observerSet) addrs(shard int) map[uint64]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.byShard[shard])
}

// run reads the membership of the shards marked changed until c closes.
// A read that fails (no leader yet) is retried on the next wake-up or
// after a second.
func (o *observerSet) run(c *Coordinator) {
	defer c.wg.Done()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-c.base.Done():
			return
		case <-o.wake:
		case <-retry.C:
		}
		failed := false
		for s := range o.dirty {
			o.mu.Lock()
			d := o.dirty[s]
			o.dirty[s] = false
			o.mu.Unlock()
			if !d {
				continue
			}
			ctx, cancel := context.WithTimeout(c.base, 5*time.Second)
			m, err := c.membership(ctx, s)
			cancel()
			o.mu.Lock()
			if err != nil {
				o.dirty[s], failed = true, true
			} else {
				o.byShard[s] = maps.Clone(m.NonVotings)
			}
			o.mu.Unlock()
		}
		if failed {
			retry.Reset(time.Second)
		}
	}
}

// MembershipChanged marks the shard to be read again.
func (o *observerSet) MembershipChanged(info raftio.NodeInfo) { o.changed(info.ShardID) }

// The other system events are of no interest here.
func (o *observerSet) NodeHostShuttingDown()                       {}
func (o *observerSet) NodeUnloaded(raftio.NodeInfo)                {}
func (o *observerSet) NodeDeleted(raftio.NodeInfo)                 {}
func (o *observerSet) NodeReady(info raftio.NodeInfo)              { o.changed(info.ShardID) }
func (o *observerSet) ConnectionEstablished(raftio.ConnectionInfo) {}
func (o *observerSet) ConnectionFailed(raftio.ConnectionInfo)      {}
func (o *observerSet) SendSnapshotStarted(raftio.SnapshotInfo)     {}
func (o *observerSet) SendSnapshotCompleted(raftio.SnapshotInfo)   {}
func (o *observerSet) SendSnapshotAborted(raftio.SnapshotInfo)     {}
func (o *observerSet) SnapshotReceived(raftio.SnapshotInfo)        {}
func (o *observerSet) SnapshotRecovered(info raftio.SnapshotInfo)  { o.changed(info.ShardID) }
func (o *observerSet) SnapshotCreated(raftio.SnapshotInfo)         {}
func (o *observerSet) SnapshotCompacted(raftio.SnapshotInfo)       {}
func (o *observerSet) LogCompacted(raftio.EntryInfo)               {}
func (o *observerSet) LogDBCompacted(raftio.EntryInfo)             {}
