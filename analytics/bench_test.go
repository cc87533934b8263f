package analytics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

// benchEvents returns n events over keys paths, 1µs of event time apart
// with up to 50µs of disorder.
func benchEvents(n, keys int) []*semevent.Event {
	r := rand.New(rand.NewPCG(1, 1))
	paths := make([]string, keys)
	for i := range paths {
		paths[i] = fmt.Sprintf("/data/file-%d", i)
	}
	evs := make([]*semevent.Event, n)
	base := int64(1_700_000_000) * 1e9
	for i := range evs {
		evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: paths[r.IntN(keys)],
			Size: r.Int64N(4096), Time: base + int64(i)*1000 + r.Int64N(50_000)}
	}
	return evs
}

func runBench(b *testing.B, opts *analytics.Options, evs []*semevent.Event) {
	b.Run("Handle", func(b *testing.B) { runBatch(b, opts, evs, 1) })
	b.Run("HandleBatch64", func(b *testing.B) { runBatch(b, opts, evs, 64) })
}

func runBatch(b *testing.B, opts *analytics.Options, evs []*semevent.Event, batch int) {
	full := batch
	var results int
	opts.OnResult = func(analytics.Result) { results++ }
	p, err := analytics.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Event times keep growing across iterations so windows keep closing.
	span := evs[len(evs)-1].Time - evs[0].Time + 1000
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for i := 0; i < b.N; i++ {
		j := i % len(evs)
		batch = full
		if j == 0 && i > 0 {
			for _, ev := range evs {
				ev.Time += span
			}
		}
		if batch > 1 {
			if j+batch > len(evs) {
				batch = len(evs) - j
			}
			_ = p.HandleBatch(ctx, evs[j:j+batch])
			n += batch
			i += batch - 1
			continue
		}
		_ = p.Handle(ctx, evs[j])
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	// On a shared machine the wall clock also counts time spent waiting
	// for a core; the process's CPU time does not.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
	}
	_ = p.Close(ctx)
}

func BenchmarkTumbling(b *testing.B) {
	evs := benchEvents(1<<12, 1000)
	runBench(b, &analytics.Options{Window: analytics.Tumbling(100 * time.Millisecond),
		MaxOutOfOrder: 100 * time.Microsecond, Key: semevent.PathKey}, evs)
}

func BenchmarkSliding(b *testing.B) {
	evs := benchEvents(1<<12, 1000)
	runBench(b, &analytics.Options{Window: analytics.Sliding(400*time.Millisecond, 100*time.Millisecond),
		MaxOutOfOrder: 100 * time.Microsecond, Key: semevent.PathKey}, evs)
}

func BenchmarkSession(b *testing.B) {
	evs := benchEvents(1<<12, 1000)
	runBench(b, &analytics.Options{Window: analytics.Session(20 * time.Millisecond),
		MaxOutOfOrder: 100 * time.Microsecond, Key: semevent.PathKey}, evs)
}

func BenchmarkQuantiles(b *testing.B) {
	evs := benchEvents(1<<12, 100)
	runBench(b, &analytics.Options{Window: analytics.Tumbling(100 * time.Millisecond),
		MaxOutOfOrder: 100 * time.Microsecond, Key: semevent.PathKey, Aggs: analytics.Quantiles}, evs)
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkResultLatency measures the time from the Handle call whose
// event moves the watermark past a window's end to that window's result
// reaching OnResult.
func BenchmarkResultLatency(b *testing.B) {
	var got time.Time
	p, err := analytics.New(&analytics.Options{Window: analytics.Tumbling(time.Millisecond),
		Key: semevent.PathKey, OnResult: func(analytics.Result) {
			if got.IsZero() {
				got = time.Now()
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	base := int64(1_700_000_000) * 1e9
	for i := 0; i < b.N; i++ {
		w := base + int64(i)*int64(time.Millisecond)
		for k := range 100 { // fill the window: 100 events over 10 keys
			_ = p.Handle(ctx, &semevent.Event{Path: fmt.Sprint(k % 10), Size: 1, Time: w + int64(k)})
		}
		got = time.Time{}
		start := time.Now()
		_ = p.Handle(ctx, &semevent.Event{Path: "0", Time: w + int64(time.Millisecond)}) // watermark passes
		lat = append(lat, got.Sub(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns/result")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns/result")
	_ = p.Close(ctx)
}
