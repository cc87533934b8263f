package raft

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// TestFailoverRetriesOnLeaderChange kills (closes) shard 0's leader and at
// once appends through both survivors, whose proposals go to the dead
// leader and are lost. With an AttemptTimeout of ten minutes, the appends
// can only complete within the test's deadline because the new leader's
// election ends the lost attempts (Stats.LeaderWakes) and they are
// retried at once. Before the leader watch, they waited out the attempt
// timeout.
func TestFailoverRetriesOnLeaderChange(t *testing.T) {
	cl := newCluster(t, clusterConfig{shards: 1, tweak: func(o *Options) {
		o.AttemptTimeout = 10 * time.Minute
		o.ProposalTimeout = 10 * time.Minute
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := cl.node(0).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/warm"}); err != nil {
		t.Fatal(err)
	}
	leader := cl.awaitLeader(t)
	cl.stop(leader)
	var wg sync.WaitGroup
	errs := make([]error, len(cl.nodes))
	for i := range cl.nodes {
		if i == leader {
			continue
		}
		wg.Go(func() {
			_, errs[i] = cl.node(i).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprint("/after-kill/", i)})
		})
	}
	wg.Wait()
	wakes := uint64(0)
	for i := range cl.nodes {
		if i == leader {
			continue
		}
		if errs[i] != nil {
			t.Errorf("Append through node %d after the leader's death: %v", i+1, errs[i])
		}
		wakes += cl.node(i).Stats().LeaderWakes
	}
	if wakes == 0 {
		t.Errorf("no attempt was ended by the leader change (Stats.LeaderWakes = 0): the appends did not go through the dead leader, the test proved nothing")
	}
}

// TestAppendOutcomeUnknown appends to a node that lost its quorum. The
// first append's proposal is handed to Raft and its ctx ends: the error
// says the outcome is unknown and to retry with the same IDs (it used to
// read "0 of 1 events committed"). A second append queued behind it (one
// proposal in flight at a time) is withdrawn when its ctx ends: the error
// says it did not commit.
func TestAppendOutcomeUnknown(t *testing.T) {
	cl := newCluster(t, clusterConfig{shards: 1, tweak: func(o *Options) {
		o.MaxInflight = 1
		o.ProposalTimeout = 4 * time.Second
	}})
	ctx := context.Background()
	if _, err := cl.node(0).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/warm"}); err != nil {
		t.Fatal(err)
	}
	cl.stop(1)
	cl.stop(2)
	c := cl.node(0)

	first := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := c.Append(actx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/unknown"})
		first <- err
	}()
	// Wait for the first request to leave the queue.
	for deadline := time.Now().Add(30 * time.Second); ; {
		c.ws[0].mu.Lock()
		taken := c.ws[0].inflight == 1 && len(c.ws[0].queue) == 0
		c.ws[0].mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first append was never taken by a proposer")
		}
		time.Sleep(time.Millisecond)
	}
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, errQueued := c.Append(qctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/queued"})
	cancel()
	errFirst := <-first

	var ae *coord.AppendError
	if !errors.As(errFirst, &ae) || !errors.Is(errFirst, coord.ErrOutcomeUnknown) || !errors.Is(errFirst, context.DeadlineExceeded) {
		t.Fatalf("Append without quorum = %v, want an *AppendError wrapping ErrOutcomeUnknown and the deadline", errFirst)
	}
	msg := errFirst.Error()
	if !strings.Contains(msg, "may or may not have committed") || !strings.Contains(msg, "retry with the same IDs") || strings.Contains(msg, "0 of 1 events committed") {
		t.Errorf("unknown outcome reads %q", msg)
	}
	if !errors.As(errQueued, &ae) || errors.Is(errQueued, coord.ErrOutcomeUnknown) || !errors.Is(errQueued, context.DeadlineExceeded) {
		t.Fatalf("queued Append = %v, want an *AppendError with the deadline, outcome known", errQueued)
	}
	if msg := errQueued.Error(); !strings.Contains(msg, "0 of 1 events committed, the others not") || !strings.Contains(msg, "not proposed") {
		t.Errorf("withdrawn append reads %q", msg)
	}
	// The node closing under a waiting Append: an *AppendError wrapping
	// ErrClosed (and ErrOutcomeUnknown only if a proposal got into Raft:
	// without a quorum, this follower's are dropped).
	go func() {
		time.Sleep(200 * time.Millisecond)
		c.Close(ctx)
	}()
	_, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/closing"})
	if !errors.As(err, &ae) || !errors.Is(err, coord.ErrClosed) {
		t.Fatalf("Append cut by Close = %v, want an *AppendError wrapping ErrClosed", err)
	}
}

