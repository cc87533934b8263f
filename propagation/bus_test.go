package propagation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func newBus(t *testing.T, o *propagation.Options) *propagation.Bus {
	t.Helper()
	b, err := propagation.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// eventually polls cond until it holds; the deadline only guards against a
// hang, it measures nothing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// gated is a handler that blocks on its first event until released, and
// records the offsets it handles.
type gated struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	offsets []int64
}

func newGated() *gated {
	return &gated{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gated) Handle(ctx context.Context, ev *semevent.Event) error {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	g.mu.Lock()
	g.offsets = append(g.offsets, ev.Offset)
	g.mu.Unlock()
	return nil
}

func (g *gated) got() []int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int64(nil), g.offsets...)
}

func write(b semevent.Boundary, off int64) *semevent.Event {
	return &semevent.Event{Kind: semevent.KindFileWrite, Boundary: b, Path: "/data/f", Offset: off}
}

// session is a write-session summary of path at boundary b, the kind of
// write both the FUSE bridge and its kernel watcher report (so
// propagation.OperationKey keys it); off only tells events apart.
func session(b semevent.Boundary, path string, off int64) *semevent.Event {
	return &semevent.Event{Kind: semevent.KindFileWrite, Boundary: b, Path: path, Offset: off,
		Attrs: []semevent.Attr{{Key: propagation.AttrWriteSession, Value: b.String()}}}
}

// epoch is where fake clocks start.
var epoch = time.Unix(1_700_000_000, 0)

func TestDropPolicies(t *testing.T) {
	const buffer, extra = 8, 100
	for _, tc := range []struct {
		policy propagation.Policy
		want   []int64 // offsets handled, in order
		full   uint64
		evict  uint64
	}{
		{propagation.DropNewest, seq(0, buffer), extra - buffer, 0},
		{propagation.DropOldest, append([]int64{0}, seq(extra-buffer+1, extra)...), 0, extra - buffer},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			b := newBus(t, nil)
			g := newGated()
			if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Buffer: buffer, Policy: tc.policy}); err != nil {
				t.Fatal(err)
			}
			publishAll(t, b, write(semevent.FUSE, 0))
			<-g.entered
			for i := int64(1); i <= extra; i++ {
				publishAll(t, b, write(semevent.FUSE, i))
			}
			eventually(t, "dispatch of every event", func() bool { return b.Stats().Matched == extra+1 })
			close(g.release)
			eventually(t, "delivery", func() bool { return b.Stats().Delivered == uint64(len(tc.want)) })
			if got := g.got(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("handled offsets %v, want %v", got, tc.want)
			}
			st := b.Stats()
			if st.Dropped.Full != tc.full || st.Dropped.Evicted != tc.evict {
				t.Errorf("dropped %+v, want full %d evicted %d", st.Dropped, tc.full, tc.evict)
			}
			if st.Delivered+st.Dropped.Total() != st.Matched {
				t.Errorf("delivered %d + dropped %d != matched %d: a drop went uncounted", st.Delivered, st.Dropped.Total(), st.Matched)
			}
		})
	}
}

func seq(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func publishAll(t *testing.T, b propagation.Propagator, evs ...*semevent.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := b.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
}

func TestBlockPolicyBlocksPublisherUntilCtxEnds(t *testing.T) {
	b := newBus(t, &propagation.Options{QueueSize: 4})
	g := newGated()
	if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Buffer: 2}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, write(semevent.Kernel, 0))
	<-g.entered
	accepted := int64(1)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := b.Publish(ctx, write(semevent.Kernel, accepted))
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("blocked Publish = %v, want DeadlineExceeded", err)
			}
			break
		}
		accepted++
		if accepted > 100 {
			t.Fatal("Publish never blocked with a full subscriber buffer and a queue of 4")
		}
	}
	close(g.release)
	eventually(t, "delivery of every accepted event", func() bool { return b.Stats().Delivered == uint64(accepted) })
	if got := g.got(); fmt.Sprint(got) != fmt.Sprint(seq(0, accepted-1)) {
		t.Errorf("handled %v, want 0..%d in order", got, accepted-1)
	}
	if st := b.Stats(); st.Dropped.Total() != 0 || st.Published != uint64(accepted) {
		t.Errorf("published %d dropped %+v, want %d and none", st.Published, st.Dropped, accepted)
	}
}

