package propagation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/routing"
)

func publishN(t *testing.T, b *propagation.Bus, ctx context.Context, evs ...*semevent.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatalf("Publish %s: %v", ev.Path, err)
		}
	}
}

func paths(evs []*semevent.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Path
	}
	return out
}

func syncAll(t *testing.T, bs ...*propagation.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, b := range bs {
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClusterRouting: node 2's router decides which of its subscriptions
// get node 1's events, as for local ones.
func TestClusterRouting(t *testing.T) {
	_, cs := sharedCluster(t, 2, 1)
	tab, err := routing.New(&routing.RuleSet{Rules: []routing.Rule{
		{Subject: "fs.>", Path: "/a/**", To: []string{"a"}},
		{Subject: "fs.>", Path: "/b/**", To: []string{"b"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b1 := newNodeBus(t, cs[0], nil)
	b2 := newNodeBus(t, cs[1], &propagation.Options{Router: tab})
	ra := subscribe(t, b2, &propagation.SubscribeOptions{Name: "a"})
	rb := subscribe(t, b2, &propagation.SubscribeOptions{Name: "b"})
	ctx := context.Background()
	publishN(t, b1, ctx,
		&semevent.Event{Kind: semevent.KindFileCreate, Path: "/a/1"},
		&semevent.Event{Kind: semevent.KindFileCreate, Path: "/b/1"},
		&semevent.Event{Kind: semevent.KindFileCreate, Path: "/c/1"},
		&semevent.Event{Kind: semevent.KindFileCreate, Path: "/a/2"})
	syncAll(t, b2)
	if got := paths(ra.events()); fmt.Sprint(got) != "[/a/1 /a/2]" {
		t.Errorf("subscription a got %v, want [/a/1 /a/2]", got)
	}
	if got := paths(rb.events()); fmt.Sprint(got) != "[/b/1]" {
		t.Errorf("subscription b got %v, want [/b/1]", got)
	}
}

// TestClusterFiltersAndTenants: node 2's filters and tenant restrictions
// apply to remote events; several tenants publish on node 1 at once and
// each tenant's subscription on node 2 gets exactly its own events.
func TestClusterFiltersAndTenants(t *testing.T) {
	_, cs := sharedCluster(t, 2, 4)
	b1 := newNodeBus(t, cs[0], nil)
	b2 := newNodeBus(t, cs[1], nil)
	tenants := []string{"acme", "globex", "initech"}
	per := make(map[string]*nodeRecorder)
	for _, tn := range tenants {
		per[tn] = subscribe(t, b2, &propagation.SubscribeOptions{Name: tn, Tenant: tn})
	}
	logs := subscribe(t, b2, &propagation.SubscribeOptions{Name: "logs", Filter: filter.PathPrefix("/logs/")})
	const n = 50
	var wg sync.WaitGroup
	for _, tn := range tenants {
		wg.Go(func() {
			for i := range n {
				p := fmt.Sprintf("/data/%s/%d", tn, i)
				if i%5 == 0 {
					p = fmt.Sprintf("/logs/%s/%d", tn, i)
				}
				if err := b1.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Tenant: tn, Path: p}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	syncAll(t, b2)
	for _, tn := range tenants {
		evs := per[tn].events()
		if len(evs) != n {
			t.Errorf("tenant %s's subscription got %d events, want %d", tn, len(evs), n)
		}
		for _, ev := range evs {
			if ev.Tenant != tn || ev.Boundary != semevent.Remote {
				t.Errorf("tenant %s's subscription got %s of tenant %q at %v", tn, ev.Path, ev.Tenant, ev.Boundary)
			}
		}
	}
	if got := len(logs.events()); got != 3*n/5 {
		t.Errorf("filtered subscription got %d events, want %d", got, 3*n/5)
	}
}

// TestClusterAccessControl: events from other nodes enter node 2 only if
// Options.RemotePrincipal may publish them (the others are counted in
// Stats.RemoteDenied), and each subscription's principal still decides
// what it sees.
func TestClusterAccessControl(t *testing.T) {
	_, cs := sharedCluster(t, 2, 1)
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
		{Name: "replicator", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Paths: []string{"/shared/**"}}}},
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writer := &access.Principal{User: "w", Roles: []string{"writer"}}
	replicator := &access.Principal{User: "node1", Roles: []string{"replicator"}}

	if _, err := propagation.New(&propagation.Options{Coordinator: cs[1], Authorizer: az}); !errors.As(err, new(*semevent.OptionsError)) {
		t.Fatalf("New with an Authorizer and a Coordinator but no RemotePrincipal = %v, want an *OptionsError", err)
	}
	b1 := newNodeBus(t, cs[0], &propagation.Options{Authorizer: az, RemotePrincipal: replicator})
	b2 := newNodeBus(t, cs[1], &propagation.Options{Authorizer: az, RemotePrincipal: replicator})
	r2 := subscribe(t, b2, &propagation.SubscribeOptions{Principal: &access.Principal{User: "r", Roles: []string{"reader"}}})
	acme := subscribe(t, b2, &propagation.SubscribeOptions{Principal: &access.Principal{User: "ra", Tenant: "acme", Roles: []string{"reader"}}})
	ctx := access.WithPrincipal(context.Background(), writer)
	if err := b1.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/shared/x"}); err == nil {
		t.Error("Publish without a principal succeeded")
	}
	publishN(t, b1, ctx,
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/shared/a"},
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/private/b"},
		&semevent.Event{Kind: semevent.KindFileWrite, Tenant: "acme", Path: "/shared/c"})
	syncAll(t, b2)
	if got := paths(r2.events()); fmt.Sprint(got) != "[/shared/a /shared/c]" {
		t.Errorf("node 2's reader got %v, want [/shared/a /shared/c]", got)
	}
	if got := paths(acme.events()); fmt.Sprint(got) != "[/shared/c]" {
		t.Errorf("node 2's acme reader got %v, want [/shared/c]", got)
	}
	if st := b2.Stats(); st.RemoteDenied != 1 {
		t.Errorf("node 2 Stats.RemoteDenied = %d, want 1", st.RemoteDenied)
	}
	if st := b1.Stats(); st.RemoteDenied != 0 {
		t.Errorf("node 1 (origin) Stats.RemoteDenied = %d, want 0: its own events are not checked again", st.RemoteDenied)
	}
}

// TestClusterDedup: a FUSE and a kernel sighting on node 1 fold before
// they are replicated (one record, both boundaries in Seen on every
// node); on node 2, with Remote among the deduplicated boundaries, a
// remote event and node 2's own kernel sighting of the same operation
// fold into one.
func TestClusterDedup(t *testing.T) {
	sh, cs := sharedCluster(t, 2, 1)
	_ = sh
	b1 := newNodeBus(t, cs[0], &propagation.Options{Dedup: &propagation.DedupOptions{Window: time.Second}})
	b2 := newNodeBus(t, cs[1], &propagation.Options{Dedup: &propagation.DedupOptions{Window: 2 * time.Second,
		Boundaries: semevent.Boundaries(semevent.Kernel, semevent.FUSE, semevent.Remote)}})
	r1 := subscribe(t, b1, nil)
	r2 := subscribe(t, b2, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, bd := range []semevent.Boundary{semevent.FUSE, semevent.Kernel} {
		wg.Go(func() {
			if err := b1.Publish(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Boundary: bd, Path: "/x", PID: 42}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	recs, err := cs[0].Read(ctx, 0, 1, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("the log holds %d records (%v), want 1: the sightings fold before replication", len(recs), err)
	}
	if s := recs[0].Event.Seen; s != semevent.Boundaries(semevent.FUSE, semevent.Kernel) {
		t.Errorf("replicated Seen = %v, want {kernel,fuse}", s)
	}
	syncAll(t, b1, b2)
	if evs := r1.events(); len(evs) != 1 || evs[0].Boundary != semevent.FUSE {
		t.Errorf("node 1 got %d events (%v), want 1 at fuse", len(evs), paths(evs))
	}
	if evs := r2.events(); len(evs) != 1 || evs[0].Seen != semevent.Boundaries(semevent.FUSE, semevent.Kernel, semevent.Remote) {
		t.Errorf("node 2 got %d events, want 1 seen at fuse, kernel and remote", len(evs))
	}

	// Node 2's own kernel watcher sees an operation node 1 replicates (a
	// shared file system): one event on node 2.
	wg.Go(func() {
		// Volatile: a sighting on its way to the coordinator never folds
		// with an event another node committed.
		vctx := propagation.WithDurability(ctx, propagation.Volatile)
		if err := b2.Publish(vctx, &semevent.Event{Kind: semevent.KindFileDelete, Boundary: semevent.Kernel, Path: "/y", PID: 7}); err != nil {
			t.Error(err)
		}
	})
	if err := b1.Publish(ctx, &semevent.Event{Kind: semevent.KindFileDelete, Boundary: semevent.FUSE, Path: "/y", PID: 7}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	r2.waitLen(t, 2)
	syncAll(t, b2)
	evs := r2.events()
	if len(evs) != 2 {
		t.Fatalf("node 2 got %d events, want 2 (the kernel sighting folded into the remote one)", len(evs))
	}
	if got := evs[1]; got.Boundary != semevent.Remote || !got.Seen.Has(semevent.Kernel) || got.Path != "/y" {
		t.Errorf("node 2's second event: %v at %v seen %v, want /y at remote seen with kernel", got.Path, got.Boundary, got.Seen)
	}
	if st := b2.Stats(); st.Deduplicated != 1 {
		t.Errorf("node 2 Stats.Deduplicated = %d, want 1", st.Deduplicated)
	}
}

// TestClusterBatchContiguous: batches published concurrently on three
// nodes commit all or none, and every node's subscriber sees each batch
// contiguous and in order, in the same order on every node.
func TestClusterBatchContiguous(t *testing.T) {
	_, cs := sharedCluster(t, 3, 1)
	buses := make([]*propagation.Bus, 3)
	recs := make([]*nodeRecorder, 3)
	for i := range buses {
		buses[i] = newNodeBus(t, cs[i], nil)
		recs[i] = subscribe(t, buses[i], &propagation.SubscribeOptions{Buffer: 8})
	}
	const batches, size = 20, 10
	var wg sync.WaitGroup
	for i, b := range buses {
		wg.Go(func() {
			for j := range batches {
				evs := make([]*semevent.Event, size)
				for k := range evs {
					evs[k] = &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/n%d/b%d", i, j), Offset: int64(k)}
				}
				if err := b.PublishBatch(context.Background(), evs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	syncAll(t, buses...)
	want := fmt.Sprint(paths(recs[0].events()))
	for i, r := range recs {
		evs := r.events()
		if len(evs) != 3*batches*size {
			t.Fatalf("node %d got %d events, want %d", i+1, len(evs), 3*batches*size)
		}
		for j := 0; j < len(evs); j += size {
			for k := range size {
				if evs[j+k].Path != evs[j].Path || evs[j+k].Offset != int64(k) {
					t.Fatalf("node %d: event %d is %s#%d inside batch %s: not contiguous and in order", i+1, j+k, evs[j+k].Path, evs[j+k].Offset, evs[j].Path)
				}
			}
		}
		if got := fmt.Sprint(paths(evs)); got != want {
			t.Errorf("node %d saw another order than node 1", i+1)
		}
	}
}

// gate is a coordinator whose appends wait until it is opened.
type gate struct {
	coord.Coordinator
	open chan struct{}
}

func (g *gate) Append(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	<-g.open
	return g.Coordinator.Append(ctx, evs...)
}

// TestClusterOutcomeUnknown: a replicated Publish whose ctx ends before
// the commit returns ErrOutcomeUnknown; the event still commits, is
// delivered once, and a retry with the same event returns nil without
// appending again.
func TestClusterOutcomeUnknown(t *testing.T) {
	_, cs := sharedCluster(t, 1, 1)
	g := &gate{Coordinator: cs[0], open: make(chan struct{})}
	b := newNodeBus(t, g, nil)
	r := subscribe(t, b, nil)
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/u"}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := b.Publish(ctx, ev)
	if !errors.Is(err, propagation.ErrOutcomeUnknown) {
		t.Fatalf("Publish with a ctx that ends first = %v, want ErrOutcomeUnknown", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(r.events()); n != 0 {
		t.Fatalf("delivered %d times before the commit, want 0: own events are delivered at commit", n)
	}
	close(g.open)
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatalf("retry with the same event = %v", err)
	}
	syncAll(t, b)
	if n := len(r.events()); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
	if recs, _ := cs[0].Read(context.Background(), 0, 1, 0); len(recs) != 1 {
		t.Errorf("the log holds %d records, want 1", len(recs))
	}
}

// TestClusterCoordinatorError: a replicated Publish the coordinator
// refuses returns its error (a *ReplicateError) and is delivered nowhere;
// the events grouped with it commit.
func TestClusterCoordinatorError(t *testing.T) {
	l, err := coord.NewLocal(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	b := newNodeBus(t, l, nil)
	r := subscribe(t, b, nil)
	boom := errors.New("boom")
	l.FailNext(boom)
	err = b.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/refused"})
	var re *propagation.ReplicateError
	if !errors.As(err, &re) || !errors.Is(err, boom) {
		t.Fatalf("Publish the coordinator refuses = %v, want a *ReplicateError wrapping its error", err)
	}
	publishN(t, b, context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/ok"})
	syncAll(t, b)
	if got := paths(r.events()); fmt.Sprint(got) != "[/ok]" {
		t.Errorf("delivered %v, want [/ok]", got)
	}
	if st := b.Stats(); st.ReplicationErrors != 1 || st.Replicated != 1 {
		t.Errorf("Stats.ReplicationErrors, Replicated = %d, %d; want 1, 1", st.ReplicationErrors, st.Replicated)
	}
}

// TestClusterOptions: the options that cannot work are refused.
func TestClusterOptions(t *testing.T) {
	if _, err := propagation.New(&propagation.Options{Durability: propagation.Replicated}); !errors.As(err, new(*semevent.OptionsError)) {
		t.Errorf("Replicated without a Coordinator: New = %v, want an *OptionsError", err)
	}
	b, err := propagation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	err = b.Publish(propagation.WithDurability(context.Background(), propagation.Replicated), &semevent.Event{Kind: semevent.KindFileWrite})
	if !errors.Is(err, propagation.ErrNoCoordinator) {
		t.Errorf("replicated Publish without a Coordinator = %v, want ErrNoCoordinator", err)
	}
	_, err = b.Subscribe(&nodeRecorder{}, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true}})
	if !errors.Is(err, propagation.ErrNoCoordinator) {
		t.Errorf("replicated Replay without a Coordinator = %v, want ErrNoCoordinator", err)
	}
	l, _ := coord.NewLocal(nil)
	defer l.Close(context.Background())
	// Only the Coordinator methods: no coord.Offsets.
	bl := newNodeBus(t, struct{ coord.Coordinator }{l}, nil)
	_, err = bl.Subscribe(&nodeRecorder{}, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "c"}})
	if !errors.Is(err, propagation.ErrNoOffsets) {
		t.Errorf("replicated consumer on a coordinator without offsets = %v, want ErrNoOffsets", err)
	}
}

// TestClusterBatchCrossShard: a replicated batch whose events map to
// several shards fails with the coordinator's *coord.CrossShardError
// before anything is proposed, and nothing is delivered.
func TestClusterBatchCrossShard(t *testing.T) {
	_, cs := sharedCluster(t, 1, 4)
	b := newNodeBus(t, cs[0], nil)
	r := subscribe(t, b, nil)
	var evs []*semevent.Event
	for i := range 8 {
		evs = append(evs, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/spread/%d", i)})
	}
	err := b.PublishBatch(context.Background(), evs)
	if !errors.Is(err, coord.ErrCrossShard) || !errors.As(err, new(*coord.CrossShardError)) {
		t.Fatalf("PublishBatch across shards = %v, want a *coord.CrossShardError", err)
	}
	syncAll(t, b)
	for s := range 4 {
		if recs, _ := cs[0].Read(context.Background(), s, 1, 0); len(recs) != 0 {
			t.Errorf("shard %d holds %d records after a refused batch", s, len(recs))
		}
	}
	if n := len(r.events()); n != 0 {
		t.Errorf("%d events delivered from a refused batch", n)
	}
}

// unknowing is a coordinator whose appends commit but report that the
// outcome is unknown, as coord/raft does when a leader dies mid-append.
type unknowing struct{ coord.Coordinator }

func (u unknowing) Append(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	u.Coordinator.Append(ctx, evs...)
	return nil, &coord.AppendError{Committed: make([]coord.Position, len(evs)), Err: coord.ErrOutcomeUnknown}
}

// TestClusterCoordinatorOutcomeUnknown: the coordinator's unknown outcome
// reaches the publisher as ErrOutcomeUnknown of both packages, not as a
// refusal.
func TestClusterCoordinatorOutcomeUnknown(t *testing.T) {
	_, cs := sharedCluster(t, 1, 1)
	b := newNodeBus(t, unknowing{cs[0]}, nil)
	err := b.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/maybe"})
	if !errors.Is(err, propagation.ErrOutcomeUnknown) || !errors.Is(err, coord.ErrOutcomeUnknown) {
		t.Fatalf("Publish = %v, want ErrOutcomeUnknown of propagation and of coord", err)
	}
	if st := b.Stats(); st.ReplicationErrors != 1 {
		t.Errorf("Stats.ReplicationErrors = %d, want 1", st.ReplicationErrors)
	}
}

// TestClusterDedupBatch: a replicated batch at deduplicated boundaries
// (the FUSE bridge publishes batches) folds with its twins before it is
// replicated: one record per operation.
func TestClusterDedupBatch(t *testing.T) {
	_, cs := sharedCluster(t, 2, 1)
	b1 := newNodeBus(t, cs[0], &propagation.Options{Dedup: &propagation.DedupOptions{Window: time.Second}})
	b2 := newNodeBus(t, cs[1], nil)
	r2 := subscribe(t, b2, nil)
	ctx := context.Background()
	batch := func(bd semevent.Boundary) []*semevent.Event {
		return []*semevent.Event{
			{Kind: semevent.KindFileCreate, Boundary: bd, Path: "/d/1"},
			{Kind: semevent.KindFileCreate, Boundary: bd, Path: "/d/2"},
		}
	}
	var wg sync.WaitGroup
	for _, bd := range []semevent.Boundary{semevent.FUSE, semevent.Kernel} {
		wg.Go(func() {
			if err := b1.PublishBatch(ctx, batch(bd)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if recs, _ := cs[0].Read(ctx, 0, 1, 0); len(recs) != 2 {
		t.Fatalf("the log holds %d records, want 2 (each pair folded)", len(recs))
	}
	syncAll(t, b2)
	for _, ev := range r2.events() {
		if ev.Seen != semevent.Boundaries(semevent.Kernel, semevent.FUSE, semevent.Remote) {
			t.Errorf("%s seen %v on node 2, want kernel, fuse and remote", ev.Path, ev.Seen)
		}
	}
}

// noOrigin is a coordinator that neither knows its node (Health.Node 0)
// nor records origins.
type noOrigin struct{ coord.Coordinator }

func (n noOrigin) Health(ctx context.Context) coord.Health {
	h := n.Coordinator.Health(ctx)
	h.Node = 0
	return h
}

func (n noOrigin) Subscribe(shard int, from uint64, h coord.Handler) (coord.Subscription, error) {
	return n.Coordinator.Subscribe(shard, from, coord.HandlerFunc(func(ctx context.Context, rec coord.Record) error {
		rec.Origin = 0
		return h.HandleRecord(ctx, rec)
	}))
}

// TestClusterUnknownOrigin: over a coordinator that records no origin, a
// bus still tells its own events (by the IDs it published) from other
// nodes' (Remote).
func TestClusterUnknownOrigin(t *testing.T) {
	_, cs := sharedCluster(t, 2, 1)
	b1 := newNodeBus(t, noOrigin{cs[0]}, nil)
	b2 := newNodeBus(t, noOrigin{cs[1]}, nil)
	r1, r2 := subscribe(t, b1, nil), subscribe(t, b2, nil)
	publishN(t, b1, context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/o"})
	syncAll(t, b1, b2)
	if evs := r1.events(); len(evs) != 1 || evs[0].Boundary != semevent.FUSE {
		t.Errorf("the origin got %d events (%v), want its own at fuse", len(evs), evs)
	}
	if evs := r2.events(); len(evs) != 1 || evs[0].Boundary != semevent.Remote {
		t.Errorf("the other node got %d events, want 1 remote", len(evs))
	}
}

// TestClusterFarFutureRemote: a remote event stamped a century ahead (a
// node with a broken clock) is delivered at once on a node that
// deduplicates remote events: windows run on this bus's publish stamps,
// not on event time.
func TestClusterFarFutureRemote(t *testing.T) {
	_, cs := sharedCluster(t, 2, 1)
	b1 := newNodeBus(t, cs[0], nil)
	b2 := newNodeBus(t, cs[1], &propagation.Options{Dedup: &propagation.DedupOptions{Window: 50 * time.Millisecond,
		Boundaries: semevent.Boundaries(semevent.Kernel, semevent.Remote)}})
	r2 := subscribe(t, b2, nil)
	future := time.Now().AddDate(100, 0, 0).UnixNano()
	publishN(t, b1, context.Background(), &semevent.Event{Kind: semevent.KindFileCreate, Boundary: semevent.FUSE, Path: "/future", Time: future})
	evs := r2.waitLen(t, 1)
	if evs[0].Time != future || evs[0].Observed[0].Time != future {
		t.Errorf("remote event Time %d, Observed %v; want the original time kept", evs[0].Time, evs[0].Observed)
	}
}

// TestClusterCoordinatorClosedFirst: with its coordinator closed under
// it, a bus refuses replicated publishes with the coordinator's error
// (not an unknown outcome: nothing was proposed) and closes without
// waiting.
func TestClusterCoordinatorClosedFirst(t *testing.T) {
	l, err := coord.NewLocal(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := propagation.New(&propagation.Options{Coordinator: l, Durability: propagation.Replicated, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	l.Close(context.Background())
	err = b.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/late"})
	if !errors.Is(err, coord.ErrClosed) || errors.Is(err, propagation.ErrOutcomeUnknown) {
		t.Errorf("Publish on a closed coordinator = %v, want its ErrClosed, not an unknown outcome", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close = %v", err)
	}
}
