// Quickstart builds a bus, subscribes three handlers, publishes a realistic
// stream of file events seen by a FUSE server and by the kernel watcher, and
// prints what the bus did: events delivered per subscriber, drops by reason,
// sightings folded by deduplication, latency and throughput.
//
// It runs the stream twice: first at a steady 50k operations/s, where the
// handlers keep up and the latency is the bus's own, then as fast as the
// publisher can go, where queues fill, the Block subscriber slows the
// publisher down and the DropOldest one sheds load.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error { return tour(25_000, 200_000) }

// tour runs the steady stream of steady operations, then the saturated one.
func tour(steady, saturated int) error {
	fmt.Println("semevent quickstart: FUSE and kernel sightings of file operations through one bus")
	if err := stream("steady 50k ops/s", steady, 20*time.Microsecond); err != nil {
		return err
	}
	return stream("saturated", saturated, 0)
}

// counters are what the handlers count.
type counters struct {
	indexed, bytes, audited, traced atomic.Int64
}

// stream publishes ops file operations, one every pace (0: no pause), and
// prints the bus's statistics.
func stream(title string, ops int, pace time.Duration) error {
	ctx := context.Background()

	// Deduplication folds the kernel watcher's sighting of an operation
	// made through the FUSE mount into the FUSE event, which keeps its
	// context (pid, trace).
	bus, err := propagation.New(&propagation.Options{
		Dedup: &propagation.DedupOptions{Window: 5 * time.Millisecond},
	})
	if err != nil {
		return err
	}
	var c counters
	if err := subscribe(bus, &c); err != nil {
		return err
	}

	r := rand.New(rand.NewPCG(1, 2))
	tenants := []string{"acme", "globex", "initech"}
	kinds := []semevent.Kind{semevent.KindFileWrite, semevent.KindFileWrite, semevent.KindFileRead, semevent.KindFileOpen, semevent.KindFileClose, semevent.KindFileCreate}
	start := time.Now()
	next := start
	for i := range ops {
		if pace > 0 {
			for time.Now().Before(next) {
			}
			next = next.Add(pace)
		}
		tenant := tenants[r.IntN(len(tenants))]
		fuse := &semevent.Event{
			Kind:     kinds[r.IntN(len(kinds))],
			Boundary: semevent.FUSE,
			Tenant:   tenant,
			Path:     fmt.Sprintf("/data/%s/file-%03d.bin", tenant, r.IntN(500)),
			PID:      uint32(1000 + r.IntN(8)),
			Offset:   int64(r.IntN(1<<20)) &^ 4095,
			Size:     4096,
			Trace:    semevent.TraceContext{TraceID: semevent.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 1}, SpanID: semevent.SpanID{1}, Flags: semevent.FlagSampled},
		}
		// The kernel watcher reports creates and write sessions (one event
		// per open→close, marked with the session attribute), not single
		// reads, opens or closes: those only FUSE sees.
		var kernel *semevent.Event
		switch fuse.Kind {
		case semevent.KindFileWrite:
			fuse.Attrs = []semevent.Attr{{Key: propagation.AttrWriteSession, Value: "fuse"}}
			kernel = &semevent.Event{Kind: fuse.Kind, Boundary: semevent.Kernel, Tenant: tenant, Path: fuse.Path,
				Attrs: []semevent.Attr{{Key: propagation.AttrWriteSession, Value: "kernel"}}}
		case semevent.KindFileCreate:
			kernel = &semevent.Event{Kind: fuse.Kind, Boundary: semevent.Kernel, Tenant: tenant, Path: fuse.Path}
		}
		// Nine in ten operations go through the FUSE mount, and the kernel
		// also sees those it reports; one in ten is made on the backing
		// directory directly and is seen by the kernel alone, without a
		// trace context.
		if i%10 != 0 {
			if err := bus.Publish(ctx, fuse); err != nil {
				return err
			}
		}
		if kernel != nil {
			if err := bus.Publish(ctx, kernel); err != nil {
				return err
			}
		}
	}
	if err := bus.Close(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	report(title, ops, elapsed, bus.Stats(), &c)
	return nil
}

// subscribe registers the three handlers.
func subscribe(bus *propagation.Bus, c *counters) error {
	// 1. An indexer that wants writes under /data, on 4 workers, in order
	//    per file.
	dataWrites := filter.Func(func(ev *semevent.Event) bool {
		return ev.Kind == semevent.KindFileWrite && strings.HasPrefix(ev.Path, "/data/")
	})
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		c.indexed.Add(1)
		c.bytes.Add(ev.Size)
		return nil
	}), &propagation.SubscribeOptions{Name: "indexer", Filter: dataWrites, Workers: 4}); err != nil {
		return err
	}

	// 2. An auditor that must see every event of tenant acme: Block, so the
	//    bus slows publishers down rather than lose one.
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		c.audited.Add(1)
		if ev.Trace.IsValid() {
			c.traced.Add(1)
		}
		return nil
	}), &propagation.SubscribeOptions{Name: "auditor", Tenant: "acme"}); err != nil {
		return err
	}

	// 3. A slow dashboard that may miss events: a small buffer that drops
	//    the oldest, every drop counted.
	_, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		time.Sleep(20 * time.Microsecond)
		return nil
	}), &propagation.SubscribeOptions{Name: "dashboard", Buffer: 64, Policy: propagation.DropOldest})
	return err
}

func report(title string, ops int, elapsed time.Duration, st propagation.Stats, c *counters) {
	fmt.Printf("\n%s: %d operations, %d sightings published in %v (%.2fM sightings/s)\n",
		title, ops, st.Published, elapsed.Round(time.Millisecond), float64(st.Published)/elapsed.Seconds()/1e6)
	fmt.Printf("  deduplicated  %d kernel sightings folded into their FUSE events\n", st.Deduplicated)
	fmt.Println("  (latency is publish → handler start; kernel-only events wait out the 5ms dedup window,")
	fmt.Println("   and the dashboard's events wait behind its slow handler)")
	fmt.Printf("  delivered     %d handler calls, %d errors, %d panics\n", st.Delivered, st.Errors, st.Panics)
	for _, s := range st.Subscriptions {
		fmt.Printf("  %-9s     matched %6d  delivered %6d  dropped %6d  latency p50 %-9v p99 %v\n",
			s.Name, s.Matched, s.Delivered, s.Dropped.Total(), s.Latency.P50.Round(time.Microsecond/10), s.Latency.P99.Round(time.Microsecond/10))
	}
	fmt.Printf("  indexer       %d writes under /data, %d MiB\n", c.indexed.Load(), c.bytes.Load()>>20)
	fmt.Printf("  auditor       %d acme events, %d carrying the FUSE sighting's trace context\n", c.audited.Load(), c.traced.Load())
}
