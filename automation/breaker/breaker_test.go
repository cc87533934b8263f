package breaker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/breaker"
)

func TestBreakerTransitions(t *testing.T) {
	clock := automationtest.NewClock(time.Unix(1_700_000_000, 0), false)
	b, err := breaker.New(&breaker.Options{Failures: 3, OpenFor: 10 * time.Second, Clock: clock})
	require.NoError(t, err)
	boom := errors.New("boom")
	steps := []struct {
		do        string // "ok", "fail", "advance"
		wantAllow error
		wantState breaker.State
	}{
		{"fail", nil, breaker.Closed},
		{"fail", nil, breaker.Closed},
		{"ok", nil, breaker.Closed}, // success resets the count
		{"fail", nil, breaker.Closed},
		{"fail", nil, breaker.Closed},
		{"fail", nil, breaker.Open},
		{"call", breaker.ErrCircuitOpen, breaker.Open},
		{"advance9", breaker.ErrCircuitOpen, breaker.Open},
		{"advance1", nil, breaker.HalfOpen}, // the probe
		{"call", breaker.ErrCircuitOpen, breaker.HalfOpen},
		{"probefail", nil, breaker.Open},
		{"call", breaker.ErrCircuitOpen, breaker.Open},
		{"advance10", nil, breaker.HalfOpen},
		{"probeok", nil, breaker.Closed},
		{"call", nil, breaker.Closed},
	}
	for i, s := range steps {
		var err error
		switch s.do {
		case "ok", "fail":
			err = b.Allow()
			if err == nil {
				b.Done(map[string]error{"ok": nil, "fail": boom}[s.do])
			}
		case "call":
			err = b.Allow()
			if err == nil {
				b.Done(nil)
			}
		case "advance9", "advance1", "advance10":
			d := map[string]time.Duration{"advance9": 9 * time.Second, "advance1": time.Second, "advance10": 10 * time.Second}[s.do]
			clock.Advance(d)
			err = b.Allow()
		case "probefail":
			b.Done(boom)
		case "probeok":
			b.Done(nil)
		}
		if !errors.Is(err, s.wantAllow) || (s.wantAllow == nil && err != nil) {
			t.Fatalf("step %d (%s): Allow = %v, want %v", i, s.do, err, s.wantAllow)
		}
		if got := b.State(); got != s.wantState {
			t.Fatalf("step %d (%s): state %v, want %v", i, s.do, got, s.wantState)
		}
	}
}
