package peerbench

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/vexfs/semevent/routing"
)

// TestPropagationDelivers runs every propagation contender with a few
// thousand events and checks that every subscriber gets every event.
func TestPropagationDelivers(t *testing.T) {
	for _, sh := range propShapes {
		for _, c := range propContenders {
			t.Run(fmt.Sprintf("%dx%d/%s", sh.pubs, sh.subs, c.name), func(t *testing.T) {
				const per = 3000 // not a multiple of windowStep
				r := c.make(t, sh.pubs, sh.subs, int64(per*sh.pubs))
				defer r.close()
				if err := r.run(per); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestRoutingAgrees checks that semevent's router and both NATS sublists
// find the same number of subscriptions for every event subject.
func TestRoutingAgrees(t *testing.T) {
	const n = 200
	subjects := routeSubjects(n)
	topics := routeTopics(n, 256)
	evs := routeEvents(topics)
	cached, uncached, stop := natsSublists(t, subjects)
	defer stop()
	tab := semeventRouter(t, subjects, nil)
	tabIdx := semeventRouter(t, subjects, &routing.Options{NoDecisionCache: true})
	total := 0
	for i, topic := range topics {
		want := len(tab.Route(evs[i], nil))
		total += want
		if got := len(tabIdx.Route(evs[i], nil)); got != want {
			t.Errorf("%s: semevent without decision cache found %d, with it %d", topic, got, want)
		}
		if got := natsMatches(cached.Match(topic)); got != want {
			t.Errorf("%s: nats found %d subscriptions, semevent %d", topic, got, want)
		}
		if got := natsMatches(uncached.Match(topic)); got != want {
			t.Errorf("%s: nats without cache found %d subscriptions, semevent %d", topic, got, want)
		}
	}
	if total == 0 {
		t.Fatal("no event matched any subscription")
	}
}

// TestConditionsAgree checks that every condition contender decides every
// event as the hand-written closure does.
func TestConditionsAgree(t *testing.T) {
	evs := condEvents(condCycle)
	matched := 0
	for _, ev := range evs {
		if handWritten(ev) {
			matched++
		}
	}
	if matched == 0 || matched == len(evs) {
		t.Fatalf("%d of %d events match: the workload does not exercise both outcomes", matched, len(evs))
	}
	for _, c := range condContenders {
		f := c.make(t)
		for i, ev := range evs {
			if got, want := f(ev), handWritten(ev); got != want {
				t.Fatalf("%s: event %d (%v %q size %d) = %v, want %v", c.name, i, ev.Kind, ev.Path, ev.Size, got, want)
			}
		}
	}
}

// TestConsensusCommits appends a few events to every consensus contender,
// one at a time and from several goroutines.
func TestConsensusCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3-node clusters")
	}
	ctx := context.Background()
	for _, c := range consensusContenders {
		t.Run(c.name, func(t *testing.T) {
			cl := clusterFor(t, c)
			for range 5 {
				if err := cl.append(ctx, consensusEvent()); err != nil {
					t.Fatal(err)
				}
			}
			if err := publishers(8, func(int) error { return cl.append(ctx, consensusEvent()) }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNotes prints what each contender is, for cmd/peerbench, when
// PEERBENCH_NOTES is set: one line "peerbench-note\tgroup\tname\tnote".
func TestNotes(t *testing.T) {
	if os.Getenv("PEERBENCH_NOTES") == "" {
		t.Skip("PEERBENCH_NOTES not set")
	}
	for _, c := range propContenders {
		fmt.Printf("peerbench-note\tpropagation\t%s\t%s\n", c.name, c.note)
	}
	for _, c := range condContenders {
		fmt.Printf("peerbench-note\tconditions\t%s\t%s\n", c.name, c.note)
	}
	for _, c := range consensusContenders {
		fmt.Printf("peerbench-note\tconsensus\t%s\t%s\n", c.name, c.note)
	}
	for _, c := range routeContenders {
		fmt.Printf("peerbench-note\trouting\t%s\t%s\n", c.name, c.note)
	}
	for _, c := range replicatedContenders {
		fmt.Printf("peerbench-note\treplicated\t%s\t%s\n", c.name, c.note)
	}
}
