package analytics_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   *analytics.Options
		fields []string // every field named in the error, in order
	}{
		{"nil", nil, nil},
		{"zero", &analytics.Options{}, nil},
		{"sliding ok", &analytics.Options{Window: analytics.Sliding(time.Minute, 10*time.Second)}, nil},
		{"bad name", &analytics.Options{Name: "a.b"}, []string{"Name"}},
		{"sliding not multiple", &analytics.Options{Window: analytics.Sliding(time.Minute, 7*time.Second)}, []string{"Window.Size"}},
		{"sliding zero", &analytics.Options{Window: analytics.Window{Kind: analytics.KindSliding}}, []string{"Window.Size", "Window.Slide"}},
		{"session no gap", &analytics.Options{Window: analytics.Session(0)}, []string{"Window.Gap"}},
		{"everything wrong", &analytics.Options{
			Window: analytics.Window{Kind: 9}, Time: 7, MaxOutOfOrder: -1, AllowedLateness: -1, Tick: -1,
			Aggs: 0x80, HLLPrecision: 30, QuantileAccuracy: 2, TopKCapacity: -1,
			Anomaly: &analytics.DetectorOptions{Alpha: 2, Threshold: -1},
		}, []string{"Window.Kind", "Time", "MaxOutOfOrder", "AllowedLateness", "Tick", "Aggs", "HLLPrecision",
			"QuantileAccuracy", "TopKCapacity", "Anomaly.Alpha", "Anomaly.Threshold"}},
	} {
		err := tc.opts.Validate()
		var got []string
		if err != nil {
			var oe *semevent.OptionsError
			if !errors.As(err, &oe) || !errors.Is(err, semevent.ErrInvalidOptions) {
				t.Errorf("%s: %v is not a *semevent.OptionsError", tc.name, err)
				continue
			}
			for _, p := range oe.Problems {
				got = append(got, p.Field)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
			t.Errorf("%s: Validate() fields = %v, want %v (%v)", tc.name, got, tc.fields, err)
		}
		if _, err := analytics.New(tc.opts); (err != nil) != (len(tc.fields) > 0) {
			t.Errorf("%s: New() = %v", tc.name, err)
		}
	}
}

