package propagation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/propagation"
)

// checkExactlyOnce checks that evs holds each of the paths /c/0 ../c/(n-1)
// once, and that positions grow within each shard.
func checkExactlyOnce(t *testing.T, evs []*semevent.Event, pos []coord.Position, n int) {
	t.Helper()
	seen := make(map[string]int)
	for _, ev := range evs {
		seen[ev.Path]++
	}
	var missing, dup []string
	for i := range n {
		p := fmt.Sprintf("/c/%d", i)
		switch seen[p] {
		case 0:
			missing = append(missing, p)
		case 1:
		default:
			dup = append(dup, p)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(evs) != n {
		t.Fatalf("%d events for %d published: missing %v, duplicated %v", len(evs), n, missing, dup)
	}
	last := map[int]uint64{}
	for _, p := range pos {
		if p.Index <= last[p.Shard] {
			t.Fatalf("shard %d: index %d after %d", p.Shard, p.Index, last[p.Shard])
		}
		last[p.Shard] = p.Index
	}
}

// TestClusterConsumerResumes: a durable consumer over the replicated log
// on node 2, restarted several times while node 1 keeps publishing to
// four shards, gets every event exactly once, each shard in order, with
// its position; its handler is slow, so a backlog builds up.
func TestClusterConsumerResumes(t *testing.T) {
	_, cs := sharedCluster(t, 2, 4)
	b1 := newNodeBus(t, cs[0], nil)
	const n = 600
	var published atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			ev := &semevent.Event{Kind: semevent.KindFileWrite, Tenant: "acme", Path: fmt.Sprintf("/c/%d", i)}
			if err := b1.Publish(context.Background(), ev); err != nil {
				t.Error(err)
				return
			}
			published.Add(1)
		}
	})
	rec := &nodeRecorder{slow: 100 * time.Microsecond}
	for restart := 0; ; restart++ {
		o := propagation.Options{Coordinator: cs[1], Durability: propagation.Replicated, Logger: slog.New(slog.DiscardHandler)}
		b2, err := propagation.New(&o)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := b2.Subscribe(rec, &propagation.SubscribeOptions{Tenant: "acme",
			Replay: &propagation.Replay{Replicated: true, Consumer: "indexer"}})
		if err != nil {
			t.Fatal(err)
		}
		done := published.Load() == n
		if done {
			rec.waitLen(t, n)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
		sub.Unsubscribe()
		<-sub.Done()
		if err := b2.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if done {
			t.Logf("%d restarts", restart)
			break
		}
	}
	wg.Wait()
	evs := rec.events()
	checkExactlyOnce(t, evs, rec.positions(), n)
	for _, ev := range evs {
		if ev.Boundary != semevent.Remote {
			t.Fatalf("%s at %v, want remote", ev.Path, ev.Boundary)
		}
	}
}

