package health

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/propagation"
)

// BusCheck watches a propagation bus through its Stats: Degraded when a
// boundary queue holds more than maxDepth events or events were dropped
// since the previous check, Critical when a handler panicked since then.
func BusCheck(stats func() propagation.Stats, maxDepth int) Check {
	var mu sync.Mutex
	var prev propagation.Stats
	first := true
	return func(context.Context) Status {
		s := stats()
		mu.Lock()
		p, f := prev, first
		prev, first = s, false
		mu.Unlock()
		if !f && s.Panics > p.Panics {
			return Status{Critical, fmt.Sprintf("%d handler panics since the last check", s.Panics-p.Panics)}
		}
		for b, bs := range s.Boundaries {
			if maxDepth > 0 && bs.Depth > maxDepth {
				return Status{Degraded, fmt.Sprintf("boundary %d queue holds %d events (> %d)", b, bs.Depth, maxDepth)}
			}
		}
		if d, pd := s.Dropped.Total(), p.Dropped.Total(); !f && d > pd {
			return Status{Degraded, fmt.Sprintf("%d events dropped since the last check", d-pd)}
		}
		return Status{OK, fmt.Sprintf("%d published, %d delivered", s.Published, s.Delivered)}
	}
}

// WatermarkCheck watches an event-time analyzer: Degraded when its
// watermark lags now (default time.Now) by more than maxLag, Critical
// beyond ten times that. An analyzer that has seen no event is OK.
func WatermarkCheck(stats func() analytics.Stats, maxLag time.Duration, now func() time.Time) Check {
	if now == nil {
		now = time.Now
	}
	return func(context.Context) Status {
		s := stats()
		if s.Watermark == math.MinInt64 {
			return Status{OK, "no events yet"}
		}
		lag := now().Sub(time.Unix(0, s.Watermark))
		msg := fmt.Sprintf("watermark %v behind, %d late events", lag.Round(time.Millisecond), s.Late)
		switch {
		case lag > 10*maxLag:
			return Status{Critical, msg}
		case lag > maxLag:
			return Status{Degraded, msg}
		}
		return Status{OK, msg}
	}
}
