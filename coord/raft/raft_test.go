package raft

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
	"github.com/vexfs/semevent/internal/codec"
)

const testShards = 2

// TestCluster runs one 3-node cluster with mutual TLS and proxies in front
// of every node, and puts it through the conformance suite and then
// through faults.
func TestCluster(t *testing.T) {
	cl := newCluster(t, clusterConfig{shards: testShards, proxied: true, tls: true, tweak: func(o *Options) {
		o.MaxEventSize = 4096
		o.MaxBatchBytes = 64 << 10
		o.SnapshotEntries = 50 // restarts recover from snapshots, not only the log
		o.ProposalTimeout = 5 * time.Second
	}})
	t.Run("Conformance", func(t *testing.T) {
		coordtest.TestCoordinator(t, coordtest.Features{Shards: testShards, MaxEventSize: 4096, NoClose: true}, func(t *testing.T) coord.Coordinator {
			return cl.node(0)
		})
	})
	t.Run("ReplicasAgree", func(t *testing.T) { checkReplicasAgree(t, cl) })
	t.Run("RetriedProposalAppliedOnce", func(t *testing.T) { testRetryOnce(t, cl) })
	t.Run("Faults", func(t *testing.T) { runFaults(t, cl, faultSchedule()) })
	t.Run("Close", func(t *testing.T) {
		c := cl.node(2)
		sub, err := c.Subscribe(0, 1, coord.HandlerFunc(func(context.Context, coord.Record) error { return nil }))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-sub.Done()
		if !errors.Is(sub.Err(), coord.ErrClosed) {
			t.Errorf("subscription Err after Close = %v", sub.Err())
		}
		ctx := context.Background()
		if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite}); !errors.Is(err, coord.ErrClosed) || !errors.Is(err, semevent.ErrClosed) {
			t.Errorf("Append after Close = %v", err)
		}
		if _, err := c.Read(ctx, 0, 1, 1); !errors.Is(err, coord.ErrClosed) {
			t.Errorf("Read after Close = %v", err)
		}
		if err := c.AddNode(ctx, 9, "127.0.0.1:9"); !errors.Is(err, coord.ErrClosed) {
			t.Errorf("AddNode after Close = %v", err)
		}
		if err := c.Close(ctx); err != nil {
			t.Errorf("second Close = %v", err)
		}
		// The other two still form a quorum.
		if _, err := cl.node(0).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/after-close"}); err != nil {
			t.Errorf("Append on a 2-of-3 cluster: %v", err)
		}
	})
}

// checkReplicasAgree waits until every live replica has applied the same
// number of records per shard and checks that their logs are equal, byte
// for byte.
func checkReplicasAgree(t *testing.T, cl *cluster) [][][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), coordtest.Timeout)
	defer cancel()
	var logs [][][]byte
	for s := range testShards {
		// A linearizable read through node 0 gives the committed length.
		var want uint64
		for i := range cl.nodes {
			if c := cl.node(i); !c.closed.Load() {
				want = max(want, c.reps.get(s).held())
			}
		}
		var ref [][]byte
		var refMeta []recMeta
		for i := range cl.nodes {
			c := cl.node(i)
			if c.closed.Load() {
				continue
			}
			sm := c.reps.get(s)
			for sm.held() < want {
				if ctx.Err() != nil {
					t.Fatalf("node %d shard %d: has %d of %d records", i+1, s, sm.held(), want)
				}
				time.Sleep(5 * time.Millisecond)
			}
			got, metas := sm.allRecords(t)
			got, metas = got[:want], metas[:want]
			if ref == nil {
				ref, refMeta = got, metas
				continue
			}
			for k := range got {
				if !bytes.Equal(got[k], ref[k]) || metas[k] != refMeta[k] {
					t.Fatalf("shard %d index %d differs between replicas", s, k+1)
				}
			}
		}
		logs = append(logs, ref)
	}
	return logs
}

// testRetryOnce proposes the same command twice, as the writer does when
// an attempt times out: the state machine applies it once and answers the
// retry with the first answer's position (this Append's own); the same
// event in another proposal is answered as already committed there.
func testRetryOnce(t *testing.T, cl *cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), coordtest.Timeout)
	defer cancel()
	c := cl.node(0)
	sess := c.nh.GetNoOPSession(shardID(0))
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/retry"}
	c.ids.Stamp(ev)
	cmd := appendRecord(proposalHeader(nil, c.opts.Node, 12345, 1), codec.Append(nil, ev))
	before := c.reps.get(0).held()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	r1, err := c.nh.SyncPropose(pctx, sess, cmd)
	pcancel()
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel = context.WithTimeout(ctx, 5*time.Second)
	r2, err := c.nh.SyncPropose(pctx, sess, cmd) // the retry
	pcancel()
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel = context.WithTimeout(ctx, 5*time.Second)
	other := appendRecord(proposalHeader(nil, c.opts.Node, 54321, 1), codec.Append(nil, ev))
	r3, err := c.nh.SyncPropose(pctx, sess, other) // another append of the same event
	pcancel()
	if err != nil {
		t.Fatal(err)
	}
	s1, err1 := decodeResult(r1, 1)
	s2, err2 := decodeResult(r2, 1)
	s3, err3 := decodeResult(r3, 1)
	if err := errors.Join(err1, err2, err3); err != nil || s1[0] != (slot{before + 1, false}) || s2[0] != (slot{before + 1, false}) || s3[0] != (slot{before + 1, true}) {
		t.Fatalf("first answer %v, retry's %v, another proposal's %v (%v); want index %d twice, then already committed there", s1, s2, s3, err, before+1)
	}
	recs, err := c.Read(ctx, 0, before+1, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Event.ID == ev.ID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("retried event committed %d times", n)
	}
}

// held returns the index of the last record this replica holds.
func (s *shardSM) held() uint64 {
	j, _, _, _ := s.view()
	return j.NextOffset()
}

// allRecords returns every record this replica holds (from index 1),
// encoded, with its metadata.
func (s *shardSM) allRecords(t *testing.T) ([][]byte, []recMeta) {
	t.Helper()
	j, _, _, _ := s.view()
	r, err := j.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs [][]byte
	var metas []recMeta
	var ev semevent.Event
	for {
		_, err := r.Next(&ev)
		if err == io.EOF {
			return recs, metas
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, codec.Append(nil, &ev))
		metas = append(metas, parseMeta(r.Meta()))
	}
}
