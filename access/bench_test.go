package access_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/access/audit"
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
			opts := &propagation.Options{}
			if tc.az != nil { // a nil *Authorizer in the interface would not be "no authorizer"
				opts.Authorizer = tc.az
			}
			bus, err := propagation.New(opts)
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

// BenchmarkDenialAuditDelay is issue 18 item 15: 20k events of distinct
// topics that one subscription may not see (each a first denial, so each
// audited) and another may; the op is the time until the second
// subscription has all of them. "no-audit" is the baseline; "audit" has
// a file trail with a checkpoint (fsync and ed25519) every 64 records.
// The ratio audit/no-audit is the delay auditing causes the other
// subscriber.
func BenchmarkDenialAuditDelay(b *testing.B) {
	const n = 20_000
	for _, withAudit := range []bool{false, true} {
		name := "no-audit"
		if withAudit {
			name = "audit"
		}
		b.Run(name, func(b *testing.B) {
			var dropped uint64
			defer func() { b.ReportMetric(float64(dropped)/float64(b.N), "dropped-audits/op") }()
			for range b.N {
				b.StopTimer()
				opts := &access.Options{}
				var closeTrail func()
				var trailLog *audit.Log
				if withAudit {
					_, priv, _ := ed25519.GenerateKey(nil)
					s, err := audit.OpenFile(filepath.Join(b.TempDir(), "audit.log"))
					if err != nil {
						b.Fatal(err)
					}
					trail, err := audit.New(s, &audit.Options{Key: priv, CheckpointEvery: 64})
					if err != nil {
						b.Fatal(err)
					}
					opts.Audit = trail
					trailLog = trail
					closeTrail = func() { closeLog(trail) }
				}
				az, err := access.New(&access.Policy{Roles: []access.Role{
					{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>"}}}},
					{Name: "all", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe, access.OpPublish}}}},
				}}, opts)
				if err != nil {
					b.Fatal(err)
				}
				bus, err := propagation.New(&propagation.Options{Authorizer: az})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { return nil }),
					&propagation.SubscribeOptions{Principal: &access.Principal{User: "r", Roles: []string{"reader"}}}); err != nil {
					b.Fatal(err)
				}
				var got atomic.Int64
				done := make(chan struct{})
				if _, err := bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
					if got.Add(1) == n {
						close(done)
					}
					return nil
				}), &propagation.SubscribeOptions{Principal: &access.Principal{User: "o", Roles: []string{"all"}}}); err != nil {
					b.Fatal(err)
				}
				ctx := access.WithPrincipal(context.Background(), &access.Principal{User: "w", Roles: []string{"all"}})
				evs := make([]*semevent.Event, n)
				for i := range evs {
					evs[i] = &semevent.Event{Kind: semevent.KindCustom, Topic: fmt.Sprintf("denied.%d", i), Path: "/a"}
				}
				b.StartTimer()
				for _, ev := range evs {
					if err := bus.Publish(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
				<-done
				b.StopTimer()
				if trailLog != nil {
					dropped += trailLog.Stats().Dropped
				}
				bus.Close(context.Background())
				if closeTrail != nil {
					closeTrail()
				}
				b.StartTimer()
			}
		})
	}
}

func closeLog(l *audit.Log) { l.Close(context.Background()) }
