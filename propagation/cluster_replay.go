package propagation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// A replicated replay with a Consumer commits a shard's offset after
// commitEvery handled records of it, or once commitInterval has passed
// since its last commit (on the next record, or by a ticker when idle),
// and once more when it ends.
const (
	commitEvery    = 256
	commitInterval = 100 * time.Millisecond
)

// replayShard is a replicated replay's progress in one shard.
type replayShard struct {
	next      uint64 // the index after the last record handled
	committed uint64 // the offset last committed
	handled   int    // records handled since
	at        time.Time
}

// replayReplicated is the goroutine of a replaying subscription over the
// coordinator's log: it follows every shard (from the consumer's
// committed offsets, or Replay.From), hands each record, as this node
// sees it, to the handler — one at a time across shards, each shard in
// order — and commits the consumer's progress per shard.
func (s *subscription) replayReplicated() {
	w := s.workers[0]
	defer w.exit()
	b := s.bus
	cl := b.cl
	r := s.opts.Replay.withDefaults()
	offs, _ := b.opts.Coordinator.(offsetStore)
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()

	var mu sync.Mutex // serialises the handler across shards; guards st and stopped
	st := make([]replayShard, cl.shards)
	var stopped error // the *ReplayError that ended the replay
	commit := func(shard int, force bool) {
		p := &st[shard]
		if s.consumer == "" || p.next <= p.committed {
			return
		}
		if !force && p.handled < commitEvery && time.Since(p.at) < commitInterval {
			return
		}
		if err := offs.CommitOffset(shard, s.consumer, p.next); err != nil {
			s.report(&semevent.Event{}, fmt.Errorf("committing consumer %q's offset %d of shard %d: %w", s.consumer, p.next, shard, err))
			return
		}
		p.committed, p.handled, p.at = p.next, 0, time.Now()
	}
	handle := func(_ context.Context, rec coord.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if s.halted.Load() || ctx.Err() != nil {
			return errHalted
		}
		if ev, _, ok := cl.view(rec, false); ok && s.matches(ev) {
			s.matched.Add(1)
			err := s.handleReplayed(context.WithValue(s.ctx, positionKey{}, rec.Position), w, &r, rec.Index, ev)
			w.delivered.Add(1)
			if err != nil {
				if re, ok := errors.AsType[*ReplayError](err); ok {
					re.Shard = rec.Shard
					stopped = re
				}
				cancel()
				return err
			}
		}
		if rec.Shard >= 0 && rec.Shard < len(st) {
			p := &st[rec.Shard]
			p.next, p.handled = rec.Index+1, p.handled+1
			commit(rec.Shard, false)
		}
		return nil
	}

	subs := make([]coord.Subscription, 0, cl.shards)
	var startErr error
	for shard := range cl.shards {
		from := max(r.From, 1)
		if s.consumer != "" {
			next, ok, err := offs.CommittedOffset(shard, s.consumer)
			if err != nil {
				startErr = fmt.Errorf("reading consumer %q's offset of shard %d: %w", s.consumer, shard, err)
				break
			}
			if ok {
				from = max(next, 1)
			}
		}
		mu.Lock()
		st[shard] = replayShard{next: from, committed: from, at: time.Now()}
		mu.Unlock()
		sub, err := cl.c.Subscribe(shard, from, coord.HandlerFunc(handle))
		if err != nil {
			startErr = fmt.Errorf("following shard %d of the coordinator: %w", shard, err)
			break
		}
		subs = append(subs, sub)
	}
	ended := make(chan coord.Subscription, len(subs))
	for _, sub := range subs {
		go func() { <-sub.Done(); ended <- sub }()
	}
	var subErr error
	if startErr == nil {
		tick := time.NewTicker(commitInterval)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-ctx.Done():
				break wait
			case sub := <-ended:
				subErr = sub.Err()
				break wait
			case <-tick.C:
				// An idle consumer commits what it handled since.
				mu.Lock()
				for shard := range st {
					if time.Since(st[shard].at) >= commitInterval {
						commit(shard, true)
					}
				}
				mu.Unlock()
			}
		}
	}
	cancel()
	for _, sub := range subs {
		sub.Unsubscribe()
	}
	for _, sub := range subs {
		<-sub.Done()
	}
	mu.Lock()
	for shard := range st {
		commit(shard, true)
	}
	mu.Unlock()

	switch {
	case stopped != nil:
		if f := b.opts.OnError; f != nil {
			f(stopped)
		}
	case startErr != nil:
		s.report(&semevent.Event{}, fmt.Errorf("replay from the coordinator: %w", startErr))
	case subErr != nil && s.ctx.Err() == nil && !errors.Is(subErr, errHalted):
		s.report(&semevent.Event{}, fmt.Errorf("replay from the coordinator stopped: %w", subErr))
	}
}
