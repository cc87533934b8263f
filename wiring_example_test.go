package semevent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics/promexport"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/routing"
)

// Example_wiring puts the pieces of a service together with the shared
// shapes: routing rules hot-reloaded from a file, a rule engine that
// publishes into the bus it listens to, Prometheus metrics with no glue,
// and one shutdown in order. README.md shows the same code.
func Example_wiring() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "wiring")
	defer os.RemoveAll(dir)
	routes := filepath.Join(dir, "routes.yaml")
	_ = os.WriteFile(routes, []byte("rules:\n  - {subject: \"fs.>\", to: [indexer, rules]}\n  - {subject: \"automation.>\", to: [alerts]}\n"), 0o600)

	table, err := routing.New(nil, nil)
	if err != nil {
		panic(err)
	}
	watcher, err := routing.Watch(ctx, table, routes, nil) // reloads when the file changes
	if err != nil {
		panic(err)
	}
	bus, err := propagation.New(&propagation.Options{Router: table})
	if err != nil {
		panic(err)
	}
	rs, err := rules.ParseRuleSet([]byte("rules:\n  - {name: big-write, when: Size > 1000000, then: [{action: emit}]}\n"))
	if err != nil {
		panic(err)
	}
	engine, err := rules.New(rs, &rules.Options{Publisher: bus}) // any semevent.Publisher
	if err != nil {
		panic(err)
	}
	alerts := make(chan string, 1)
	for name, h := range map[string]semevent.Handler{
		"rules":   engine,
		"indexer": semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error { return nil }),
		"alerts": semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
			rule, _ := ev.Attr(rules.AttrRule)
			alerts <- rule + " on " + ev.Path
			return nil
		}),
	} {
		if _, err := bus.Subscribe(h, &propagation.SubscribeOptions{Name: name}); err != nil {
			panic(err)
		}
	}
	metrics, err := promexport.New(&promexport.Options{Bus: bus.Stats, Router: promexport.RouterOf(table), Rules: engine.Stats})
	if err != nil {
		panic(err)
	}

	_ = bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/big.bin", Size: 5 << 20})
	fmt.Println(<-alerts)

	// Shut down from the producers to the bus.
	if err := semevent.CloseAll(ctx, watcher, engine, bus); err != nil {
		panic(err)
	}
	fmt.Println(testutil.CollectAndCompare(metrics, strings.NewReader(`
# HELP semevent_rules_fired_total Rules that fired.
# TYPE semevent_rules_fired_total counter
semevent_rules_fired_total 1
`), "semevent_rules_fired_total"))
	// Output:
	// big-write on /data/big.bin
	// <nil>
}
