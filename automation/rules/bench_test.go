package rules_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/filter"
)

// BenchmarkRules evaluates 1000 expr rules per event (all indexed under
// the event's kind, so every one is evaluated); one in 1000 fires.
func BenchmarkRules(b *testing.B) {
	const nRules = 1000
	rs := &rules.RuleSet{}
	for i := range nRules {
		rs.Rules = append(rs.Rules, rules.Rule{
			Name:  fmt.Sprint("r", i),
			When:  fmt.Sprintf(`Path startsWith "/data/%d/" && Size > %d`, i, i),
			Kinds: []semevent.Kind{semevent.KindFileWrite},
			Then:  []rules.ActionRef{{Action: "count"}},
		})
	}
	fired := 0
	e, err := rules.New(rs, &rules.Options{Actions: map[string]rules.ActionFunc{
		"count": func(context.Context, *rules.Firing) error { fired++; return nil },
	}})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]*semevent.Event, 1024)
	for i := range evs {
		evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/data/%d/f%d", i%nRules, i), Size: 5000}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		_ = e.Handle(ctx, evs[i%len(evs)])
	}
	b.StopTimer()
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/s, "events/s")
	b.ReportMetric(float64(e.Stats().Evaluations)/s, "evals/s")
	b.ReportMetric(float64(e.Stats().Evaluations)/(cpuTime()-cpu0).Seconds(), "evals/cpu-s")
}

// BenchmarkActiveRulesMemory measures the heap that active rules hold:
// 1M rules with typed conditions (a path prefix each) and per-rule
// action parameters, and 10k rules with distinct expr conditions, which
// cost more each.
func BenchmarkActiveRulesMemory(b *testing.B) {
	cases := []struct {
		name string
		n    int
		rule func(i int) rules.Rule
	}{
		{"typed-1M", 1_000_000, func(i int) rules.Rule {
			return rules.Rule{Name: "r" + strconv.Itoa(i), Filter: filter.PathPrefix("/t/" + strconv.Itoa(i) + "/"),
				Kinds: []semevent.Kind{semevent.KindFileWrite},
				Then:  []rules.ActionRef{{Action: "emit", Params: map[string]string{"tenant": strconv.Itoa(i % 1000)}}}}
		}},
		{"shared-expr-1M", 1_000_000, func(i int) rules.Rule {
			return rules.Rule{Name: "r" + strconv.Itoa(i), When: `Kind == "write" && Size > 1000000 && Attr("tenant") == "t` + strconv.Itoa(i%100) + `"`,
				Then: []rules.ActionRef{{Action: "emit"}}}
		}},
		{"distinct-expr-10k", 10_000, func(i int) rules.Rule {
			return rules.Rule{Name: "r" + strconv.Itoa(i), When: `Path startsWith "/data/` + strconv.Itoa(i) + `/" && Size > ` + strconv.Itoa(i),
				Then: []rules.ActionRef{{Action: "emit"}}}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				before := heap()
				rs := &rules.RuleSet{Rules: make([]rules.Rule, tc.n)}
				for i := range rs.Rules {
					rs.Rules[i] = tc.rule(i)
				}
				e, err := rules.New(rs, nil)
				if err != nil {
					b.Fatal(err)
				}
				rs = nil // the engine keeps only what it compiled
				after := heap()
				per := float64(after-before) / float64(tc.n)
				b.ReportMetric(per, "bytes/rule")
				b.ReportMetric(per*1e6/(1<<20), "MiB/1M-rules")
				ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/t/5/x", Size: 1}
				_ = e.Handle(context.Background(), ev)
				runtime.KeepAlive(e)
			}
		})
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// cpuTime returns the CPU time this process has used, user and system:
// on a shared machine, events per CPU-second say more than events per
// wall-second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
