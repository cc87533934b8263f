package raft

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// procKills is how many leaders TestProcessLeaderKills SIGKILLs: 20, 100
// with SEMEVENT_SOAK=1, or SEMEVENT_RAFT_KILLS.
func procKills(t *testing.T) int {
	if s := os.Getenv("SEMEVENT_RAFT_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SEMEVENT_RAFT_KILLS=%q: want a positive count", s)
		}
		return n
	}
	if os.Getenv("SEMEVENT_SOAK") != "" {
		return 100
	}
	return 20
}

// TestProcessLeaderKills runs three node processes (this test binary
// re-executed, default Options) with two shards, appends to them from
// four concurrent clients and reads from one, and SIGKILLs shard 0's
// leader again and again, restarting it from its disk each time. Then, on
// every node: the committed logs are equal, every acknowledged event is
// in them exactly once where it was acknowledged, an append whose outcome
// the client never learned is in them whole or not at all, and the
// history is linearizable (porcupine). It also measures failover: the
// time from each SIGKILL to the first successful append to shard 0 called
// after it (logged, never asserted on). Between kills it waits for
// perKill more acknowledged events. SEMEVENT_RAFT_TRACE=1 also logs,
// per kill, when a new leader became known and every node's Stats.
func TestProcessLeaderKills(t *testing.T) {
	// perKill: acknowledged events between kills (at least).
	const shards, writers, perKill = 2, 4, 1000
	kills := procKills(t)
	pc := newProcCluster(t, 3, shards)
	start := time.Now()

	h := &history{acked: make(map[semevent.ID]coord.Position)}
	type success struct{ call, ret time.Time }
	var (
		smu       sync.Mutex // guards successes
		successes []success
		reads     []procRead // guarded by h.mu
	)
	var stop atomic.Bool
	var wg sync.WaitGroup
	t.Cleanup(func() { // before the nodes are killed, also on failure
		stop.Store(true)
		wg.Wait()
	})
	var appendErrs, readErrs atomic.Int64
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			ids := semevent.NewIDGenerator(uint32(100 + w))
			k := w % len(pc.cfgs)
			for seq := 0; !stop.Load(); seq++ {
				if !pc.up(k) {
					k = (k + 1) % len(pc.cfgs)
					time.Sleep(time.Millisecond)
					continue
				}
				path := fmt.Sprintf("/p%d/%d", w, seq)
				evs := make([]*semevent.Event, 1+r.IntN(3))
				in := logInput{n: len(evs)}
				for i := range evs {
					evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: path, Offset: int64(i)}
					ids.Stamp(evs[i])
					in.ids = append(in.ids, evs[i].ID)
				}
				in.shard = coord.ShardOf(semevent.PathKey(evs[0]), shards)
				// An append whose outcome is unknown (its node died, or
				// answered with an error) is retried with the same events,
				// the same IDs, on the next nodes: the exactly-once window
				// commits them once. One operation for porcupine, from the
				// first call to the last return.
				call := time.Now()
				failures := 0
				pos, last, err := appendRetrying(&k, len(pc.cfgs), 20, &stop, pc.up, func(i int) ([]coord.Position, error) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					return pc.append(ctx, i, evs)
				}, func() { appendErrs.Add(1); failures++ })
				ret := time.Now()
				op := porcupine.Operation{ClientId: w, Input: in, Call: call.UnixNano(), Return: ret.UnixNano()}
				if err := h.record(op, in, pos, 0, failures > 0, err); err != nil {
					t.Error(err)
					stop.Store(true)
					return
				}
				if err != nil {
					continue
				}
				if in.shard == 0 { // the shard whose leader is killed
					smu.Lock()
					successes = append(successes, success{last, ret})
					smu.Unlock()
				}
			}
		})
	}
	wg.Go(func() { // one reader
		seen := make([]uint64, shards)
		for i := 0; !stop.Load(); i++ {
			k, s := i%len(pc.cfgs), i%shards
			if !pc.up(k) {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			call := time.Now().UnixNano()
			recs, err := pc.read(ctx, k, s, seen[s]+1)
			ret := time.Now().UnixNano()
			cancel()
			if err != nil {
				readErrs.Add(1)
				continue
			}
			seen[s] += uint64(len(recs))
			h.add(porcupine.Operation{ClientId: writers, Input: logInput{shard: s, read: true}, Call: call, Output: logOutput{value: seen[s]}, Return: ret}, false)
			h.mu.Lock()
			for _, r := range recs {
				reads = append(reads, procRead{s, r})
			}
			h.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})

	// firstSuccessAfter waits (up to 60s) for an append to shard 0 called
	// at or after t0 to succeed and returns when it returned.
	firstSuccessAfter := func(t0 time.Time) (time.Time, bool) {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			smu.Lock()
			var best time.Time
			for i := len(successes) - 1; i >= 0 && !successes[i].ret.Before(t0); i-- {
				if s := successes[i]; !s.call.Before(t0) && (best.IsZero() || s.ret.Before(best)) {
					best = s.ret
				}
			}
			smu.Unlock()
			if !best.IsZero() {
				return best, true
			}
		}
		return time.Time{}, false
	}

	time.Sleep(300 * time.Millisecond)
	var failovers, afterElection []time.Duration
	for n := range kills {
		var l int
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l = pc.leader(ctx)
			cancel()
			if l >= 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no leader of shard 0 known for 30s", n+1)
			}
		}
		h.mu.Lock()
		ackedAtKill := len(h.acked)
		h.mu.Unlock()
		t0 := time.Now()
		if os.Getenv("SEMEVENT_RAFT_TRACE") != "" {
			fmt.Fprintf(os.Stderr, "%s KILL node %d\n", t0.Format("15:04:05.000"), l+1)
		}
		pc.kill(l)
		var elected time.Duration // when a survivor first named a new leader
		for elected == 0 && time.Since(t0) < 30*time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if pc.leader(ctx) >= 0 {
				elected = time.Since(t0)
			}
			cancel()
			time.Sleep(time.Millisecond)
		}
		ret, ok := firstSuccessAfter(t0)
		if !ok {
			t.Fatalf("kill %d (node %d): no append succeeded within 60s", n+1, l+1)
		}
		failovers = append(failovers, ret.Sub(t0))
		afterElection = append(afterElection, max(ret.Sub(t0)-elected, 0))
		if os.Getenv("SEMEVENT_RAFT_TRACE") != "" {
			var st []string
			for i := range pc.cfgs {
				if !pc.up(i) {
					continue
				}
				resp, err := pc.client.Get(pc.url(i, "/stats"))
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					st = append(st, fmt.Sprintf("node %d %s", i+1, b))
				}
			}
			t.Logf("kill %d of node %d: new leader known after %v, failover %v; %q", n+1, l+1, elected.Round(time.Millisecond), ret.Sub(t0).Round(time.Millisecond), st)
		}
		if err := pc.start(l); err != nil {
			t.Fatalf("kill %d: restart node %d: %v", n+1, l+1, err)
		}
		// Let the restarted node catch up (a linearizable read there
		// waits until it applied everything committed), so that the next
		// failover measures an election, not a lagging replica's catch-up.
		for s := range shards {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := pc.read(ctx, l, s, 1<<62)
			cancel()
			if err != nil {
				t.Logf("kill %d: catch-up read on node %d: %v", n+1, l+1, err)
			}
		}
		// Load between kills, so that a run crosses several snapshots and
		// log compactions (a kill cycle takes well under a second now).
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			h.mu.Lock()
			n := len(h.acked)
			h.mu.Unlock()
			if n >= ackedAtKill+perKill {
				break
			}
		}
	}
	// Progress after the last kill.
	if _, ok := firstSuccessAfter(time.Now()); !ok {
		t.Fatal("no append succeeded after the last restart")
	}
	stop.Store(true)
	wg.Wait()

	// Every node's log, read linearizably from its own replica: equal.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	where := make(map[semevent.ID]coord.Position)
	total := 0
	refs := make([][]procRecord, shards)
	for s := range shards {
		var ref []procRecord
		for i := range pc.cfgs {
			recs, err := pc.read(ctx, i, s, 1)
			if err != nil {
				t.Fatalf("final read of shard %d on node %d: %v", s, i+1, err)
			}
			if i == 0 {
				ref = recs
				continue
			}
			if !slices.Equal(recs, ref) {
				t.Fatalf("shard %d: node %d's log (%d records) differs from node 1's (%d)", s, i+1, len(recs), len(ref))
			}
		}
		for k, r := range ref {
			p := coord.Position{Shard: s, Index: uint64(k + 1)}
			if r.Index != p.Index {
				t.Fatalf("shard %d: record %d has index %d", s, k+1, r.Index)
			}
			if prev, dup := where[r.ID]; dup {
				t.Fatalf("event %s committed twice: at %+v and %+v", r.ID, prev, p)
			}
			where[r.ID] = p
			total++
		}
		refs[s] = ref
	}
	redelivered := checkSinks(t, pc, refs)
	for _, r := range reads {
		if p := (coord.Position{Shard: r.shard, Index: r.rec.Index}); where[r.rec.ID] != p {
			t.Fatalf("a read returned %s at %+v, the log has it at %+v", r.rec.ID, p, where[r.rec.ID])
		}
	}
	res, nops, summary := checkHistory(t, h, where, make([]uint64, shards))
	med, worst := medianMax(failovers)
	t.Logf("%d leader SIGKILLs; %s; %d in the logs; append errors %d (retried on another node: %d succeeded, %d of them AlreadyCommitted), read errors %d; durable consumers: every record once on every node (%d redelivered after a kill, dropped by index); %v",
		kills, summary, total, appendErrs.Load(), h.retriedOK.Load(), h.already.Load(), readErrs.Load(), redelivered, time.Since(start).Round(time.Millisecond))
	sorted := slices.Clone(failovers)
	slices.Sort(sorted)
	for i := range sorted {
		sorted[i] = sorted[i].Round(time.Millisecond)
	}
	amed, aworst := medianMax(afterElection)
	t.Logf("failover (SIGKILL of shard 0's leader to the first successful append to shard 0 called after it), %d kills: median %v, max %v (election timeout %v); of which after a new leader was known: median %v, max %v; all: %v",
		len(failovers), med.Round(time.Millisecond), worst.Round(time.Millisecond), DefaultRTT*DefaultElectionRTT, amed.Round(time.Millisecond), aworst.Round(time.Millisecond), sorted)
	if res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable: %v", nops, res)
	}
}

