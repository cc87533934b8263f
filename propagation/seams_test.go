package propagation_test

// Regression tests for the seams of issues 14 and 18: the bus with the
// journal, dedup under backlog, routing, tenants. Each names the issue item
// it covers.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/propagationtest"
	"github.com/vexfs/semevent/routing"
)

// journalEvents reads every record of j.
func journalEvents(t *testing.T, j *journal.Journal) []*semevent.Event {
	t.Helper()
	r, err := j.NewReader(j.FirstOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*semevent.Event
	for {
		var ev semevent.Event
		if _, err := r.Next(&ev); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Clone())
	}
}

// hookJournal calls onAppend with the events of every append once the
// real journal committed them: the moment a publisher's deadline passing
// "during the fsync wait" is simulated.
type hookJournal struct {
	*journal.Journal
	onAppend func(evs []*semevent.Event)
}

func (h *hookJournal) Append(ctx context.Context, ev *semevent.Event) (uint64, error) {
	off, err := h.Journal.Append(ctx, ev)
	h.onAppend([]*semevent.Event{ev})
	return off, err
}

func (h *hookJournal) AppendBatch(ctx context.Context, evs []*semevent.Event) (uint64, error) {
	off, err := h.Journal.AppendBatch(ctx, evs)
	h.onAppend(evs)
	return off, err
}

// Issue 14 item 6: a durable publish whose ctx ends while its event is on
// the way to the journal must not report a failure for an event that gets
// committed; it says the outcome is unknown, and a retry with the same
// event is idempotent: the journal and the subscriber get each event once.
func TestDurablePublishOutcomeUnknownAndIdempotentRetry(t *testing.T) {
	j := openJournal(t, t.TempDir())
	var mu sync.Mutex
	cancels := map[*semevent.Event]context.CancelFunc{}
	hj := &hookJournal{Journal: j, onAppend: func(evs []*semevent.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			if c := cancels[ev]; c != nil {
				c() // the deadline passes during the commit
			}
		}
	}}
	b := newBus(t, &propagation.Options{Journal: hj, Durability: propagation.Durable, QueueSize: 2, Quantum: 1})
	g := newGated()
	if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Buffer: 1}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	evs := make([]*semevent.Event, n)
	ctxs := make([]context.Context, n)
	for i := range evs {
		evs[i] = &semevent.Event{Kind: semevent.KindFileCreate, Path: fmt.Sprintf("/f%d", i), Offset: int64(i)}
		var cancel context.CancelFunc
		ctxs[i], cancel = context.WithCancel(context.Background())
		defer cancel()
		cancels[evs[i]] = cancel
	}
	errs := make([]error, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range evs {
			errs[i] = b.Publish(ctxs[i], evs[i])
		}
	}()
	// Wait until the publisher is done, or stuck behind the blocked handler
	// with an event queued; then every deadline passes.
	eventually(t, "the publisher done or stuck", func() bool {
		select {
		case <-done:
			return true
		default:
		}
		select {
		case <-g.entered:
		default:
			return false
		}
		return b.Stats().Boundaries[semevent.Userspace].Depth > 0
	})
	mu.Lock()
	for _, c := range cancels {
		c()
	}
	mu.Unlock()
	<-done
	close(g.release)
	journaled := func() map[semevent.ID]int {
		if err := b.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids := map[semevent.ID]int{}
		for _, ev := range journalEvents(t, j) {
			ids[ev.ID]++
		}
		return ids
	}
	before := journaled()
	unknown := 0
	for i, err := range errs {
		switch {
		case err == nil:
			if before[evs[i].ID] != 1 {
				t.Errorf("event %d: Publish returned nil but the journal holds it %d times", i, before[evs[i].ID])
			}
		case errors.Is(err, propagation.ErrOutcomeUnknown):
			unknown++
		default:
			if before[evs[i].ID] != 0 {
				t.Errorf("event %d: Publish failed (%v) but the journal holds it: a retry duplicates it", i, err)
			}
		}
	}
	t.Logf("outcomes: %v", errs)
	if unknown == 0 {
		t.Errorf("no publish reported ErrOutcomeUnknown: the scenario did not end a ctx before a commit")
	}
	for i, err := range errs {
		if err != nil {
			if err := b.Publish(context.Background(), evs[i]); err != nil {
				t.Errorf("retry of event %d: %v", i, err)
			}
		}
	}
	after := journaled()
	for i, ev := range evs {
		if after[ev.ID] != 1 {
			t.Errorf("event %d is in the journal %d times after retries, want once", i, after[ev.ID])
		}
	}
	if len(after) != n {
		t.Errorf("journal holds %d distinct events, want %d", len(after), n)
	}
	seen := map[int64]int{}
	for _, off := range g.got() {
		seen[off]++
	}
	for i := range n {
		if seen[int64(i)] != 1 {
			t.Errorf("subscriber got event %d %d times, want once", i, seen[int64(i)])
		}
	}
}

