package analytics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// threadCPU returns the CPU time of the calling thread (lock it to the
// goroutine first).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
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

// naiveWindows is the baseline of BenchmarkWindows: the map-based
// aggregation a user writes by hand — one map entry per key and window,
// every window holding the event updated, and a scan of the whole map
// for closed windows whenever the watermark passes a window end. Same
// figures (count, sum, min, max), same watermark rule, no lateness.
type naiveWindows struct {
	size, slide, ooo int64
	wm, nextEnd      int64
	open             map[naiveKey]*naiveAgg
	results          int
}

type naiveKey struct {
	key   string
	start int64
}

type naiveAgg struct {
	count         uint64
	sum, min, max float64
}

func (n *naiveWindows) handle(ev *semevent.Event) {
	t := ev.Time
	ps := t - ((t%n.slide)+n.slide)%n.slide
	v := float64(ev.Size)
	for s := ps - n.size + n.slide; s <= ps; s += n.slide {
		if s+n.size <= n.wm {
			continue // late
		}
		k := naiveKey{ev.Path, s}
		a := n.open[k]
		if a == nil {
			a = &naiveAgg{min: v, max: v}
			n.open[k] = a
		}
		a.count++
		a.sum += v
		a.min, a.max = min(a.min, v), max(a.max, v)
	}
	if w := t - n.ooo; w > n.wm {
		n.wm = w
		if w >= n.nextEnd {
			n.nextEnd = int64(1) << 62
			for k, a := range n.open {
				if end := k.start + n.size; end <= w {
					if a.count > 0 {
						n.results++
					}
					delete(n.open, k)
				} else {
					n.nextEnd = min(n.nextEnd, end)
				}
			}
		}
	}
}

// flush emits every window still open, as Processor.Close does.
func (n *naiveWindows) flush() {
	for k, a := range n.open {
		if a.count > 0 {
			n.results++
		}
		delete(n.open, k)
	}
}

// BenchmarkWindows runs the Processor and the naive map aggregation over
// the same events (1,000 paths, 50µs of disorder) in the same run and
// reports both throughputs (wall and CPU) and their ratio on CPU time
// (x-naive: semevent/naive; above 1 means the Processor is faster).
func BenchmarkWindows(b *testing.B) {
	for _, tc := range []struct {
		name string
		w    analytics.Window
	}{
		{"tumbling", analytics.Tumbling(100 * time.Millisecond)},
		{"sliding-4", analytics.Sliding(400*time.Millisecond, 100*time.Millisecond)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			evs := benchEvents(1<<14, 1000)
			span := evs[len(evs)-1].Time - evs[0].Time + 1000
			ctx := context.Background()
			var results int
			p, err := analytics.New(&analytics.Options{Window: tc.w, MaxOutOfOrder: 100 * time.Microsecond,
				Key: semevent.PathKey, OnResult: func(analytics.Result) { results++ }})
			if err != nil {
				b.Fatal(err)
			}
			slide := int64(tc.w.Slide)
			if slide == 0 {
				slide = int64(tc.w.Size)
			}
			naive := &naiveWindows{size: int64(tc.w.Size), slide: slide, ooo: int64(100 * time.Microsecond),
				wm: -1 << 63, open: map[naiveKey]*naiveAgg{}}
			// Alternate blocks of events between the two, so that both see
			// the same machine load; each block moves event time on. The
			// ratio is taken on this thread's CPU time, which waiting for
			// a core on a shared machine does not inflate.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var semT, naiveT, semCPU, naiveCPU time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; {
				blk := evs[:min(len(evs), b.N-done)]
				start, cpu := time.Now(), threadCPU()
				for _, ev := range blk {
					_ = p.Handle(ctx, ev)
				}
				semT += time.Since(start)
				semCPU += threadCPU() - cpu
				start, cpu = time.Now(), threadCPU()
				for _, ev := range blk {
					naive.handle(ev)
				}
				naiveT += time.Since(start)
				naiveCPU += threadCPU() - cpu
				done += len(blk)
				for _, ev := range evs {
					ev.Time += span
				}
			}
			b.StopTimer()
			// Close emits the windows still open, and so does the naive
			// flush: every window either side opened is counted, however
			// few closed during the run.
			_ = p.Close(ctx)
			naive.flush()
			b.ReportMetric(float64(b.N)/semT.Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/naiveT.Seconds(), "naive-events/s")
			semRate, naiveRate := float64(b.N)/semCPU.Seconds(), float64(b.N)/naiveCPU.Seconds()
			b.ReportMetric(semRate, "events/cpu-s")
			b.ReportMetric(naiveRate, "naive-events/cpu-s")
			b.ReportMetric(semRate/naiveRate, "x-naive")
			if results == 0 || results != naive.results {
				b.Fatalf("%d results, naive %d: want the same, > 0", results, naive.results)
			}
		})
	}
}
