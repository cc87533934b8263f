package coordtest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/vexfs/semevent/coord"
)

// ErrPartitioned is returned by a cut [Link].
var ErrPartitioned = errors.New("coordtest: link partitioned")

// Link is a coord.Peer that forwards to another peer until it is cut, and
// fails with [ErrPartitioned] until it is healed: a network partition for
// anti-entropy tests. Safe for concurrent use.
type Link[V coord.CRDT[V]] struct {
	to  coord.Peer[V]
	cut atomic.Bool
}

var _ coord.Peer[*coord.GCounter] = (*Link[*coord.GCounter])(nil)

// NewLink returns a healed link to p.
func NewLink[V coord.CRDT[V]](p coord.Peer[V]) *Link[V] { return &Link[V]{to: p} }

// Cut partitions the link.
func (l *Link[V]) Cut() { l.cut.Store(true) }

// Heal restores the link.
func (l *Link[V]) Heal() { l.cut.Store(false) }

func (l *Link[V]) check() error {
	if l.cut.Load() {
		return ErrPartitioned
	}
	return nil
}

// Hashes forwards unless cut.
func (l *Link[V]) Hashes(ctx context.Context, level int, nodes []int) ([]uint64, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return l.to.Hashes(ctx, level, nodes)
}

// LeafDigests forwards unless cut.
func (l *Link[V]) LeafDigests(ctx context.Context, leaves []int) (map[string]uint64, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return l.to.LeafDigests(ctx, leaves)
}

// Fetch forwards unless cut.
func (l *Link[V]) Fetch(ctx context.Context, keys []string) (map[string]V, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return l.to.Fetch(ctx, keys)
}

// Push forwards unless cut.
func (l *Link[V]) Push(ctx context.Context, vals map[string]V) error {
	if err := l.check(); err != nil {
		return err
	}
	return l.to.Push(ctx, vals)
}
