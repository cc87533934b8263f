package propagationtest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// uploader is code under test: it publishes an event per stored file.
type uploader struct{ events propagation.Propagator }

func (u *uploader) store(ctx context.Context, path string, size int64) error {
	return u.events.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: path, Size: size})
}

func ExampleFake() {
	ctx := context.Background()
	fake := propagationtest.New()
	u := &uploader{events: fake}

	_ = u.store(ctx, "/data/report.pdf", 1234)

	// A failure the code under test must handle.
	fake.FailNext(errors.New("queue unavailable"))
	fmt.Println(u.store(ctx, "/data/lost.pdf", 1))

	for _, ev := range fake.Published() {
		fmt.Println(ev.Kind, ev.Path, ev.Size)
	}
	// Output:
	// queue unavailable
	// create /data/report.pdf 1234
}

func ExampleFake_Inject() {
	fake := propagationtest.New()
	fake.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		fmt.Println("handled", ev.Boundary, ev.Kind, ev.Path)
		return nil
	}), nil)
	// Simulate the kernel watcher; delivery is synchronous.
	fake.Inject(&semevent.Event{Kind: semevent.KindFileDelete, Boundary: semevent.Kernel, Path: "/data/old"})
	fmt.Println("published by the code under test:", len(fake.Published()))
	// Output:
	// handled kernel delete /data/old
	// published by the code under test: 0
}