func TestFloodAtOneBoundaryDoesNotStarveOthers(t *testing.T) {
	const quantum, flood = 16, 1000
	b := newBus(t, &propagation.Options{QueueSize: 2048, Quantum: quantum})
	g := newGated()
	if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Buffer: 1}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, write(semevent.Userspace, -1))
	<-g.entered
	for i := range int64(flood) {
		publishAll(t, b, write(semevent.Kernel, i))
	}
	for i := range int64(5) {
		publishAll(t, b, write(semevent.FUSE, 10_000+i))
	}
	close(g.release)
	eventually(t, "delivery", func() bool { return b.Stats().Delivered == flood+6 })
	last := -1
	for i, off := range g.got() {
		if off >= 10_000 {
			last = i
		}
	}
	// The dispatcher was inside a kernel batch when the flood arrived; it
	// finishes that batch (≤ quantum events) and then serves FUSE.
	if last < 0 || last > 2*quantum+6 {
		t.Fatalf("last FUSE event handled at position %d of %d, want within %d: the kernel flood starved FUSE", last, flood+6, 2*quantum+6)
	}
}

func TestDedupFoldsTwinsKeepingFUSEContext(t *testing.T) {
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: time.Hour}})
	var mu sync.Mutex
	var got []*semevent.Event
	if _, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		mu.Lock()
		got = append(got, ev.Clone())
		mu.Unlock()
		return nil
	}), nil); err != nil {
		t.Fatal(err)
	}
	trace := semevent.TraceContext{TraceID: semevent.TraceID{1, 2, 3}, SpanID: semevent.SpanID{4}, Flags: semevent.FlagSampled}
	fuse := func(path string) *semevent.Event {
		return &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: path, Size: 10, PID: 42, Trace: trace,
			Attrs: []semevent.Attr{{Key: propagation.AttrWriteSession, Value: "fuse"}}}
	}
	kernel := func(path string) *semevent.Event {
		// The kernel reports no size for the session: the key ignores it.
		return &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.Kernel, Path: path,
			Attrs: []semevent.Attr{{Key: propagation.AttrWriteSession, Value: "kernel"}}}
	}
	// FUSE first then kernel; kernel first then FUSE; then the same FUSE
	// operation twice, which is two operations, each waiting for a twin.
	k2 := kernel("/b")
	publishAll(t, b, fuse("/a"), kernel("/a"), k2, fuse("/b"), fuse("/c"), fuse("/c"), kernel("/c"))
	// /a, /b and the first /c are complete; the second /c waits for a twin
	// until Close releases it.
	eventually(t, "three folded events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("delivered %d events, want 4 (/a, /b, /c folded, /c alone)", len(got))
	}
	for i, path := range []string{"/a", "/b", "/c"} {
		ev := got[i]
		if ev.Path != path || ev.Boundary != semevent.FUSE || ev.PID != 42 || ev.Trace != trace || len(ev.Attrs) != 1 {
			t.Errorf("event %d = %s at %s pid %d trace %v: want %s with the FUSE sighting's context", i, ev.Path, ev.Boundary, ev.PID, ev.Trace, path)
		}
		if ev.Seen != semevent.Boundaries(semevent.FUSE, semevent.Kernel) || len(ev.Observed) != 1 || ev.Observed[0].Boundary != semevent.Kernel {
			t.Errorf("event %d seen %v observed %+v, want fuse|kernel and one kernel sighting", i, ev.Seen, ev.Observed)
		}
	}
	if got[1].Observed[0].ID != k2.ID {
		t.Errorf("/b's kernel sighting has ID %v, want %v", got[1].Observed[0].ID, k2.ID)
	}
	if got[3].Path != "/c" || got[3].Seen != semevent.Boundaries(semevent.FUSE) {
		t.Errorf("last event %s seen %v, want /c seen by fuse only", got[3].Path, got[3].Seen)
	}
	if st := b.Stats(); st.Deduplicated != 3 || st.Published != 7 || st.Delivered != 4 {
		t.Errorf("published %d deduplicated %d delivered %d, want 7, 3, 4", st.Published, st.Deduplicated, st.Delivered)
	}
}

