package propagation_test

import (
	"context"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
	"github.com/vexfs/semevent/propagation"
)

// Two buses as two nodes of a cluster. In production each runs in its own
// process over a coord/raft Coordinator; here coordtest.Shared makes two
// nodes of one in-memory coord.Local.
func ExampleOptions_cluster() {
	ctx := context.Background()
	local, _ := coord.NewLocal(nil)
	defer local.Close(ctx)
	shared := coordtest.NewShared(local)

	nodes := make([]*propagation.Bus, 2)
	seen := make([]chan string, 2)
	for i := range nodes {
		seen[i] = make(chan string, 10)
		bus, err := propagation.New(&propagation.Options{
			Coordinator: shared.Node(uint64(i + 1)),
			Durability:  propagation.Replicated, // Publish returns once committed
		})
		if err != nil {
			panic(err)
		}
		defer bus.Close(ctx)
		nodes[i] = bus
		bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
			seen[i] <- fmt.Sprintf("node %d: %s %s at %s, pid %d, seen %s", i+1, ev.Kind, ev.Path, ev.Boundary, ev.PID, ev.Seen)
			return nil
		}), nil)
	}

	ev := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/data/a", PID: 4242}
	if err := nodes[0].Publish(ctx, ev); err != nil {
		panic(err)
	}
	fmt.Println(<-seen[0]) // delivered at commit, on every node
	fmt.Println(<-seen[1])
	// Output:
	// node 1: write /data/a at fuse, pid 4242, seen fuse
	// node 2: write /data/a at remote, pid 4242, seen fuse|remote
}

// A durable consumer over the replicated log: it resumes from the
// offsets the coordinator keeps for it, and its handler learns each
// event's position.
func ExampleReplay_replicated() {
	ctx := context.Background()
	local, _ := coord.NewLocal(nil)
	defer local.Close(ctx)
	node := coordtest.NewShared(local).Node(1)
	bus, _ := propagation.New(&propagation.Options{Coordinator: node, Durability: propagation.Replicated})
	defer bus.Close(ctx)

	consume := func(want int) {
		done := make(chan struct{})
		n := 0
		sub, _ := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
			p, _ := propagation.ReplicatedPosition(ctx)
			fmt.Printf("%s at shard %d index %d\n", ev.Path, p.Shard, p.Index)
			if n++; n == want {
				close(done)
			}
			return nil
		}), &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "indexer"}})
		<-done
		sub.Unsubscribe() // commits the consumer's offsets
		<-sub.Done()
	}
	bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"})
	bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/b"})
	consume(2)
	bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/c"})
	consume(1) // resumes after /b
	// Output:
	// /a at shard 0 index 1
	// /b at shard 0 index 2
	// /c at shard 0 index 3
}
