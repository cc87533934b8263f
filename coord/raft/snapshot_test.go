package raft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
)

// snapshotOf streams s's snapshot into memory, as dragonboat streams it
// to a replica.
func snapshotOf(t testing.TB, s *shardSM) []byte {
	t.Helper()
	p, err := s.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.SaveSnapshot(p, &buf, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSnapshotStreamsTheJournal streams a state machine's snapshot (its
// retained journal records, applied index and exactly-once window) to
// replicas in every position: empty, lagging, behind the leader's
// retention, diverged, and of another shard.
func TestSnapshotStreamsTheJournal(t *testing.T) {
	leader := openTestSM(t, t.TempDir(), nil)
	defer leader.Close()
	counts := make([]int, 30)
	for i := range counts {
		counts[i] = 10
		update(t, leader, testEntry(uint64(i+1), 10))
	}
	snap := snapshotOf(t, leader)
	if len(snap) > 300*200 {
		t.Errorf("a snapshot of 300 small records takes %d bytes", len(snap))
	}

	t.Run("Empty", func(t *testing.T) {
		s := openTestSM(t, t.TempDir(), nil)
		defer s.Close()
		if err := s.RecoverFromSnapshot(bytes.NewReader(snap), nil); err != nil {
			t.Fatal(err)
		}
		checkJournal(t, s, counts)
		if s.applied != 30 {
			t.Errorf("applied %d after the snapshot, want 30", s.applied)
		}
		// The window came with it: an event of entry 5 is already committed.
		slots, err := decodeResult(update(t, s, testEntry(31, 0, testEvent(5, 3))), 1)
		if err != nil || slots[0] != (slot{44, true}) {
			t.Errorf("entry 5's event proposed again = %v, %v; want already committed at 44", slots, err)
		}
	})
	t.Run("Lagging", func(t *testing.T) {
		s := openTestSM(t, t.TempDir(), nil)
		defer s.Close()
		for i := range 12 {
			update(t, s, testEntry(uint64(i+1), 10))
		}
		before := s.jw.Stats().Records
		if err := s.RecoverFromSnapshot(bytes.NewReader(snap), nil); err != nil {
			t.Fatal(err)
		}
		checkJournal(t, s, counts)
		if got := s.jw.Stats().Records - before; got != 180 {
			t.Errorf("the snapshot appended %d records, want only the 180 missing", got)
		}
		if s.fresh {
			t.Error("a lagging replica that the leader's retention still covers reports a fresh start")
		}
	})
	t.Run("Diverged", func(t *testing.T) {
		s := openTestSM(t, t.TempDir(), nil)
		defer s.Close()
		update(t, s, testEntry(1, 9)) // entry 1 with 9 events, not 10
		err := s.RecoverFromSnapshot(bytes.NewReader(snap), nil)
		if err == nil {
			t.Fatal("a diverged replica took the snapshot")
		}
	})
	t.Run("OtherShard", func(t *testing.T) {
		cfg := testSMConfig(t.TempDir(), nil)
		cfg.id.shard, cfg.id.shards = 1, 2
		s := newShardSM(cfg)
		if _, err := s.Open(nil); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.RecoverFromSnapshot(bytes.NewReader(snap), nil); !errors.Is(err, ErrForeignDir) {
			t.Fatalf("shard 1 took shard 0's snapshot: %v", err)
		}
	})
	t.Run("FellBehindRetention", func(t *testing.T) {
		cfg := testSMConfig(t.TempDir(), nil)
		cfg.jopts.RetentionBytes = 4096 // segments of 4096 bytes: keeps one sealed
		ret := newShardSM(cfg)
		if _, err := ret.Open(nil); err != nil {
			t.Fatal(err)
		}
		defer ret.Close()
		for i := range 30 {
			update(t, ret, testEntry(uint64(i+1), 10))
		}
		first := ret.jw.FirstOffset()
		if first == 0 {
			t.Fatal("retention removed nothing")
		}
		snap := snapshotOf(t, ret)

		dir := t.TempDir()
		s := openTestSM(t, dir, nil)
		for i := range 2 {
			update(t, s, testEntry(uint64(i+1), 10))
		}
		if err := s.RecoverFromSnapshot(bytes.NewReader(snap), nil); err != nil {
			t.Fatal(err)
		}
		if s.jw.FirstOffset() != first || s.jw.NextOffset() != 300 || !s.fresh || !s.hasBehind() {
			t.Fatalf("after a fresh start: journal %d to %d, fresh %v, moved aside %v; want %d to 300, a fresh start",
				s.jw.FirstOffset(), s.jw.NextOffset(), s.fresh, s.hasBehind(), first)
		}
		if _, err := s.read(0, 1, 0); !errors.Is(err, coord.ErrCompacted) {
			t.Errorf("Read from index 1 after a fresh start = %v, want ErrCompacted (never a silent hole)", err)
		}
		recs, err := s.read(0, first+1, 0)
		if err != nil || len(recs) != int(300-first) || recs[0].Index != first+1 {
			t.Fatalf("Read from the first index: %d records, %v", len(recs), err)
		}
		// A restart keeps the fresh start's state.
		s.Close()
		s = openTestSM(t, dir, nil)
		defer s.Close()
		if s.applied != 30 || !s.fresh || s.jw.FirstOffset() != first {
			t.Fatalf("after a restart: applied %d, fresh %v, first %d", s.applied, s.fresh, s.jw.FirstOffset())
		}
		slots, err := decodeResult(update(t, s, testEntry(31, 1, testEvent(30, 9))), 2)
		if err != nil || slots[1] != (slot{300, true}) || slots[0] != (slot{301, false}) {
			t.Errorf("after a fresh start and a restart: %v, %v", slots, err)
		}
	})
	t.Run("PrepareAbortsMidEntry", func(t *testing.T) {
		s := openTestSM(t, t.TempDir(), nil)
		defer s.Close()
		s.resume = resumeState{index: 7, done: 1}
		if _, err := s.PrepareSnapshot(); !errors.Is(err, sm.ErrSnapshotAborted) {
			t.Errorf("PrepareSnapshot with an entry half applied = %v, want ErrSnapshotAborted", err)
		}
	})
}

// TestLaggingReplicaCatchesUp stops a node of a three-node cluster while
// the others append enough that the Raft log is compacted past it, then
// restarts it. Without retention it catches up from a streamed snapshot of
// the leader's journal and holds every record; with retention that
// removed records it never had, it starts fresh at the leader's first
// retained record, says so in Health, and refuses reads before it:
// never a silent hole.
func TestLaggingReplicaCatchesUp(t *testing.T) {
	for _, retention := range []bool{false, true} {
		t.Run(fmt.Sprint("retention=", retention), func(t *testing.T) {
			cl := newCluster(t, clusterConfig{tweak: func(o *Options) {
				o.SnapshotEntries = 20
				o.SegmentSize = 4096
				if retention {
					o.RetentionBytes = 8192
				}
			}})
			ctx, cancel := context.WithTimeout(context.Background(), coordtest.Timeout)
			defer cancel()
			appendN := func(n int, tag string) {
				for i := range n {
					c := cl.node(i % 2) // nodes 1 and 2
					if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/%s/%d", tag, i)}); err != nil {
						t.Fatalf("Append %s %d: %v", tag, i, err)
					}
				}
			}
			appendN(10, "before")
			cl.stop(2)
			appendN(400, "while-down")
			if err := cl.start(2); err != nil {
				t.Fatal(err)
			}
			lagging := cl.node(2)
			want := cl.node(0).reps.get(0).held()
			for lagging.reps.get(0) == nil || lagging.reps.get(0).held() < want || lagging.reps.get(0).recovered.Load() == 0 {
				if ctx.Err() != nil {
					t.Fatalf("node 3 did not catch up from a streamed snapshot: %+v, %d recovered", lagging.Health(ctx).Shards, lagging.reps.get(0).recovered.Load())
				}
				time.Sleep(20 * time.Millisecond)
			}
			sh := lagging.Health(ctx).Shards[0]
			lead := cl.node(0).Health(ctx).Shards[0]
			if sh.FreshStart != retention {
				t.Fatalf("node 3 Health %+v: FreshStart %v, want %v", sh, sh.FreshStart, retention)
			}
			first := uint64(1)
			if retention {
				first = sh.First
				if first <= 11 || first != lead.First {
					t.Fatalf("node 3 restarted fresh at %d, the leader holds from %d (node 3 had 10 records)", first, lead.First)
				}
				if _, err := lagging.Read(ctx, 0, 1, 0); !errors.Is(err, coord.ErrCompacted) {
					t.Errorf("Read on node 3 from index 1 = %v, want ErrCompacted", err)
				}
				sub, err := lagging.Subscribe(0, 1, coord.HandlerFunc(func(context.Context, coord.Record) error { return nil }))
				if err != nil {
					t.Fatal(err)
				}
				<-sub.Done()
				if !errors.Is(sub.Err(), coord.ErrCompacted) {
					t.Errorf("Subscribe on node 3 from index 1 ended with %v, want ErrCompacted", sub.Err())
				}
			} else if sh.First != 1 {
				t.Fatalf("node 3 Health %+v: First %d without retention", sh, sh.First)
			}
			got, err := lagging.Read(ctx, 0, first, 0)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := cl.node(0).Read(ctx, 0, first, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(ref) || len(got) == 0 {
				t.Fatalf("node 3 holds %d records from %d, node 1 %d", len(got), first, len(ref))
			}
			for i := range got {
				if got[i].Position != ref[i].Position || got[i].Origin != ref[i].Origin || semevent.Diff(got[i].Event, ref[i].Event) != nil {
					t.Fatalf("record %d differs: %+v vs %+v", got[i].Index, got[i], ref[i])
				}
			}
			// And it keeps applying.
			if _, err := cl.node(2).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/after"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRaftLogBoundedBySize appends far more proposal bytes than
// SnapshotBytes on a node whose SnapshotEntries alone would not yet
// snapshot: size-triggered snapshots compact the Raft log, which keeps
// only the recent entries (with SnapshotBytes disabled it keeps them all).
func TestRaftLogBoundedBySize(t *testing.T) {
	for _, bytes := range []int64{64 << 10, -1} {
		t.Run(fmt.Sprint("SnapshotBytes=", bytes), func(t *testing.T) {
			c, err := oneNode(t, t.TempDir(), fmt.Sprintf("127.0.0.1:%d", freePort(t)), func(o *Options) { o.SnapshotBytes = bytes })
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), coordtest.Timeout)
			defer cancel()
			for i := range 3000 {
				if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/bounded/%d/%0100d", i, i)}); err != nil {
					t.Fatal(err)
				}
			}
			lr, err := c.nh.GetLogReader(shardID(0))
			if err != nil {
				t.Fatal(err)
			}
			var first, last uint64
			for range 100 { // the last size-triggered snapshot may still be compacting
				first, last = lr.GetRange()
				if last-first < 1500 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("Raft log holds entries %d to %d; %d size-triggered snapshots", first, last, c.Stats().SizeSnapshots)
			if bounded := last-first < 1500; bounded != (bytes > 0) {
				t.Fatalf("Raft log holds %d entries (%d to %d) after 3000 appends with SnapshotBytes %d", last-first, first, last, bytes)
			}
		})
	}
}
