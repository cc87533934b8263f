package analytics_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

// The differential tests feed random out-of-order streams to a Processor
// and to a naive oracle that decides, event by event, which windows the
// event belongs to from the definition alone:
//
//   - the watermark when an event arrives is the largest earlier event
//     time minus MaxOutOfOrder;
//   - tumbling/sliding: an event counts in window W iff its time is in W
//     and W.End + AllowedLateness > that watermark; it is late iff it
//     counts in no window;
//   - session: an event is late iff time + AllowedLateness < watermark;
//     the others form, per key, sessions of events less than Gap apart.
//
// The last result emitted per (key, window) must equal the oracle exactly
// for count, sum, min, max and exact distinct, and within the stated
// bounds for the sketches.

type streamCfg struct {
	n, keys  int
	step     int64 // mean event-time step
	jitter   int64 // events arrive up to this much out of order
	lateFrac float64
	lateBy   int64
}

func genStream(r *rand.Rand, c streamCfg) []*semevent.Event {
	evs := make([]*semevent.Event, c.n)
	base := int64(1_700_000_000) * 1e9
	for i := range evs {
		t := base + int64(i)*c.step + r.Int64N(2*c.jitter+1) - c.jitter
		if r.Float64() < c.lateFrac {
			t -= r.Int64N(c.lateBy + 1)
		}
		evs[i] = &semevent.Event{
			Kind:  semevent.KindFileWrite,
			Path:  fmt.Sprintf("/k/%d", r.IntN(c.keys)),
			Inode: uint64(r.IntN(500) + 1),
			Size:  r.Int64N(10000) - 100,
			Time:  t,
		}
	}
	return evs
}

type oracleAgg struct {
	count    uint64
	sum      float64
	min, max float64
	distinct map[uint64]bool
	values   []float64
	top      map[string]uint64
}

func (o *oracleAgg) add(ev *semevent.Event) {
	v := float64(ev.Size)
	if o.count == 0 {
		o.min, o.max = v, v
		o.distinct, o.top = map[uint64]bool{}, map[string]uint64{}
	}
	o.count++
	o.sum += v
	o.min, o.max = math.Min(o.min, v), math.Max(o.max, v)
	o.distinct[ev.Inode] = true
	o.values = append(o.values, v)
	o.top[ev.Path]++
}

type wkey struct {
	key        semevent.Key
	start, end int64
}

func oracleAligned(evs []*semevent.Event, size, slide, ooo, lateness int64) (map[wkey]*oracleAgg, int) {
	out := map[wkey]*oracleAgg{}
	wm := int64(math.MinInt64)
	late := 0
	for _, ev := range evs {
		t := ev.Time
		counted := false
		ps := t - ((t%slide)+slide)%slide
		for s := ps - size + slide; s <= ps; s += slide {
			if s+size+lateness > wm {
				k := wkey{semevent.PathKey(ev), s, s + size}
				if out[k] == nil {
					out[k] = &oracleAgg{}
				}
				out[k].add(ev)
				counted = true
			}
		}
		if !counted {
			late++
		}
		wm = max(wm, t-ooo)
	}
	return out, late
}

func oracleSessions(evs []*semevent.Event, gap, ooo, lateness int64) (map[wkey]*oracleAgg, int) {
	wm := int64(math.MinInt64)
	late := 0
	byKey := map[semevent.Key][]*semevent.Event{}
	for _, ev := range evs {
		if wm != math.MinInt64 && ev.Time+lateness < wm {
			late++
		} else {
			byKey[semevent.PathKey(ev)] = append(byKey[semevent.PathKey(ev)], ev)
		}
		wm = max(wm, ev.Time-ooo)
	}
	out := map[wkey]*oracleAgg{}
	for k, es := range byKey {
		slices.SortStableFunc(es, func(a, b *semevent.Event) int { return int(a.Time - b.Time) })
		var cur []*semevent.Event
		flush := func() {
			if len(cur) == 0 {
				return
			}
			a := &oracleAgg{}
			for _, e := range cur {
				a.add(e)
			}
			out[wkey{k, cur[0].Time, cur[len(cur)-1].Time + gap}] = a
			cur = cur[:0]
		}
		for _, e := range es {
			if len(cur) > 0 && e.Time-cur[len(cur)-1].Time >= gap {
				flush()
			}
			cur = append(cur, e)
		}
		flush()
	}
	return out, late
}