type procRead struct {
	shard int
	rec   procRecord
}

func medianMax(ds []time.Duration) (med, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// checkSinks waits for every node's durable consumer to have delivered
// every record of refs (the final logs) and checks that each delivered
// them exactly once, in order, and that every restart resumed from a
// committed offset that was neither lost nor ahead of what the sink had
// (the sink's last index, or the one after it). It returns how many
// restarts redelivered a record (killed between the sink's write and the
// offset's commit).
func checkSinks(t *testing.T, pc *procCluster, refs [][]procRecord) (redelivered int) {
	t.Helper()
	for i, cfg := range pc.cfgs {
		for s, ref := range refs {
			var lines []string
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				b, err := os.ReadFile(sinkPath(cfg.Dir, s))
				if err != nil {
					t.Fatalf("node %d shard %d sink: %v", i+1, s, err)
				}
				lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
				if len(lines) >= len(ref) || time.Now().After(deadline) {
					break
				}
			}
			if len(lines) != len(ref) {
				t.Fatalf("node %d shard %d: the durable consumer delivered %d records, the log has %d", i+1, s, len(lines), len(ref))
			}
			for k, r := range ref {
				if want := fmt.Sprintf("%d %s", r.Index, r.ID); lines[k] != want {
					t.Fatalf("node %d shard %d: delivery %d is %q, want %q (a gap or a duplicate)", i+1, s, k+1, lines[k], want)
				}
			}
			b, err := os.ReadFile(startsPath(cfg.Dir, s))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var last, next uint64
				if _, err := fmt.Sscan(l, &last, &next); err != nil {
					t.Fatalf("node %d shard %d starts %q: %v", i+1, s, l, err)
				}
				if next != last+1 && !(next == last && last > 0) && !(last == 0 && next == 1) {
					t.Fatalf("node %d shard %d restarted with committed offset %d after delivering up to %d: the offset was lost or ran ahead", i+1, s, next, last)
				}
				if next == last && last > 0 {
					redelivered++
				}
			}
		}
	}
	return redelivered
}
