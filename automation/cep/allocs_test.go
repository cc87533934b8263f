package cep_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/cep"
)

// TestCEPNoAllocsWithoutMatches: in the steady state, an event that
// completes no match allocates nothing, though it starts, advances,
// cancels and expires partial matches, arms deadlines that fire and is
// swept: states and key entries are recycled, deadlines queue in place.
func TestCEPNoAllocsWithoutMatches(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	a, b, c := semevent.KindFileCreate, semevent.KindFileWrite, semevent.KindFileDelete
	e, err := cep.New([]cep.Pattern{
		&cep.Sequence{Name: "a-then-c", Stages: []cep.Stage{{Kind: a}, {Kind: c}}, Within: 10 * time.Millisecond},
		&cep.Sequence{Name: "a-next-c", Strict: true, Stages: []cep.Stage{{Kind: a}, {Kind: c}}, Within: 10 * time.Millisecond},
		&cep.Count{Name: "many-writes", Stage: cep.Stage{Kind: b}, Min: 1000, Within: 10 * time.Millisecond},
		&cep.Absence{Name: "a-unanswered", First: cep.Stage{Kind: a}, Then: cep.Stage{Kind: b}, Within: 10 * time.Millisecond},
		&cep.Repeat{Name: "long-run", Stage: cep.Stage{Kind: b}, Min: 1000, Within: 5 * time.Millisecond},
	}, &cep.Options{Publisher: &countingPublisher{}, MaxFuture: -1})
	if err != nil {
		t.Fatal(err)
	}
	const keys = 200
	evs := make([]*semevent.Event, 2*keys)
	for i := range evs {
		kind := a // each key: a create, then a write that answers it
		if i%2 == 1 {
			kind = b
		}
		evs[i] = &semevent.Event{ID: semevent.MakeID(uint64(i+1), 0, 0), Kind: kind, Path: "/k/" + strconv.Itoa(i/2)}
	}
	ctx := context.Background()
	var n int
	var tm int64
	next := func() {
		ev := evs[n%len(evs)]
		n++
		tm += int64(50 * time.Microsecond) // a key comes back after 20 ms: its partials have expired
		ev.Time = tm
		if err := e.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 * len(evs) {
		next()
	}
	if allocs := testing.AllocsPerRun(10*len(evs), next); allocs != 0 {
		t.Errorf("%.2f allocations per event, want 0", allocs)
	}
	if st := e.Stats(); st.Matches != 0 || st.Events == 0 {
		t.Errorf("stats %+v: want events and no match", st)
	}
}