// TestAppendBatchTooLarge: one Append's events for one shard commit in one
// proposal, so together they must fit in MaxBatchBytes; more gets a
// *coord.SizeError counting them, before anything is proposed.
func TestAppendBatchTooLarge(t *testing.T) {
	cl := newCluster(t, clusterConfig{nodes: 1, shards: 1, tweak: func(o *Options) {
		o.MaxEventSize = 1024
		o.MaxBatchBytes = 4096
	}})
	c := cl.node(0)
	evs := make([]*semevent.Event, 8)
	for i := range evs {
		evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: "/big", Data: make([]byte, 900)}
	}
	_, err := c.AppendAtomic(context.Background(), evs...)
	var se *coord.SizeError
	if !errors.As(err, &se) || !errors.Is(err, coord.ErrTooLarge) || se.Events != 8 || se.Max != 4096 || se.Size <= 4096 {
		t.Fatalf("AppendAtomic of 8×900 bytes = %v, want a *SizeError for 8 events over 4096 bytes", err)
	}
	if c.Stats().Proposals != 0 {
		t.Fatalf("%d proposals made", c.Stats().Proposals)
	}
	if _, err := c.Append(context.Background(), evs[:3]...); err != nil {
		t.Fatalf("Append of 3×900 bytes: %v", err)
	}
}

// TestRetryUnknownOnAnotherNode cuts shard 0's leader off (its messages
// still reach the others, no answer comes back), appends through it until
// its ctx ends (outcome unknown: the followers may hold the entry), heals
// it and retries the same event — the same ID — through another node. The
// retry succeeds, and every node's log holds the event exactly once,
// however the first attempt ended (the old leader keeps retrying its
// proposal too). Without the state machine's exactly-once window the
// event was committed twice.
func TestRetryUnknownOnAnotherNode(t *testing.T) {
	cl := newCluster(t, clusterConfig{shards: 1, proxied: true, tweak: func(o *Options) {
		o.ProposalTimeout = 5 * time.Second
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := cl.node(0).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/warm"}); err != nil {
		t.Fatal(err)
	}
	l := cl.awaitLeader(t)
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/unknown-then-retried", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}}
	cl.node(l).ids.Stamp(ev)
	retry := *ev // the client's copy: the same ID and fields

	cl.proxies[l].Cut()
	actx, acancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err := cl.node(l).Append(actx, ev)
	acancel()
	cl.proxies[l].Heal()
	if !errors.Is(err, coord.ErrOutcomeUnknown) {
		t.Fatalf("Append through the cut-off leader = %v, want ErrOutcomeUnknown", err)
	}

	other := (l + 1) % len(cl.nodes)
	pos, err := cl.node(other).Append(ctx, &retry)
	if err != nil {
		t.Fatalf("retry through node %d: %v", other+1, err)
	}
	t.Logf("retry through node %d: %+v (AlreadyCommitted: the first attempt had committed)", other+1, pos[0])

	// Let the old leader's proposer give up or succeed (ProposalTimeout),
	// then count the copies on every node.
	time.Sleep(6 * time.Second)
	if _, err := cl.node(other).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/after"}); err != nil {
		t.Fatal(err)
	}
	for i := range cl.nodes {
		recs, err := cl.node(i).Read(ctx, 0, 1, 0)
		if err != nil {
			t.Fatalf("read node %d: %v", i+1, err)
		}
		var at []uint64
		for _, r := range recs {
			if r.Event.ID == ev.ID {
				at = append(at, r.Index)
			}
		}
		if len(at) != 1 || at[0] != pos[0].Index {
			t.Fatalf("node %d holds the retried event at %v, want once at %d", i+1, at, pos[0].Index)
		}
	}
}
