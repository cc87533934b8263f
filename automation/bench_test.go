package automation_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation/journal"
)

// BenchmarkRules evaluates 1000 expr rules per event (all indexed under
// the event's kind, so every one is evaluated); one in 1000 fires.
func BenchmarkRules(b *testing.B) {
	const nRules = 1000
	rs := &automation.RuleSet{}
	for i := range nRules {
		rs.Rules = append(rs.Rules, automation.Rule{
			Name:  fmt.Sprint("r", i),
			When:  fmt.Sprintf(`Path startsWith "/data/%d/" && Size > %d`, i, i),
			Kinds: []semevent.Kind{semevent.KindFileWrite},
			Then:  []automation.ActionRef{{Action: "count"}},
		})
	}
	fired := 0
	e, err := automation.NewEngine(rs, &automation.EngineOptions{Actions: map[string]automation.ActionFunc{
		"count": func(context.Context, *automation.Firing) error { fired++; return nil },
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

// BenchmarkCEP runs 1000 followed-by sequence patterns (A then B within
// 1 s, indexed by topic) over events spread across 10k keys.
func BenchmarkCEP(b *testing.B) {
	const nPatterns, nKeys = 1000, 10000
	pats := make([]automation.Pattern, nPatterns)
	for i := range pats {
		pats[i] = &automation.Sequence{
			Name: fmt.Sprint("p", i),
			Stages: []automation.Stage{
				{Topic: fmt.Sprintf("app.p%d.a", i)},
				{Topic: fmt.Sprintf("app.p%d.b", i)},
			},
			Within: time.Second,
		}
	}
	matches := 0
	c, err := automation.NewCEP(pats, &automation.CEPOptions{Publisher: automation.PublishFunc(func(context.Context, *semevent.Event) error {
		matches++
		return nil
	})})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	evs := make([]*semevent.Event, 1<<16)
	for i := range evs {
		p := r.IntN(nPatterns)
		stage := "a"
		if r.IntN(2) == 1 {
			stage = "b"
		}
		evs[i] = &semevent.Event{
			ID:    semevent.MakeID(uint64(i+1), 0, 0),
			Kind:  semevent.KindCustom,
			Topic: fmt.Sprintf("app.p%d.%s", p, stage),
			Path:  "/k/" + strconv.Itoa(r.IntN(nKeys)),
		}
	}
	ctx := context.Background()
	t := int64(0)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		ev := evs[i&(len(evs)-1)]
		t += 10_000 // 10 µs of event time per event: 100k events per window
		ev.Time = t
		_ = c.Handle(ctx, ev)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
	b.ReportMetric(float64(c.Stats().Partials), "partials")
}

// BenchmarkWorkflowStart measures event → first step running: the time
// from Executor.Handle to the first step's Do, one event at a time, with
// volatile state and with a journal store (fsync per record).
func BenchmarkWorkflowStart(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run(map[bool]string{false: "volatile", true: "journal"}[durable], func(b *testing.B) {
			started := make(chan int64, 1)
			wf := automation.NewWorkflow("w", filter.Kinds(semevent.KindFileCreate), func(r *automation.Run) error {
				_, err := r.Step("first", automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
					started <- semevent.Now()
					return nil, nil
				}})
				return err
			})
			o := &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}}
			if durable {
				j, err := journal.Open(filepath.Join(b.TempDir(), "j"), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer j.Close()
				o.Store = automation.NewJournalStore(j)
			}
			ex, err := automation.NewExecutor(o)
			if err != nil {
				b.Fatal(err)
			}
			defer ex.Close(context.Background())
			ctx := context.Background()
			ids := semevent.NewIDGenerator(3)
			lat := make([]int64, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := semevent.Now()
				if err := ex.Handle(ctx, &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileCreate, Path: "/in/x.pdf"}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, <-started-t0)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkActiveRulesMemory measures the heap that active rules hold:
// 1M rules with typed conditions (a path prefix each) and per-rule
// action parameters, and 10k rules with distinct expr conditions, which
// cost more each.
func BenchmarkActiveRulesMemory(b *testing.B) {
	cases := []struct {
		name string
		n    int
		rule func(i int) automation.Rule
	}{
		{"typed-1M", 1_000_000, func(i int) automation.Rule {
			return automation.Rule{Name: "r" + strconv.Itoa(i), If: filter.PathPrefix("/t/" + strconv.Itoa(i) + "/"),
				Kinds: []semevent.Kind{semevent.KindFileWrite},
				Then:  []automation.ActionRef{{Action: "emit", Params: map[string]string{"tenant": strconv.Itoa(i % 1000)}}}}
		}},
		{"shared-expr-1M", 1_000_000, func(i int) automation.Rule {
			return automation.Rule{Name: "r" + strconv.Itoa(i), When: `Kind == "write" && Size > 1000000 && Attr("tenant") == "t` + strconv.Itoa(i%100) + `"`,
				Then: []automation.ActionRef{{Action: "emit"}}}
		}},
		{"distinct-expr-10k", 10_000, func(i int) automation.Rule {
			return automation.Rule{Name: "r" + strconv.Itoa(i), When: `Path startsWith "/data/` + strconv.Itoa(i) + `/" && Size > ` + strconv.Itoa(i),
				Then: []automation.ActionRef{{Action: "emit"}}}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				before := heap()
				rs := &automation.RuleSet{Rules: make([]automation.Rule, tc.n)}
				for i := range rs.Rules {
					rs.Rules[i] = tc.rule(i)
				}
				e, err := automation.NewEngine(rs, nil)
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
