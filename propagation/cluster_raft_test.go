package propagation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/raft"
	"github.com/vexfs/semevent/propagation"
)

// raftFreeAddr returns 127.0.0.1:port with port free for TCP and UDP.
func raftFreeAddr(t testing.TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

// raftNodes is a three-node coord/raft cluster in this process.
type raftNodes struct {
	t       testing.TB
	dir     string
	members map[uint64]string
	shards  int
	cs      []*raft.Coordinator
}

func newRaftNodes(t *testing.T, shards int) *raftNodes { return newRaftNodesTB(t, shards) }

func newRaftNodesTB(t testing.TB, shards int) *raftNodes {
	rn := &raftNodes{t: t, dir: t.TempDir(), members: map[uint64]string{}, shards: shards, cs: make([]*raft.Coordinator, 3)}
	for id := uint64(1); id <= 3; id++ {
		rn.members[id] = raftFreeAddr(t)
	}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { errs[i] = rn.start(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		rn.close()
		t.Fatal(err)
	}
	t.Cleanup(rn.close)
	return rn
}

func (rn *raftNodes) start(i int) error {
	c, err := raft.New(&raft.Options{Node: uint64(i + 1), Dir: filepath.Join(rn.dir, fmt.Sprint("n", i+1)), Members: rn.members,
		Shards: rn.shards, Logger: slog.New(slog.DiscardHandler), StartTimeout: 2 * time.Minute})
	if err != nil {
		return err
	}
	rn.cs[i] = c
	return nil
}

func (rn *raftNodes) stop(i int) {
	if c := rn.cs[i]; c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.Close(ctx)
		rn.cs[i] = nil
	}
}

func (rn *raftNodes) close() {
	for i := range rn.cs {
		rn.stop(i)
	}
}

// TestClusterRaft: three buses over a real three-node coord/raft cluster
// on 127.0.0.1, two shards. Every node publishes concurrently; every
// node's subscriber gets every event once, its own at their boundary and
// the others' as Remote with the original sighting, each shard in the
// same order on every node. Then node 3 stops, the others go on, node 3
// restarts from its disk, and its durable consumer resumes with no gap
// and no duplicate.
func TestClusterRaft(t *testing.T) {
	rn := newRaftNodes(t, 2)
	buses := make([]*propagation.Bus, 3)
	recs := make([]*nodeRecorder, 3)
	for i := range buses {
		buses[i] = newNodeBus(t, rn.cs[i], nil)
		recs[i] = subscribe(t, buses[i], nil)
	}
	const per = 60
	publish := func(nodes []int, round int) {
		var wg sync.WaitGroup
		for _, i := range nodes {
			wg.Go(func() {
				for j := range per {
					ev := tracedEvent(j)
					ev.Path = fmt.Sprintf("/r%d/n%d/%d", round, i+1, j%4) // spread over both shards
					ev.Offset = int64(j)
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					err := buses[i].Publish(ctx, ev)
					cancel()
					if err != nil {
						t.Errorf("node %d: Publish: %v", i+1, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	publish([]int{0, 1, 2}, 0)
	syncAll(t, buses...)
	var order []string
	for i, r := range recs {
		evs := r.waitLen(t, 3*per)
		if len(evs) != 3*per {
			t.Fatalf("node %d got %d events, want %d", i+1, len(evs), 3*per)
		}
		for _, ev := range evs {
			own := ev.Path[4:6] == fmt.Sprint("n", i+1)
			switch {
			case own && ev.Boundary != semevent.FUSE:
				t.Fatalf("node %d: its own %s arrived at %v, want fuse", i+1, ev.Path, ev.Boundary)
			case !own && (ev.Boundary != semevent.Remote || len(ev.Observed) != 1 || ev.Observed[0].PID != ev.PID || ev.Observed[0].Boundary != semevent.FUSE):
				t.Fatalf("node %d: %s from another node arrived at %v with Observed %v, want remote with the fuse sighting", i+1, ev.Path, ev.Boundary, ev.Observed)
			}
			if want := tracedEvent(int(ev.Offset)); ev.Trace != want.Trace || ev.Cause != want.Cause || !slices.Equal(ev.Attrs, want.Attrs) {
				t.Fatalf("node %d: %s lost its context", i+1, ev.Path)
			}
		}
		// Each shard's order is the same everywhere.
		byShard := make([][]string, 2)
		for _, ev := range evs {
			s := coord.ShardOf(semevent.PathKey(ev), 2)
			byShard[s] = append(byShard[s], ev.ID.String())
		}
		if o := fmt.Sprint(byShard); i == 0 {
			order = append(order, o)
		} else if o != order[0] {
			t.Errorf("node %d's shard order differs from node 1's", i+1)
		}
	}

	// A durable consumer on node 3 takes what is there, then node 3 stops.
	offsets, ok := any(rn.cs[2]).(interface {
		CommittedOffset(int, string) (uint64, bool, error)
	})
	if !ok {
		t.Log("coord/raft keeps no consumer offsets yet: the restart part is skipped")
		return
	}
	_ = offsets
	cons := &nodeRecorder{}
	sub, err := buses[2].Subscribe(cons, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "audit"}})
	if err != nil {
		t.Fatal(err)
	}
	cons.waitLen(t, 3*per)
	sub.Unsubscribe()
	<-sub.Done()
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := buses[2].Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	rn.stop(2)

	publish([]int{0, 1}, 1)

	if err := rn.start(2); err != nil {
		t.Fatal(err)
	}
	b3 := newNodeBus(t, rn.cs[2], nil)
	sub, err = b3.Subscribe(cons, &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "audit"}})
	if err != nil {
		t.Fatal(err)
	}
	cons.waitLen(t, 5*per)
	time.Sleep(100 * time.Millisecond) // a duplicate would show now
	sub.Unsubscribe()
	<-sub.Done()
	evs := cons.events()
	seen := map[semevent.ID]int{}
	for _, ev := range evs {
		seen[ev.ID]++
		if seen[ev.ID] > 1 {
			t.Fatalf("the consumer got %s twice across node 3's restart", ev.Path)
		}
	}
	if len(evs) != 5*per {
		t.Fatalf("the consumer got %d events across node 3's restart, want %d", len(evs), 5*per)
	}
}
