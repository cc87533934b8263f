package analytics_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

func seedAggregates() []*analytics.Aggregate {
	empty := analytics.NewAggregate(0, nil)
	full := analytics.NewAggregate(analytics.Distinct|analytics.ApproxDistinct|analytics.Quantiles|analytics.TopK,
		&analytics.Options{HLLPrecision: 4, TopKCapacity: 3})
	for i := range 20 {
		full.Count++
		full.Sum += float64(i)
		full.Min, full.Max = min(full.Min, float64(i)), max(full.Max, float64(i))
		full.Distinct.Add(uint64(i * 7))
		full.ApproxDistinct.Add(uint64(i) << 50)
		full.Quantiles.Add(float64(i) - 5)
		full.TopK.Add(string(rune('a'+i%5)), 1)
	}
	return []*analytics.Aggregate{empty, full}
}

// FuzzAggregate checks that decoding an aggregate never panics, fails
// only with a *DecodeError, and that what decodes re-encodes stably.
func FuzzAggregate(f *testing.F) {
	for _, a := range seedAggregates() {
		b, _ := a.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a analytics.Aggregate
		if err := a.UnmarshalBinary(b); err != nil {
			var de *analytics.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, analytics.ErrCorrupt) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		b2, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var a2 analytics.Aggregate
		if err := a2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		// Using a decoded aggregate must not panic either.
		_ = a2.Merge(&a)
		_, _ = a2.Quantile(0.5), a2.DistinctCount()
	})
}

// FuzzDecodeResult feeds result events with fuzzed attributes and data.
func FuzzDecodeResult(f *testing.F) {
	for _, a := range seedAggregates() {
		ev := analytics.ResultEvent("analytics.window.x", &analytics.Result{Name: "x", Key: semevent.Key{Tenant: "acme", S: "k", N: 7}, Start: 1, End: 2, Agg: a})
		f.Add("1", "2", ev.Data)
	}
	f.Add("5", "1", []byte{'A', 1})
	f.Fuzz(func(t *testing.T, start, end string, data []byte) {
		ev := &semevent.Event{Attrs: []semevent.Attr{{Key: analytics.AttrName, Value: "x"}, {Key: analytics.AttrKey, Value: "k"},
			{Key: analytics.AttrStart, Value: start}, {Key: analytics.AttrEnd, Value: end}}, Data: data}
		r, err := analytics.DecodeResult(ev)
		if err != nil {
			if !errors.Is(err, analytics.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if r.Start > r.End || r.Agg == nil {
			t.Fatalf("decoded %+v", r)
		}
		// What decodes re-encodes to an event that decodes the same.
		r2, err := analytics.DecodeResult(analytics.ResultEvent("analytics.window.x", r))
		if err != nil || r2.Start != r.Start || r2.End != r.End || r2.Agg.Count != r.Agg.Count {
			t.Fatalf("round trip: %+v, %v", r2, err)
		}
	})
}

// FuzzResultKey fuzzes the key and flag attributes of a result event:
// its tenant, the key's S, the key_n attribute and the partial flag.
// Decoding never panics, fails only with ErrCorrupt, and what decodes
// round-trips with the same Key, Update and Partial.
func FuzzResultKey(f *testing.F) {
	f.Add("acme", "/a", "", false, false)
	f.Add("", "", "7", true, true)
	f.Add("globex", "k", "0", false, true)
	f.Add("t", "s", "18446744073709551616", true, false)
	f.Add("t", "s", "-1", false, false)
	data, _ := analytics.NewAggregate(0, nil).MarshalBinary()
	f.Fuzz(func(t *testing.T, tenant, key, keyN string, partial, update bool) {
		ev := &semevent.Event{Tenant: tenant, Data: data, Attrs: []semevent.Attr{{Key: analytics.AttrName, Value: "x"},
			{Key: analytics.AttrKey, Value: key}, {Key: analytics.AttrStart, Value: "1"}, {Key: analytics.AttrEnd, Value: "2"}}}
		if keyN != "" {
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: analytics.AttrKeyN, Value: keyN})
		}
		if partial {
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: analytics.AttrPartial, Value: "true"})
		}
		if update {
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: analytics.AttrUpdate, Value: "true"})
		}
		r, err := analytics.DecodeResult(ev)
		if err != nil {
			if !errors.Is(err, analytics.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if r.Key.Tenant != tenant || r.Key.S != key || r.Partial != partial || r.Update != update {
			t.Fatalf("decoded %+v from tenant %q key %q partial %v update %v", r, tenant, key, partial, update)
		}
		ev2 := analytics.ResultEvent("analytics.window.x", r)
		r2, err := analytics.DecodeResult(ev2)
		if err != nil || r2.Key != r.Key || r2.Partial != r.Partial || r2.Update != r.Update || ev2.Tenant != tenant {
			t.Fatalf("round trip: %+v, %v; want %+v", r2, err, r)
		}
	})
}

