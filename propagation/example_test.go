package propagation_test

import (
	"context"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
)

func Example() {
	ctx := context.Background()
	bus, err := propagation.New(nil)
	if err != nil {
		panic(err)
	}
	writes := filter.Func(func(ev *semevent.Event) bool { return ev.Kind == semevent.KindFileWrite })
	_, err = bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		fmt.Println(ev.TopicOrKind(), ev.Path, ev.Size)
		return nil
	}), &propagation.SubscribeOptions{Name: "writes", Filter: writes})
	if err != nil {
		panic(err)
	}
	for _, ev := range []*semevent.Event{
		{Kind: semevent.KindFileCreate, Path: "/data/a"},
		{Kind: semevent.KindFileWrite, Path: "/data/a", Size: 4096},
		{Kind: semevent.KindFileWrite, Path: "/data/a", Size: 512},
	} {
		if err := bus.Publish(ctx, ev); err != nil {
			panic(err)
		}
	}
	// Close delivers everything accepted before it returns.
	if err := bus.Close(ctx); err != nil {
		panic(err)
	}
	st := bus.Stats()
	fmt.Println("published", st.Published, "delivered", st.Delivered)
	// Output:
	// fs.file.write /data/a 4096
	// fs.file.write /data/a 512
	// published 3 delivered 2
}

func ExampleDedupOptions() {
	ctx := context.Background()
	bus, _ := propagation.New(&propagation.Options{Dedup: &propagation.DedupOptions{}})
	bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		fmt.Println(ev.Path, "kept from", ev.Boundary, "pid", ev.PID, "seen by", ev.Seen)
		return nil
	}), nil)
	// The kernel watcher and the FUSE server both report one create.
	bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.Kernel, Path: "/data/a"})
	bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: "/data/a", PID: 4242})
	bus.Close(ctx)
	fmt.Println("deduplicated", bus.Stats().Deduplicated)
	// Output:
	// /data/a kept from fuse pid 4242 seen by kernel|fuse
	// deduplicated 1
}