func checkAgg(t *testing.T, where string, got *analytics.Aggregate, want *oracleAgg, aggs analytics.Agg) {
	t.Helper()
	if got.Count != want.count || got.Sum != want.sum || got.Min != want.min || got.Max != want.max {
		t.Errorf("%s: count/sum/min/max = %d/%v/%v/%v, want %d/%v/%v/%v", where,
			got.Count, got.Sum, got.Min, got.Max, want.count, want.sum, want.min, want.max)
		return
	}
	if aggs&analytics.Distinct != 0 {
		if d := got.Distinct.GetCardinality(); d != uint64(len(want.distinct)) {
			t.Errorf("%s: distinct = %d, want %d", where, d, len(want.distinct))
		}
	}
	if aggs&analytics.ApproxDistinct != 0 {
		n := float64(len(want.distinct))
		// p = 10: standard error 1.04/32 ≈ 3.3%; allow 4 of them, ±2 for tiny sets.
		if e := got.ApproxDistinct.Estimate(); math.Abs(e-n) > 4*0.0325*n+2 {
			t.Errorf("%s: approx distinct = %.1f, want %v ± 13%%", where, e, n)
		}
	}
	if aggs&analytics.Quantiles != 0 {
		vs := slices.Sorted(slices.Values(want.values))
		for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
			w := vs[int(q*float64(len(vs)-1))]
			if g := got.Quantile(q); math.Abs(g-w) > 0.01*math.Abs(w)+1e-9 {
				t.Errorf("%s: quantile %v = %v, want %v ± 1%%", where, q, g, w)
			}
		}
	}
	if aggs&analytics.TopK != 0 {
		for _, c := range got.TopK.Top(8) {
			e := want.top[c.Key]
			if c.Count < e || c.Count-c.Err > e {
				t.Errorf("%s: top %q = %d (err %d), exact %d", where, c.Key, c.Count, c.Err, e)
			}
		}
	}
}

