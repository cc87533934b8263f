package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/propagation"
)

// Issue 18 item 6: one event with a far-future time, from any tenant,
// moved the one watermark and made 1,000 of acme's next 1,010 events
// late. It is refused now, counted and handed to OnFuture; acme's events
// all count.
func TestFarFutureEventDoesNotBlindOtherTenants(t *testing.T) {
	for _, w := range []analytics.Window{analytics.Tumbling(time.Second), analytics.Session(time.Second)} {
		t.Run(w.Kind.String(), func(t *testing.T) {
			var now atomic.Int64
			now.Store(t0)
			var future []*semevent.Event
			var counted uint64
			p, err := analytics.New(&analytics.Options{
				Window: w, Key: semevent.TenantKey, Clock: now.Load,
				OnFuture: func(ev *semevent.Event) { future = append(future, ev) },
				OnResult: func(r analytics.Result) {
					if r.Key.Tenant == "acme" && !r.Update {
						counted += r.Agg.Count
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_ = p.Handle(ctx, &semevent.Event{Tenant: "acme", Path: "/a", Time: t0})
			// globex, a year ahead of the processing clock.
			_ = p.Handle(ctx, &semevent.Event{Tenant: "globex", Path: "/g", Time: t0 + int64(365*24*time.Hour)})
			for i := range 1010 {
				now.Add(int64(time.Millisecond))
				_ = p.Handle(ctx, &semevent.Event{Tenant: "acme", Path: "/a", Time: t0 + int64(i+1)*int64(time.Millisecond)})
			}
			_ = p.Advance(ctx, t0+int64(time.Hour))
			s := p.Stats()
			if s.Late != 0 || counted != 1011 {
				t.Errorf("acme: %d late, %d counted in results; want 0 late, 1011 counted", s.Late, counted)
			}
			if s.Future != 1 || len(future) != 1 || future[0].Tenant != "globex" {
				t.Errorf("Stats.Future = %d, OnFuture got %d events; want the one globex event", s.Future, len(future))
			}
			// Within the bound (DefaultMaxFuture) an event is on time.
			_ = p.Handle(ctx, &semevent.Event{Tenant: "globex", Path: "/g", Time: now.Load() + int64(analytics.DefaultMaxFuture)})
			if s := p.Stats(); s.Future != 1 {
				t.Errorf("an event exactly DefaultMaxFuture ahead was refused (Future = %d)", s.Future)
			}
			_ = p.Close(ctx)
		})
	}
}

// Issue 18 item 19: per-key window state is capped by MaxKeys. 500,000
// distinct attacker-chosen keys keep at most MaxKeys aggregates, and the
// heap grows by at most the documented 400 bytes per key held (plus 1 MiB
// of measurement slack); the rest are refused and counted. Without the
// cap 500k keys grew the heap by about 40 MiB.
func TestMaxKeysBoundsHeap(t *testing.T) {
	const attackerKeys = 500_000
	for _, tc := range []struct {
		w       analytics.Window
		maxKeys int
	}{
		{analytics.Tumbling(time.Minute), 10_000},
		{analytics.Session(time.Minute), 10_000},
		{analytics.Tumbling(time.Minute), 0},
	} {
		capKeys := tc.maxKeys
		if capKeys == 0 {
			capKeys = analytics.DefaultMaxKeys
		}
		t.Run(fmt.Sprintf("%s-%d", tc.w.Kind, capKeys), func(t *testing.T) {
			var results int
			p, err := analytics.New(&analytics.Options{Window: tc.w, MaxKeys: tc.maxKeys, MaxFuture: -1,
				OnResult: func(analytics.Result) { results++ }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			before := heapInUse()
			ev := &semevent.Event{Tenant: "evil", Kind: semevent.KindFileWrite}
			buf := make([]byte, 0, 32)
			for i := range attackerKeys {
				buf = strconv.AppendInt(append(buf[:0], "/attack/"...), int64(i), 10)
				ev.Path, ev.Time = string(buf), t0+int64(i)
				_ = p.Handle(ctx, ev)
			}
			grown := heapInUse() - before
			s := p.Stats()
			t.Logf("heap grew %.1f MiB for %d keys held (%.0f B/key), %d refused", float64(grown)/(1<<20), s.Keys, float64(grown)/float64(s.Keys), s.KeyOverflow)
			if s.Keys != capKeys || s.KeyOverflow != uint64(attackerKeys-capKeys) {
				t.Errorf("Stats.Keys = %d, KeyOverflow = %d; want %d and %d", s.Keys, s.KeyOverflow, capKeys, attackerKeys-capKeys)
			}
			if limit := int64(capKeys)*analytics.MaxKeyBytes + 1<<20; grown > limit {
				t.Errorf("heap grew %.1f MiB for 500k attacker keys, cap %.1f MiB", float64(grown)/(1<<20), float64(limit)/(1<<20))
			}
			// Closing the window frees the room.
			_ = p.Advance(ctx, t0+int64(time.Hour))
			if s := p.Stats(); s.Keys != 0 || results != capKeys {
				t.Errorf("after the window closed: Stats.Keys = %d, %d results; want 0, %d", s.Keys, results, capKeys)
			}
			_ = p.Close(ctx)
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// Issue 18 item 22: on a bus with an authorizer, the processor publishes
// its results under its own Principal; without one the bus refuses them.
func TestResultsPassAnAuthorizedBus(t *testing.T) {
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "analytics", Grants: []access.Grant{{
			Ops: []access.Op{access.OpPublish}, Topics: []string{"analytics.window.>", "analytics.anomaly.>"},
		}}},
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := propagation.New(&propagation.Options{Authorizer: az})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	got := make(chan *semevent.Event, 16)
	sub, err := bus.Subscribe(semevent.HandlerFunc(func(_ context.Context, ev *semevent.Event) error {
		got <- ev.Clone()
		return nil
	}), &propagation.SubscribeOptions{Name: "reader", Principal: &access.Principal{User: "ops", Roles: []string{"reader"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		principal *access.Principal
		wantErrs  uint64
	}{
		{"no principal", nil, 1},
		{"analytics principal", &access.Principal{User: "analytics", Roles: []string{"analytics"}}, 0},
	} {
		var errs []error
		p, err := analytics.New(&analytics.Options{
			Name: "w", Publisher: bus, Principal: tc.principal, MaxFuture: -1,
			OnError: func(err error) { errs = append(errs, err) },
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Handle(ctx, &semevent.Event{Tenant: "acme", Kind: semevent.KindFileWrite, Path: "/a", Time: t0})
		_ = p.Advance(ctx, t0+int64(time.Minute))
		_ = p.Close(ctx)
		s := p.Stats()
		if s.PublishErrors != tc.wantErrs || len(errs) != int(tc.wantErrs) {
			t.Errorf("%s: PublishErrors = %d (%v), want %d", tc.name, s.PublishErrors, errs, tc.wantErrs)
		}
		var pe *analytics.PublishError
		if tc.wantErrs > 0 && (len(errs) == 0 || !errors.As(errs[0], &pe)) {
			t.Errorf("%s: OnError got %v, want a *PublishError", tc.name, errs)
		}
		if tc.wantErrs == 0 {
			select {
			case ev := <-got:
				r, err := analytics.DecodeResult(ev)
				if err != nil || r.Key != (semevent.Key{Tenant: "acme", S: "/a"}) || ev.Tenant != "acme" || r.Agg.Count != 1 {
					t.Errorf("%s: delivered %v (%+v, %v), want acme's /a result", tc.name, ev, r, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s: the result never reached the subscriber", tc.name)
			}
		}
	}
	if len(got) != 0 {
		t.Errorf("%d unexpected deliveries", len(got))
	}
}
