package semevent_test

import (
	"testing"

	"github.com/vexfs/semevent"
)

func TestIDGeneratorStamp(t *testing.T) {
	g := semevent.NewIDGenerator(3)
	ev := &semevent.Event{}
	now := g.Stamp(ev)
	if now == 0 || ev.Time != now || ev.ID.IsZero() || ev.ID.Node() != 3 {
		t.Fatalf("Stamp(empty) = %d, event Time %d ID %v, want both set from one reading", now, ev.Time, ev.ID)
	}
	id, tm := ev.ID, ev.Time
	if got := g.Stamp(ev); got != 0 || ev.ID != id || ev.Time != tm {
		t.Errorf("Stamp(stamped) = %d and changed the event (ID %v→%v, Time %d→%d)", got, id, ev.ID, tm, ev.Time)
	}
	ev2 := &semevent.Event{Time: 42}
	if g.Stamp(ev2); ev2.Time != 42 || ev2.ID.IsZero() {
		t.Errorf("Stamp kept Time %d (want 42) and set ID %v", ev2.Time, ev2.ID)
	}
}
