package raft

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordadmin"
)

// TestObserver runs a 3-node cluster (mutual TLS) and a fourth node as an
// observer: the observer receives every committed record (through
// Subscribe, from before it joined on), serves Read, is listed in every
// member's Health and status but not in Members, catches up after a
// restart from its disk, and is never elected. With the observer and one
// voter down, the two remaining voters still commit: the observer does not
// count towards the quorum.
func TestObserver(t *testing.T) {
	const shards = 2
	cl := newCluster(t, clusterConfig{shards: shards, tls: true, spare: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	appendN := func(c *Coordinator, tag string, n int) {
		t.Helper()
		for i := range n {
			if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/%s/%d", tag, i%5), Offset: int64(i)}); err != nil {
				t.Fatalf("append %s %d: %v", tag, i, err)
			}
		}
	}
	appendN(cl.node(0), "before", 20)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if err := coord.AddObserver(ctx, cl.node(1), 4, addr); err != nil {
		t.Fatalf("AddObserver: %v", err)
	}
	if err := coord.AddObserver(ctx, cl.node(0), 4, addr); !errors.Is(err, coord.ErrDuplicateNode) {
		t.Fatalf("AddObserver again = %v, want ErrDuplicateNode", err)
	}
	if err := cl.node(0).AddNode(ctx, 4, addr); !errors.Is(err, coord.ErrDuplicateNode) {
		t.Fatalf("AddNode of an observer = %v, want ErrDuplicateNode", err)
	}
	obs, err := New(&Options{Node: 4, Dir: filepath.Join(t.TempDir(), "observer"), Join: true, Observer: true, Addr: addr, Shards: shards, TLS: cl.certs[3]})
	if err != nil {
		t.Fatalf("start the observer: %v", err)
	}
	obsClosed := false
	defer func() {
		if !obsClosed {
			obs.Close(context.Background())
		}
	}()

	// Follow every shard on the observer from index 1.
	var mu sync.Mutex
	got := make([][]semevent.ID, shards)
	var subs []coord.Subscription
	for s := range shards {
		sub, err := obs.Subscribe(s, 1, coord.HandlerFunc(func(_ context.Context, r coord.Record) error {
			mu.Lock()
			defer mu.Unlock()
			if r.Index != uint64(len(got[s])+1) {
				return fmt.Errorf("shard %d: record %d after %d", s, r.Index, len(got[s]))
			}
			got[s] = append(got[s], r.Event.ID)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	var wg sync.WaitGroup
	for i := range cl.nodes {
		wg.Go(func() { appendN(cl.node(i), fmt.Sprint("during", i), 20) })
	}
	wg.Wait()

	// Every committed record reaches the observer, in order.
	for s := range shards {
		want, err := cl.node(0).Read(ctx, s, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := len(got[s])
			mu.Unlock()
			if n >= len(want) || time.Now().After(deadline) {
				break
			}
		}
		mu.Lock()
		ids := slices.Clone(got[s])
		mu.Unlock()
		if len(ids) < len(want) {
			t.Fatalf("shard %d: the observer received %d of %d records", s, len(ids), len(want))
		}
		for i, r := range want {
			if ids[i] != r.Event.ID {
				t.Fatalf("shard %d index %d: the observer has %s, the members %s", s, i+1, ids[i], r.Event.ID)
			}
		}
		// Read on the observer.
		recs, err := obs.Read(ctx, s, 1, 0)
		if err != nil || len(recs) < len(want) {
			t.Fatalf("Read on the observer: %d records, %v", len(recs), err)
		}
	}

	// Health and status list it; Members does not.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		h := cl.node(2).Health(ctx)
		ok := true
		for _, sh := range h.Shards {
			ok = ok && slices.Equal(sh.Observers, []uint64{4}) && sh.Members == 3
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Health of node 3 never listed observer 4: %+v", h.Shards)
		}
	}
	st := coordadmin.Collect(ctx, cl.node(0))
	for _, sh := range st.Shards {
		if !slices.Equal(sh.Observers, []uint64{4}) {
			t.Errorf("status of node 1, shard %d: observers %v, want [4]", sh.Shard, sh.Observers)
		}
	}
	ms, err := cl.node(0).Members(ctx)
	if err != nil || len(ms) != 3 {
		t.Fatalf("Members = %v, %v: want the 3 voters", ms, err)
	}
	for _, sh := range obs.Health(ctx).Shards {
		if sh.Leader == 4 {
			t.Fatalf("the observer leads shard %d", sh.Shard)
		}
	}

	// The observer restarted from its disk catches up with what was
	// committed while it was down.
	obsOpts := obs.opts
	for _, sub := range subs {
		sub.Unsubscribe()
	}
	subs = nil
	obs.Close(ctx)
	appendN(cl.node(0), "while-observer-down", 10)
	if obs, err = New(&Options{Node: 4, Dir: obsOpts.Dir, Join: true, Observer: true, Addr: addr, Shards: shards, TLS: cl.certs[3]}); err != nil {
		t.Fatalf("restart the observer: %v", err)
	}
	for s := range shards {
		want, err := cl.node(0).Read(ctx, s, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := obs.Read(ctx, s, 1, 0)
		if err != nil || len(recs) != len(want) || recs[len(recs)-1].Event.ID != want[len(want)-1].Event.ID {
			t.Fatalf("restarted observer, shard %d: %d records (err %v), the members %d", s, len(recs), err, len(want))
		}
	}

	// Kill the leader of shard 0 while the observer runs: the new leader
	// is a voter.
	l := cl.awaitLeader(t)
	cl.stop(l)
	if err := cl.start(l); err != nil {
		t.Fatal(err)
	}
	appendN(cl.node(l), "after-restart", 5)
	for _, sh := range cl.node((l + 1) % 3).Health(ctx).Shards {
		if sh.Leader == 4 {
			t.Fatalf("the observer was elected leader of shard %d", sh.Shard)
		}
	}

	// The observer and one voter down: two of three voters still commit.
	for _, sub := range subs {
		sub.Unsubscribe()
	}
	obs.Close(ctx)
	obsClosed = true
	down := (l + 1) % 3
	cl.stop(down)
	up := (down + 1) % 3
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	defer acancel()
	if _, err := cl.node(up).Append(actx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/two-of-three"}); err != nil {
		t.Fatalf("append with the observer and node %d down: %v (the observer counted towards the quorum?)", down+1, err)
	}
	// RemoveNode takes the observer out.
	if err := cl.node(up).RemoveNode(ctx, 4); err != nil {
		t.Fatalf("RemoveNode(observer): %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if sh := cl.node(up).Health(ctx).Shards; sh[0].Observers == nil && sh[1].Observers == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("observer still listed after RemoveNode: %+v", cl.node(up).Health(ctx).Shards)
		}
	}
}