// Issue 14 item 6, across a restart: a new bus on the same journal
// remembers the IDs of its last records, so a retry after a restart is
// idempotent too.
func TestDurableRetryAfterRestartIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	b1, err := propagation.New(&propagation.Options{Journal: j, Durability: propagation.Durable})
	if err != nil {
		t.Fatal(err)
	}
	ev := &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"}
	if err := b1.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := b1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2 := newBus(t, &propagation.Options{Journal: j, Durability: propagation.Durable})
	if err := b2.Publish(context.Background(), ev.Clone()); err != nil {
		t.Fatal(err)
	}
	if got := journalEvents(t, j); len(got) != 1 {
		t.Fatalf("journal holds %d records after a retry on a new bus, want 1", len(got))
	}
}

// A new bus on a journal whose last records are still buffered (SyncNever)
// reads their IDs too, and New does not wait for a flush that never comes.
func TestNewBusReadsBufferedRecentIDs(t *testing.T) {
	j, err := journal.Open(t.TempDir(), &journal.Options{Sync: journal.SyncNever, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close(context.Background()) })
	ev := &semevent.Event{Kind: semevent.KindFileCreate, Path: "/buffered", ID: semevent.MakeID(1, 2, 3), Time: 1}
	if _, err := j.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	b := newBus(t, &propagation.Options{Journal: j, Durability: propagation.Durable})
	if err := b.Publish(context.Background(), ev.Clone()); err != nil {
		t.Fatal(err)
	}
	if got := journalEvents(t, j); len(got) != 1 {
		t.Fatalf("journal holds %d records after a retry of a buffered record, want 1", len(got))
	}
}

