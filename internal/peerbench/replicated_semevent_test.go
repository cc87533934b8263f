package peerbench

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

func init() {
	replicatedContenders = append([]replicatedContender{
		{"semevent", "coord/raft Append (dragonboat), 3 nodes in process, loopback TCP, Raft log on disk (fsync per batch), default options (1 shard, MaxInflight 4)",
			func(tb testing.TB, dir string) *cluster { return newCoordRaft(tb, dir, nil) }},
		{"semevent-bus", "propagation.Bus with Durability Replicated over the same coord/raft cluster: a bus per node with one subscriber each; Publish on the leader's bus returns once committed, and every node's subscriber receives every event",
			func(tb testing.TB, dir string) *cluster { return newReplicatedBus(tb, dir) }},
	}, replicatedContenders...)
}

// newReplicatedBus starts newCoordRaft's cluster with a Replicated bus on
// every node, each with one subscriber counting what it receives, and
// publishes through the leader's bus. Each publish is a copy of the
// caller's event: the bus keeps the event it is given until it comes back
// committed.
func newReplicatedBus(tb testing.TB, dir string) *cluster {
	nodes, leader, closeNodes := startCoordRaft(tb, dir, nil)
	buses := make([]*propagation.Bus, len(nodes))
	got := make([]atomic.Int64, len(nodes))
	closeAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, b := range buses {
			if b != nil {
				b.Close(ctx)
			}
		}
		closeNodes()
	}
	var pub *propagation.Bus
	for i, c := range nodes {
		b, err := propagation.New(&propagation.Options{Coordinator: c, Durability: propagation.Replicated, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			closeAll()
			tb.Fatal(err)
		}
		buses[i] = b
		if c == leader {
			pub = b
		}
		if _, err := b.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
			got[i].Add(1)
			return nil
		}), nil); err != nil {
			closeAll()
			tb.Fatal(err)
		}
	}
	return &cluster{
		append: func(ctx context.Context, ev *semevent.Event) error {
			e := *ev
			return pub.Publish(ctx, &e)
		},
		// committed counts the log's records and checks that every node's
		// subscriber received each once.
		committed: func(ctx context.Context) (int, error) {
			n, err := countRecords(ctx, leader)
			if err != nil {
				return n, err
			}
			for i := range buses {
				deadline := time.Now().Add(30 * time.Second)
				for got[i].Load() < int64(n) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if g := got[i].Load(); g != int64(n) {
					return n, fmt.Errorf("node %d's subscriber received %d events, the log holds %d", i+1, g, n)
				}
			}
			return n, nil
		},
		close: closeAll,
	}
}
