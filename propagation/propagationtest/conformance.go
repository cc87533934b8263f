package propagationtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
)

// Features describe what a Propagator under test guarantees beyond the
// basics every one must meet.
type Features struct {
	// Synchronous: Publish returns only after every matching handler ran.
	Synchronous bool
}

// TestPropagator runs the conformance suite against propagators made by
// newP, one per subtest; each is closed when its subtest ends. Every
// Propagator must deliver each matching event once with every field intact,
// keep publish order per publisher, honour filters and tenants, survive
// panicking handlers, stop delivery on Unsubscribe, and answer bad input
// with the shared errors.
func TestPropagator(t *testing.T, f Features, newP func(t *testing.T) propagation.Propagator) {
	mk := func(t *testing.T) propagation.Propagator {
		p := newP(t)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return p
	}
	t.Run("DeliversEveryFieldIntact", func(t *testing.T) { testContext(t, mk(t)) })
	t.Run("Filter", func(t *testing.T) { testFilter(t, mk(t)) })
	t.Run("Tenant", func(t *testing.T) { testTenant(t, mk(t)) })
	t.Run("OrderPerPublisher", func(t *testing.T) { testOrder(t, mk(t)) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, mk(t)) })
	t.Run("Unsubscribe", func(t *testing.T) { testUnsubscribe(t, mk(t)) })
	t.Run("UnsubscribeFromHandler", func(t *testing.T) { testUnsubscribeInside(t, mk(t)) })
	t.Run("PanicRecovered", func(t *testing.T) { testPanic(t, mk(t)) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, mk(t)) })
	if f.Synchronous {
		t.Run("Synchronous", func(t *testing.T) { testSynchronous(t, mk(t)) })
	}
}

// collector is a handler that keeps copies of what it receives.
type collector struct {
	mu  sync.Mutex
	evs []*semevent.Event
}

func (c *collector) Handle(ctx context.Context, ev *semevent.Event) error {
	cp := ev.Clone()
	c.mu.Lock()
	c.evs = append(c.evs, cp)
	c.mu.Unlock()
	return nil
}

func (c *collector) got() []*semevent.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*semevent.Event(nil), c.evs...)
}

// wait polls until c holds n events; the deadline only guards against a
// hang and says nothing about speed.
func (c *collector) wait(t *testing.T, n int) []*semevent.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.got()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("received %d events, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

func subscribe(t *testing.T, p propagation.Propagator, h semevent.Handler, o *propagation.SubscribeOptions) propagation.Subscription {
	t.Helper()
	s, err := p.Subscribe(h, o)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return s
}

func publish(t *testing.T, p propagation.Propagator, ev *semevent.Event) {
	t.Helper()
	if err := p.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func testContext(t *testing.T, p propagation.Propagator) {
	var c collector
	subscribe(t, p, &c, nil)
	r := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	sent := make([]*semevent.Event, n)
	for i := range sent {
		ev := RandomEvent(r)
		ev.Boundary = semevent.Userspace // one publisher, one boundary: order holds
		ev.Seen = ev.Seen.With(ev.Boundary)
		sent[i] = ev.Clone()
		publish(t, p, ev)
	}
	got := c.wait(t, n)
	for i := range sent {
		if d := semevent.Diff(sent[i], got[i]); d != nil {
			t.Fatalf("event %d: fields changed in transit: %v\nsent %+v\ngot  %+v", i, d, sent[i], got[i])
		}
	}
}

func testFilter(t *testing.T, p propagation.Propagator) {
	var writes, all collector
	subscribe(t, p, &writes, &propagation.SubscribeOptions{Name: "writes", Filter: filter.Func(func(ev *semevent.Event) bool {
		return ev.Kind == semevent.KindFileWrite
	})})
	subscribe(t, p, &all, nil)
	kinds := []semevent.Kind{semevent.KindFileCreate, semevent.KindFileWrite, semevent.KindFileRead, semevent.KindFileWrite}
	for i, k := range kinds {
		publish(t, p, &semevent.Event{Kind: k, Path: "/f" + strconv.Itoa(i)})
	}
	all.wait(t, len(kinds))
	got := writes.wait(t, 2)
	if got[0].Path != "/f1" || got[1].Path != "/f3" {
		t.Fatalf("filtered paths = %s, %s, want /f1, /f3", got[0].Path, got[1].Path)
	}
}

func testTenant(t *testing.T, p propagation.Propagator) {
	var acme, other, admin collector
	subscribe(t, p, &acme, &propagation.SubscribeOptions{Tenant: "acme"})
	subscribe(t, p, &other, &propagation.SubscribeOptions{Tenant: "globex"})
	subscribe(t, p, &admin, nil)
	for i := range 30 {
		tenant := []string{"acme", "globex", "initech"}[i%3]
		publish(t, p, &semevent.Event{Kind: semevent.KindFileWrite, Tenant: tenant, Path: "/t/" + strconv.Itoa(i)})
	}
	admin.wait(t, 30)
	for _, ev := range acme.wait(t, 10) {
		if ev.Tenant != "acme" {
			t.Fatalf("tenant acme received %s's event %s", ev.Tenant, ev.Path)
		}
	}
	for _, ev := range other.wait(t, 10) {
		if ev.Tenant != "globex" {
			t.Fatalf("tenant globex received %s's event %s", ev.Tenant, ev.Path)
		}
	}
}

func testOrder(t *testing.T, p propagation.Propagator) {
	var c collector
	subscribe(t, p, &c, nil)
	const pubs, per = 4, 500
	var wg sync.WaitGroup
	for g := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				ev := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.Boundary(g), Path: fmt.Sprintf("/p%d", g), Offset: int64(i)}
				if err := p.Publish(context.Background(), ev); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make(map[string]int64)
	for _, ev := range c.wait(t, pubs*per) {
		if ev.Offset != next[ev.Path] {
			t.Fatalf("publisher %s: got event %d, want %d: publish order not kept", ev.Path, ev.Offset, next[ev.Path])
		}
		next[ev.Path]++
	}
}

func testBatch(t *testing.T, p propagation.Propagator) {
	var c collector
	subscribe(t, p, &c, nil)
	evs := make([]*semevent.Event, 100)
	for i := range evs {
		evs[i] = &semevent.Event{Kind: semevent.KindFileRead, Offset: int64(i)}
	}
	if err := propagation.PublishBatch(context.Background(), p, evs); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	for i, ev := range c.wait(t, len(evs)) {
		if ev.Offset != int64(i) {
			t.Fatalf("batch event %d arrived as %d", ev.Offset, i)
		}
	}
	bad := []*semevent.Event{{Kind: semevent.KindFileRead}, nil}
	var be *propagation.BatchError
	if err := propagation.PublishBatch(context.Background(), p, bad); !errors.As(err, &be) || !errors.Is(err, semevent.ErrNilEvent) {
		t.Fatalf("PublishBatch with a nil event = %v, want a *BatchError wrapping ErrNilEvent", err)
	}
}

func testUnsubscribe(t *testing.T, p propagation.Propagator) {
	var c, keep collector
	s := subscribe(t, p, &c, nil)
	subscribe(t, p, &keep, nil)
	publish(t, p, &semevent.Event{Kind: semevent.KindFileOpen, Path: "/before"})
	c.wait(t, 1)
	s.Unsubscribe()
	s.Unsubscribe() // twice is safe
	waitDone(t, s)
	publish(t, p, &semevent.Event{Kind: semevent.KindFileOpen, Path: "/after"})
	keep.wait(t, 2)
	if got := c.got(); len(got) != 1 {
		t.Fatalf("unsubscribed handler received %d events, want 1", len(got))
	}
}

func testUnsubscribeInside(t *testing.T, p propagation.Propagator) {
	var mu sync.Mutex
	calls := 0
	var s propagation.Subscription
	ready := make(chan struct{})
	s = subscribe(t, p, semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		<-ready
		mu.Lock()
		calls++
		mu.Unlock()
		s.Unsubscribe()
		return nil
	}), nil)
	close(ready)
	var keep collector
	subscribe(t, p, &keep, nil)
	for range 10 {
		publish(t, p, &semevent.Event{Kind: semevent.KindFileOpen})
	}
	keep.wait(t, 10)
	waitDone(t, s)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("handler that unsubscribed itself was called %d times, want 1", calls)
	}
}

