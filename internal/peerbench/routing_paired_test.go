package peerbench

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// BenchmarkRoutingPaired alternates blocks of 1024 routing.Table.Route
// calls and 1024 NATS sublist Match calls (the server's own, with its
// cache) over the same cycle of subjects, in turn first and second, so
// that both see the same machine load, and reports each one's ns per
// decision and their ratio (semevent/nats: below 1, semevent is faster):
// of the sums, and the median of the blocks' ratios (semevent/nats-median),
// which a preemption or another process's burst in one block moves less on
// a loaded machine.
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
			semevent := func(i int) {
				for k := range 1024 {
					buf = tab.Route(evs[(i+k)&(routeCycle-1)], buf[:0])
				}
			}
			nats := func(j int) {
				for k := range 1024 {
					sinkResult = cached.Match(topics[(j+k)&(routeCycle-1)])
				}
			}
			var ts, tn time.Duration
			var ratios ratioHistogram
			ops := 0
			for b.Loop() {
				var ds, dn time.Duration
				if ops&1024 == 0 {
					t0 := time.Now()
					semevent(ops)
					t1 := time.Now()
					nats(ops)
					ds, dn = t1.Sub(t0), time.Since(t1)
				} else {
					t0 := time.Now()
					nats(ops)
					t1 := time.Now()
					semevent(ops)
					dn, ds = t1.Sub(t0), time.Since(t1)
				}
				ts += ds
				tn += dn
				ratios.add(float64(ds) / float64(dn))
				ops += 1024
			}
			b.ReportMetric(float64(ts.Nanoseconds())/float64(ops), "semevent-ns/op")
			b.ReportMetric(float64(tn.Nanoseconds())/float64(ops), "nats-ns/op")
			b.ReportMetric(float64(ts)/float64(tn), "semevent/nats")
			b.ReportMetric(ratios.median(), "semevent/nats-median")
		})
	}
}

// ratioHistogram counts ratios in buckets 1% wide on a log scale, from
// 1/150 to 150, without allocating.
type ratioHistogram struct {
	n      int
	counts [1000]int
}

func (h *ratioHistogram) add(r float64) {
	i := 500
	if r > 0 {
		i = min(max(int(math.Round(math.Log(r)*100))+500, 0), len(h.counts)-1)
	}
	h.counts[i]++
	h.n++
}

// median returns the middle ratio added, within 1%.
func (h *ratioHistogram) median() float64 {
	seen := 0
	for i, c := range h.counts {
		if seen += c; seen > h.n/2 {
			return math.Exp(float64(i-500) / 100)
		}
	}
	return math.NaN()
}
