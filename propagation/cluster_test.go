package propagation_test

// Tests of the cluster bus (issue 13 section 2): buses as nodes of one
// coordinator. Most run over coordtest.Shared (several nodes on one
// coord.Local); cluster_raft_test.go runs a real coord/raft cluster.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
	"github.com/vexfs/semevent/propagation"
)

// nodeRecorder is a handler that keeps copies of what it gets.
type nodeRecorder struct {
	mu   sync.Mutex // guards evs, pos
	evs  []*semevent.Event
	pos  []coord.Position
	slow time.Duration
	fail func(ev *semevent.Event) error
}

func (r *nodeRecorder) Handle(ctx context.Context, ev *semevent.Event) error {
	if r.slow > 0 {
		time.Sleep(r.slow)
	}
	if r.fail != nil {
		if err := r.fail(ev); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev.Clone())
	if p, ok := propagation.ReplicatedPosition(ctx); ok {
		r.pos = append(r.pos, p)
	}
	return nil
}

func (r *nodeRecorder) events() []*semevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

func (r *nodeRecorder) positions() []coord.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pos)
}

// waitLen waits (up to a generous minute) until r has n events.
func (r *nodeRecorder) waitLen(t *testing.T, n int) []*semevent.Event {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		evs := r.events()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d", len(evs), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sharedCluster returns n coordinators that are nodes 1..n over one
// coord.Local with the given shard count.
func sharedCluster(t *testing.T, n, shards int) (*coordtest.Shared, []coord.Coordinator) {
	return sharedClusterTB(t, n, shards)
}

func sharedClusterTB(t testing.TB, n, shards int) (*coordtest.Shared, []coord.Coordinator) {
	t.Helper()
	l, err := coord.NewLocal(&coord.Options{Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	sh := coordtest.NewShared(l)
	cs := make([]coord.Coordinator, n)
	for i := range cs {
		cs[i] = sh.Node(uint64(i + 1))
	}
	return sh, cs
}

// newNodeBus returns a bus over c, closed at the end of the test.
func newNodeBus(t testing.TB, c coord.Coordinator, o *propagation.Options) *propagation.Bus {
	t.Helper()
	var opts propagation.Options
	if o != nil {
		opts = *o
	}
	opts.Coordinator = c
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Durability == propagation.Volatile {
		opts.Durability = propagation.Replicated
	}
	b, err := propagation.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func subscribe(t *testing.T, b *propagation.Bus, o *propagation.SubscribeOptions) *nodeRecorder {
	t.Helper()
	r := &nodeRecorder{}
	if _, err := b.Subscribe(r, o); err != nil {
		t.Fatal(err)
	}
	return r
}

func tracedEvent(i int) *semevent.Event {
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: fmt.Sprintf("/data/f%d", i),
		PID: uint32(1000 + i), Offset: int64(i), Size: 10,
		Trace: semevent.TraceContext{TraceID: [16]byte{1, byte(i)}, SpanID: [8]byte{2, byte(i)}, Flags: 1},
		Cause: semevent.MakeID(7, 7, uint32(i)), Attrs: []semevent.Attr{{Key: "k", Value: fmt.Sprint(i)}}}
	return ev
}

// TestClusterRemoteBoundary: an event published on node 1 reaches node
// 1's subscribers once, unchanged, and nodes 2 and 3 as Remote with the
// original sighting in Observed; every other field is equal.
func TestClusterRemoteBoundary(t *testing.T) {
	_, cs := sharedCluster(t, 3, 1)
	buses := make([]*propagation.Bus, 3)
	recs := make([]*nodeRecorder, 3)
	for i := range buses {
		buses[i] = newNodeBus(t, cs[i], nil)
		recs[i] = subscribe(t, buses[i], nil)
	}
	ctx := context.Background()
	ev := tracedEvent(1)
	want := ev.Clone()
	if err := buses[0].Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	want.ID, want.Time, want.Seen = ev.ID, ev.Time, semevent.Boundaries(semevent.FUSE)
	for i, b := range buses {
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		got := recs[i].waitLen(t, 1)
		if len(got) != 1 {
			t.Fatalf("node %d got %d events, want 1", i+1, len(got))
		}
		g := got[0]
		if i == 0 {
			if d := semevent.Diff(want, g); len(d) != 0 {
				t.Errorf("node 1 (origin) got an event that differs in %v", d)
			}
			continue
		}
		if g.Boundary != semevent.Remote || g.Seen != semevent.Boundaries(semevent.FUSE, semevent.Remote) {
			t.Errorf("node %d: Boundary %v Seen %v, want remote and {fuse,remote}", i+1, g.Boundary, g.Seen)
		}
		wantObs := []semevent.Observation{{ID: ev.ID, Boundary: semevent.FUSE, Time: ev.Time, PID: ev.PID}}
		if !slices.Equal(g.Observed, wantObs) {
			t.Errorf("node %d: Observed %v, want %v", i+1, g.Observed, wantObs)
		}
		if d := semevent.Diff(want, g); !slices.Equal(d, []string{"Boundary", "Seen", "Observed"}) {
			t.Errorf("node %d: remote event differs from the published one in %v, want only Boundary, Seen, Observed", i+1, d)
		}
	}
	time.Sleep(20 * time.Millisecond) // a second delivery would show now
	for i, r := range recs {
		if n := len(r.events()); n != 1 {
			t.Errorf("node %d: %d deliveries, want exactly 1", i+1, n)
		}
	}
	if st := buses[0].Stats(); st.Replicated != 1 {
		t.Errorf("node 1 Stats.Replicated = %d, want 1", st.Replicated)
	}
}