// Issue 14 item 8: the replaying consumer must not commit an event whose
// handler failed; it retries with backoff (on the injected clock), then
// stops at the event, so the next consumer gets it again; with a
// dead-letter hook it hands the event over and goes on.
func TestReplayDoesNotCommitAFailedEvent(t *testing.T) {
	j := openJournal(t, t.TempDir())
	clock := propagationtest.NewClock(epoch, true) // backoff costs no real time
	var reported []error
	var repMu sync.Mutex
	b := newBus(t, &propagation.Options{Journal: j, Durability: propagation.Durable, Clock: clock, OnError: func(err error) {
		repMu.Lock()
		reported = append(reported, err)
		repMu.Unlock()
	}})
	for i := range 5 {
		publishAll(t, b, &semevent.Event{Kind: semevent.KindFileCreate, Path: fmt.Sprintf("/f%d", i), Offset: int64(i)})
	}
	var calls atomic.Int32
	failing := semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if ev.Offset == 2 {
			calls.Add(1)
			return errors.New("index unavailable")
		}
		return nil
	})
	sub, err := b.Subscribe(failing, &propagation.SubscribeOptions{Name: "idx", Replay: &propagation.Replay{Consumer: "idx", Retries: 2, Backoff: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sub)
	if c := calls.Load(); c != 3 {
		t.Errorf("handler called %d times for the failing event, want 3 (1 + 2 retries)", c)
	}
	if s := clock.Sleeps(); fmt.Sprint(s) != "[1s 2s]" {
		t.Errorf("backoff waits %v, want [1s 2s]", s)
	}
	if next, _, err := j.CommittedOffset("idx"); err != nil || next > 2 {
		t.Fatalf("consumer committed up to %d (err %v): it committed past the event whose handler failed (offset 2)", next, err)
	}
	repMu.Lock()
	var re *propagation.ReplayError
	for _, e := range reported {
		errors.As(e, &re)
	}
	repMu.Unlock()
	if re == nil || re.Offset != 2 {
		t.Errorf("OnError got no *ReplayError at offset 2: %v", reported)
	}
	// The next subscription with the same consumer gets the event again;
	// with a dead-letter hook it goes on past it.
	var dead []uint64
	var got []int64
	var gotMu sync.Mutex
	h := semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		gotMu.Lock()
		defer gotMu.Unlock()
		got = append(got, ev.Offset)
		if ev.Offset == 2 {
			return errors.New("still unavailable")
		}
		return nil
	})
	if _, err := b.Subscribe(h, &propagation.SubscribeOptions{Name: "idx2", Replay: &propagation.Replay{Consumer: "idx", Retries: -1,
		DeadLetter: func(ctx context.Context, off uint64, ev *semevent.Event, err error) error {
			gotMu.Lock()
			dead = append(dead, off)
			gotMu.Unlock()
			return nil
		}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rest of the journal", func() bool { gotMu.Lock(); defer gotMu.Unlock(); return len(got) == 3 })
	gotMu.Lock()
	if fmt.Sprint(got) != "[2 3 4]" || fmt.Sprint(dead) != "[2]" {
		t.Errorf("second consumer got %v with dead letters %v, want [2 3 4] and [2]", got, dead)
	}
	gotMu.Unlock()
	if st := b.Stats(); st.DeadLettered != 1 || st.Retries != 2 {
		t.Errorf("Stats retries %d dead-lettered %d, want 2 and 1", st.Retries, st.DeadLettered)
	}
}

func waitDone(t *testing.T, s propagation.Subscription) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second): // a hang guard, not a measurement
		t.Fatal("subscription did not stop")
	}
}

// Issue 14 item 11: with dedup, a durable publish journals the folded
// event, as live subscribers see it: one record per operation, with the
// kernel sighting in Seen and Observed; no kernel twin in the journal.
func TestDurablePublishJournalsTheFoldedEvent(t *testing.T) {
	j := openJournal(t, t.TempDir())
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Journal: j, Durability: propagation.Durable, Clock: clock, Dedup: &propagation.DedupOptions{}})
	var live recorder
	if _, err := b.Subscribe(&live, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		path := fmt.Sprintf("/d/f%d", i)
		// The two sightings are published concurrently, as the bridge and
		// its watcher do; each Publish returns once the folded event is
		// committed.
		for _, bd := range []semevent.Boundary{semevent.FUSE, semevent.Kernel} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := b.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileCreate, Boundary: bd, Path: path}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := journalEvents(t, j)
	if len(recs) != 20 {
		t.Fatalf("journal holds %d records for 20 operations seen twice, want 20", len(recs))
	}
	both := semevent.Boundaries(semevent.FUSE, semevent.Kernel)
	for _, ev := range recs {
		if ev.Boundary != semevent.FUSE || ev.Seen != both || len(ev.Observed) != 1 {
			t.Errorf("journaled %s at %s seen %v observed %d, want the FUSE event seen by both", ev.Path, ev.Boundary, ev.Seen, len(ev.Observed))
		}
	}
	if n := len(live.got()); n != 20 {
		t.Errorf("live subscriber got %d events, want 20", n)
	}
}