func waitDone(t *testing.T, s propagation.Subscription) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("subscription %s: Done not closed after Unsubscribe", s.Name())
	}
}

func testPanic(t *testing.T, p propagation.Propagator) {
	var c collector
	subscribe(t, p, semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if ev.Path == "/boom" {
			panic("boom")
		}
		return c.Handle(ctx, ev)
	}), nil)
	publish(t, p, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/boom"})
	publish(t, p, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/ok"})
	if got := c.wait(t, 1); got[0].Path != "/ok" {
		t.Fatalf("after a panic, got %s, want /ok", got[0].Path)
	}
	if sr, ok := p.(propagation.StatsReporter); ok {
		deadline := time.Now().Add(20 * time.Second)
		for sr.Stats().Panics != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("Stats().Panics = %d, want 1", sr.Stats().Panics)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func testBadInput(t *testing.T, p propagation.Propagator) {
	ctx := context.Background()
	if err := p.Publish(ctx, nil); !errors.Is(err, semevent.ErrNilEvent) {
		t.Errorf("Publish(nil) = %v, want ErrNilEvent", err)
	}
	var ee *semevent.EventError
	if err := p.Publish(ctx, &semevent.Event{Kind: 200}); !errors.As(err, &ee) || ee.Field != "Kind" {
		t.Errorf("Publish(kind 200) = %v, want *EventError for Kind", err)
	}
	if err := p.Publish(ctx, &semevent.Event{Topic: "fs.*.write"}); !errors.Is(err, semevent.ErrInvalidEvent) {
		t.Errorf("Publish(wildcard topic) = %v, want ErrInvalidEvent", err)
	}
	if _, err := p.Subscribe(nil, nil); !errors.Is(err, semevent.ErrNilHandler) {
		t.Errorf("Subscribe(nil) = %v, want ErrNilHandler", err)
	}
	var oe *semevent.OptionsError
	if _, err := p.Subscribe(&collector{}, &propagation.SubscribeOptions{Buffer: -1}); !errors.As(err, &oe) || !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("Subscribe(Buffer: -1) = %v, want *semevent.OptionsError", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := p.Publish(ctx, &semevent.Event{}); !errors.Is(err, semevent.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := p.Subscribe(&collector{}, nil); !errors.Is(err, semevent.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

func testSynchronous(t *testing.T, p propagation.Propagator) {
	var c collector
	subscribe(t, p, &c, nil)
	for i := range 5 {
		publish(t, p, &semevent.Event{Kind: semevent.KindFileWrite})
		if n := len(c.got()); n != i+1 {
			t.Fatalf("after %d synchronous publishes the handler saw %d", i+1, n)
		}
	}
}
