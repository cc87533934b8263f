package coordtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// Shared lets several simulated nodes share one *coord.Local, so that a
// test can run nodes of a cluster in one process without Raft: each
// [SharedNode] appends as its own node (the records of its events carry
// its id as Origin), reports its own id in Health, stamps IDs with its own
// node number and keeps its own consumer offsets (coord.Offsets), as
// separate machines would (kept by the Local under "node<id>/<name>",
// within its MaxConsumers). Every node reads the same logs.
//
// Shared remembers the origin of every event appended through it — a
// test fake keeps everything, as Local does. It is safe for concurrent
// use.
type Shared struct {
	l *coord.Local

	mu     sync.Mutex // guards origin
	origin map[semevent.ID]uint64
}

// NewShared returns a Shared over l. The caller closes l.
func NewShared(l *coord.Local) *Shared {
	return &Shared{l: l, origin: make(map[semevent.ID]uint64)}
}

// Node returns node id's view of the shared logs. Views of the same id
// share their offsets (a node restarted keeps them).
func (s *Shared) Node(id uint64) *SharedNode {
	return &SharedNode{s: s, id: id, ids: semevent.NewIDGenerator(uint32(id))}
}

// SharedNode is one simulated node of a [Shared]: a coord.Coordinator
// and coord.Offsets. Close does not close the shared Local.
type SharedNode struct {
	s   *Shared
	id  uint64
	ids *semevent.IDGenerator
}

var _ coord.Coordinator = (*SharedNode)(nil)

func (n *SharedNode) mark(evs []*semevent.Event) {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	for _, ev := range evs {
		if ev != nil {
			n.ids.Stamp(ev)
			n.s.origin[ev.ID] = n.id
		}
	}
}

// Append appends through the shared Local as this node.
func (n *SharedNode) Append(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	n.mark(evs)
	return n.s.l.Append(ctx, evs...)
}

// AppendAtomic appends through the shared Local's AppendAtomic, as this
// node, or fails with coord.ErrUnsupported when Local has none.
func (n *SharedNode) AppendAtomic(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	a, ok := any(n.s.l).(interface {
		AppendAtomic(context.Context, ...*semevent.Event) ([]coord.Position, error)
	})
	if !ok {
		return nil, coord.ErrUnsupported
	}
	n.mark(evs)
	return a.AppendAtomic(ctx, evs...)
}

func (n *SharedNode) fill(rec *coord.Record) {
	n.s.mu.Lock()
	rec.Origin = n.s.origin[rec.Event.ID]
	n.s.mu.Unlock()
}

// Read reads the shared logs, each record with the node that appended it.
func (n *SharedNode) Read(ctx context.Context, shard int, from uint64, max int) ([]coord.Record, error) {
	recs, err := n.s.l.Read(ctx, shard, from, max)
	for i := range recs {
		n.fill(&recs[i])
	}
	return recs, err
}

// Subscribe follows a shared log, each record with the node that appended
// it.
func (n *SharedNode) Subscribe(shard int, from uint64, h coord.Handler) (coord.Subscription, error) {
	if h == nil {
		return nil, semevent.ErrNilHandler
	}
	return n.s.l.Subscribe(shard, from, coord.HandlerFunc(func(ctx context.Context, rec coord.Record) error {
		n.fill(&rec)
		return h.HandleRecord(ctx, rec)
	}))
}

// Health is the shared Local's, with this node's id.
func (n *SharedNode) Health(ctx context.Context) coord.Health {
	h := n.s.l.Health(ctx)
	h.Node = n.id
	return h
}

// Close does nothing: the shared Local belongs to the caller.
func (n *SharedNode) Close(ctx context.Context) error { return nil }

var _ coord.Offsets = (*SharedNode)(nil)

func (n *SharedNode) consumer(name string) string { return fmt.Sprintf("node%d/%s", n.id, name) }

// CommitOffset records this node's consumer progress in shard.
func (n *SharedNode) CommitOffset(shard int, name string, next uint64) error {
	return n.s.l.CommitOffset(shard, n.consumer(name), next)
}

// CommittedOffset returns what CommitOffset last recorded for this node.
func (n *SharedNode) CommittedOffset(shard int, name string) (uint64, bool, error) {
	return n.s.l.CommittedOffset(shard, n.consumer(name))
}