func TestDifferentialWindows(t *testing.T) {
	const ms = int64(time.Millisecond)
	all := analytics.Distinct | analytics.ApproxDistinct | analytics.Quantiles | analytics.TopK
	for _, tc := range []struct {
		name   string
		window analytics.Window
		ooo    time.Duration
		late   time.Duration
		aggs   analytics.Agg
		stream streamCfg
	}{
		{"tumbling/in-order", analytics.Tumbling(100 * time.Millisecond), 0, 0, 0,
			streamCfg{n: 20000, keys: 7, step: ms, jitter: 0}},
		{"tumbling/ooo", analytics.Tumbling(100 * time.Millisecond), 20 * time.Millisecond, 0, all,
			streamCfg{n: 20000, keys: 5, step: ms, jitter: 30 * ms, lateFrac: 0.02, lateBy: 300 * ms}},
		{"tumbling/lateness", analytics.Tumbling(50 * time.Millisecond), 10 * time.Millisecond, 80 * time.Millisecond, all,
			streamCfg{n: 10000, keys: 5, step: ms, jitter: 20 * ms, lateFrac: 0.05, lateBy: 250 * ms}},
		{"tumbling/sparse", analytics.Tumbling(10 * time.Millisecond), 5 * time.Millisecond, 5 * time.Millisecond, 0,
			streamCfg{n: 20000, keys: 50, step: 37 * ms, jitter: 40 * ms, lateFrac: 0.05, lateBy: 2000 * ms}},
		{"sliding/ooo", analytics.Sliding(100*time.Millisecond, 25*time.Millisecond), 20 * time.Millisecond, 0, analytics.Distinct | analytics.Quantiles,
			streamCfg{n: 20000, keys: 5, step: ms, jitter: 30 * ms, lateFrac: 0.02, lateBy: 300 * ms}},
		{"sliding/lateness", analytics.Sliding(60*time.Millisecond, 20*time.Millisecond), 10 * time.Millisecond, 50 * time.Millisecond, all,
			streamCfg{n: 5000, keys: 6, step: ms, jitter: 25 * ms, lateFrac: 0.05, lateBy: 200 * ms}},
		{"sliding/lateness-exact", analytics.Sliding(60*time.Millisecond, 20*time.Millisecond), 10 * time.Millisecond, 50 * time.Millisecond, analytics.Distinct,
			streamCfg{n: 20000, keys: 6, step: ms, jitter: 25 * ms, lateFrac: 0.05, lateBy: 200 * ms}},
		{"session/lateness-exact", analytics.Session(30 * time.Millisecond), 10 * time.Millisecond, 40 * time.Millisecond, 0,
			streamCfg{n: 20000, keys: 40, step: ms, jitter: 20 * ms, lateFrac: 0.05, lateBy: 150 * ms}},
		{"session/ooo", analytics.Session(15 * time.Millisecond), 10 * time.Millisecond, 0, analytics.Distinct,
			streamCfg{n: 20000, keys: 20, step: ms, jitter: 15 * ms, lateFrac: 0.02, lateBy: 200 * ms}},
		{"session/lateness", analytics.Session(30 * time.Millisecond), 10 * time.Millisecond, 40 * time.Millisecond, all,
			streamCfg{n: 5000, keys: 40, step: ms, jitter: 20 * ms, lateFrac: 0.05, lateBy: 150 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(3) {
				r := rand.New(rand.NewPCG(seed, 99))
				cfg := tc.stream
				cfg.n /= raceScale
				evs := genStream(r, cfg)
				last := map[semevent.Key][]analytics.Result{} // sessions, per key
				lastAligned := map[wkey]analytics.Result{}
				var lateSeen int
				p, err := analytics.New(&analytics.Options{
					Window: tc.window, MaxOutOfOrder: tc.ooo, AllowedLateness: tc.late,
					Key: semevent.PathKey, Aggs: tc.aggs, HLLPrecision: 10,
					OnLate: func(*semevent.Event) { lateSeen++ },
					OnResult: func(res analytics.Result) {
						if tc.window.Kind != analytics.KindSession {
							lastAligned[wkey{res.Key, res.Start, res.End}] = res
							return
						}
						// A session result replaces those it covers.
						rs := slices.DeleteFunc(last[res.Key], func(o analytics.Result) bool {
							return o.Start >= res.Start && o.End <= res.End
						})
						last[res.Key] = append(rs, res)
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				for i, ev := range evs {
					if i%1000 == 999 {
						// Batches too.
						if err := p.HandleBatch(ctx, evs[i:i+1]); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if err := p.Handle(ctx, ev); err != nil {
						t.Fatal(err)
					}
				}
				if err := p.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				var want map[wkey]*oracleAgg
				var wantLate int
				if tc.window.Kind == analytics.KindSession {
					want, wantLate = oracleSessions(evs, int64(tc.window.Gap), int64(tc.ooo), int64(tc.late))
				} else {
					slide := tc.window.Slide
					if slide == 0 {
						slide = tc.window.Size
					}
					want, wantLate = oracleAligned(evs, int64(tc.window.Size), int64(slide), int64(tc.ooo), int64(tc.late))
				}
				st := p.Stats()
				if int(st.Late) != wantLate || lateSeen != wantLate {
					t.Errorf("seed %d: late = %d (OnLate %d), want %d", seed, st.Late, lateSeen, wantLate)
				}
				if tc.stream.lateFrac > 0 && wantLate == 0 && tc.late == 0 {
					t.Errorf("seed %d: stream has no late events; the test is too weak", seed)
				}
				for k, res := range lastAligned {
					last[k.key] = append(last[k.key], res)
				}
				got := 0
				for _, rs := range last {
					for _, res := range rs {
						got++
						k := wkey{res.Key, res.Start, res.End}
						w := want[k]
						if w == nil {
							t.Errorf("seed %d: result for %v not in oracle", seed, k)
							continue
						}
						checkAgg(t, fmt.Sprintf("seed %d %v", seed, k), res.Agg, w, tc.aggs)
					}
				}
				t.Logf("seed %d: %d windows, %d late, %d updates", seed, got, wantLate, st.Updates)
				if got != len(want) {
					t.Errorf("seed %d: %d windows emitted, oracle has %d", seed, got, len(want))
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}
