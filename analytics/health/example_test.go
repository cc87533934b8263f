package health_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/vexfs/semevent/analytics/health"
)

func ExampleChecker() {
	c := health.New(nil)
	c.Register("journal", func(context.Context) health.Status { return health.Status{Level: health.OK} })
	c.Register("bus", func(context.Context) health.Status {
		return health.Status{Level: health.Degraded, Message: "queue filling"}
	})
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	rep := c.Check(context.Background())
	fmt.Println(rec.Code, rep.Level)
	for _, cr := range rep.Components {
		fmt.Println(cr.Name, cr.Level, cr.Message)
	}
	// Output:
	// 200 degraded
	// bus degraded queue filling
	// journal ok
}
