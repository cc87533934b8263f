package routing_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/routing"
)

// benchRules builds a realistic mixed rule set of n rules over n/10
// tenants: per tenant, subject-only rules, subject+path rules, a path-only
// rule, a content rule every other tenant and an expr rule every fifth,
// plus a few global wildcard rules.
func benchRuleSet(n int) *routing.RuleSet {
	rs := &routing.RuleSet{Groups: []routing.Group{{Name: "indexers", Members: []string{"idx-1", "idx-2", "idx-3"}, Strategy: routing.Hash}}}
	add := func(r routing.Rule) { rs.Rules = append(rs.Rules, r) }
	add(routing.Rule{Name: "all-deletes", Subject: "tenant.*.fs.file.delete", To: []string{"audit"}})
	add(routing.Rule{Name: "all-fs", Subject: "tenant.*.fs.>", When: "Priority >= 20", To: []string{"pager"}})
	for t := 0; len(rs.Rules) < n; t++ {
		tn := fmt.Sprintf("t%d", t)
		add(routing.Rule{Subject: "tenant." + tn + ".fs.file.write", To: []string{"writes-" + tn}})
		add(routing.Rule{Subject: "tenant." + tn + ".fs.>", To: []string{"tenant-" + tn}})
		add(routing.Rule{Subject: "tenant." + tn + ".fs.file.*", Path: "/data/" + tn + "/**/*.log", To: []string{"indexers"}})
		add(routing.Rule{Subject: "tenant." + tn + ".fs.file.write", Path: "/data/" + tn + "/db/*", To: []string{"db-" + tn}})
		add(routing.Rule{Path: "/srv/" + tn + "/**", To: []string{"srv-" + tn}})
		add(routing.Rule{Subject: "tenant." + tn + ".fs.dir.*", To: []string{"dirs-" + tn}})
		add(routing.Rule{Subject: "tenant." + tn + ".semantic.>", To: []string{"vectors-" + tn}})
		if t%2 == 0 {
			add(routing.Rule{Subject: "tenant." + tn + ".fs.file.write", Contains: []string{"secret-" + tn}, In: []string{"data"}, To: []string{"dlp"}})
		} else {
			add(routing.Rule{Subject: "tenant." + tn + ".fs.file.create", To: []string{"creates-" + tn}})
		}
		if t%5 == 0 {
			add(routing.Rule{Subject: "tenant." + tn + ".fs.file.write", When: `Size > 1048576 && Path endsWith ".bin"`, To: []string{"big-" + tn}})
		} else {
			add(routing.Rule{Subject: "tenant." + tn + ".fs.file.truncate", To: []string{"trunc-" + tn}})
		}
		add(routing.Rule{Subject: "tenant." + tn + ".fs.file.rename", Path: "/data/" + tn + "/**", To: []string{"renames-" + tn}})
	}
	rs.Rules = rs.Rules[:n]
	return rs
}

