package raft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/internal/codec"
)

// The linearizability model: each shard's log, reduced to its length.
// An append of n events that returned index first is legal only when
// first is the length plus one; a read that saw length l only when l is
// the length. What the log holds is checked separately, against the final
// logs every replica agrees on.
type logInput struct {
	shard int
	read  bool
	n     int
	ids   []semevent.ID // appended events, to find an unacknowledged append in the final log
}

type logOutput struct {
	value uint64 // append: first index; read: length
}

var logModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := make(map[int][]porcupine.Operation)
		for _, op := range h {
			s := op.Input.(logInput).shard
			by[s] = append(by[s], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return uint64(0) },
	Step: func(state, input, output any) (bool, any) {
		l, in, out := state.(uint64), input.(logInput), output.(logOutput)
		if in.read {
			return out.value == l, l
		}
		return out.value == l+1, l + uint64(in.n)
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(logInput), output.(logOutput)
		if in.read {
			return fmt.Sprintf("read(shard %d) -> len %d", in.shard, out.value)
		}
		return fmt.Sprintf("append(shard %d, %d events) -> %d", in.shard, in.n, out.value)
	},
}

// history records client operations; safe for concurrent use.
type history struct {
	mu      sync.Mutex
	ops     []porcupine.Operation
	unknown []porcupine.Operation // appends whose outcome the client never learned
	acked   map[semevent.ID]coord.Position
	reads   []coord.Record // every record a read returned

	retriedOK atomic.Int64 // appends that succeeded after a retry on another node
	already   atomic.Int64 // of those, answered AlreadyCommitted (the first attempt had committed)
}

// appendRetrying appends through node *k with do and, while that fails,
// retries the same events (the same IDs) through the next live nodes, up
// to tries attempts or until stop is set: a client retrying an unknown
// outcome, which the exactly-once window commits once. failed is called
// for every failed attempt. It returns the last attempt's answer and when
// that attempt was called; *k is the node that answered last.
func appendRetrying(k *int, nodes, tries int, stop *atomic.Bool, up func(int) bool, do func(int) ([]coord.Position, error), failed func()) ([]coord.Position, time.Time, error) {
	var last time.Time
	for try := 0; ; {
		if !up(*k) {
			if stop.Load() {
				return nil, last, errors.New("stopped with the node down")
			}
			*k = (*k + 1) % nodes
			time.Sleep(time.Millisecond)
			continue
		}
		last = time.Now()
		pos, err := do(*k)
		if err == nil {
			return pos, last, nil
		}
		failed()
		*k = (*k + 1) % nodes
		if try++; try >= tries || stop.Load() {
			return nil, last, err
		}
	}
}

// record adds a client's append of in (the events ids, one key) to h: on
// err as an operation of unknown outcome; else acknowledged at pos, which
// must be one contiguous batch of in.shard, positions relative to base.
// retried says whether it took more than one attempt.
func (h *history) record(op porcupine.Operation, in logInput, pos []coord.Position, base uint64, retried bool, err error) error {
	if err != nil {
		h.add(op, true)
		return nil
	}
	for i, p := range pos {
		if p.Shard != in.shard || p.Index != pos[0].Index+uint64(i) || p.AlreadyCommitted != pos[0].AlreadyCommitted {
			return fmt.Errorf("append of %d events (one key) answered %+v: not one contiguous batch", len(in.ids), pos)
		}
	}
	if retried {
		h.retriedOK.Add(1)
		if pos[0].AlreadyCommitted {
			h.already.Add(1)
		}
	}
	op.Output = logOutput{value: pos[0].Index - base}
	h.add(op, false)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, id := range in.ids {
		h.acked[id] = coord.Position{Shard: pos[i].Shard, Index: pos[i].Index}
	}
	return nil
}

func (h *history) add(op porcupine.Operation, unknown bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if unknown {
		h.unknown = append(h.unknown, op)
	} else {
		h.ops = append(h.ops, op)
	}
}