// Issue 14 item 12: the default dedup settings fold the bridge's events:
// the key ignores offset and size (the kernel reports a write session
// with Size 0), and per-call events, which only FUSE sees, do not wait.
func TestDefaultDedupFoldsTheBridgesEvents(t *testing.T) {
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{}})
	var rec recorder
	if _, err := b.Subscribe(&rec, nil); err != nil {
		t.Fatal(err)
	}
	sess := func(bd semevent.Boundary, size int64) *semevent.Event {
		ev := session(bd, "/m/log", 0)
		ev.Size = size
		return ev
	}
	publishAll(t, b,
		&semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/m/log", Offset: 4096, Size: 100}, // a per-call write
		sess(semevent.FUSE, 300), sess(semevent.Kernel, 0),
		&semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.Kernel, Path: "/m/new"},
		&semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: "/m/new", PID: 9},
	)
	// No clock advance: what is delivered was folded, or never waited.
	eventually(t, "three events", func() bool { return len(rec.got()) == 3 })
	got := rec.got()
	both := semevent.Boundaries(semevent.FUSE, semevent.Kernel)
	if got[0].Size != 100 || got[0].Seen != semevent.Boundaries(semevent.FUSE) {
		t.Errorf("first event %+v, want the per-call write, not held", got[0])
	}
	if got[1].Size != 300 || got[1].Seen != both || got[2].Path != "/m/new" || got[2].Seen != both {
		t.Errorf("got %v seen %v and %v seen %v, want the session and the create folded", got[1].Path, got[1].Seen, got[2].Path, got[2].Seen)
	}
	if propagation.DefaultDedupWindow < 500*time.Millisecond {
		t.Errorf("DefaultDedupWindow = %v, shorter than the kernel watcher's lag on a loaded machine", propagation.DefaultDedupWindow)
	}
}

// Issue 14 item 13: dedup is exact behind a slow subscriber and a backlog.
// The FUSE queue is four times as busy as the kernel's (per-call writes
// that only FUSE sees), so the dispatcher takes each kernel create long
// before its FUSE twin; the clock moves by half a window per operation.
// Every create must be delivered once, folded.
func TestDedupExactBehindSlowSubscriberAndBacklog(t *testing.T) {
	const creates = 2000
	const window = 10 * time.Millisecond
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, QueueSize: 1024, Dedup: &propagation.DedupOptions{Window: window}})
	var mu sync.Mutex
	count := map[string]int{}
	folded := 0
	slow := semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if ev.Kind == semevent.KindFileCreate {
			mu.Lock()
			count[ev.Path]++
			if ev.Seen == semevent.Boundaries(semevent.FUSE, semevent.Kernel) {
				folded++
			}
			mu.Unlock()
		}
		for range 200 { // a slow subscriber: it works, it does not sleep
			runtime.Gosched()
		}
		return nil
	})
	if _, err := b.Subscribe(slow, &propagation.SubscribeOptions{Buffer: 16}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range creates {
		// The kernel sighting first: its queue is short, so the dispatcher
		// takes it at once; the FUSE twin waits behind the FUSE backlog.
		path := fmt.Sprintf("/t/%d", i)
		if err := b.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.Kernel, Path: path}); err != nil {
			t.Fatal(err)
		}
		for k := range 3 {
			if err := b.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: path, Offset: int64(k)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: path}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			clock.Advance(window / 2)
		}
	}
	// Twins carry the same stamp; nothing is left unpaired, so Sync needs
	// no more clock.
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range count {
		if n > 1 {
			dups += n - 1
		}
	}
	if dups != 0 || len(count) != creates || folded != creates {
		t.Fatalf("%d duplicates, %d distinct creates, %d folded; want 0, %d, %d", dups, len(count), folded, creates, creates)
	}
	if st := b.Stats(); st.Dropped.Total() != 0 || st.DedupEvicted != 0 {
		t.Fatalf("dropped %d, evicted early %d, want 0", st.Dropped.Total(), st.DedupEvicted)
	}
}