func benchTable(tb testing.TB, n int, opts *routing.Options) *routing.Table {
	tab, err := routing.New(benchRuleSet(n), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return tab
}

// benchEvents returns m events for the tenants of an n-rule set: writes,
// reads, creates under /data/<tenant>/ and /srv/<tenant>/.
func benchEvents(n, m int) []*semevent.Event {
	r := rand.New(rand.NewPCG(1, 2))
	tenants := max(n/10, 1)
	kinds := []semevent.Kind{semevent.KindFileWrite, semevent.KindFileWrite, semevent.KindFileRead, semevent.KindFileCreate, semevent.KindFileClose}
	files := []string{"logs/app.log", "db/index", "logs/2026/11/x.log", "tmp/a.txt"}
	evs := make([]*semevent.Event, m)
	for i := range evs {
		tn := fmt.Sprintf("t%d", r.IntN(tenants))
		k := kinds[r.IntN(len(kinds))]
		root := "/data/"
		if r.IntN(4) == 0 {
			root = "/srv/"
		}
		evs[i] = &semevent.Event{
			Kind: k, Tenant: tn, Topic: "tenant." + tn + "." + k.Topic(),
			Path: root + tn + "/" + files[r.IntN(len(files))],
			Size: r.Int64N(1 << 16), Data: []byte("payload without anything"),
		}
	}
	return evs
}

var sinkDests []string

// cpuTime returns the process's user+system CPU time in nanoseconds. On a
// shared machine, cpu-ns/op says what a decision costs when wall-clock
// ns/op also counts time the benchmark spent waiting for a core.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRoute routes a cycle of 4096 events with random tenants, so that
// the working set does not sit in the CPU caches. rules=N uses the decision
// cache (the default); rules=N/indexes disables it, so every event goes
// through the subject entry and the path and content indexes. The /hot
// variants cycle over 16 events: the cost of a decision whose data is in
// the CPU caches.
func BenchmarkRoute(b *testing.B) {
	noCache := &routing.Options{NoDecisionCache: true}
	for _, bc := range []struct {
		n, events int
		name      string
		opts      *routing.Options
	}{
		{1000, 4096, "rules=1k", nil},
		{10000, 4096, "rules=10k", nil},
		{100000, 4096, "rules=100k", nil},
		{1000, 4096, "rules=1k/indexes", noCache},
		{10000, 4096, "rules=10k/indexes", noCache},
		{100000, 4096, "rules=100k/indexes", noCache},
		{1000, 16, "rules=1k/hot", nil},
		{10000, 16, "rules=10k/hot", nil},
		{100000, 16, "rules=100k/hot", nil},
		{10000, 16, "rules=10k/hot/indexes", noCache},
		{100000, 16, "rules=100k/hot/indexes", noCache},
	} {
		n := bc.n
		b.Run(bc.name, func(b *testing.B) {
			tab := benchTable(b, n, bc.opts)
			evs := benchEvents(n, 4096)[:bc.events]
			buf := make([]string, 0, 16)
			dests := 0
			for _, ev := range evs { // warm the decision cache
				buf = tab.Route(ev, buf[:0])
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				buf = tab.Route(evs[i%len(evs)], buf[:0])
				dests += len(buf)
				i++
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(i), "cpu-ns/op")
			b.ReportMetric(float64(dests)/float64(i), "dests/op")
			sinkDests = buf
		})
	}
}

// BenchmarkRouteScaling alternates blocks of 1024 decisions on 1k-, 10k-
// and 100k-rule tables (4096-event cycles, decision cache on, and with
// NoDecisionCache for /indexes), so that all three see the same machine
// load, and reports ns per decision for each and the 100k/1k ratio.
func BenchmarkRouteScaling(b *testing.B) {
	for _, variant := range []struct {
		name string
		opts *routing.Options
	}{{"cached", nil}, {"indexes", &routing.Options{NoDecisionCache: true}}} {
		b.Run(variant.name, func(b *testing.B) {
			sizes := []int{1000, 10000, 100000}
			tabs := make([]*routing.Table, len(sizes))
			evs := make([][]*semevent.Event, len(sizes))
			buf := make([]string, 0, 16)
			for i, n := range sizes {
				tabs[i] = benchTable(b, n, variant.opts)
				evs[i] = benchEvents(n, 4096)
				for _, ev := range evs[i] {
					buf = tabs[i].Route(ev, buf[:0])
				}
			}
			spent := make([]time.Duration, len(sizes))
			n := 0
			for b.Loop() {
				for i := range sizes {
					t0 := time.Now()
					for j := range 1024 {
						buf = tabs[i].Route(evs[i][(n+j)&4095], buf[:0])
					}
					spent[i] += time.Since(t0)
				}
				n += 1024
			}
			for i, size := range sizes {
				b.ReportMetric(float64(spent[i].Nanoseconds())/float64(n), fmt.Sprintf("ns/decision-%dk", size/1000))
			}
			b.ReportMetric(float64(spent[2])/float64(spent[0]), "ratio-100k/1k")
			sinkDests = buf
		})
	}
}

// BenchmarkRouteNewSubject routes events whose topics were never seen, so
// that every decision builds its subject's entry (the cost of a cache
// miss; it allocates).
func BenchmarkRouteNewSubject(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("rules=%dk", n/1000), func(b *testing.B) {
			tab := benchTable(b, n, &routing.Options{NoDecisionCache: true})
			topics := make([]string, 1<<16)
			for i := range topics {
				topics[i] = fmt.Sprintf("tenant.t%d.fs.file.x%d", i%(n/10), i)
			}
			ev := &semevent.Event{Path: "/data/t1/logs/a.log"}
			buf := make([]string, 0, 16)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev.Topic = topics[i&(1<<16-1)]
				buf = tab.Route(ev, buf[:0])
				i++
			}
		})
	}
}
