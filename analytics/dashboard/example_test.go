package dashboard_test

import (
	"context"
	"fmt"
	"github.com/vexfs/semevent"
	"net/http/httptest"
	"strings"

	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/dashboard"
)

func Example() {
	d, _ := dashboard.New(&dashboard.Options{Title: "files"})
	defer d.Close(context.Background())
	// Window results and anomalies reach the dashboard through callbacks.
	a := analytics.NewAggregate(0, nil)
	a.Count = 42
	d.ObserveResult(analytics.Result{Key: semevent.Key{S: "write"}, End: 2e9, Agg: a})

	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), "<canvas"))
	s := d.Snapshot()
	fmt.Println(s.Title, s.Windows[0].Counts["write"])
	// Output:
	// 200 true
	// files 42
}