// FuzzProcessor decodes a window configuration and an event stream from
// the input and checks the processor against the differential test's
// oracle: same windows, same counts and sums, same late count. It also
// throws extreme event times at it.
func FuzzProcessor(f *testing.F) {
	f.Add([]byte{0, 3, 1, 0, 10, 1, 20, 2, 5, 1, 200, 0})
	f.Add([]byte{1, 2, 2, 1, 1, 1, 2, 1, 3, 1, 250, 2, 4, 0})
	f.Add([]byte{2, 1, 0, 2, 7, 1, 9, 0, 40, 1, 1, 1})
	f.Add([]byte{3, 0, 0, 0, 255, 255, 0, 128})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		const ms = int64(time.Millisecond)
		kind, ooo, late := b[0]%3, int64(b[1]%8)*ms, int64(b[2]%8)*ms
		var w analytics.Window
		switch kind {
		case 0:
			w = analytics.Tumbling(10 * time.Millisecond)
		case 1:
			w = analytics.Sliding(30*time.Millisecond, 10*time.Millisecond)
		case 2:
			w = analytics.Session(5 * time.Millisecond)
		}
		extreme := b[3]&0x80 != 0
		var evs []*semevent.Event
		now := int64(1e18)
		for i := 4; i+1 < len(b); i += 2 {
			// Mostly forward steps, sometimes backward jumps.
			d := int64(int8(b[i])) * ms / 4
			now += d
			ev := &semevent.Event{Path: string(rune('a' + b[i+1]%3)), Size: int64(b[i+1]), Time: now}
			if extreme && b[i+1] == 255 {
				ev.Time = math.MaxInt64
			}
			evs = append(evs, ev)
		}
		res := map[wkey]analytics.Result{}
		var sessions []analytics.Result
		lateN := 0
		p, err := analytics.New(&analytics.Options{Window: w, MaxOutOfOrder: time.Duration(ooo), AllowedLateness: time.Duration(late),
			Key: semevent.PathKey, OnLate: func(*semevent.Event) { lateN++ },
			OnResult: func(r analytics.Result) {
				if kind == 2 {
					sessions = slices.DeleteFunc(sessions, func(o analytics.Result) bool {
						return o.Key == r.Key && o.Start >= r.Start && o.End <= r.End
					})
					sessions = append(sessions, r)
					return
				}
				res[wkey{r.Key, r.Start, r.End}] = r
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, ev := range evs {
			_ = p.Handle(ctx, ev)
		}
		_ = p.Close(ctx)
		if extreme {
			return // clamped times: only "no panic" is checked
		}
		for _, r := range sessions {
			res[wkey{r.Key, r.Start, r.End}] = r
		}
		var want map[wkey]*oracleAgg
		var wantLate int
		if kind == 2 {
			want, wantLate = oracleSessions(evs, int64(w.Gap), ooo, late)
		} else {
			slide := w.Slide
			if slide == 0 {
				slide = w.Size
			}
			want, wantLate = oracleAligned(evs, int64(w.Size), int64(slide), ooo, late)
		}
		if lateN != wantLate {
			t.Errorf("late = %d, want %d", lateN, wantLate)
		}
		if len(res) != len(want) {
			t.Errorf("%d windows, want %d", len(res), len(want))
		}
		for k, wa := range want {
			r, ok := res[k]
			if !ok || r.Agg.Count != wa.count || r.Agg.Sum != wa.sum {
				t.Errorf("window %v: got %+v, want count %d sum %v", k, r.Agg, wa.count, wa.sum)
			}
		}
	})
}
