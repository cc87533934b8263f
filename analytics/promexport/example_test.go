package promexport_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/promexport"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func Example() {
	bus := propagationtest.New()
	proc, _ := analytics.New(nil)
	c, _ := promexport.New(&promexport.Options{
		Bus:       bus.Stats,
		Analyzers: map[string]func() analytics.Stats{"writes": proc.Stats},
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "semevent_analytics_events_total") || strings.HasPrefix(line, "semevent_bus_published_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// semevent_analytics_events_total{analyzer="writes"} 0
	// semevent_bus_published_total 0
}
