package automation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation/journal"
)

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
				defer j.Close(context.Background())
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

// BenchmarkScheduleAfterManyTenants measures event → first step running
// for one tenant, after 0 or 50,000 other tenants have each run one
// execution (issue 18 item 19: idle tenants' queues must not slow later
// scheduling).
func BenchmarkScheduleAfterManyTenants(b *testing.B) {
	for _, tenants := range []int{0, 50_000} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			started := make(chan struct{}, 1)
			wf := automation.NewWorkflow("w", nil, func(r *automation.Run) error {
				_, err := r.Step("first", automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
					if r.Tenant() == "bench" {
						started <- struct{}{}
					}
					return nil, nil
				}})
				return err
			})
			ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, History: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer ex.Close(context.Background())
			ctx := context.Background()
			ids := semevent.NewIDGenerator(4)
			for i := range tenants {
				if _, err := ex.Start(ctx, "w", &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileCreate, Tenant: "t" + strconv.Itoa(i)}); err != nil {
					b.Fatal(err)
				}
			}
			for {
				s := ex.Stats()
				if s.Succeeded == uint64(tenants) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := ex.Start(ctx, "w", &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileCreate, Tenant: "bench"}); err != nil {
					b.Fatal(err)
				}
				<-started
			}
		})
	}
}
