package peerbench

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRoutingPaired alternates blocks of 1024 routing.Table.Route
// calls and 1024 NATS sublist Match calls (the server's own, with its
// cache) over the same cycle of subjects, so that both see the same
// machine load, and reports each one's ns per decision and their ratio
// (semevent/nats: below 1, semevent is faster).
func BenchmarkRoutingPaired(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		subjects := routeSubjects(n)
		topics := routeTopics(n, routeCycle)
		evs := routeEvents(topics)
		b.Run(fmt.Sprintf("subs=%dk", n/1000), func(b *testing.B) {
			tab := semeventRouter(b, subjects, nil)
			cached, _, stop := natsSublists(b, subjects)
			defer stop()
			buf := make([]string, 0, 16)
			for i := range evs {
				buf = tab.Route(evs[i], buf[:0])
				cached.Match(topics[i])
			}
			var ts, tn time.Duration
			i, j, ops := 0, 0, 0
			for b.Loop() {
				t0 := time.Now()
				for range 1024 {
					buf = tab.Route(evs[i&(routeCycle-1)], buf[:0])
					i++
				}
				t1 := time.Now()
				for range 1024 {
					sinkResult = cached.Match(topics[j&(routeCycle-1)])
					j++
				}
				tn += time.Since(t1)
				ts += t1.Sub(t0)
				ops += 1024
			}
			b.ReportMetric(float64(ts.Nanoseconds())/float64(ops), "semevent-ns/op")
			b.ReportMetric(float64(tn.Nanoseconds())/float64(ops), "nats-ns/op")
			b.ReportMetric(float64(ts)/float64(tn), "semevent/nats")
		})
	}
}
