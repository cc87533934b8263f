package propagation_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/propagationtest"
	"github.com/vexfs/semevent/routing"
)

type recorder struct {
	mu  sync.Mutex
	evs []*semevent.Event
}

func (r *recorder) Handle(ctx context.Context, ev *semevent.Event) error {
	r.mu.Lock()
	r.evs = append(r.evs, ev.Clone())
	r.mu.Unlock()
	return nil
}

func (r *recorder) got() []*semevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*semevent.Event(nil), r.evs...)
}

func openJournal(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, nil)
	if err != nil {
		t.Fatalf("journal.Open: %v", err)
	}
	return j
}

// TestDurablePublishSurvivesTheBusAndReplays publishes durably on one bus,
// closes it and the journal, reopens both, and replays: every event comes
// back with every field intact, and new durable events follow live.
func TestDurablePublishSurvivesTheBusAndReplays(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	j := openJournal(t, dir)
	b, err := propagation.New(&propagation.Options{Journal: j, Durability: propagation.Durable})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	var sent []*semevent.Event
	for i := range 200 {
		ev := propagationtest.RandomEvent(r)
		sent = append(sent, ev.Clone())
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatalf("durable Publish %d: %v", i, err)
		}
		if got := j.NextOffset(); got != uint64(i+1) {
			t.Fatalf("after durable Publish %d the journal holds %d records: Publish returned before the commit", i, got)
		}
	}
	// A volatile publish on the same bus skips the journal.
	if err := b.Publish(propagation.WithDurability(ctx, propagation.Volatile), &semevent.Event{Path: "/volatile"}); err != nil {
		t.Fatal(err)
	}
	if j.NextOffset() != 200 {
		t.Fatalf("a volatile publish reached the journal")
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	j = openJournal(t, dir)
	defer j.Close(context.Background())
	b = newBus(t, &propagation.Options{Journal: j})
	var rec recorder
	sub, err := b.Subscribe(&rec, &propagation.SubscribeOptions{Name: "replayer", Replay: &propagation.Replay{From: 50}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "replay of 150 events", func() bool { return len(rec.got()) == 150 })
	for i, ev := range rec.got() {
		if d := semevent.Diff(sent[50+i], ev); d != nil {
			t.Fatalf("replayed event %d differs in %v", 50+i, d)
		}
	}
	live := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/after-restart"}
	if err := b.Publish(propagation.WithDurability(ctx, propagation.Durable), live); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new durable event", func() bool { return len(rec.got()) == 151 })
	if got := rec.got()[150]; got.Path != "/after-restart" || got.ID != live.ID {
		t.Fatalf("followed event %s %v, want /after-restart %v", got.Path, got.ID, live.ID)
	}
	sub.Unsubscribe()
	<-sub.Done()
}

func TestDurableConsumerResumesAfterCommittedOffset(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t, t.TempDir())
	defer j.Close(context.Background())
	b := newBus(t, &propagation.Options{Journal: j, Durability: propagation.Durable})
	for i := range 10 {
		if err := b.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var first recorder
	sub, err := b.Subscribe(&first, &propagation.SubscribeOptions{Replay: &propagation.Replay{Consumer: "indexer"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "first consumer", func() bool { return len(first.got()) == 10 })
	sub.Unsubscribe()
	<-sub.Done()
	for i := 10; i < 15; i++ {
		if err := b.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var second recorder
	if _, err := b.Subscribe(&second, &propagation.SubscribeOptions{Replay: &propagation.Replay{Consumer: "indexer"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second consumer reaches offset 14", func() bool {
		got := second.got()
		return len(got) > 0 && got[len(got)-1].Offset == 14
	})
	// At least once: it may see the last event the first one handled
	// again, never fewer than the five new ones, and never a gap.
	got := second.got()
	if len(got) < 5 || len(got) > 6 || got[0].Offset > 10 {
		t.Fatalf("resumed consumer got offsets %d..%d (%d events), want from ≤10 to 14 with no gap", got[0].Offset, got[len(got)-1].Offset, len(got))
	}
}

// failingJournal fails every append.
type failingJournal struct{ propagation.Journal }

var errDiskFull = errors.New("ENOSPC")

func (failingJournal) Append(context.Context, *semevent.Event) (uint64, error) { return 0, errDiskFull }
func (failingJournal) AppendBatch(context.Context, []*semevent.Event) (uint64, error) {
	return 0, errDiskFull
}

func TestDurablePublishFailsWhenTheJournalFails(t *testing.T) {
	b := newBus(t, &propagation.Options{Journal: failingJournal{}, Durability: propagation.Durable})
	var rec recorder
	if _, err := b.Subscribe(&rec, nil); err != nil {
		t.Fatal(err)
	}
	err := b.Publish(context.Background(), &semevent.Event{Path: "/x"})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Publish with a failing journal = %v, want the journal's error", err)
	}
	if err := b.Publish(propagation.WithDurability(context.Background(), propagation.Volatile), &semevent.Event{Path: "/y"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the volatile event", func() bool { return len(rec.got()) == 1 })
	if rec.got()[0].Path != "/y" {
		t.Fatalf("delivered %s: an event the journal refused was delivered", rec.got()[0].Path)
	}
}

func TestReplayAndDurableNeedAJournal(t *testing.T) {
	b := newBus(t, nil)
	if _, err := b.Subscribe(&recorder{}, &propagation.SubscribeOptions{Replay: &propagation.Replay{}}); !errors.Is(err, propagation.ErrNoJournal) {
		t.Errorf("Subscribe(Replay) without a journal = %v, want ErrNoJournal", err)
	}
	if _, err := propagation.New(&propagation.Options{Durability: propagation.Durable}); err == nil {
		t.Error("New(Durable) without a journal succeeded")
	}
}

func TestRouterPicksSubscriptionsAndReloads(t *testing.T) {
	tab, err := routing.New(&routing.RuleSet{Rules: []routing.Rule{
		{Name: "writes", Subject: "fs.file.write", To: []string{"indexer"}},
		{Name: "deletes", Subject: "fs.file.delete", To: []string{"audit"}},
		{Name: "logs", Path: "/var/log/**", To: []string{"audit"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := newBus(t, &propagation.Options{Router: tab})
	var indexer, audit, other recorder
	for name, r := range map[string]*recorder{"indexer": &indexer, "audit": &audit, "other": &other} {
		if _, err := b.Subscribe(r, &propagation.SubscribeOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	publishAll(t, b,
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a"},
		&semevent.Event{Kind: semevent.KindFileDelete, Path: "/data/a"},
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/var/log/syslog"},
		&semevent.Event{Kind: semevent.KindFileRead, Path: "/data/a"},
	)
	eventually(t, "routed delivery", func() bool { return len(indexer.got()) == 2 && len(audit.got()) == 2 })
	// Reload: writes now go to "other" as well.
	if err := tab.Load(&routing.RuleSet{Rules: []routing.Rule{{Subject: "fs.file.write", To: []string{"indexer", "other"}}}}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/b"})
	eventually(t, "delivery under the new rules", func() bool { return len(other.got()) == 1 && len(indexer.got()) == 3 })
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(audit.got()); n != 2 {
		t.Errorf("audit got %d events, want 2", n)
	}
	if st := b.Stats(); st.Matched != st.Delivered || st.Delivered != 6 {
		t.Errorf("matched %d delivered %d, want 6 and 6", st.Matched, st.Delivered)
	}
}

type panickyRouter struct{}

func (panickyRouter) Route(ev *semevent.Event, dst []string) []string {
	if ev.Path == "/boom" {
		panic("router bug")
	}
	return append(dst, "all")
}

func TestPanickingRouterIsRecovered(t *testing.T) {
	b := newBus(t, &propagation.Options{Router: panickyRouter{}})
	var rec recorder
	if _, err := b.Subscribe(&rec, &propagation.SubscribeOptions{Name: "all"}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, &semevent.Event{Path: "/boom"}, &semevent.Event{Path: "/ok"})
	eventually(t, "delivery after the panic", func() bool { return len(rec.got()) == 1 })
	if st := b.Stats(); st.Panics != 1 {
		t.Errorf("Stats().Panics = %d, want 1", st.Panics)
	}
}
