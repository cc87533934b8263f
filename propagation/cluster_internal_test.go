package propagation

import (
	"testing"

	"github.com/vexfs/semevent"
)

// TestRemoteViewAllocs: a remote view costs one allocation for an event
// with up to three sightings, and leaves the committed event unchanged.
func TestRemoteViewAllocs(t *testing.T) {
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/a", PID: 9, Time: 5,
		Seen: semevent.Boundaries(semevent.FUSE, semevent.Kernel), Observed: []semevent.Observation{{Boundary: semevent.Kernel}}}
	var v *semevent.Event
	if n := testing.AllocsPerRun(100, func() { v = remoteView(ev) }); n != 1 {
		t.Errorf("remoteView allocates %v times, want 1", n)
	}
	if len(v.Observed) != 2 || v.Observed[1] != (semevent.Observation{ID: ev.ID, Boundary: semevent.FUSE, Time: 5, PID: 9}) {
		t.Errorf("Observed = %v", v.Observed)
	}
	if ev.Boundary != semevent.FUSE || len(ev.Observed) != 1 || ev.Seen.Has(semevent.Remote) {
		t.Errorf("the committed event changed: %+v", ev)
	}
	v.Observed = append(v.Observed, semevent.Observation{}) // a later fold must not write into ev
	if len(ev.Observed) != 1 {
		t.Error("the view shares Observed with the committed event")
	}
}