func TestDedupReleasesAfterWindowInOrder(t *testing.T) {
	const window = 5 * time.Millisecond
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: window}})
	g := newGated()
	close(g.release)
	if _, err := b.Subscribe(g, nil); err != nil {
		t.Fatal(err)
	}
	// Kernel-only events (someone writing the backing directory directly)
	// never get a twin; they leave once the window passed, in order, with
	// userspace events (not deduplicated) passing at once.
	for i := range int64(20) {
		publishAll(t, b, session(semevent.Kernel, fmt.Sprintf("/k%d", i), i))
	}
	publishAll(t, b, write(semevent.Userspace, 100))
	eventually(t, "the userspace event", func() bool { return len(g.got()) == 1 })
	eventually(t, "the dispatcher parked on its timer", func() bool { return b.Parked() && clock.Waiting() > 0 })
	if got := g.got(); len(got) != 1 || got[0] != 100 {
		t.Fatalf("handled %v before the window ended, want only the userspace event 100", got)
	}
	clock.Advance(window - 1) // the window is not over: the timer does not fire
	if got := g.got(); len(got) != 1 {
		t.Fatalf("handled %v before the window ended, want only the userspace event", got)
	}
	clock.Advance(time.Millisecond)
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := g.got()
	if got[0] != 100 {
		t.Errorf("first handled %d, want the userspace event 100 (not held)", got[0])
	}
	if fmt.Sprint(got[1:]) != fmt.Sprint(seq(0, 19)) {
		t.Errorf("kernel events handled as %v, want 0..19 in order", got[1:])
	}
}

func TestDedupMaxPendingReleasesOldest(t *testing.T) {
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: time.Hour, MaxPending: 3}})
	g := newGated()
	close(g.release)
	if _, err := b.Subscribe(g, nil); err != nil {
		t.Fatal(err)
	}
	for i := range int64(10) {
		publishAll(t, b, session(semevent.Kernel, fmt.Sprintf("/k%d", i), i))
	}
	eventually(t, "early release", func() bool { return len(g.got()) == 7 })
	if got := g.got(); fmt.Sprint(got) != fmt.Sprint(seq(0, 6)) {
		t.Errorf("released %v, want 0..6", got)
	}
	if st := b.Stats(); st.DedupEvicted != 7 {
		t.Errorf("Stats.DedupEvicted = %d, want 7", st.DedupEvicted)
	}
}

func TestCloseDeliversEverythingAccepted(t *testing.T) {
	b, err := propagation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	sub, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		time.Sleep(20 * time.Microsecond)
		mu.Lock()
		n++
		mu.Unlock()
		return nil
	}), &propagation.SubscribeOptions{Buffer: 16})
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(500) {
		publishAll(t, b, write(semevent.Userspace, i))
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-sub.Done()
	if n != 500 {
		t.Fatalf("handled %d events before Close returned, want 500", n)
	}
}

func TestCloseGivesUpWhenCtxEnds(t *testing.T) {
	b, err := propagation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newGated()
	sub, err := b.Subscribe(g, &propagation.SubscribeOptions{Buffer: 8})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, write(semevent.Userspace, 0))
	<-g.entered
	for i := range int64(49) {
		publishAll(t, b, write(semevent.Userspace, i+1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a stuck handler = %v, want DeadlineExceeded", err)
	}
	close(g.release)
	<-sub.Done()
	st := b.Stats()
	if st.Published != 50 || st.Delivered+st.Dropped.Total() != 50 || st.Dropped.Closed == 0 {
		t.Fatalf("published %d delivered %d dropped %+v: want 50 = delivered + dropped, some closed", st.Published, st.Delivered, st.Dropped)
	}
}

func TestUnsubscribeCountsBufferedAsDropped(t *testing.T) {
	b := newBus(t, nil)
	g := newGated()
	sub, err := b.Subscribe(g, &propagation.SubscribeOptions{Buffer: 64})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, write(semevent.Userspace, 0))
	<-g.entered
	for i := range int64(30) {
		publishAll(t, b, write(semevent.Userspace, i+1))
	}
	eventually(t, "dispatch", func() bool { return b.Stats().Matched == 31 })
	sub.Unsubscribe()
	close(g.release)
	<-sub.Done()
	st := b.Stats()
	if st.Delivered != 1 || st.Dropped.Unsubscribed != 30 {
		t.Fatalf("delivered %d, dropped %+v; want 1 delivered and 30 dropped as unsubscribed", st.Delivered, st.Dropped)
	}
}