// TestClusterConsumerTenants: two tenants naming the same consumer keep
// separate offsets over the replicated log.
func TestClusterConsumerTenants(t *testing.T) {
	_, cs := sharedCluster(t, 1, 2)
	b := newNodeBus(t, cs[0], nil)
	ctx := context.Background()
	for i := range 20 {
		tn := []string{"acme", "globex"}[i%2]
		publishN(t, b, ctx, &semevent.Event{Kind: semevent.KindFileWrite, Tenant: tn, Path: fmt.Sprintf("/c/%d", i)})
	}
	got := map[string]int{}
	for _, tn := range []string{"acme", "globex", "acme"} {
		r := &nodeRecorder{}
		sub, err := b.Subscribe(r, &propagation.SubscribeOptions{Tenant: tn, Replay: &propagation.Replay{Replicated: true, Consumer: "idx"}})
		if err != nil {
			t.Fatal(err)
		}
		if got[tn] == 0 {
			r.waitLen(t, 10)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		sub.Unsubscribe()
		<-sub.Done()
		got[tn] += len(r.events())
	}
	if got["acme"] != 10 || got["globex"] != 10 {
		t.Errorf("consumer idx delivered %v, want 10 per tenant and nothing again to acme's second subscription", got)
	}
}

// TestClusterConsumerHandlerFails: a handler that keeps failing stops the
// replicated replay at that event with a *ReplayError naming its shard and
// index, without committing it: the next subscription gets it again.
func TestClusterConsumerHandlerFails(t *testing.T) {
	_, cs := sharedCluster(t, 1, 1)
	var reported atomic.Pointer[propagation.ReplayError]
	b := newNodeBus(t, cs[0], &propagation.Options{OnError: func(err error) {
		if re, ok := errors.AsType[*propagation.ReplayError](err); ok {
			reported.Store(re)
		}
	}})
	ctx := context.Background()
	for i := range 5 {
		publishN(t, b, ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/c/%d", i)})
	}
	boom := errors.New("boom")
	r := &nodeRecorder{fail: func(ev *semevent.Event) error {
		if ev.Path == "/c/3" {
			return boom
		}
		return nil
	}}
	sub, err := b.Subscribe(r, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "idx", Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	<-sub.Done()
	re := reported.Load()
	if re == nil || re.Offset != 4 || re.Shard != 0 || !errors.Is(re, boom) {
		t.Fatalf("ReplayError = %+v, want shard 0 index 4 wrapping the handler's error", re)
	}
	r2 := &nodeRecorder{}
	sub, err = b.Subscribe(r2, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "idx"}})
	if err != nil {
		t.Fatal(err)
	}
	evs := r2.waitLen(t, 2)
	sub.Unsubscribe()
	if fmt.Sprint(paths(evs)) != "[/c/3 /c/4]" || fmt.Sprint(paths(r.events())) != "[/c/0 /c/1 /c/2]" {
		t.Errorf("first subscription got %v, second %v; want [/c/0 /c/1 /c/2] then [/c/3 /c/4]", paths(r.events()), paths(evs))
	}
}

// TestClusterSlowSubscriberBacklog: node 2 has a slow subscription (Block,
// tiny buffer, tiny queues) next to a fast one, while four publishers on
// node 1 publish at once to four shards. Node 1's publishers are not held
// back by node 2 (they return at commit); node 2's followers wait for
// room; both subscriptions get every event once, each publisher's events
// in order.
func TestClusterSlowSubscriberBacklog(t *testing.T) {
	_, cs := sharedCluster(t, 2, 4)
	b1 := newNodeBus(t, cs[0], nil)
	b2 := newNodeBus(t, cs[1], &propagation.Options{QueueSize: 4, Quantum: 2})
	slow := &nodeRecorder{slow: 200 * time.Microsecond}
	if _, err := b2.Subscribe(slow, &propagation.SubscribeOptions{Name: "slow", Buffer: 2}); err != nil {
		t.Fatal(err)
	}
	fast := subscribe(t, b2, &propagation.SubscribeOptions{Name: "fast"})
	const pubs, per = 4, 250
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			for i := range per {
				ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/p%d", p), Offset: int64(i)}
				if err := b1.Publish(context.Background(), ev); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	syncAll(t, b2)
	for name, r := range map[string]*nodeRecorder{"slow": slow, "fast": fast} {
		evs := r.events()
		if len(evs) != pubs*per {
			t.Fatalf("%s got %d events, want %d", name, len(evs), pubs*per)
		}
		next := map[string]int64{}
		for _, ev := range evs {
			if ev.Offset != next[ev.Path] {
				t.Fatalf("%s: %s#%d after #%d: out of order or duplicated", name, ev.Path, ev.Offset, next[ev.Path]-1)
			}
			next[ev.Path]++
		}
	}
	if st := b2.Stats(); st.Dropped.Total() != 0 {
		t.Errorf("node 2 dropped %d events", st.Dropped.Total())
	}
}

// TestClusterConsumerCommitsWhenIdle: a consumer that handled events and
// then has nothing to do commits its offset within about 100ms, while it
// still runs — so a crash then would deliver nothing again.
func TestClusterConsumerCommitsWhenIdle(t *testing.T) {
	_, cs := sharedCluster(t, 1, 1)
	b := newNodeBus(t, cs[0], nil)
	for i := range 3 {
		publishN(t, b, context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/c/%d", i)})
	}
	r := &nodeRecorder{}
	sub, err := b.Subscribe(r, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "idle"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	r.waitLen(t, 3)
	offs := cs[0].(interface {
		CommittedOffset(int, string) (uint64, bool, error)
	})
	deadline := time.Now().Add(time.Minute)
	for {
		next, ok, err := offs.CommittedOffset(0, "idle")
		if err != nil {
			t.Fatal(err)
		}
		if ok && next == 4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offset %d (%v) a minute after the consumer went idle, want 4", next, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// compacted is a coordinator that no longer holds shard 0 before index 10.
type compacted struct{ coord.Coordinator }

func (c compacted) Subscribe(shard int, from uint64, h coord.Handler) (coord.Subscription, error) {
	if from < 10 {
		return nil, fmt.Errorf("shard %d index %d: %w", shard, from, coord.ErrCompacted)
	}
	return c.Coordinator.Subscribe(shard, from, h)
}

func (c compacted) CommitOffset(shard int, name string, next uint64) error {
	return c.Coordinator.(coord.Offsets).CommitOffset(shard, name, next)
}

func (c compacted) CommittedOffset(shard int, name string) (uint64, bool, error) {
	return c.Coordinator.(coord.Offsets).CommittedOffset(shard, name)
}

// TestClusterConsumerCompacted: a replicated consumer whose offset the
// coordinator no longer holds stops with the coordinator's
// coord.ErrCompacted, reported to OnError: nothing is skipped silently.
func TestClusterConsumerCompacted(t *testing.T) {
	_, cs := sharedCluster(t, 1, 1)
	for i := range 12 { // the bus follows from index 13, the consumer from 1
		if _, err := cs[0].Append(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprint("/", i)}); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 4)
	b := newNodeBus(t, compacted{cs[0]}, &propagation.Options{OnError: func(err error) { errc <- err }})
	sub, err := b.Subscribe(&nodeRecorder{}, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "late"}})
	if err != nil {
		t.Fatal(err)
	}
	<-sub.Done()
	select {
	case err := <-errc:
		if !errors.Is(err, coord.ErrCompacted) {
			t.Errorf("OnError got %v, want coord.ErrCompacted", err)
		}
	default:
		t.Error("nothing reported to OnError")
	}
}
