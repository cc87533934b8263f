package analytics_test

import (
	"errors"
	"testing"

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
		ev := analytics.ResultEvent("analytics.window.x", &analytics.Result{Name: "x", Key: "k", Start: 1, End: 2, Agg: a})
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
