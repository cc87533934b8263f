package routing_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/routing"
)

// TestRulesEvaluatedDoNotGrow checks, by counting instead of timing, that a
// decision evaluates only the rules tied to the event's subject and path:
// every rule carries a counting filter, and the count per event must stay
// the same from 600 to 12000 rules.
func TestRulesEvaluatedDoNotGrow(t *testing.T) {
	perEvent := map[int]float64{}
	for _, n := range []int{600, 12000} {
		var calls atomic.Int64
		count := filter.Func(func(*semevent.Event) bool { calls.Add(1); return true })
		rs := &routing.RuleSet{}
		for i := 0; len(rs.Rules) < n; i++ {
			tn := fmt.Sprint("t", i)
			rs.Rules = append(rs.Rules,
				routing.Rule{Subject: "tenant." + tn + ".fs.>", Path: "/data/" + tn + "/**", Filter: count, To: []string{"a-" + tn}},
				routing.Rule{Path: "/srv/" + tn + "/**", Filter: count, To: []string{"b-" + tn}},
				routing.Rule{Subject: "tenant." + tn + ".fs.file.write", Filter: count, To: []string{"c-" + tn}},
			)
		}
		tab, err := routing.New(rs, &routing.Options{NoDecisionCache: true})
		if err != nil {
			t.Fatal(err)
		}
		tenants := n / 3
		const events = 1200
		for i := range events {
			tn := fmt.Sprint("t", (i*7919)%tenants)
			root := "/data/"
			if i%3 == 0 {
				root = "/srv/"
			}
			ev := &semevent.Event{Topic: "tenant." + tn + ".fs.file.write", Path: root + tn + "/f"}
			if got := tab.Route(ev, nil); len(got) != 2 {
				t.Fatalf("%d rules: event %d routed to %v, want 2 destinations", n, i, got)
			}
		}
		perEvent[n] = float64(calls.Load()) / events
	}
	t.Logf("rules evaluated per event: %v", perEvent)
	if perEvent[600] > 3 || perEvent[12000] != perEvent[600] {
		t.Errorf("rules evaluated per event: %v; want at most 3, the same for 600 and 12000 rules", perEvent)
	}
}
