package analytics_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

// Regression tests for issue 14 items 20–23. Times are milliseconds from
// a fixed base; the processors are driven by events and Advance only.

const ms = int64(time.Millisecond)

type recorder struct{ got []analytics.Result }

func (r *recorder) on(res analytics.Result) { r.got = append(r.got, res) }

func (r *recorder) take() []string {
	out := make([]string, len(r.got))
	for i, res := range r.got {
		out[i] = fmt.Sprintf("%s [%d,%d) n=%d update=%v", res.Key.S, (res.Start-t0)/ms, (res.End-t0)/ms, res.Agg.Count, res.Update)
	}
	r.got = nil
	return out
}

func wantResults(t *testing.T, step string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: results %q, want %q", step, got, want)
	}
}

// Item 20: a session created by an allowed-late event whose end is
// already behind the watermark is emitted at once, not when the
// watermark next moves.
func TestLateSessionEmittedAtOnce(t *testing.T) {
	var rec recorder
	p, err := analytics.New(&analytics.Options{
		Window: analytics.Session(10 * time.Millisecond), AllowedLateness: 50 * time.Millisecond,
		Key: semevent.PathKey, OnResult: rec.on, MaxFuture: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = p.Advance(ctx, t0+960*ms)
	_ = p.Handle(ctx, &semevent.Event{Path: "/a", Time: t0 + 948*ms})
	wantResults(t, "event at 948ms after Advance(960ms)", rec.take(), "/a [948,958) n=1 update=false")
	_ = p.Advance(ctx, t0+961*ms)
	wantResults(t, "Advance(961ms)", rec.take())
}

// Item 21: a session already emitted and then extended or merged by an
// allowed-late event is emitted again at once, as an update; first
// emissions are never updates.
func TestExtendedSessionReemittedAtOnce(t *testing.T) {
	var rec recorder
	p, err := analytics.New(&analytics.Options{
		Window: analytics.Session(10 * time.Millisecond), AllowedLateness: time.Hour,
		Key: semevent.PathKey, OnResult: rec.on, MaxFuture: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := func(path string, at int64) { _ = p.Handle(ctx, &semevent.Event{Path: path, Time: t0 + at*ms}) }
	ev("/a", 0)
	wantResults(t, "/a at 0", rec.take())
	ev("/b", 15) // watermark 15ms: /a [0,10) closes
	wantResults(t, "/b at 15ms", rec.take(), "/a [0,10) n=1 update=false")
	ev("/a", 5) // extends the emitted session to [0,15), behind the watermark
	wantResults(t, "/a at 5ms", rec.take(), "/a [0,15) n=2 update=true")
	ev("/a", 12) // extends it to [0,22), ahead of the watermark: held
	wantResults(t, "/a at 12ms", rec.take())
	ev("/b", 10_000) // watermark 10s: both sessions close
	got := rec.take()
	want := []string{"/a [0,22) n=3 update=true", "/b [15,25) n=1 update=false"}
	if len(got) == 2 && got[0] > got[1] {
		got[0], got[1] = got[1], got[0]
	}
	wantResults(t, "/b at 10s", got, want...)

	// A merge: two sessions, the first emitted, bridged by a late event.
	ev("/c", 20_000)
	ev("/c", 20_030)
	ev("/x", 20_050) // watermark 20.05s: /c [20000,20010) and [20030,20040) close
	got = rec.take()
	wantResults(t, "two /c sessions", got, "/b [10000,10010) n=1 update=false",
		"/c [20000,20010) n=1 update=false", "/c [20030,20040) n=1 update=false")
	ev("/c", 20_008) // bridges [20000,20010) and [20008,20018); not yet [20030,…)
	wantResults(t, "/c at 20.008s", rec.take(), "/c [20000,20018) n=2 update=true")
	ev("/c", 20_017) // extends it to [20000,20027)
	wantResults(t, "/c at 20.017s", rec.take(), "/c [20000,20027) n=3 update=true")
	ev("/c", 20_025) // [20025,20035) bridges it and [20030,20040)
	wantResults(t, "/c at 20.025s", rec.take(), "/c [20000,20040) n=5 update=true")
}

// Item 22: events at the extremes of time land in the windows that hold
// their clamped times; the pane lookup's t-l.start overflowed and put an
// event at +MaxTime in the pane at -MaxTime.
func TestExtremeTimestamps(t *testing.T) {
	for _, w := range []analytics.Window{
		analytics.Tumbling(time.Second),
		analytics.Sliding(2*time.Second, time.Second),
		analytics.Session(time.Second),
	} {
		t.Run(w.Kind.String(), func(t *testing.T) {
			var got []analytics.Result
			p, err := analytics.New(&analytics.Options{
				Window: w, MaxOutOfOrder: time.Duration(analytics.MaxTime), AllowedLateness: time.Duration(analytics.MaxTime),
				Key: semevent.PathKey, OnResult: func(r analytics.Result) { got = append(got, r) }, MaxFuture: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			times := []int64{math.MinInt64, math.MaxInt64, -analytics.MaxTime, analytics.MaxTime, 0}
			for _, tm := range times {
				_ = p.Handle(ctx, &semevent.Event{Path: "/a", Time: tm})
			}
			_ = p.Close(ctx)
			// The last result of every window counts every event whose
			// clamped time it holds, and no other.
			last := map[[2]int64]analytics.Result{}
			for _, r := range got {
				if w.Kind == analytics.KindSession {
					for k, o := range last { // a session replaces those it covers
						if o.Start >= r.Start && o.End <= r.End {
							delete(last, k)
						}
					}
				}
				last[[2]int64{r.Start, r.End}] = r
			}
			for _, r := range last {
				if r.Start > r.End {
					t.Errorf("result [%d,%d): start after end", r.Start, r.End)
				}
				var want uint64
				for _, tm := range times {
					c := min(max(tm, -analytics.MaxTime), analytics.MaxTime)
					if c >= r.Start && c < r.End {
						want++
					}
				}
				if r.Agg.Count != want {
					t.Errorf("result [%d,%d) count %d, want %d", r.Start, r.End, r.Agg.Count, want)
				}
			}
			if len(got) == 0 {
				t.Error("no results")
			}
			if s := p.Stats(); s.Late != 0 {
				t.Errorf("Stats.Late = %d, want 0 (MaxOutOfOrder and AllowedLateness are MaxTime)", s.Late)
			}
		})
	}
}

// Item 23: Close and Flush emit the windows the watermark has not closed
// as partial results, and the anomaly detector does not score them: a
// steady stream stopped mid-window raised a false anomaly at shutdown.
func TestPartialWindowsNotScored(t *testing.T) {
	for _, end := range []string{"Flush", "Close"} {
		t.Run(end, func(t *testing.T) {
			var results []analytics.Result
			var anomalies []analytics.Anomaly
			p, err := analytics.New(&analytics.Options{
				Window: analytics.Tumbling(time.Second), Key: semevent.TenantKey, MaxFuture: -1,
				Anomaly:   &analytics.DetectorOptions{Warmup: 5, Threshold: 3, MinStdDev: 1},
				OnAnomaly: func(a analytics.Anomaly) { anomalies = append(anomalies, a) },
				OnResult:  func(r analytics.Result) { results = append(results, r) },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// 20 windows of 100 events, then 10 events of the 21st.
			for i := range 2010 {
				_ = p.Handle(ctx, &semevent.Event{Time: t0 + int64(i)*10*ms})
			}
			if end == "Flush" {
				_ = p.Flush(ctx)
				defer p.Close(ctx)
			} else {
				_ = p.Close(ctx)
			}
			if len(anomalies) != 0 {
				t.Errorf("%d anomalies, want 0: %+v", len(anomalies), anomalies)
			}
			if len(results) != 21 {
				t.Fatalf("%d results, want 21", len(results))
			}
			for i, r := range results {
				if want := i == 20; r.Partial != want {
					t.Errorf("result %d [%d,%d) n=%d: Partial = %v, want %v", i, (r.Start-t0)/ms, (r.End-t0)/ms, r.Agg.Count, r.Partial, want)
				}
			}
			if s := p.Stats(); s.Partial != 1 {
				t.Errorf("Stats.Partial = %d, want 1", s.Partial)
			}
			// The flag travels in the result event.
			back, err := analytics.DecodeResult(analytics.ResultEvent("analytics.window.w", &results[20]))
			if err != nil || !back.Partial {
				t.Errorf("DecodeResult(ResultEvent(partial)) = %+v, %v; want Partial", back, err)
			}
		})
	}
}

// Item 21, tumbling and sliding windows: an allowed-late event that is the
// first of its key in a window already closed for other keys makes that
// key's first result, not an update.
func TestLateFirstResultOfKeyIsNotUpdate(t *testing.T) {
	var rec recorder
	p, err := analytics.New(&analytics.Options{
		Window: analytics.Tumbling(10 * time.Millisecond), AllowedLateness: time.Hour,
		Key: semevent.PathKey, OnResult: rec.on, MaxFuture: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := func(path string, at int64) { _ = p.Handle(ctx, &semevent.Event{Path: path, Time: t0 + at*ms}) }
	ev("/a", 0)
	ev("/b", 15)
	wantResults(t, "/b at 15ms", rec.take(), "/a [0,10) n=1 update=false")
	ev("/b", 5)
	wantResults(t, "/b at 5ms", rec.take(), "/b [0,10) n=1 update=false")
	ev("/b", 6)
	wantResults(t, "/b at 6ms", rec.take(), "/b [0,10) n=2 update=true")
}