func TestWorkersKeepOrderPerKey(t *testing.T) {
	b := newBus(t, nil)
	var mu sync.Mutex
	next := map[string]int64{}
	var bad []string
	handled := 0
	if _, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if ev.Offset != next[ev.Path] {
			bad = append(bad, fmt.Sprintf("%s: %d after %d", ev.Path, ev.Offset, next[ev.Path]-1))
		}
		next[ev.Path] = ev.Offset + 1
		handled++
		return nil
	}), &propagation.SubscribeOptions{Workers: 4}); err != nil {
		t.Fatal(err)
	}
	const files, per = 16, 200
	for i := range int64(per) {
		for f := range files {
			publishAll(t, b, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/f%d", f), Offset: i})
		}
	}
	eventually(t, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return handled == files*per })
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("order per key broken with 4 workers: %v", bad[:min(len(bad), 5)])
	}
}

func TestPanickingFilterAndHandlerErrorsAreReported(t *testing.T) {
	var mu sync.Mutex
	var reported []error
	b := newBus(t, &propagation.Options{OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	g := newGated()
	close(g.release)
	if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Name: "picky", Filter: filter.Func(func(ev *semevent.Event) bool {
		if ev.Path == "/bad" {
			panic("filter bug")
		}
		return true
	})}); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("disk full")
	if _, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		return failure
	}), &propagation.SubscribeOptions{Name: "failing"}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, &semevent.Event{Path: "/bad"}, &semevent.Event{Path: "/good"})
	eventually(t, "reports and delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reported) == 3 && b.Stats().Delivered == 3
	})
	if got := g.got(); len(got) != 1 {
		t.Errorf("picky handled %d events, want 1 (/good)", len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	var panics, errs int
	for _, err := range reported {
		var he *propagation.HandlerError
		var pe *semevent.PanicError
		switch {
		case !errors.As(err, &he):
			t.Errorf("OnError got %T, want *HandlerError", err)
		case errors.As(err, &pe) && he.Subscription == "picky" && strings.Contains(pe.Error(), "filter bug"):
			panics++
		case errors.Is(err, failure) && he.Subscription == "failing":
			errs++
		default:
			t.Errorf("unexpected report %v", err)
		}
	}
	if panics != 1 || errs != 2 {
		t.Errorf("reports: %d filter panics and %d handler errors, want 1 and 2", panics, errs)
	}
	if st := b.Stats(); st.Panics != 1 || st.Errors != 2 {
		t.Errorf("Stats panics %d errors %d, want 1 and 2", st.Panics, st.Errors)
	}
}

func TestOptionsValidateListsEveryProblem(t *testing.T) {
	_, err := propagation.New(&propagation.Options{QueueSize: 1, Quantum: -1, Dedup: &propagation.DedupOptions{Boundaries: semevent.Boundaries(semevent.Kernel)}})
	if err == nil {
		t.Fatal("New with three bad options succeeded")
	}
	for _, field := range []string{"QueueSize", "Quantum", "Dedup.Boundaries"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || len(oe.Problems) != 3 || !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("error %v is not an *semevent.OptionsError with 3 problems", err)
	}
	if err := (&propagation.SubscribeOptions{Workers: 2000, Policy: 9}).Validate(); err == nil || !strings.Contains(err.Error(), "Workers") || !strings.Contains(err.Error(), "Policy") {
		t.Errorf("SubscribeOptions.Validate = %v, want Workers and Policy named", err)
	}
}

func TestStatsCountPerBoundaryAndLatency(t *testing.T) {
	b := newBus(t, &propagation.Options{LatencySample: 1})
	g := newGated()
	close(g.release)
	if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Name: "all"}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		publishAll(t, b, write(semevent.Boundary(i%semevent.NumBoundaries), int64(i)))
	}
	eventually(t, "delivery", func() bool { return b.Stats().Delivered == 40 })
	st := b.Stats()
	for i, bs := range st.Boundaries {
		if bs.Published != 10 || bs.Depth != 0 {
			t.Errorf("boundary %s: %+v, want 10 published and depth 0", semevent.Boundary(i), bs)
		}
	}
	if st.Latency.Count != 40 || st.Latency.P50 <= 0 || st.Latency.P99 < st.Latency.P50 || st.Latency.Max < st.Latency.P99 {
		t.Errorf("latency %+v, want 40 timed events with ordered quantiles", st.Latency)
	}
	if len(st.Subscriptions) != 1 || st.Subscriptions[0].Name != "all" || st.Subscriptions[0].Delivered != 40 {
		t.Errorf("subscriptions %+v", st.Subscriptions)
	}
}

