package routing_test

import (
	"fmt"
	"slices"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/routing"
)

func Example() {
	tab, err := routing.New(&routing.RuleSet{
		Rules: []routing.Rule{
			{Name: "audit", Subject: "tenant.*.fs.file.delete", To: []string{"audit"}},
			{Name: "logs", Subject: "tenant.acme.fs.>", Path: "/data/**/*.log", To: []string{"indexer"}},
			{Name: "big", Subject: "tenant.*.fs.file.write", When: "Size > 1048576", To: []string{"cold"}},
		},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var dests []string
	for _, ev := range []*semevent.Event{
		{Topic: "tenant.acme.fs.file.write", Path: "/data/app/x.log", Size: 2 << 20},
		{Topic: "tenant.globex.fs.file.delete", Path: "/data/y"},
		{Topic: "tenant.globex.fs.file.read", Path: "/data/z.log"},
	} {
		dests = tab.Route(ev, dests[:0])
		slices.Sort(dests)
		fmt.Println(ev.Topic, dests)
	}
	// Output:
	// tenant.acme.fs.file.write [cold indexer]
	// tenant.globex.fs.file.delete [audit]
	// tenant.globex.fs.file.read []
}

func ExampleTable_Load() {
	tab, _ := routing.New(&routing.RuleSet{Rules: []routing.Rule{{Subject: "fs.>", To: []string{"old"}}}}, nil)
	err := tab.Load(&routing.RuleSet{Rules: []routing.Rule{
		{Name: "a", Subject: "fs.>.file", To: []string{"new"}},
		{Name: "b", Path: "/data/**x", To: []string{"new"}},
	}})
	fmt.Println(err)
	fmt.Println(tab.Version(), tab.Route(&semevent.Event{Kind: semevent.KindFileWrite}, nil))
	// Output:
	// routing: invalid rule set (2 problems)
	// 	rule 0 ("a"): Subject at byte 3: ">" must be the last token
	// 	rule 1 ("b"): Path at byte 6: "**" must be a whole path segment
	// 1 [old]
}
