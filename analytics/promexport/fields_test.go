package promexport_test

import (
	"testing"
	"time"

	"github.com/vexfs/semevent/analytics/promexport"
)

type engineStats struct {
	Events       uint64
	ActionErrors uint64
	Rules        int
	Latency      time.Duration
	Ratio        float64
	Dropped      struct{ Full uint64 }
	name         string
	Labels       []string
}

func TestFieldsSource(t *testing.T) {
	src := promexport.FieldsSource(func() any {
		s := engineStats{Events: 5, ActionErrors: 1, Rules: 3, Latency: 1500 * time.Millisecond, Ratio: 0.5, name: "x"}
		s.Dropped.Full = 2
		return &s
	})
	c, _ := promexport.New(&promexport.Options{Sources: map[string]promexport.Source{"automation": src}})
	got := gather(t, c)
	for key, want := range map[string]float64{
		"semevent_automation_events_total":        5,
		"semevent_automation_action_errors_total": 1,
		"semevent_automation_rules":               3,
		"semevent_automation_latency_seconds":     1.5,
		"semevent_automation_ratio":               0.5,
		"semevent_automation_dropped_full_total":  2,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if len(got) != 6 {
		t.Errorf("got %d metrics, want 6: %v", len(got), got)
	}
}
