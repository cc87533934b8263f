package access_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/propagation"
)

// BenchmarkAuthorizedDelivery measures publish → handler through the bus
// without access control (open) and with an Authorizer checking the
// publisher and every delivery (authorized), in one run, so the difference
// in ns/op is the cost of the checks.
func BenchmarkAuthorizedDelivery(b *testing.B) {
	az, err := access.New(isolationPolicy, nil)
	if err != nil {
		b.Fatal(err)
	}
	reader := &access.Principal{User: "r", Tenant: "acme", Roles: []string{"reader"}}
	writer := &access.Principal{User: "w", Tenant: "acme", Roles: []string{"writer"}}
	for _, tc := range []struct {
		name string
		az   *access.Authorizer
	}{{"open", nil}, {"authorized", az}} {
		b.Run(tc.name, func(b *testing.B) {
			bus, err := propagation.New(&propagation.Options{Authorizer: tc.az})
			if err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			var done sync.WaitGroup
			done.Add(1)
			n := int64(b.N)
			if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
				if got.Add(1) == n {
					done.Done()
				}
				return nil
			}), &propagation.SubscribeOptions{Principal: reader}); err != nil {
				b.Fatal(err)
			}
			ev := &semevent.Event{ID: semevent.MakeID(1, 1, 1), Time: 1, Kind: semevent.KindFileWrite, Tenant: "acme", Path: "/data/a", Seen: 1}
			ctx := access.WithPrincipal(context.Background(), writer)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := bus.Publish(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			done.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			bus.Close(context.Background())
		})
	}
}

// BenchmarkCheckerAllow is the per-delivery check alone: a cached topic, a
// tenant comparison, a path glob.
func BenchmarkCheckerAllow(b *testing.B) {
	az, err := access.New(isolationPolicy, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := az.Checker(&access.Principal{User: "r", Tenant: "acme", Roles: []string{"reader"}}, access.OpSubscribe)
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Tenant: "acme", Path: "/data/a/b.txt"}
	b.ReportAllocs()
	for range b.N {
		if !c.Allow(ev) {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthorize is the publish-side check: the shared cache.
func BenchmarkAuthorize(b *testing.B) {
	az, err := access.New(isolationPolicy, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := &access.Principal{User: "w", Tenant: "acme", Roles: []string{"writer"}}
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Tenant: "acme", Path: "/data/a/b.txt"}
	b.ReportAllocs()
	for range b.N {
		if err := az.Authorize(p, access.OpPublish, ev); err != nil {
			b.Fatal(err)
		}
	}
}
