package analyticstest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/analyticstest"
)

func TestFakeConforms(t *testing.T) {
	analyticstest.TestAnalyzer(t, func(*testing.T) analytics.Analyzer { return analyticstest.New() })
}

func TestProcessorConforms(t *testing.T) {
	analyticstest.TestAnalyzer(t, func(t *testing.T) analytics.Analyzer {
		p, err := analytics.New(&analytics.Options{Key: semevent.PathKey, Aggs: analytics.Quantiles})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		return p
	})
}

func TestMinerConforms(t *testing.T) {
	analyticstest.TestAnalyzer(t, func(t *testing.T) analytics.Analyzer {
		m, err := analytics.NewMiner(nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestFakeRecordsAndFails(t *testing.T) {
	f := analyticstest.New()
	ctx := context.Background()
	boom := errors.New("boom")
	f.FailNext(boom)
	if err := f.Handle(ctx, &semevent.Event{Path: "/a"}); !errors.Is(err, boom) {
		t.Fatalf("Handle = %v, want injected error", err)
	}
	ev := &semevent.Event{Path: "/b"}
	_ = f.Handle(ctx, ev)
	ev.Path = "/changed"
	if got := f.Events(); len(got) != 1 || got[0].Path != "/b" {
		t.Fatalf("Events() = %v, want one copy of /b", got)
	}
	var got []analytics.Result
	f.OnResult = func(r analytics.Result) { got = append(got, r) }
	f.Emit(analytics.Result{Key: semevent.Key{S: "k"}})
	if len(got) != 1 || got[0].Key.S != "k" {
		t.Errorf("OnResult got %v", got)
	}
	if n := len(f.TakeEvents()); n != 1 || len(f.Events()) != 0 {
		t.Errorf("TakeEvents returned %d, left %d", n, len(f.Events()))
	}
}
