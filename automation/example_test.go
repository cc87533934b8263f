package automation_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
)

func ExampleNewFlow() {
	step := func(name string, fail bool) automation.Node {
		return automation.Task(name, automation.Step{
			Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
				if fail {
					return nil, automation.Permanent(errors.New("index unavailable"))
				}
				return []byte(name), nil
			},
			Compensate: func(ctx context.Context, sc *automation.StepContext) error {
				fmt.Println("undo", sc.Step)
				return nil
			},
		})
	}
	ingest, err := automation.NewFlow(automation.Flow{
		Name:  "ingest",
		When:  `Path startsWith "/inbox/" && Path endsWith ".pdf"`,
		Steps: []automation.Node{step("checksum", false), step("store", false), step("index", true)},
	})
	if err != nil {
		panic(err)
	}
	ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{ingest}})
	if err != nil {
		panic(err)
	}
	defer ex.Close(context.Background())
	ev := &semevent.Event{ID: semevent.MakeID(1, 0, 0), Kind: semevent.KindFileWrite, Path: "/inbox/report.pdf"}
	_ = ex.Handle(context.Background(), ev)
	id := automation.ExecutionID("ingest", ev)
	for {
		if info, ok := ex.Execution(id); ok && info.Outcome != automation.Running {
			fmt.Println(info.Outcome)
			for _, s := range info.Steps {
				fmt.Println(s.ID, s.Status)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Output:
	// undo store
	// undo checksum
	// failed
	// checksum done
	// store done
	// index failed
	// store compensated
	// checksum compensated
}
