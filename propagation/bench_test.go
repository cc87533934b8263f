package propagation_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

// benchEvent is the same event for the channel baseline and the bus: ID and
// Time set so that the bus reads it without writing to it, and a 64-byte
// payload.
func benchEvent() *semevent.Event {
	return &semevent.Event{
		ID:       semevent.MakeID(1, 1, 1),
		Kind:     semevent.KindFileWrite,
		Boundary: semevent.FUSE,
		Path:     "/data/bench.bin",
		Size:     64,
		Time:     1,
		Seen:     semevent.Boundaries(semevent.FUSE),
		Data:     make([]byte, 64),
	}
}

// BenchmarkChannelBaseline is the floor: one producer, one consumer, a
// buffered channel of *Event, the consumer counting what it receives.
func BenchmarkChannelBaseline(b *testing.B) {
	ev := benchEvent()
	ch := make(chan *semevent.Event, propagation.DefaultBuffer)
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		for e := range ch {
			if e.Size > 0 {
				got.Add(1)
			}
		}
		close(done)
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ch <- ev
	}
	close(ch)
	<-done
	b.StopTimer()
	reportRate(b, float64(got.Load()), "events/s")
}

// BenchmarkChannelFanout is the channel floor for 1→4: the producer sends
// each event on four channels, one per consumer.
func BenchmarkChannelFanout(b *testing.B) {
	ev := benchEvent()
	var got atomic.Int64
	var wg sync.WaitGroup
	chans := make([]chan *semevent.Event, 4)
	for i := range chans {
		chans[i] = make(chan *semevent.Event, propagation.DefaultBuffer)
		wg.Add(1)
		go func(ch chan *semevent.Event) {
			defer wg.Done()
			for e := range ch {
				if e.Size > 0 {
					got.Add(1)
				}
			}
		}(chans[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, ch := range chans {
			ch <- ev
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, float64(b.N), "events/s")
	reportRate(b, float64(got.Load()), "deliveries/s")
}

// BenchmarkBus measures publish → handler throughput with P publishers and
// S subscribers (Block policy, so nothing is dropped and every event is
// handled). events/s counts published events; deliveries/s counts handler
// calls.
func BenchmarkBus(b *testing.B) {
	for _, c := range []struct{ pubs, subs int }{{1, 1}, {1, 4}, {4, 4}} {
		b.Run(fmt.Sprintf("%dx%d", c.pubs, c.subs), func(b *testing.B) {
			bus, err := propagation.New(nil)
			if err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			var wg sync.WaitGroup
			want := int64(b.N/c.pubs*c.pubs) * int64(c.subs)
			wg.Add(1)
			var once sync.Once
			for i := range c.subs {
				_, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
					if got.Add(1) == want {
						once.Do(wg.Done)
					}
					return nil
				}), &propagation.SubscribeOptions{Name: fmt.Sprint("s", i)})
				if err != nil {
					b.Fatal(err)
				}
			}
			ev := benchEvent()
			per := b.N / c.pubs
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			var pw sync.WaitGroup
			for range c.pubs {
				pw.Add(1)
				go func() {
					defer pw.Done()
					for range per {
						if err := bus.Publish(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			pw.Wait()
			if want > 0 {
				wg.Wait()
			}
			b.StopTimer()
			reportRate(b, float64(per*c.pubs), "events/s")
			reportRate(b, float64(got.Load()), "deliveries/s")
			if err := bus.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if st := bus.Stats(); st.Dropped.Total() != 0 || st.Delivered != uint64(want) {
				b.Fatalf("delivered %d dropped %+v, want %d and none", st.Delivered, st.Dropped, want)
			}
		})
	}
}

// BenchmarkBusLatency measures publish → handler-start latency at a fixed
// offered load: one event every 10µs (100k events/s) from a publisher that
// yields between events, one subscriber. BenchmarkChannelLatency is its
// floor in the same run. The bus times every event
// (LatencySample 1) with its own histogram (quantiles within 6.25%); the
// benchmark reports p50-ns, p90-ns, p99-ns and max-ns. The event is one
// pre-stamped value published again and again, so the benchmark allocates
// nothing that the garbage collector would have to chase.
func BenchmarkBusLatency(b *testing.B) {
	bus, err := propagation.New(&propagation.Options{LatencySample: 1})
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	if _, err = bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if handled.Add(1) == n {
			close(done)
		}
		return nil
	}), nil); err != nil {
		b.Fatal(err)
	}
	const interval = 10 * time.Microsecond
	ev := benchEvent()
	ctx := context.Background()
	b.ResetTimer()
	next := time.Now()
	for range b.N {
		for time.Now().Before(next) {
			pace()
		}
		next = next.Add(interval)
		if err := bus.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	if err := bus.Close(ctx); err != nil {
		b.Fatal(err)
	}
	lat := bus.Stats().Latency
	if lat.Count != uint64(b.N) {
		b.Fatalf("timed %d events, want %d", lat.Count, b.N)
	}
	b.ReportMetric(float64(lat.P50), "p50-ns")
	b.ReportMetric(float64(lat.P90), "p90-ns")
	b.ReportMetric(float64(lat.P99), "p99-ns")
	b.ReportMetric(float64(lat.Max), "max-ns")
	b.ReportMetric(0, "ns/op")
}

func reportRate(b *testing.B, n float64, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(n/s, unit)
	}
}

// pace yields the processor: the paced publishers of the latency
// benchmarks have other work to do and do not hog their processor.
func pace() { runtime.Gosched() }

// BenchmarkBusDedup publishes each operation twice, as the FUSE server and
// as the kernel watcher, through a bus with deduplication; every pair folds
// into one delivered event. It reports pairs/s and allocations per pair
// (the fold appends the kernel sighting to the kept event's Observed).
func BenchmarkBusDedup(b *testing.B) {
	bus, err := propagation.New(&propagation.Options{Dedup: &propagation.DedupOptions{Window: time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if got.Add(1) == n {
			close(done)
		}
		return nil
	}), nil); err != nil {
		b.Fatal(err)
	}
	const ring = 8192 // events are reused once their pair has long been delivered
	fuse, kernel := make([]semevent.Event, ring), make([]semevent.Event, ring)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for int64(i)-got.Load() >= ring/2 {
			runtime.Gosched()
		}
		f, k := &fuse[i%ring], &kernel[i%ring]
		*f = semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: "/data/f", Offset: int64(i)}
		*k = semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.Kernel, Path: "/data/f", Offset: int64(i)}
		if err := bus.Publish(ctx, f); err != nil {
			b.Fatal(err)
		}
		if err := bus.Publish(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	reportRate(b, float64(b.N), "pairs/s")
	if err := bus.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if st := bus.Stats(); st.Deduplicated != uint64(b.N) {
		b.Fatalf("deduplicated %d of %d pairs", st.Deduplicated, b.N)
	}
}

