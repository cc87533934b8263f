// Package coordtest is the conformance suite every [coord.Coordinator]
// passes — coord.Local and the Raft coordinator alike — and helpers for
// tests of coordinators.
package coordtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// Features say what the coordinator under test can be put through.
type Features struct {
	// Shards is the coordinator's number of shards.
	Shards int
	// MaxEventSize is the coordinator's limit on one event's encoding.
	MaxEventSize int
	// NoClose skips the subtest that closes the coordinator, for
	// coordinators shared with other tests; test Close separately then.
	NoClose bool
}

// Timeout bounds every operation of the suite: a guard against hangs, not
// a performance requirement.
const Timeout = 60 * time.Second

// TestCoordinator runs the suite against the coordinators newC returns (it
// may return the same one every time; the logs need not be empty). Every
// Coordinator must commit each appended event exactly once with every
// field intact, keep the order of events with one key, stamp missing IDs
// and times, deliver the committed log to subscribers in order with this
// node as the Origin of its own events, report an event whose ID is
// already committed as AlreadyCommitted instead of appending it again,
// reject bad input with typed errors, and, when it implements
// coord.Membership, reject duplicate and unknown nodes, and when it
// implements coord.Offsets, keep consumers' offsets. The events of one
// Append that fall in one shard must be contiguous there, in the order
// given, under concurrent Appends; a coord.AtomicAppender must refuse
// events of several shards with a *coord.CrossShardError, appending
// nothing.
func TestCoordinator(t *testing.T, f Features, newC func(t *testing.T) coord.Coordinator) {
	if f.Shards == 0 {
		f.Shards = 1
	}
	t.Run("AppendReadEveryFieldIntact", func(t *testing.T) { testAppendRead(t, f, newC(t)) })
	t.Run("Stamp", func(t *testing.T) { testStamp(t, newC(t)) })
	t.Run("ConcurrentOrderPerKey", func(t *testing.T) { testConcurrent(t, f, newC(t)) })
	t.Run("OneShardContiguous", func(t *testing.T) { testContiguous(t, f, newC(t)) })
	t.Run("Atomic", func(t *testing.T) { testAtomic(t, f, newC(t)) })
	t.Run("Subscribe", func(t *testing.T) { testSubscribe(t, newC(t)) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, f, newC(t)) })
	t.Run("Membership", func(t *testing.T) { testMembership(t, newC(t)) })
	t.Run("Health", func(t *testing.T) { testHealth(t, f, newC(t)) })
	t.Run("ExactlyOnce", func(t *testing.T) { testExactlyOnce(t, newC(t)) })
	t.Run("Offsets", func(t *testing.T) { testOffsets(t, f, newC(t)) })
	if !f.NoClose {
		t.Run("Close", func(t *testing.T) { testClose(t, newC(t)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// ReadAll returns every record of shard from index from on.
func ReadAll(ctx context.Context, c coord.Coordinator, shard int, from uint64) ([]coord.Record, error) {
	var out []coord.Record
	for {
		recs, err := c.Read(ctx, shard, from, 4096)
		if err != nil {
			return out, err
		}
		out = append(out, recs...)
		if len(recs) < 4096 {
			return out, nil
		}
		from = recs[len(recs)-1].Index + 1
	}
}

func testAppendRead(t *testing.T, f Features, c coord.Coordinator) {
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(1, 2))
	var sent []*semevent.Event
	var pos []coord.Position
	for batch := range 20 {
		evs := make([]*semevent.Event, 1+batch%7)
		for i := range evs {
			evs[i] = propagationtest.RandomEvent(r)
			sent = append(sent, evs[i].Clone())
		}
		p, err := c.Append(ctx, evs...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if len(p) != len(evs) {
			t.Fatalf("Append returned %d positions for %d events", len(p), len(evs))
		}
		pos = append(pos, p...)
	}
	seen := make(map[coord.Position]bool)
	for i, p := range pos {
		if p.Index == 0 || p.Shard < 0 || p.Shard >= f.Shards {
			t.Fatalf("event %d at %+v: out of range", i, p)
		}
		if seen[p] {
			t.Fatalf("two events at %+v", p)
		}
		seen[p] = true
		recs, err := c.Read(ctx, p.Shard, p.Index, 1)
		if err != nil || len(recs) != 1 {
			t.Fatalf("Read(%d, %d, 1) = %d records, %v", p.Shard, p.Index, len(recs), err)
		}
		if recs[0].Position != p {
			t.Errorf("Read(%d, %d) returned position %+v", p.Shard, p.Index, recs[0].Position)
		}
		if d := semevent.Diff(sent[i], recs[0].Event); d != nil {
			t.Errorf("event %d at %+v differs in %v", i, p, d)
		}
	}
}

func testStamp(t *testing.T, c coord.Coordinator) {
	ctx := ctxT(t)
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/stamp/" + fmt.Sprint(time.Now().UnixNano())}
	p, err := c.Append(ctx, ev)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if ev.ID.IsZero() || ev.Time == 0 {
		t.Fatalf("Append left ID %v, Time %d unset", ev.ID, ev.Time)
	}
	recs, err := c.Read(ctx, p[0].Shard, p[0].Index, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Read = %d, %v", len(recs), err)
	}
	if d := semevent.Diff(ev, recs[0].Event); d != nil {
		t.Errorf("committed event differs from the stamped one in %v", d)
	}
}

// testConcurrent appends from several goroutines, each its own keys, and
// checks that every event is committed once and that events with one key
// keep their order.
func testConcurrent(t *testing.T, f Features, c coord.Coordinator) {
	ctx := ctxT(t)
	const writers, perWriter = 6, 40
	run := fmt.Sprint(time.Now().UnixNano())
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := make(map[semevent.ID]coord.Position)
	var firstErr error
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				n := 1 + i%3
				evs := make([]*semevent.Event, n)
				for j := range evs {
					evs[j] = &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/c/%s/%d/%d", run, w, j), Offset: int64(i)}
				}
				p, err := c.Append(ctx, evs...)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for j, ev := range evs {
					if err == nil {
						committed[ev.ID] = p[j]
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("Append: %v", firstErr)
	}
	found := 0
	lastOffset := make(map[string]int64)
	for s := range f.Shards {
		recs, err := ReadAll(ctx, c, s, 1)
		if err != nil {
			t.Fatalf("Read shard %d: %v", s, err)
		}
		for _, r := range recs {
			if !strings.HasPrefix(r.Event.Path, "/c/"+run+"/") {
				continue
			}
			p, ok := committed[r.Event.ID]
			if !ok {
				t.Fatalf("record %+v (%s) was never acknowledged", r.Position, r.Event.ID)
			}
			if p != r.Position {
				t.Fatalf("event %s acknowledged at %+v, found at %+v", r.Event.ID, p, r.Position)
			}
			found++
			if last, ok := lastOffset[r.Event.Path]; ok && r.Event.Offset <= last {
				t.Fatalf("key %s: offset %d after %d", r.Event.Path, r.Event.Offset, last)
			}
			lastOffset[r.Event.Path] = r.Event.Offset
		}
	}
	if found != len(committed) {
		t.Fatalf("found %d of %d acknowledged events", found, len(committed))
	}
}

func testSubscribe(t *testing.T, c coord.Coordinator) {
	ctx := ctxT(t)
	ev := &semevent.Event{Kind: semevent.KindFileCreate, Path: "/sub"}
	p, err := c.Append(ctx, ev)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	shard, from := p[0].Shard, p[0].Index
	got := make(chan coord.Record, 100)
	sub, err := c.Subscribe(shard, from, coord.HandlerFunc(func(ctx context.Context, r coord.Record) error {
		got <- r
		return nil
	}))
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	more := make([]*semevent.Event, 3)
	for i := range more {
		more[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: "/sub", Offset: int64(i)}
	}
	if _, err := c.Append(ctx, more...); err != nil {
		t.Fatalf("Append: %v", err)
	}
	want := append([]*semevent.Event{ev}, more...)
	next := from
	for len(want) > 0 {
		select {
		case r := <-got:
			if r.Shard != shard || r.Index != next {
				t.Fatalf("got record at %+v, want index %d of shard %d", r.Position, next, shard)
			}
			next++
			if r.Event.Path != "/sub" {
				continue // another test's event on the same shard
			}
			if d := semevent.Diff(want[0], r.Event); d != nil {
				t.Fatalf("record %d differs in %v", r.Index, d)
			}
			want = want[1:]
		case <-ctx.Done():
			t.Fatalf("subscriber still waits for %d events", len(want))
		}
	}
	sub.Unsubscribe()
	<-sub.Done()
	if err := sub.Err(); err != nil {
		t.Errorf("Err after Unsubscribe = %v, want nil", err)
	}

	// A handler error ends the subscription and is reported.
	boom := errors.New("boom")
	sub, err = c.Subscribe(shard, from, coord.HandlerFunc(func(ctx context.Context, r coord.Record) error { return boom }))
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	select {
	case <-sub.Done():
	case <-ctx.Done():
		t.Fatal("subscription did not end after its handler failed")
	}
	if !errors.Is(sub.Err(), boom) {
		t.Errorf("Err = %v, want the handler's error", sub.Err())
	}
}

func testBadInput(t *testing.T, f Features, c coord.Coordinator) {
	ctx := ctxT(t)
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.Kind(250)}); !errors.Is(err, semevent.ErrInvalidEvent) {
		t.Errorf("Append(bad kind) = %v, want ErrInvalidEvent", err)
	}
	if _, err := c.Append(ctx, nil); !errors.Is(err, semevent.ErrNilEvent) {
		t.Errorf("Append(nil) = %v, want ErrNilEvent", err)
	}
	if f.MaxEventSize > 0 {
		big := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/big", Data: make([]byte, f.MaxEventSize)}
		_, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/ok"}, big)
		var se *coord.SizeError
		if !errors.As(err, &se) || !errors.Is(err, coord.ErrTooLarge) || se.Index != 1 {
			t.Errorf("Append(too large) = %v, want a *SizeError for event 1", err)
		}
	}
	for _, shard := range []int{-1, f.Shards} {
		_, err := c.Read(ctx, shard, 1, 1)
		var se *coord.ShardError
		if !errors.As(err, &se) || !errors.Is(err, coord.ErrShardNotFound) {
			t.Errorf("Read(shard %d) = %v, want a *ShardError", shard, err)
		}
		if _, err := c.Subscribe(shard, 1, coord.HandlerFunc(func(context.Context, coord.Record) error { return nil })); !errors.Is(err, coord.ErrShardNotFound) {
			t.Errorf("Subscribe(shard %d) = %v, want ErrShardNotFound", shard, err)
		}
	}
	if _, err := c.Subscribe(0, 1, nil); !errors.Is(err, semevent.ErrNilHandler) {
		t.Errorf("Subscribe(nil) = %v, want ErrNilHandler", err)
	}
	// Reading past the end is not an error: nothing is committed there yet.
	if recs, err := c.Read(ctx, 0, 1<<62, 10); err != nil || len(recs) != 0 {
		t.Errorf("Read past the end = %d records, %v", len(recs), err)
	}
}

func testMembership(t *testing.T, c coord.Coordinator) {
	ctx := ctxT(t)
	members, err := coord.Members(ctx, c)
	if err != nil || len(members) == 0 {
		t.Fatalf("Members = %v, %v", members, err)
	}
	if _, ok := c.(coord.Membership); !ok {
		if err := coord.AddNode(ctx, c, 99, ""); !errors.Is(err, coord.ErrUnsupported) {
			t.Errorf("AddNode without Membership = %v, want ErrUnsupported", err)
		}
		return
	}
	if err := coord.AddNode(ctx, c, members[0].ID, members[0].Addr); !errors.Is(err, coord.ErrDuplicateNode) {
		t.Errorf("AddNode(existing %d) = %v, want ErrDuplicateNode", members[0].ID, err)
	}
	if err := coord.RemoveNode(ctx, c, 1<<40); !errors.Is(err, coord.ErrUnknownNode) {
		t.Errorf("RemoveNode(unknown) = %v, want ErrUnknownNode", err)
	}
	var ne *coord.NodeError
	if err := coord.RemoveNode(ctx, c, 1<<40); !errors.As(err, &ne) || ne.Node != 1<<40 {
		t.Errorf("RemoveNode(unknown) = %v, want a *NodeError naming the node", err)
	}
	// A node added and removed again; the cluster keeps working.
	const extra = 77
	if err := coord.AddNode(ctx, c, extra, "127.0.0.1:1"); err != nil {
		t.Fatalf("AddNode(%d) = %v", extra, err)
	}
	if m, _ := coord.Members(ctx, c); !hasMember(m, extra) {
		t.Errorf("Members after AddNode = %v, missing %d", m, extra)
	}
	if err := coord.RemoveNode(ctx, c, extra); err != nil {
		t.Fatalf("RemoveNode(%d) = %v", extra, err)
	}
	if m, _ := coord.Members(ctx, c); hasMember(m, extra) {
		t.Errorf("Members after RemoveNode = %v, still has %d", m, extra)
	}
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/after-membership"}); err != nil {
		t.Errorf("Append after membership changes: %v", err)
	}
}

func hasMember(ms []coord.Member, id uint64) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}

func testHealth(t *testing.T, f Features, c coord.Coordinator) {
	ctx := ctxT(t)
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/health"}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	h := c.Health(ctx)
	if h.Node == 0 || len(h.Shards) != f.Shards {
		t.Fatalf("Health = %+v, want node and %d shards", h, f.Shards)
	}
	for i, s := range h.Shards {
		if s.Shard != i || s.Leader == 0 || s.Members == 0 {
			t.Errorf("Health.Shards[%d] = %+v, want a leader and members", i, s)
		}
	}
}

func testClose(t *testing.T, c coord.Coordinator) {
	ctx := ctxT(t)
	sub, err := c.Subscribe(0, 1, coord.HandlerFunc(func(context.Context, coord.Record) error { return nil }))
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	select {
	case <-sub.Done():
	case <-ctx.Done():
		t.Fatal("subscription still runs after Close")
	}
	if !errors.Is(sub.Err(), coord.ErrClosed) {
		t.Errorf("subscription Err after Close = %v, want ErrClosed", sub.Err())
	}
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite}); !errors.Is(err, coord.ErrClosed) || !errors.Is(err, semevent.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Read(ctx, 0, 1, 1); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Subscribe(0, 1, coord.HandlerFunc(func(context.Context, coord.Record) error { return nil })); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// testContiguous appends, from several goroutines at once, calls whose
// events spread over every shard, and checks that each call's events for
// one shard got consecutive indexes in the order given.
func testContiguous(t *testing.T, f Features, c coord.Coordinator) {
	ctx := ctxT(t)
	const writers, perWriter, per = 4, 15, 6
	run := fmt.Sprint(time.Now().UnixNano())
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				evs := make([]*semevent.Event, per)
				for j := range evs {
					// Two keys per call: with several shards, the call
					// spans some of them.
					evs[j] = &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/contig/%s/%d/%d/%d", run, w, i, j%2), Offset: int64(j)}
				}
				pos, err := c.Append(ctx, evs...)
				if err != nil {
					errs <- err
					return
				}
				last := make(map[int]uint64)
				for j, p := range pos {
					if l, ok := last[p.Shard]; ok && p.Index != l+1 {
						errs <- fmt.Errorf("append of %d events: event %d at %+v, the previous one of its shard at index %d, want %d", per, j, p, l, l+1)
						return
					}
					last[p.Shard] = p.Index
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testAtomic puts a coord.AtomicAppender through a batch with one key and
// one whose keys span shards.
func testAtomic(t *testing.T, f Features, c coord.Coordinator) {
	ctx := ctxT(t)
	if _, ok := c.(coord.AtomicAppender); !ok {
		if _, err := coord.AppendAtomic(ctx, c, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/atomic"}); !errors.Is(err, coord.ErrUnsupported) {
			t.Fatalf("AppendAtomic on a coordinator without it = %v, want ErrUnsupported", err)
		}
		return
	}
	run := fmt.Sprint(time.Now().UnixNano())
	one := make([]*semevent.Event, 5)
	for i := range one {
		one[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: "/atomic/" + run, Offset: int64(i)}
	}
	pos, err := coord.AppendAtomic(ctx, c, one...)
	if err != nil {
		t.Fatalf("AppendAtomic of one key: %v", err)
	}
	for i, p := range pos {
		if p.Shard != pos[0].Shard || p.Index != pos[0].Index+uint64(i) {
			t.Fatalf("AppendAtomic positions %+v: not contiguous in one shard", pos)
		}
	}
	if f.Shards < 2 {
		return
	}
	// Two paths in different shards (by the default key).
	var spread []*semevent.Event
	first := 0
	for k := 0; len(spread) < 2 && k < 1000; k++ {
		ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/atomic/%s/spread/%d", run, k)}
		s := coord.ShardOf(semevent.PathKey(ev), f.Shards)
		if len(spread) == 0 {
			first = s
		}
		if len(spread) == 0 || s != first {
			spread = append(spread, ev)
		}
	}
	_, err = coord.AppendAtomic(ctx, c, spread...)
	var cs *coord.CrossShardError
	if !errors.As(err, &cs) || !errors.Is(err, coord.ErrCrossShard) || cs.First != 0 || cs.Other != 1 || cs.FirstShard == cs.OtherShard {
		t.Fatalf("AppendAtomic across shards = %v, want a *CrossShardError for events 0 and 1", err)
	}
	for s := range f.Shards {
		recs, err := ReadAll(ctx, c, s, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if strings.HasPrefix(r.Event.Path, "/atomic/"+run+"/spread/") {
				t.Fatalf("the refused cross-shard batch left %s at %+v", r.Event.Path, r.Position)
			}
		}
	}
}

// testExactlyOnce appends an event, then the same event (same ID) again,
// alone and twice within one call: the retries are reported as already
// committed at the first index and the log holds the ID once.
func testExactlyOnce(t *testing.T, c coord.Coordinator) {
	ctx := ctxT(t)
	path := "/exactly-once/" + fmt.Sprint(time.Now().UnixNano())
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: path, Attrs: []semevent.Attr{{Key: "try", Value: "1"}}}
	retry := func() *semevent.Event { return ev.Clone() }
	p, err := c.Append(ctx, ev)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if p[0].AlreadyCommitted {
		t.Fatalf("first Append = %+v, reported already committed", p[0])
	}
	want := p[0]
	want.AlreadyCommitted = true
	again, err := c.Append(ctx, retry())
	if err != nil {
		t.Fatalf("Append of the same ID: %v", err)
	}
	if again[0] != want {
		t.Errorf("Append of the same ID = %+v, want %+v", again[0], want)
	}
	fresh := &semevent.Event{Kind: semevent.KindFileWrite, Path: path}
	semevent.NewIDGenerator(99).Stamp(fresh) // so that its clone has the same ID
	both, err := c.Append(ctx, retry(), fresh, fresh.Clone())
	if err != nil {
		t.Fatalf("Append(old, new, new again): %v", err)
	}
	if both[0] != want {
		t.Errorf("old ID in a batch = %+v, want %+v", both[0], want)
	}
	if both[1].AlreadyCommitted || both[1].Index <= want.Index {
		t.Errorf("new ID in a batch = %+v, want a new index after %d", both[1], want.Index)
	}
	if w := (coord.Position{Shard: both[1].Shard, Index: both[1].Index, AlreadyCommitted: true}); both[2] != w {
		t.Errorf("new ID given twice in one call: second = %+v, want %+v", both[2], w)
	}
	recs, err := ReadAll(ctx, c, want.Shard, want.Index)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	count := map[semevent.ID]int{}
	node := c.Health(ctx).Node
	for _, r := range recs {
		count[r.Event.ID]++
		if r.Event.ID == ev.ID && r.Origin != node {
			t.Errorf("record %+v has Origin %d, want this node %d", r.Position, r.Origin, node)
		}
	}
	if count[ev.ID] != 1 || count[fresh.ID] != 1 {
		t.Errorf("the log holds the first ID %d times and the second %d times, want once each", count[ev.ID], count[fresh.ID])
	}
}

// testOffsets commits and reads back consumer offsets when the
// coordinator keeps them.
func testOffsets(t *testing.T, f Features, c coord.Coordinator) {
	o, ok := c.(coord.Offsets)
	if !ok {
		if _, _, err := coord.CommittedOffset(c, 0, "x"); !errors.Is(err, coord.ErrUnsupported) {
			t.Errorf("CommittedOffset without Offsets = %v, want ErrUnsupported", err)
		}
		t.Skip("no coord.Offsets")
	}
	name := fmt.Sprintf("consumer-%d", time.Now().UnixNano())
	if _, ok, err := o.CommittedOffset(0, name); ok || err != nil {
		t.Fatalf("CommittedOffset before a commit = ok %v, %v", ok, err)
	}
	for _, next := range []uint64{1, 5, 3} {
		if err := o.CommitOffset(f.Shards-1, name, next); err != nil {
			t.Fatalf("CommitOffset(%d): %v", next, err)
		}
		got, ok, err := o.CommittedOffset(f.Shards-1, name)
		if err != nil || !ok || got != next {
			t.Fatalf("CommittedOffset = %d, %v, %v; want %d", got, ok, err, next)
		}
	}
	if err := o.CommitOffset(f.Shards, name, 1); !errors.Is(err, coord.ErrShardNotFound) {
		t.Errorf("CommitOffset on shard %d = %v, want ErrShardNotFound", f.Shards, err)
	}
}
