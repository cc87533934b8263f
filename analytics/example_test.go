package analytics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func at(ms int) int64 { return t0 + int64(ms)*int64(time.Millisecond) }

// Count and sum bytes written per path in one-second windows, tolerating
// events up to 500ms out of order.
func ExampleNew() {
	p, _ := analytics.New(&analytics.Options{
		Window:        analytics.Tumbling(time.Second),
		MaxOutOfOrder: 500 * time.Millisecond,
		Key:           semevent.PathKey,
		OnResult: func(r analytics.Result) {
			fmt.Printf("%s [%dms,%dms) count=%d bytes=%v\n", r.Key,
				(r.Start-t0)/1e6, (r.End-t0)/1e6, r.Agg.Count, r.Agg.Sum)
		},
		OnLate: func(ev *semevent.Event) { fmt.Printf("late: %s at %dms\n", ev.Path, (ev.Time-t0)/1e6) },
	})
	ctx := context.Background()
	for _, e := range []struct {
		path string
		ms   int
		size int64
	}{
		{"/a", 100, 10}, {"/a", 900, 20}, {"/b", 700, 5},
		{"/a", 1200, 1},
		{"/b", 800, 7},  // out of order, but within 500ms: still counted
		{"/a", 1600, 1}, // watermark 1100ms: closes [0,1000)
		{"/b", 300, 1},  // too late
	} {
		_ = p.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: e.path, Size: e.size, Time: at(e.ms)})
	}
	_ = p.Close(ctx) // flushes [1000,2000)
	// Unordered output:
	// /a [0ms,1000ms) count=2 bytes=30
	// /b [0ms,1000ms) count=2 bytes=12
	// late: /b at 300ms
	// /a [1000ms,2000ms) count=2 bytes=2
}

// Results and anomalies also travel as events, so that other subscribers
// (or other nodes) can use and merge them.
func ExampleResultEvent() {
	bus := propagationtest.New()
	p, _ := analytics.New(&analytics.Options{Name: "writes", Aggs: analytics.Quantiles, Publisher: bus})
	ctx := context.Background()
	for i := range 100 {
		_ = p.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Size: int64(i + 1), Time: at(i)})
	}
	_ = p.Close(ctx)
	for _, ev := range bus.Published() {
		r, _ := analytics.DecodeResult(ev)
		p99, _ := ev.Attr(analytics.AttrP99)
		fmt.Println(ev.Topic, r.Agg.Count, r.Agg.Mean(), p99)
	}
	// Output:
	// analytics.window.writes 100 50.5 98.50457626879137
}

// Sessions close after a gap of quiet per key.
func ExampleSession() {
	p, _ := analytics.New(&analytics.Options{
		Window: analytics.Session(time.Second),
		Key:    semevent.PathKey,
		OnResult: func(r analytics.Result) {
			fmt.Printf("%s session %dms..%dms: %d events\n", r.Key, (r.Start-t0)/1e6, (r.End-t0)/1e6, r.Agg.Count)
		},
	})
	ctx := context.Background()
	for _, ms := range []int{0, 400, 900, 3000, 3100} {
		_ = p.Handle(ctx, &semevent.Event{Path: "/a", Time: at(ms)})
	}
	_ = p.Close(ctx)
	// Output:
	// /a session 0ms..1900ms: 3 events
	// /a session 3000ms..4100ms: 2 events
}

func ExampleDetector() {
	d := analytics.NewDetector(&analytics.DetectorOptions{Warmup: 5, MinStdDev: 5})
	for i, v := range []float64{100, 102, 98, 101, 99, 100, 103, 400, 101} {
		if a, ok := d.Observe(semevent.Key{S: "/data"}, int64(i), v); ok {
			fmt.Printf("anomaly at %d: value %v, baseline %.1f, score %.1f\n", i, a.Value, a.Baseline, a.Score)
		}
	}
	// Output:
	// anomaly at 7: value 400, baseline 100.3, score 59.9
}

func ExampleMiner() {
	m, _ := analytics.NewMiner(nil)
	ctx := context.Background()
	for f := range 3 {
		p := fmt.Sprintf("/out/%d.tmp", f)
		for i, k := range []semevent.Kind{semevent.KindFileOpen, semevent.KindFileWrite, semevent.KindFileClose, semevent.KindFileRename} {
			ev := &semevent.Event{Kind: k, Path: p, Time: at(f*100 + i)}
			if k == semevent.KindFileRename {
				ev.OldPath, ev.Path = p, fmt.Sprintf("/out/%d.dat", f)
			}
			_ = m.Handle(ctx, ev)
		}
	}
	for _, pat := range m.Top(2, 3) {
		fmt.Println(pat.Support, pat)
	}
	// Output:
	// 3 open *.tmp → write *.tmp → close *.tmp → rename *.tmp
	// 3 open *.tmp → write *.tmp → close *.tmp
}

func ExampleHoltWinters() {
	hw, _ := analytics.NewHoltWinters(&analytics.ForecastOptions{Season: 4})
	for i := range 40 {
		hw.Observe(float64(10 + i + []int{0, 5, 0, -5}[i%4]))
	}
	for _, p := range hw.Forecast(4) {
		fmt.Printf("%.0f [%.0f, %.0f]\n", p.Value, p.Lower, p.Upper)
	}
	// Output:
	// 50 [50, 50]
	// 56 [56, 56]
	// 52 [52, 52]
	// 48 [48, 48]
}

func ExampleSeriesStore() {
	s, _ := analytics.NewSeriesStore(nil)
	for i := range 30 {
		s.Add("events_per_s", at(i*100), float64(i))
	}
	pts, res := s.Query("events_per_s", at(0), at(3000))
	for _, p := range pts {
		fmt.Printf("%dms count=%d mean=%.1f max=%v\n", (p.Time-t0)/1e6, p.Count, p.Mean(), p.Max)
	}
	fmt.Println("resolution", res)
	// Output:
	// 0ms count=10 mean=4.5 max=9
	// 1000ms count=10 mean=14.5 max=19
	// 2000ms count=10 mean=24.5 max=29
	// resolution 1s
}
