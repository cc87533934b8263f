package analytics_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/internal/logx/logxtest"
)

// TestLoggerFarFutureRateLimited: far-future events refused by MaxFuture
// are logged the first time, then not again within the interval, then as
// one summary counting what was held back (issue 17 item 3).
func TestLoggerFarFutureRateLimited(t *testing.T) {
	rec, lg := logxtest.New(slog.LevelDebug)
	var now atomic.Int64
	now.Store(t0)
	p, err := analytics.New(&analytics.Options{Name: "hits", Window: analytics.Tumbling(time.Second), Key: semevent.TenantKey,
		Clock: now.Load, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	far := func() *semevent.Event {
		return &semevent.Event{Tenant: "globex", Path: "/g", Time: now.Load() + int64(365*24*time.Hour)}
	}
	for range 50 {
		_ = p.Handle(ctx, far())
	}
	lines := rec.Find("event refused: too far in the future")
	if len(lines) != 1 {
		t.Fatalf("%d lines for 50 refusals within one interval, want 1: %v", len(lines), rec.Records())
	}
	a := lines[0].Attrs
	if lines[0].Level != slog.LevelWarn || a["component"] != "analytics" || a["processor"] != "hits" || a["tenant"] != "globex" || a["count"] != uint64(1) {
		t.Errorf("first line %+v", lines[0])
	}
	now.Add(int64(11 * time.Second))
	_ = p.Handle(ctx, far())
	lines = rec.Find("event refused: too far in the future")
	if len(lines) != 2 || lines[1].Attrs["count"] != uint64(50) {
		t.Fatalf("after the interval: %d lines, last %+v; want 2, the summary with count 50", len(lines), lines[len(lines)-1])
	}
	if s := p.Stats(); s.Future != 51 {
		t.Errorf("Stats.Future = %d, want 51", s.Future)
	}
	_ = p.Close(ctx)
}
