package promexport_test

import (
	"context"
	"errors"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.yaml.in/yaml/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/health"
	"github.com/vexfs/semevent/analytics/promexport"
	"github.com/vexfs/semevent/propagation"
)

func fullCollector(t *testing.T) *promexport.Collector {
	t.Helper()
	hc := health.New(nil)
	hc.Register("bus", func(context.Context) health.Status { return health.Status{Level: health.Degraded} })
	c, err := promexport.New(&promexport.Options{
		Bus: func() propagation.Stats {
			s := propagation.Stats{Published: 10, Delivered: 9, Dropped: propagation.DropStats{Full: 1}}
			s.Subscriptions = []propagation.SubscriptionStats{{Name: "indexer", Delivered: 9}}
			return s
		},
		Analyzers: map[string]func() analytics.Stats{
			"writes": func() analytics.Stats {
				return analytics.Stats{Events: 5, Late: 1, Future: 2, KeyOverflow: 3, Keys: 4, Watermark: 2e9}
			},
		},
		Journal: func() promexport.JournalStats { return promexport.JournalStats{FirstOffset: 3, NextOffset: 10} },
		Router:  func() promexport.RouterStats { return promexport.RouterStats{Version: 2, Destinations: 4} },
		Health:  hc,
		Coordinator: func() []promexport.Metric {
			return []promexport.Metric{{Name: "leader_changes_total", Help: "Leader changes.", Counter: true, Value: 3}}
		},
		Sources: map[string]promexport.Source{"automation": func() []promexport.Metric {
			return []promexport.Metric{{Name: "rules_fired_total", Counter: true, Help: "Rules fired.", Labels: map[string]string{"rule": "r1"}, Value: 7}}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestCollectorValues(t *testing.T) {
	got := gather(t, fullCollector(t))
	for key, want := range map[string]float64{
		"semevent_bus_published_total":                                    10,
		"semevent_bus_dropped_total{reason=full}":                         1,
		"semevent_bus_queue_depth{boundary=kernel}":                       0,
		"semevent_bus_subscription_delivered_total{subscription=indexer}": 9,
		"semevent_analytics_late_events_total{analyzer=writes}":           1,
		"semevent_analytics_future_events_total{analyzer=writes}":         2,
		"semevent_analytics_key_overflow_events_total{analyzer=writes}":   3,
		"semevent_analytics_keys{analyzer=writes}":                        4,
		"semevent_analytics_watermark_seconds{analyzer=writes}":           2,
		"semevent_journal_retained_records":                               7,
		"semevent_router_rules_version":                                   2,
		"semevent_health_status{component=bus}":                           1,
		"semevent_coord_leader_changes_total":                             3,
		"semevent_automation_rules_fired_total{rule=r1}":                  7,
		"semevent_bus_delivery_latency_seconds{quantile=0.99}":            0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	// Every name exported by the built-in sources is listed in Names.
	names := promexport.Names()
	for key := range got {
		name, _, _ := strings.Cut(key, "{")
		if !slices.Contains(names, name) && !strings.HasPrefix(name, "semevent_coord_") && !strings.HasPrefix(name, "semevent_automation_") {
			t.Errorf("exported %s is not in Names()", name)
		}
	}
	if n := testutil.CollectAndCount(fullCollector(t)); n != len(got) {
		t.Errorf("CollectAndCount = %d, gathered %d", n, len(got))
	}
}

func TestWatermarkBeforeEvents(t *testing.T) {
	c, _ := promexport.New(&promexport.Options{Analyzers: map[string]func() analytics.Stats{
		"a": func() analytics.Stats { return analytics.Stats{Watermark: math.MinInt64} },
	}})
	if v := gather(t, c)["semevent_analytics_watermark_seconds{analyzer=a}"]; !math.IsNaN(v) {
		t.Errorf("watermark before any event = %v, want NaN", v)
	}
}

func TestOptionsValidate(t *testing.T) {
	_, err := promexport.New(&promexport.Options{Namespace: "bad-name", Sources: map[string]promexport.Source{"ok": nil, "no.dots": nil}})
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || len(oe.Problems) != 2 || !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("New = %v, want a *semevent.OptionsError with two problems", err)
	}
}

// TestAlertRulesUseExportedNames parses alerts.yml and checks that every
// semevent_* name in an expression is one the collector exports.
func TestAlertRulesUseExportedNames(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	names := promexport.Names()
	re := regexp.MustCompile(`semevent_[a-z_]+`)
	rules := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v lacks alert or expr", r)
			}
			for _, n := range re.FindAllString(r.Expr, -1) {
				if !slices.Contains(names, n) {
					t.Errorf("alert %s uses %s, which is not exported", r.Alert, n)
				}
			}
		}
	}
	if rules < 5 {
		t.Errorf("%d rules in alerts.yml", rules)
	}
}