// runFaults drives writers and readers against the cluster while faults
// happen, then checks that every replica holds the same log, that every
// acknowledged event is in it once at the position acknowledged, that
// nothing is in it twice, and that the client history is linearizable.
func runFaults(t *testing.T, cl *cluster, faults []string) {
	const writers, readers = 4, 2
	start := time.Now()
	// The logs already hold earlier tests' events: the model starts at
	// length 0, so positions are recorded relative to these.
	base := make([]uint64, testShards)
	for s, recs := range checkReplicasAgree(t, cl) {
		base[s] = uint64(len(recs))
	}
	h := &history{acked: make(map[semevent.ID]coord.Position)}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var appendErrs, readErrs atomic.Int64
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			k := w % len(cl.nodes)
			for seq := 0; !stop.Load(); seq++ {
				c := cl.node(k)
				if c.closed.Load() {
					k = (k + 1) % len(cl.nodes)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				path := fmt.Sprintf("/w%d/%d", w, seq)
				evs := make([]*semevent.Event, 1+r.IntN(3))
				in := logInput{n: len(evs)}
				for i := range evs {
					evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: path, Offset: int64(i), Attrs: []semevent.Attr{{Key: "w", Value: fmt.Sprint(w)}}}
					c.ids.Stamp(evs[i])
					in.ids = append(in.ids, evs[i].ID)
				}
				in.shard = coord.ShardOf(semevent.PathKey(evs[0]), testShards)
				// A failed append is retried, with the same events, on
				// the other nodes: one operation from the first call to
				// the last return.
				call := time.Now()
				failures := 0
				pos, _, err := appendRetrying(&k, len(cl.nodes), 10, &stop, func(i int) bool { return !cl.node(i).closed.Load() },
					func(i int) ([]coord.Position, error) {
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						defer cancel()
						return cl.node(i).Append(ctx, evs...)
					}, func() { appendErrs.Add(1); failures++ })
				op := porcupine.Operation{ClientId: w, Input: in, Call: call.UnixNano(), Return: time.Now().UnixNano()}
				if err := h.record(op, in, pos, base[in.shard], failures > 0, err); err != nil {
					t.Error(err)
					stop.Store(true)
					return
				}
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			seen := slices.Clone(base)
			k := rd
			for i := 0; !stop.Load(); i++ {
				c := cl.node(k % len(cl.nodes))
				s := i % testShards
				if c.closed.Load() {
					k++
					time.Sleep(5 * time.Millisecond)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				call := time.Now().UnixNano()
				recs, err := c.Read(ctx, s, seen[s]+1, 0)
				ret := time.Now().UnixNano()
				cancel()
				if err != nil {
					readErrs.Add(1)
					k++
					continue
				}
				l := seen[s] + uint64(len(recs))
				seen[s] = l
				h.add(porcupine.Operation{ClientId: writers + rd, Input: logInput{shard: s, read: true}, Call: call, Output: logOutput{value: l - base[s]}, Return: ret}, false)
				h.mu.Lock()
				h.reads = append(h.reads, recs...)
				h.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}

	pause := func(d time.Duration) { time.Sleep(d) }
	pause(500 * time.Millisecond)
	done := 0
	for _, f := range faults {
		switch f {
		case "kill-leader", "restart-follower":
			i := cl.awaitLeader(t)
			if f == "restart-follower" {
				i = (i + 1) % len(cl.nodes)
			}
			cl.stop(i)
			pause(300 * time.Millisecond)
			if err := cl.start(i); err != nil {
				t.Fatalf("restart node %d from disk: %v", i+1, err)
			}
		case "isolate-leader":
			i := cl.awaitLeader(t)
			cl.proxies[i].Cut()
			defer cl.proxies[i].Heal() // on failure too
			other := cl.node((i + 1) % len(cl.nodes))
			// Partition detection: the others' detectors suspect the
			// isolated node, and Health says so; after healing they trust
			// it again. (Deadlines guard against hangs only.)
			waitPeer(t, other, uint64(i+1), true)
			pause(500 * time.Millisecond)
			cl.proxies[i].Heal()
			waitPeer(t, other, uint64(i+1), false)
		}
		done++
		pause(500 * time.Millisecond)
	}
	// Progress after the last fault: the cluster goes on.
	h.mu.Lock()
	before := len(h.acked)
	h.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		n := len(h.acked)
		h.mu.Unlock()
		if n > before+20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress after the faults: %d acknowledged events", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	logs := checkReplicasAgree(t, cl)

	// Exactly once, and every acknowledged event where it was acknowledged.
	where := make(map[semevent.ID]coord.Position)
	var ev semevent.Event
	total := 0
	for s, recs := range logs {
		for i, rec := range recs {
			if err := codec.Decode(rec, &ev); err != nil {
				t.Fatalf("shard %d index %d: %v", s, i+1, err)
			}
			p := coord.Position{Shard: s, Index: uint64(i + 1)}
			if prev, dup := where[ev.ID]; dup {
				t.Fatalf("event %s committed twice: at %+v and %+v", ev.ID, prev, p)
			}
			where[ev.ID] = p
			total++
		}
	}
	for _, r := range h.reads {
		if where[r.Event.ID] != r.Position {
			t.Fatalf("a read returned %s at %+v, the log has it at %+v", r.Event.ID, r.Position, where[r.Event.ID])
		}
	}
	res, n, summary := checkHistory(t, h, where, base)
	t.Logf("faults %d %v; %s; %d in the logs; append errors %d (retried on another node: %d succeeded, %d of them AlreadyCommitted), read errors %d; %v",
		done, faults, summary, total, appendErrs.Load(), h.retriedOK.Load(), h.already.Load(), readErrs.Load(), time.Since(start).Round(time.Millisecond))
	if res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable: %v", n, res)
	}
}

// checkHistory checks a fault test's client history against where, the
// position of every event in the final logs (which the caller checked
// hold each event once and agree on every replica): every acknowledged
// event is where it was acknowledged, every append whose outcome the
// client never learned is in the log whole and in place or not at all,
// and the history, those appends resolved, is linearizable. base holds the
// shards' lengths when the history began.
func checkHistory(t *testing.T, h *history, where map[semevent.ID]coord.Position, base []uint64) (res porcupine.CheckResult, ops int, summary string) {
	t.Helper()
	for id, p := range h.acked {
		if got, ok := where[id]; !ok || got != p {
			t.Fatalf("acknowledged event %s at %+v: found at %+v (present %v)", id, p, got, ok)
		}
	}
	// Resolve the appends whose outcome is unknown: present in the log
	// means they took effect (at some point before the end of the
	// history), absent means they never will.
	end := time.Now().UnixNano()
	all := h.ops
	resolved, dropped := 0, 0
	for _, op := range h.unknown {
		in := op.Input.(logInput)
		p, ok := where[in.ids[0]]
		for i, id := range in.ids {
			q, okI := where[id]
			if okI != ok || (ok && q != (coord.Position{Shard: p.Shard, Index: p.Index + uint64(i)})) {
				t.Fatalf("append of %d events applied in part or out of place: %v", len(in.ids), in.ids)
			}
		}
		if !ok {
			dropped++
			continue
		}
		op.Output, op.Return = logOutput{value: p.Index - base[p.Shard]}, end
		all = append(all, op)
		resolved++
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Call < all[j].Call })
	res, _ = porcupine.CheckOperationsVerbose(logModel, all, 90*time.Second)
	return res, len(all), fmt.Sprintf("history %d operations (%d appends unknown to the client: %d applied, %d not); %d acknowledged events",
		len(all), len(h.unknown), resolved, dropped, len(h.acked))
}

// waitPeer polls c's Health until it reports node as suspected (or not).
func waitPeer(t *testing.T, c *Coordinator, node uint64, suspected bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := c.Health(context.Background())
		for _, p := range h.Peers {
			if p.Node == node && p.Suspected == suspected && (!suspected || !h.Healthy) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d never reported node %d suspected=%v: %+v", c.opts.Node, node, suspected, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func faultSchedule() []string {
	f := []string{"kill-leader", "isolate-leader", "kill-leader", "restart-follower", "kill-leader"}
	if os.Getenv("SEMEVENT_SOAK") != "" {
		for range 5 {
			f = append(f, f[:5]...)
		}
	}
	return f
}