func TestProcessingTimeTicker(t *testing.T) {
	var now atomic.Int64
	now.Store(t0)
	results := make(chan analytics.Result, 10)
	p, err := analytics.New(&analytics.Options{
		Time: analytics.ProcessingTime, Window: analytics.Tumbling(time.Second), Tick: time.Millisecond,
		Clock:    now.Load,
		OnResult: func(r analytics.Result) { results <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 {
		// Event times are ignored: arrival time places events.
		if err := p.Handle(ctx, &semevent.Event{Time: 42}); err != nil {
			t.Fatal(err)
		}
	}
	now.Store(t0 + int64(time.Second)) // the ticker closes the window
	r := <-results
	if r.Agg.Count != 5 || r.Start != t0 || r.End != t0+int64(time.Second) {
		t.Errorf("result = %+v count %d, want [t0, t0+1s) count 5", r, r.Agg.Count)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, &semevent.Event{}); !errors.Is(err, semevent.ErrClosed) {
		t.Errorf("Handle after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestPublishAndAnomalies(t *testing.T) {
	bus := propagationtest.New()
	var anomalies []analytics.Anomaly
	var mu sync.Mutex
	p, err := analytics.New(&analytics.Options{
		Name: "w", Window: analytics.Tumbling(time.Second), Publisher: bus,
		Anomaly:   &analytics.DetectorOptions{Warmup: 5, MinStdDev: 2},
		OnAnomaly: func(a analytics.Anomaly) { mu.Lock(); anomalies = append(anomalies, a); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Ten events a second for 20 seconds, then a burst of 200.
	for s := range 22 {
		n := 10
		if s == 20 {
			n = 200
		}
		for i := range n {
			_ = p.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Time: t0 + int64(s)*1e9 + int64(i)})
		}
	}
	// The processor ignores its own results coming back (21 windows and
	// the anomaly so far; Close emits the last window).
	for _, ev := range bus.Published() {
		_ = p.Handle(ctx, ev)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(anomalies) != 1 || anomalies[0].Value != 200 || anomalies[0].Baseline != 10 {
		t.Fatalf("anomalies = %+v, want one of value 200 against baseline 10", anomalies)
	}
	var windows, anomalyEvents int
	for _, ev := range bus.Published() {
		switch ev.Topic {
		case "analytics.window.w":
			windows++
			if _, err := analytics.DecodeResult(ev); err != nil {
				t.Errorf("DecodeResult: %v", err)
			}
		case "analytics.anomaly.w":
			anomalyEvents++
			if s, _ := ev.Attr(analytics.AttrScore); s == "" {
				t.Error("anomaly event without score")
			}
		}
	}
	if windows != 22 || anomalyEvents != 1 {
		t.Errorf("published %d windows and %d anomalies, want 22 and 1", windows, anomalyEvents)
	}
	st := p.Stats()
	if st.Skipped != 22 || st.Results != 22 || st.Anomalies != 1 {
		t.Errorf("Stats() = %+v", st)
	}
	// A refused publish is counted and reported.
	var reported error
	p2, _ := analytics.New(&analytics.Options{Publisher: bus, OnError: func(err error) { reported = err }})
	bus.FailNext(errors.New("full"))
	_ = p2.Handle(ctx, &semevent.Event{Time: t0})
	_ = p2.Close(ctx)
	var pe *analytics.PublishError
	if !errors.As(reported, &pe) || p2.Stats().PublishErrors != 1 {
		t.Errorf("OnError got %v, PublishErrors %d", reported, p2.Stats().PublishErrors)
	}
}

func TestAdvanceAndMerge(t *testing.T) {
	// Two shards aggregate halves of a stream; merged results equal one
	// processor's over the whole stream.
	ctx := context.Background()
	opts := func(out map[int64]*analytics.Aggregate) *analytics.Options {
		return &analytics.Options{Window: analytics.Tumbling(time.Second),
			Aggs: analytics.Distinct | analytics.ApproxDistinct | analytics.Quantiles | analytics.TopK,
			OnResult: func(r analytics.Result) {
				if a := out[r.Start]; a != nil {
					if err := a.Merge(r.Agg); err != nil {
						t.Error(err)
					}
				} else {
					out[r.Start] = r.Agg
				}
			}}
	}
	whole, merged := map[int64]*analytics.Aggregate{}, map[int64]*analytics.Aggregate{}
	pw, _ := analytics.New(opts(whole))
	shards := []*analytics.Processor{}
	for range 2 {
		s, _ := analytics.New(opts(merged))
		shards = append(shards, s)
	}
	for i := range 3000 {
		ev := &semevent.Event{Path: string(rune('a' + i%7)), Inode: uint64(i % 101), Size: int64(i), Time: at(i)}
		_ = pw.Handle(ctx, ev)
		_ = shards[i%2].Handle(ctx, ev)
	}
	for _, p := range append(shards, pw) {
		if err := analytics.Advance(ctx, p, at(10000)); err != nil {
			t.Fatal(err)
		}
		if n := p.Stats().OpenWindows; n != 0 {
			t.Errorf("%d windows open after Advance", n)
		}
		_ = p.Close(ctx)
	}
	if len(whole) != 3 || len(merged) != 3 {
		t.Fatalf("%d and %d windows, want 3", len(whole), len(merged))
	}
	for s, w := range whole {
		m := merged[s]
		// Round-trip the merged aggregate through its encoding too.
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d analytics.Aggregate
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if d.Count != w.Count || d.Sum != w.Sum || d.Min != w.Min || d.Max != w.Max ||
			d.DistinctCount() != w.DistinctCount() || d.ApproxDistinct.Estimate() != w.ApproxDistinct.Estimate() ||
			math.Abs(d.Quantile(0.5)-w.Quantile(0.5)) > 0.02*w.Quantile(0.5) {
			t.Errorf("window %d: merged %+v, whole %+v", s, d, *w)
		}
	}
}

func TestStoreTiers(t *testing.T) {
	s, err := analytics.NewSeriesStore(&analytics.SeriesStoreOptions{Tiers: []analytics.Tier{{time.Second, 10}, {10 * time.Second, 10}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		s.Add("x", at(i*1000), 1)
	}
	for _, tc := range []struct {
		from, to int
		n        int
		res      time.Duration
	}{
		{55000, 60000, 5, time.Second},   // recent: fine tier
		{0, 60000, 6, 10 * time.Second},  // old: coarse tier
		{50000, 50000, 0, 0},             // empty range
		{100000, 200000, 0, time.Second}, // the future
	} {
		pts, res := s.Query("x", at(tc.from), at(tc.to))
		if len(pts) != tc.n || res != tc.res {
			t.Errorf("Query(%d, %d) = %d points at %v, want %d at %v", tc.from, tc.to, len(pts), res, tc.n, tc.res)
		}
	}
	if _, err := analytics.NewSeriesStore(&analytics.SeriesStoreOptions{Tiers: []analytics.Tier{{time.Second, 0}, {time.Millisecond, 1}}}); err == nil {
		t.Error("NewStore accepted bad tiers")
	}
}

func TestForecastCoversSeries(t *testing.T) {
	hw, err := analytics.NewHoltWinters(&analytics.ForecastOptions{Season: 24})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	noise := make([]float64, 24*11)
	for i := range noise {
		noise[i] = r.NormFloat64()
	}
	f := func(i int) float64 { return 100 + 0.5*float64(i) + 30*math.Sin(2*math.Pi*float64(i)/24) + noise[i] }
	if p := hw.Forecast(1)[0]; !math.IsNaN(p.Value) {
		t.Errorf("forecast before a season = %v, want NaN", p)
	}
	for i := range 24 * 10 {
		hw.Observe(f(i))
	}
	covered := 0
	for h, p := range hw.Forecast(24) {
		want := f(24*10 + h)
		if math.Abs(p.Value-want) > 5 {
			t.Errorf("step %d: forecast %+v, actual %v", h+1, p, want)
		}
		if p.Lower <= want && want <= p.Upper {
			covered++
		}
	}
	// A 95% interval: expect about 23 of 24 inside; demand 20.
	if covered < 20 {
		t.Errorf("%d of 24 actual values inside the prediction interval", covered)
	}
}

func TestForecastAndStoreWiring(t *testing.T) {
	store, _ := analytics.NewSeriesStore(nil)
	var last analytics.Result
	p, err := analytics.New(&analytics.Options{
		Name: "w", Window: analytics.Tumbling(time.Second), Key: semevent.PathKey,
		Forecast: &analytics.ForecastOptions{}, Series: store,
		OnResult: func(r analytics.Result) { last = r },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A count that grows by 10 per window.
	for s := range 30 {
		for i := range 10 + 10*s {
			_ = p.Handle(ctx, &semevent.Event{Path: "/a", Time: t0 + int64(s)*1e9 + int64(i)})
		}
	}
	// Close the last window by the watermark: a window Close flushes is
	// partial, and partial results feed neither forecast nor store.
	_ = p.Advance(ctx, t0+30*int64(time.Second))
	_ = p.Close(ctx)
	if last.Next == nil || math.Abs(last.Next.Value-310) > 15 {
		t.Errorf("last result's forecast = %+v, want about 310", last.Next)
	}
	pts, _ := store.Query("w./a", t0, t0+int64(31*time.Second))
	if len(pts) != 30 || pts[29].Last != 300 {
		t.Errorf("store has %d points (last %+v), want 30 ending at 300", len(pts), pts[len(pts)-1])
	}
}

func TestIdleTimeout(t *testing.T) {
	var now atomic.Int64
	now.Store(1) // processing time, unrelated to event time
	results := make(chan analytics.Result, 10)
	p, err := analytics.New(&analytics.Options{
		Window: analytics.Tumbling(time.Second), IdleTimeout: 5 * time.Second, Tick: time.Millisecond,
		Clock: now.Load, OnResult: func(r analytics.Result) { results <- r },
		MaxFuture: -1, // the fake clock starts at 1, long before the events
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		_ = p.Handle(ctx, &semevent.Event{Time: t0 + int64(i)*1e8})
	}
	// Quiet for less than the timeout: nothing closes.
	now.Add(int64(4 * time.Second))
	time.Sleep(20 * time.Millisecond)
	select {
	case r := <-results:
		t.Fatalf("window closed before the idle timeout: %+v", r)
	default:
	}
	// Quiet past it: the watermark moves with processing time.
	now.Add(int64(2 * time.Second))
	r := <-results
	if r.Start != t0 || r.Agg.Count != 3 {
		t.Errorf("result %+v count %d, want [t0, t0+1s) count 3", r, r.Agg.Count)
	}
	_ = p.Close(ctx)
}