func TestPublishAssignsIDTimeAndSeen(t *testing.T) {
	b := newBus(t, &propagation.Options{Node: 7})
	evs := []*semevent.Event{{Boundary: semevent.FUSE}, {Boundary: semevent.FUSE}}
	publishAll(t, b, evs...)
	for _, ev := range evs {
		if ev.ID.IsZero() || ev.ID.Node() != 7 || ev.Time == 0 || !ev.Seen.Has(semevent.FUSE) {
			t.Errorf("after Publish: ID %v (node %d) Time %d Seen %v", ev.ID, ev.ID.Node(), ev.Time, ev.Seen)
		}
	}
	if evs[0].ID.Compare(evs[1].ID) >= 0 {
		t.Errorf("IDs %v, %v not increasing", evs[0].ID, evs[1].ID)
	}
}

func TestConcurrentPublishSubscribeUnsubscribeClose(t *testing.T) {
	b, err := propagation.New(&propagation.Options{QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := b.Publish(context.Background(), write(semevent.Boundary(p), int64(i)))
				if errors.Is(err, semevent.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pol := propagation.Policy(i % 3)
			s, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error { return nil }),
				&propagation.SubscribeOptions{Buffer: 4, Policy: pol, Workers: 1 + i%3})
			if errors.Is(err, semevent.ErrClosed) {
				return
			}
			if err != nil {
				t.Errorf("Subscribe: %v", err)
				return
			}
			time.Sleep(100 * time.Microsecond)
			if i%4 != 0 {
				s.Unsubscribe()
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	st := b.Stats()
	if st.Delivered+st.Dropped.Total() != st.Matched {
		t.Fatalf("matched %d != delivered %d + dropped %+v: a drop went uncounted", st.Matched, st.Delivered, st.Dropped)
	}
}

func TestDedupHeldKernelEventDoesNotHoldBackFUSE(t *testing.T) {
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: time.Hour}})
	g := newGated()
	close(g.release)
	if _, err := b.Subscribe(g, nil); err != nil {
		t.Fatal(err)
	}
	// A kernel-only event waits for a twin that never comes; the pair after
	// it is complete and leaves at once, since it is a FUSE event and the
	// FUSE order has nothing waiting ahead of it.
	k := session(semevent.Kernel, "/backing-only", 1)
	publishAll(t, b, k, session(semevent.FUSE, "/data/f", 2), session(semevent.Kernel, "/data/f", 2))
	eventually(t, "the pair", func() bool { return len(g.got()) == 1 })
	if got := g.got(); got[0] != 2 {
		t.Fatalf("handled %v, want the folded pair (offset 2) first", got)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := g.got(); fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("handled %v, want [2 1]: Close releases the held kernel event", got)
	}
}
