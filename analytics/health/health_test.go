package health_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/health"
	"github.com/vexfs/semevent/propagation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fixed(l health.Level) health.Check {
	return func(context.Context) health.Status { return health.Status{Level: l, Message: l.String()} }
}

func TestCheckerLevels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		levels []health.Level
		query  string
		want   health.Level
		code   int
	}{
		{"all ok", []health.Level{health.OK, health.OK}, "", health.OK, 200},
		{"degraded", []health.Level{health.OK, health.Degraded}, "", health.Degraded, 200},
		{"critical", []health.Level{health.Critical, health.Degraded}, "", health.Critical, 503},
		{"one component", []health.Level{health.OK, health.Critical}, "?component=c0", health.OK, 200},
		{"unknown component", []health.Level{health.OK}, "?component=nope", health.Critical, 503},
	} {
		c := health.New(nil)
		for i, l := range tc.levels {
			c.Register("c"+string(rune('0'+i)), fixed(l))
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz"+tc.query, nil))
		var rep struct {
			Level      string
			Components []struct{ Name, Level string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
			t.Fatalf("%s: %v in %s", tc.name, err, rec.Body)
		}
		if rec.Code != tc.code || rep.Level != tc.want.String() {
			t.Errorf("%s: GET /healthz%s = %d %s, want %d %s", tc.name, tc.query, rec.Code, rep.Level, tc.code, tc.want)
		}
	}
}

func TestTimeoutAndPanic(t *testing.T) {
	// Two checkers: a panic must be reported as one however late its
	// goroutine runs on a loaded machine (a long Timeout), and a check
	// that never returns must be reported as timed out (a short one).
	c := health.New(&health.Options{Timeout: time.Minute})
	c.Register("panics", func(context.Context) health.Status { panic("boom") })
	if rep := c.Check(context.Background()); rep.Level != health.Critical || len(rep.Components) != 1 || rep.Components[0].Message != "check panicked: boom" {
		t.Fatalf("panicking check: %+v, want critical, \"check panicked: boom\"", rep)
	}

	c = health.New(&health.Options{Timeout: 20 * time.Millisecond})
	release, returned := make(chan struct{}), make(chan struct{})
	c.Register("slow", func(ctx context.Context) health.Status {
		defer close(returned)
		<-release
		return health.Status{}
	})
	rep := c.Check(context.Background())
	close(release)
	<-returned // the released check has returned before goleak looks
	if rep.Level != health.Critical || len(rep.Components) != 1 || rep.Components[0].Message != "timed out" {
		t.Fatalf("slow check: %+v, want critical, \"timed out\"", rep)
	}
}

func TestBusAndWatermarkChecks(t *testing.T) {
	var s propagation.Stats
	bus := health.BusCheck(func() propagation.Stats { return s }, 100)
	ctx := context.Background()
	steps := []struct {
		change func()
		want   health.Level
	}{
		{func() {}, health.OK},
		{func() { s.Dropped.Full += 3 }, health.Degraded},
		{func() {}, health.OK},
		{func() { s.Boundaries[1].Depth = 500 }, health.Degraded},
		{func() { s.Panics++ }, health.Critical},
	}
	for i, st := range steps {
		st.change()
		if got := bus(ctx); got.Level != st.want {
			t.Errorf("bus step %d: %v (%s), want %v", i, got.Level, got.Message, st.want)
		}
	}
	now := time.Unix(1000, 0)
	var as analytics.Stats
	as.Watermark = math.MinInt64
	wm := health.WatermarkCheck(func() analytics.Stats { return as }, time.Second, func() time.Time { return now })
	for _, tc := range []struct {
		lag  time.Duration
		want health.Level
	}{{0, health.OK}, {2 * time.Second, health.Degraded}, {time.Minute, health.Critical}} {
		as.Watermark = now.Add(-tc.lag).UnixNano()
		if got := wm(ctx); got.Level != tc.want || !strings.Contains(got.Message, "behind") {
			t.Errorf("lag %v: %v %q, want %v", tc.lag, got.Level, got.Message, tc.want)
		}
	}
}
