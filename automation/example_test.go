package automation_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
)

func ExampleEngine() {
	rs, err := automation.ParseRuleSet([]byte(`
rules:
  - name: big-write
    when: Kind == "write" && Size > 1000000
    kinds: [write]
    then:
      - action: log
        params: {severity: high}
      - action: emit
`))
	if err != nil {
		panic(err)
	}
	pub := &automationtest.Publisher{}
	e, err := automation.NewEngine(rs, &automation.EngineOptions{
		Publisher: pub,
		Actions: map[string]automation.ActionFunc{
			"log": func(_ context.Context, f *automation.Firing) error {
				fmt.Printf("%s fired by %s (%s)\n", f.Rule, f.Event.Path, f.Params["severity"])
				return nil
			},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = e.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/small", Size: 10})
	_ = e.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/big", Size: 5 << 20})
	for _, ev := range pub.Events() {
		rule, _ := ev.Attr(automation.AttrRule)
		fmt.Println(ev.Kind, rule)
	}

	// A bad rule is rejected with its name and the position in the condition.
	err = e.Load(&automation.RuleSet{Rules: []automation.Rule{{Name: "typo", When: `Size >> 3`, Then: []automation.ActionRef{{Action: "emit"}}}}})
	fmt.Println(err != nil, errors.Is(err, automation.ErrBadRule))
	// Output:
	// big-write fired by /data/big (high)
	// rule_fired big-write
	// true true
}

func ExampleNewCEP() {
	pub := &automationtest.Publisher{}
	c, err := automation.NewCEP([]automation.Pattern{
		&automation.Sequence{
			Name: "create-write-close",
			Stages: []automation.Stage{
				{Kind: semevent.KindFileCreate},
				{Kind: semevent.KindFileWrite, When: `Size > 0`},
				{Kind: semevent.KindFileClose},
			},
			Within: time.Second,
		},
		&automation.Absence{
			Name:   "never-closed",
			First:  automation.Stage{Kind: semevent.KindFileOpen},
			Then:   automation.Stage{Kind: semevent.KindFileClose},
			Within: time.Minute,
		},
	}, &automation.CEPOptions{Publisher: pub})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	ms := int64(time.Millisecond)
	for i, ev := range []semevent.Event{
		{Kind: semevent.KindFileCreate, Path: "/a", Time: 0},
		{Kind: semevent.KindFileOpen, Path: "/b", Time: 1 * ms},
		{Kind: semevent.KindFileWrite, Path: "/a", Size: 10, Time: 2 * ms},
		{Kind: semevent.KindFileRead, Path: "/a", Time: 3 * ms}, // skipped: followed-by
		{Kind: semevent.KindFileClose, Path: "/a", Time: 4 * ms},
	} {
		ev.ID = semevent.MakeID(uint64(i+1), 0, 0)
		_ = c.Handle(ctx, &ev)
	}
	_ = c.Advance(ctx, int64(2*time.Minute)) // /b was never closed
	for _, m := range pub.Events() {
		name, _ := m.Attr(automation.AttrPattern)
		ids, _ := automation.CausingIDs(m)
		var seq []uint64
		for _, id := range ids {
			seq = append(seq, id.Nanos())
		}
		fmt.Println(name, m.Path, seq)
	}
	// Output:
	// create-write-close /a [1 3 5]
	// never-closed /b [2]
}

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