// Issue 14 item 14: while an event waits for its twin, the dispatcher
// sleeps on a timer set for the end of the window, and runs no round
// until it fires.
func TestDispatcherParksWhileAnEventWaitsForItsTwin(t *testing.T) {
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: time.Hour}})
	var rec recorder
	if _, err := b.Subscribe(&rec, nil); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: "/alone"})
	eventually(t, "the dispatcher parked", func() bool { return b.Parked() && clock.Waiting() > 0 })
	dl := clock.Deadlines()
	if want := epoch.Add(time.Hour); len(dl) == 0 || dl[len(dl)-1].Before(want) || dl[len(dl)-1].After(want.Add(time.Millisecond)) {
		t.Fatalf("timers at %v, want one at the end of the window %v", dl, want)
	}
	rounds := b.Rounds()
	for range 10000 {
		runtime.Gosched()
	}
	if r := b.Rounds(); r != rounds || !b.Parked() {
		t.Fatalf("the dispatcher ran %d rounds while parked (parked %v): it spins", r-rounds, b.Parked())
	}
	clock.Advance(time.Hour + time.Millisecond)
	eventually(t, "release at the end of the window", func() bool { return len(rec.got()) == 1 })
}

// Issue 14 item 15: with a Router, a subscription that no rule names is
// counted in Stats and reported once through OnError; a reload that names
// it clears the count.
func TestUnroutedSubscriptionIsCountedAndReported(t *testing.T) {
	tab, err := routing.New(&routing.RuleSet{Rules: []routing.Rule{{Subject: "fs.>", To: []string{"indexer"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reports []string
	b := newBus(t, &propagation.Options{Router: tab, OnError: func(err error) {
		mu.Lock()
		reports = append(reports, err.Error())
		mu.Unlock()
	}})
	var idx, orphan recorder
	for name, r := range map[string]*recorder{"indexer": &idx, "orphan": &orphan} {
		if _, err := b.Subscribe(r, &propagation.SubscribeOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		publishAll(t, b, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/x"})
	}
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := 0
	for _, r := range reports {
		if strings.Contains(r, `"orphan"`) {
			n++
		}
	}
	mu.Unlock()
	if n != 1 {
		t.Errorf("OnError got %d reports about the orphan subscription, want 1: %q", n, reports)
	}
	if st := b.Stats(); st.Unrouted != 1 {
		t.Errorf("Stats.Unrouted = %d, want 1", st.Unrouted)
	}
	if err := tab.Load(&routing.RuleSet{Rules: []routing.Rule{{Subject: "fs.>", To: []string{"indexer", "orphan"}}}}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/y"})
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Unrouted != 0 || len(orphan.got()) != 1 {
		t.Errorf("after a reload naming it: Unrouted %d, orphan got %d events; want 0 and 1", st.Unrouted, len(orphan.got()))
	}
}

// Issue 14 item 19: Sync returns once everything published before it has
// been handled, without Close.
func TestSyncWaitsForEveryEarlierEvent(t *testing.T) {
	b := newBus(t, &propagation.Options{QueueSize: 8})
	var handled atomic.Int64
	slow := semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		for range 100 {
			runtime.Gosched()
		}
		handled.Add(1)
		return nil
	})
	for _, w := range []int{1, 4} {
		if _, err := b.Subscribe(slow, &propagation.SubscribeOptions{Workers: w, Buffer: 4}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		publishAll(t, b, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/s/%d", i%7)})
	}
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := handled.Load(); n != 600 {
		t.Fatalf("Sync returned with %d of 600 deliveries done", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	publishAll(t, b, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/late"})
	if err := b.Sync(ctx); !errors.Is(err, context.Canceled) && err != nil {
		t.Fatalf("Sync with an ended ctx = %v", err)
	}
}

// Issue 18 item 1: durable consumer names belong to the tenant that uses
// them: globex opening "indexer" gets its own consumer and cannot move
// acme's offset.
func TestDurableConsumerNamesBelongToTheirTenant(t *testing.T) {
	j := openJournal(t, t.TempDir())
	b := newBus(t, &propagation.Options{Journal: j, Durability: propagation.Durable})
	for i := range 10 {
		publishAll(t, b,
			&semevent.Event{Kind: semevent.KindFileCreate, Tenant: "acme", Path: fmt.Sprintf("/a%d", i)},
			&semevent.Event{Kind: semevent.KindFileCreate, Tenant: "globex", Path: fmt.Sprintf("/g%d", i)})
	}
	consume := func(tenant string) []*semevent.Event {
		var rec recorder
		sub, err := b.Subscribe(&rec, &propagation.SubscribeOptions{Tenant: tenant, Replay: &propagation.Replay{Consumer: "indexer"}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, tenant+"'s events", func() bool { return len(rec.got()) >= 10 })
		sub.Unsubscribe()
		waitDone(t, sub)
		return rec.got()
	}
	if got := consume("globex"); len(got) != 10 || got[0].Tenant != "globex" {
		t.Fatalf("globex got %d events", len(got))
	}
	got := consume("acme")
	if len(got) != 10 {
		t.Fatalf("acme got %d of its 10 events through its consumer after globex used the same name", len(got))
	}
	for _, ev := range got {
		if ev.Tenant != "acme" {
			t.Fatalf("acme's consumer delivered a %s event", ev.Tenant)
		}
	}
	if _, err := b.Subscribe(&recorder{}, &propagation.SubscribeOptions{Replay: &propagation.Replay{Consumer: "../x"}}); !errors.Is(err, propagation.ErrConsumerName) {
		t.Errorf("Subscribe with consumer %q = %v, want ErrConsumerName", "../x", err)
	}
}

// Issue 18 item 2: sightings of different tenants never fold, even with
// the same path, kind and boundaries.
func TestDedupNeverFoldsAcrossTenants(t *testing.T) {
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: time.Second}})
	var acme, globex recorder
	if _, err := b.Subscribe(&acme, &propagation.SubscribeOptions{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(&globex, &propagation.SubscribeOptions{Tenant: "globex"}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b,
		&semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Tenant: "acme", Path: "/shared", PID: 1},
		&semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.Kernel, Tenant: "globex", Path: "/shared", PID: 2})
	clock.Advance(2 * time.Second)
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, g := acme.got(), globex.got()
	if len(a) != 1 || len(g) != 1 {
		t.Fatalf("acme got %d, globex got %d events; want 1 each", len(a), len(g))
	}
	if len(a[0].Observed) != 0 || a[0].Seen != semevent.Boundaries(semevent.FUSE) {
		t.Errorf("acme's event seen %v observed %+v: globex's sighting was folded into it", a[0].Seen, a[0].Observed)
	}
	if st := b.Stats(); st.Deduplicated != 0 {
		t.Errorf("Deduplicated = %d across tenants, want 0", st.Deduplicated)
	}
}

// Issue 18 item 21: the bus refuses an event above Options.MaxEventBytes
// with a typed error, counting Data and attributes.
func TestPublishRefusesAnOversizedEvent(t *testing.T) {
	b := newBus(t, nil)
	big := &semevent.Event{Kind: semevent.KindCustom, Path: "/x", Data: make([]byte, 2<<20)}
	err := b.Publish(context.Background(), big)
	var te *propagation.EventTooLargeError
	if !errors.As(err, &te) || !errors.Is(err, propagation.ErrEventTooLarge) || te.Max != propagation.DefaultMaxEventBytes {
		t.Fatalf("Publish of a 2 MiB event = %v, want *EventTooLargeError with the default limit", err)
	}
	attrs := &semevent.Event{Kind: semevent.KindCustom, Path: "/x"}
	for i := range 64 {
		attrs.Attrs = append(attrs.Attrs, semevent.Attr{Key: fmt.Sprintf("k%d", i), Value: strings.Repeat("v", 256<<10)})
	}
	if err := b.Publish(context.Background(), attrs); !errors.Is(err, propagation.ErrEventTooLarge) {
		t.Fatalf("Publish with 64 × 256 KiB attributes = %v, want ErrEventTooLarge", err)
	}
	if err := propagation.PublishBatch(context.Background(), b, []*semevent.Event{{Kind: semevent.KindCustom}, big}); !errors.Is(err, propagation.ErrEventTooLarge) {
		t.Fatalf("PublishBatch with an oversized event = %v, want ErrEventTooLarge", err)
	}
	if st := b.Stats(); st.TooLarge != 3 || st.Published != 0 {
		t.Errorf("Stats TooLarge %d Published %d, want 3 and 0", st.TooLarge, st.Published)
	}
	unlimited := newBus(t, &propagation.Options{MaxEventBytes: -1})
	if err := unlimited.Publish(context.Background(), big); err != nil {
		t.Fatalf("with MaxEventBytes -1: %v", err)
	}
}

// TestDedupPropertyRandomLoads is the machinery behind items 13 and 18.2:
// random rounds of operations, each seen at FUSE, at the kernel or both, by
// random tenants on a few shared paths, published by concurrent goroutines
// in random order behind a subscriber of random slowness, with the clock
// moving two windows between rounds. The oracle: an operation seen twice
// is delivered once, folded, to its own tenant; one seen once is
// delivered once, alone; nothing else.
func TestDedupPropertyRandomLoads(t *testing.T) {
	const window = time.Second
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			clock := propagationtest.NewClock(epoch, false)
			b := newBus(t, &propagation.Options{Clock: clock, QueueSize: 2 << r.IntN(6), Quantum: 1 + r.IntN(64),
				Dedup: &propagation.DedupOptions{Window: window}})
			type key struct{ tenant, path string }
			var mu sync.Mutex
			got := map[key][]semevent.BoundarySet{}
			slowness := r.IntN(50)
			if _, err := b.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
				mu.Lock()
				k := key{ev.Tenant, ev.Path}
				got[k] = append(got[k], ev.Seen)
				mu.Unlock()
				for range slowness {
					runtime.Gosched()
				}
				return nil
			}), &propagation.SubscribeOptions{Buffer: 1 + r.IntN(32)}); err != nil {
				t.Fatal(err)
			}
			want := map[key]semevent.BoundarySet{}
			tenants := []string{"", "acme", "globex"}
			for round := range 8 {
				var evs []*semevent.Event
				for op := range 40 + r.IntN(40) {
					k := key{tenants[r.IntN(len(tenants))], fmt.Sprintf("/r%d/p%d", round, op%13)}
					if _, dup := want[k]; dup {
						continue // one operation per key and round
					}
					var seen semevent.BoundarySet
					switch r.IntN(3) {
					case 0:
						seen = semevent.Boundaries(semevent.FUSE)
					case 1:
						seen = semevent.Boundaries(semevent.Kernel)
					default:
						seen = semevent.Boundaries(semevent.FUSE, semevent.Kernel)
					}
					want[k] = seen
					for _, bd := range []semevent.Boundary{semevent.FUSE, semevent.Kernel} {
						if seen.Has(bd) {
							evs = append(evs, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: bd, Tenant: k.tenant, Path: k.path})
						}
					}
					// Noise only FUSE sees, filling its queue.
					for range r.IntN(4) {
						evs = append(evs, &semevent.Event{Kind: semevent.KindFileRead, Boundary: semevent.FUSE, Tenant: k.tenant, Path: k.path + ".noise"})
					}
				}
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				var wg sync.WaitGroup
				const pubs = 4
				for p := range pubs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := p; i < len(evs); i += pubs {
							if err := b.Publish(context.Background(), evs[i]); err != nil {
								t.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				clock.Advance(2*window + time.Millisecond)
			}
			if err := b.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, seen := range want {
				if g := got[k]; len(g) != 1 || g[0] != seen {
					t.Errorf("%v seen %v: delivered %v, want once with that Seen", k, seen, g)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok && !strings.HasSuffix(k.path, ".noise") {
					t.Errorf("%v delivered %v, never published", k, g)
				}
			}
			if st := b.Stats(); st.Dropped.Total() != 0 || st.DedupEvicted != 0 {
				t.Errorf("dropped %d evicted %d", st.Dropped.Total(), st.DedupEvicted)
			}
		})
	}
}