// cpuSeconds returns the process's user+system CPU time.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkBusIdleCPU measures the CPU the process burns per wall second
// while nothing is published (each iteration sleeps 1ms): a goroutine
// blocked on a channel (the floor), an idle bus with one subscriber, and
// the same bus while one event waits for its dedup twin (window 1h). It
// reports cpu-s/wall-s; ≈ 0 means the bus parks.
func BenchmarkBusIdleCPU(b *testing.B) {
	measure := func(b *testing.B) {
		time.Sleep(5 * time.Millisecond) // spinning after the setup ends
		start, cpu0 := time.Now(), cpuSeconds(b)
		b.ResetTimer()
		for range b.N {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		b.ReportMetric((cpuSeconds(b)-cpu0)/time.Since(start).Seconds(), "cpu-s/wall-s")
	}
	b.Run("channel", func(b *testing.B) {
		ch := make(chan struct{})
		done := make(chan struct{})
		go func() { <-ch; close(done) }()
		measure(b)
		close(ch)
		<-done
	})
	for _, held := range []bool{false, true} {
		name := "bus"
		if held {
			name = "bus-holding-an-event"
		}
		b.Run(name, func(b *testing.B) {
			bus, err := propagation.New(&propagation.Options{Dedup: &propagation.DedupOptions{Window: time.Hour}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { return nil }), nil); err != nil {
				b.Fatal(err)
			}
			if held {
				ev := &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: "/alone"}
				if err := bus.Publish(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
			measure(b)
			if err := bus.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkBusSparseCPU measures the CPU per wall second while events
// arrive sparsely — one every ~100µs, the pace of a FUSE server serving an
// interactive user — through a channel (the floor) and through the bus with
// one subscriber. It reports cpu-s/wall-s: what waiting for the next event
// costs (spinning that does not pay shows here).
func BenchmarkBusSparseCPU(b *testing.B) {
	const gap = 100 * time.Microsecond
	run := func(b *testing.B, publish func()) {
		start, cpu0 := time.Now(), cpuSeconds(b)
		b.ResetTimer()
		for range b.N {
			publish()
			time.Sleep(gap)
		}
		b.StopTimer()
		b.ReportMetric((cpuSeconds(b)-cpu0)/time.Since(start).Seconds(), "cpu-s/wall-s")
	}
	b.Run("channel", func(b *testing.B) {
		ch := make(chan *semevent.Event, propagation.DefaultBuffer)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		ev := benchEvent()
		run(b, func() { ch <- ev })
		close(ch)
		<-done
	})
	b.Run("bus", func(b *testing.B) {
		bus, err := propagation.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { return nil }), nil); err != nil {
			b.Fatal(err)
		}
		ev, ctx := benchEvent(), context.Background()
		run(b, func() {
			if err := bus.Publish(ctx, ev); err != nil {
				b.Fatal(err)
			}
		})
		if err := bus.Close(ctx); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkBusDurable publishes durably (journal with its default
// SyncAlways, in a temporary directory) from P concurrent publishers to one
// subscriber: events/s, each Publish returning once its event is committed.
// The journal alone (Append from the same publishers) is the floor.
func BenchmarkBusDurable(b *testing.B) {
	for _, pubs := range []int{1, 8} {
		for _, bus := range []bool{false, true} {
			name := fmt.Sprintf("journal-only/%dpub", pubs)
			if bus {
				name = fmt.Sprintf("bus/%dpub", pubs)
			}
			b.Run(name, func(b *testing.B) {
				j, err := journal.Open(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer j.Close(context.Background())
				publish := func(ctx context.Context, ev *semevent.Event) error { _, err := j.Append(ctx, ev); return err }
				if bus {
					p, err := propagation.New(&propagation.Options{Journal: j, Durability: propagation.Durable})
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close(context.Background())
					if _, err := p.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { return nil }), nil); err != nil {
						b.Fatal(err)
					}
					publish = p.Publish
				}
				per := max(1, b.N/pubs)
				b.ResetTimer()
				var wg sync.WaitGroup
				for range pubs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range per {
							ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/d", Size: 64}
							if err := publish(context.Background(), ev); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				reportRate(b, float64(per*pubs), "events/s")
			})
		}
	}
}
