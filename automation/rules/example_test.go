package rules_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/rules"
)

func ExampleEngine() {
	rs, err := rules.ParseRuleSet([]byte(`
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
	e, err := rules.New(rs, &rules.Options{
		Publisher: pub,
		Actions: map[string]rules.ActionFunc{
			"log": func(_ context.Context, f *rules.Firing) error {
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
		rule, _ := ev.Attr(rules.AttrRule)
		fmt.Println(ev.Kind, rule)
	}

	// A bad rule is rejected with its name and the position in the condition.
	err = e.Load(&rules.RuleSet{Rules: []rules.Rule{{Name: "typo", When: `Size >> 3`, Then: []rules.ActionRef{{Action: "emit"}}}}})
	fmt.Println(err != nil, errors.Is(err, automation.ErrBadRule))
	// Output:
	// big-write fired by /data/big (high)
	// rule_fired big-write
	// true true
}
