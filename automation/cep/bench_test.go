package cep_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/cep"
)

// BenchmarkCEP runs 1000 followed-by sequence patterns (A then B within
// 1 s, indexed by topic) over events spread across 10k keys.
func BenchmarkCEP(b *testing.B) {
	const nPatterns, nKeys = 1000, 10000
	pats := make([]cep.Pattern, nPatterns)
	for i := range pats {
		pats[i] = &cep.Sequence{
			Name: fmt.Sprint("p", i),
			Stages: []cep.Stage{
				{Topic: fmt.Sprintf("app.p%d.a", i)},
				{Topic: fmt.Sprintf("app.p%d.b", i)},
			},
			Within: time.Second,
		}
	}
	matches := 0
	c, err := cep.New(pats, &cep.Options{Publisher: semevent.PublishFunc(func(context.Context, *semevent.Event) error {
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

// cpuTime returns the CPU time this process has used, user and system:
// on a shared machine, events per CPU-second say more than events per
// wall-second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
