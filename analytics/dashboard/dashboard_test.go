package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"github.com/vexfs/semevent"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/dashboard"
	"github.com/vexfs/semevent/propagation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBus returns growing stats and a clock that advances one second per
// sample.
type fakeBus struct {
	mu        sync.Mutex
	published uint64
	now       time.Time
}

func (b *fakeBus) stats() propagation.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published += 1000
	return propagation.Stats{Published: b.published, Latency: propagation.LatencyStats{P50: time.Millisecond, P99: 3 * time.Millisecond}}
}

func (b *fakeBus) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(time.Second)
	return b.now
}

func newDash(t *testing.T) (*dashboard.Dashboard, *fakeBus) {
	t.Helper()
	b := &fakeBus{now: time.Unix(1000, 0)}
	d, err := dashboard.New(&dashboard.Options{Title: "test", Bus: b.stats, Now: b.clock, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d, b
}

func result(key string, end int64, count uint64, paths ...string) analytics.Result {
	a := analytics.NewAggregate(analytics.TopK|analytics.Quantiles, nil)
	a.Count = count
	for _, p := range paths {
		a.TopK.Add(p, 1)
		a.Quantiles.Add(float64(len(p)))
	}
	return analytics.Result{Key: semevent.Key{S: key}, Start: end - 1e9, End: end, Agg: a}
}

func TestSnapshot(t *testing.T) {
	d, _ := newDash(t)
	for range 5 {
		d.Sample()
	}
	d.ObserveResult(result("write", 2e9, 10, "/a", "/a", "/b"))
	d.ObserveResult(result("read", 2e9, 4, "/a"))
	d.ObserveResult(result("write", 3e9, 7, "/c"))
	d.ObserveAnomaly(analytics.Anomaly{Key: semevent.Key{S: "write"}, Time: 3e9, Value: 70, Baseline: 10, Score: 6})

	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/snapshot", nil))
	var s dashboard.Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("snapshot JSON: %v\n%s", err, rec.Body)
	}
	// The sampler's first sample and ours: every one after the first
	// yields a rate, 1000 events per second.
	if len(s.Throughput) != 5 || s.Throughput[0].V != 1000 {
		t.Errorf("throughput = %+v, want 5 samples of 1000/s", s.Throughput)
	}
	if len(s.Latency) != 6 || s.Latency[0].P99 != 3 {
		t.Errorf("latency = %+v", s.Latency)
	}
	if len(s.Forecast) != 10 {
		t.Errorf("forecast has %d points, want 10", len(s.Forecast))
	}
	if len(s.Windows) != 2 || s.Windows[0].Total != 14 || s.Windows[1].Counts["write"] != 7 {
		t.Errorf("windows = %+v", s.Windows)
	}
	if strings.Join(s.Keys, ",") != "write,read" {
		t.Errorf("keys = %v, want write,read", s.Keys)
	}
	if len(s.Top) != 1 || s.Top[0].Key != "/c" {
		t.Errorf("top = %+v, want the latest window's /c", s.Top)
	}
	if len(s.Anomalies) != 1 || s.Totals["anomalies"] != 1 || s.Totals["window_results"] != 3 {
		t.Errorf("anomalies %+v totals %v", s.Anomalies, s.Totals)
	}
}

func TestAssets(t *testing.T) {
	d, _ := newDash(t)
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<canvas id="windows"`},
		{"/app.js", "javascript", "EventSource"},
		{"/style.css", "text/css", "--bg"},
	} {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s = %d %q, want %s containing %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.ctype, tc.contains)
		}
	}
	// No asset may come from elsewhere.
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if strings.Contains(rec.Body.String(), "http://") || strings.Contains(rec.Body.String(), "https://") {
		t.Error("the page links an external resource")
	}
}

func TestEventStream(t *testing.T) {
	b := &fakeBus{now: time.Unix(1000, 0)}
	d, err := dashboard.New(&dashboard.Options{Bus: b.stats, Now: b.clock, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var snaps []dashboard.Snapshot
	for len(snaps) < 3 && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var s dashboard.Snapshot
			if err := json.Unmarshal([]byte(data), &s); err != nil {
				t.Fatalf("event data: %v", err)
			}
			snaps = append(snaps, s)
		}
	}
	if len(snaps) != 3 {
		t.Fatalf("got %d snapshots: %v", len(snaps), sc.Err())
	}
	// Close ends the stream.
	_ = d.Close(context.Background())
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func TestOptionsValidate(t *testing.T) {
	_, err := dashboard.New(&dashboard.Options{Interval: -1, History: -1, TopN: 5000})
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || !errors.Is(err, semevent.ErrInvalidOptions) || len(oe.Problems) != 3 {
		t.Errorf("New(bad) = %v, want a *semevent.OptionsError with three problems", err)
	}
}

// TestConcurrentUse runs results, anomalies, samples and snapshots at
// once; the race detector checks that no snapshot shares state.
func TestConcurrentUse(t *testing.T) {
	d, _ := newDash(t)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				d.ObserveResult(result(string(rune('a'+g)), int64(i%5)*1e9, uint64(i), "/p"))
				d.ObserveAnomaly(analytics.Anomaly{Key: semevent.Key{S: "a"}, Time: int64(i)})
				d.Sample()
			}
		}()
	}
	for range 100 {
		_, _ = json.Marshal(d.Snapshot())
	}
	wg.Wait()
}

func TestPatterns(t *testing.T) {
	d, err := dashboard.New(&dashboard.Options{Patterns: func() []analytics.FrequentSequence {
		return []analytics.FrequentSequence{{Steps: []string{"open", "close"}, Support: 3}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if p := d.Snapshot().Patterns; len(p) != 1 || p[0].Support != 3 || p[0].Steps[1] != "close" {
		t.Errorf("Patterns = %+v", p)
	}
}
