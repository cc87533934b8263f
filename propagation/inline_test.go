package propagation_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
)

// TestPublisherDispatchesWhileDispatcherParked checks the hop the bus
// saves when it is idle: with the dispatcher parked, the publisher itself
// runs the filter and hands the event to the worker (the filter sees
// Publish on its stack). Before, the dispatcher goroutine always did.
func TestPublisherDispatchesWhileDispatcherParked(t *testing.T) {
	b := newBus(t, nil)
	var mu sync.Mutex
	var stacks []string
	f := filter.Func(func(ev *semevent.Event) bool {
		buf := make([]byte, 8<<10)
		mu.Lock()
		stacks = append(stacks, string(buf[:runtime.Stack(buf, false)]))
		mu.Unlock()
		return true
	})
	got := make(chan struct{}, 4)
	if _, err := b.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
		got <- struct{}{}
		return nil
	}), &propagation.SubscribeOptions{Filter: f}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dispatcher parked", b.Parked)
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/a"}
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	<-got
	mu.Lock()
	defer mu.Unlock()
	if len(stacks) != 1 || !strings.Contains(stacks[0], "(*Bus).Publish") {
		t.Fatalf("the filter ran %d times, first not inside Publish:\n%s", len(stacks), strings.Join(stacks, "\n---\n"))
	}
}

// TestInlineDispatchKeepsBackpressure fills a Block subscription whose
// handler is stuck, then the inbound queue: a publisher that dispatches in
// the dispatcher's place must never wait for room in the subscription's
// buffer (its ctx would not bound that wait), so Publish with a short ctx
// returns the ctx's error once the queue is full, every accepted event is
// delivered in order once the handler is released, and nothing is dropped.
func TestInlineDispatchKeepsBackpressure(t *testing.T) {
	const queue = 8
	b := newBus(t, &propagation.Options{QueueSize: queue})
	release := make(chan struct{})
	var mu sync.Mutex
	var order []int64
	if _, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		<-release
		mu.Lock()
		order = append(order, ev.Offset)
		mu.Unlock()
		return nil
	}), &propagation.SubscribeOptions{Buffer: 2, Policy: propagation.Block}); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := range 1000 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		done := make(chan error, 1)
		go func() {
			done <- b.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/a", Offset: int64(i)})
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute): // liveness guard, not a timing assertion
			t.Fatalf("Publish %d did not return a minute after its ctx ended: blocked on a full subscription", i)
		}
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Publish %d: %v, want the ctx's deadline", i, err)
			}
			break
		}
		accepted++
	}
	// One in the handler, at most Buffer in its buffer, at most QueueSize
	// in the queue (the MPMC queue may round up to a power of two).
	if accepted < 3 || accepted > 3+2*queue {
		t.Fatalf("accepted %d events before the queue was full, want 3..%d", accepted, 3+2*queue)
	}
	close(release)
	if err := propagation.Sync(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := make([]int64, accepted)
	for i := range want {
		want[i] = int64(i)
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("handled %v, want %v", order, want)
	}
	if st := b.Stats(); st.Dropped.Total() != 0 {
		t.Fatalf("dropped %+v", st.Dropped)
	}
}
