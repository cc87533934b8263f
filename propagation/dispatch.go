package propagation

import (
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/park"
)

// dispatcher is the goroutine that takes events from the boundary queues,
// passes them through deduplication and offers each to the subscriptions
// whose filters match.
type dispatcher struct {
	b     *Bus
	dedup *deduper // nil when deduplication is off
	timer *time.Timer
	now   int64      // process clock, read once per round when dedup is on
	due   []envelope // reused by releaseDue
	spin  park.Spinner
	dests []string // reused for the router's decisions
}

func newDispatcher(b *Bus) *dispatcher {
	d := &dispatcher{b: b, spin: park.NewSpinner(b.opts.Spin)}
	if b.opts.Dedup != nil {
		d.dedup = newDeduper(b.opts.Dedup)
	}
	return d
}

func (d *dispatcher) run() {
	b := d.b
	defer close(b.drained)
	if d.timer != nil {
		defer d.timer.Stop()
	}
	for {
		n, ok := d.round()
		if !ok {
			d.abort()
			return
		}
		if d.dedup != nil && !d.releaseDue() {
			d.abort()
			return
		}
		if n > 0 {
			continue
		}
		// Nothing queued: finish if Close has begun, else sleep.
		select {
		case <-b.draining:
			if d.empty() {
				if d.dedup != nil && !d.releaseAll() {
					d.abort()
				}
				return
			}
			continue
		default:
		}
		if d.spinUntilWork() {
			continue
		}
		b.wake.Prepare()
		if !d.empty() {
			b.wake.Cancel()
			continue
		}
		b.wake.Wait(b.draining, b.aborting, d.dedupTimer())
	}
}

// spinUntilWork polls the queues for up to Options.Spin before the
// dispatcher parks, and reports whether work (or Close) arrived.
func (d *dispatcher) spinUntilWork() bool {
	d.spin.Reset()
	for d.spin.Spin() {
		if !d.empty() || (d.dedup != nil && d.dedup.len() > 0) || d.b.closed.Load() {
			return true
		}
	}
	return false
}

// round takes up to Quantum events from each boundary queue in turn and
// dispatches them. It returns how many it took, and false if Close gave up.
func (d *dispatcher) round() (int, bool) {
	b := d.b
	select {
	case <-b.aborting:
		return 0, false
	default:
	}
	if d.dedup != nil {
		d.now = semevent.Now()
	}
	total := 0
	for i := range b.inbound {
		in := &b.inbound[i]
		n := 0
		b.epoch.Add(1) // odd: dispatching
		for n < b.opts.Quantum {
			env, ok := in.q.TryDequeue()
			if !ok {
				break
			}
			n++
			if !d.accept(env) {
				in.taken.Add(uint64(n))
				in.space.Broadcast()
				b.epoch.Add(1)
				return total + n, false
			}
		}
		b.epoch.Add(1) // even: between batches
		if n > 0 {
			in.taken.Add(uint64(n))
			// Publishers waiting for room wake once per batch, to find up
			// to Quantum free slots, rather than once per event.
			in.space.Broadcast()
			total += n
		}
	}
	return total, true
}

// accept routes one event through dedup or straight to the subscriptions.
func (d *dispatcher) accept(env envelope) bool {
	if d.dedup != nil && d.dedup.opts.Boundaries.Has(env.ev.Boundary) {
		if d.dedup.offer(env, d.now, d.b) || !d.dedup.full() {
			return true // folded into a held event, or held
		}
		return d.fanout(d.dedup.popOldest())
	}
	return d.fanout(env)
}

// fanout offers env to every matching subscription. It returns false if
// Close gave up while a subscription was full.
func (d *dispatcher) fanout(env envelope) bool {
	set := d.b.subs.Load()
	ok := true
	if d.b.opts.Router == nil {
		for _, s := range set.list {
			ok = d.offer(s, env, ok)
		}
		return ok
	}
	d.dests = d.route(env.ev, d.dests[:0])
	for _, name := range d.dests {
		for _, s := range set.byName[name] {
			ok = d.offer(s, env, ok)
		}
	}
	return ok
}

// offer gives env to s if s's tenant and filter accept it. ok false means
// Close gave up earlier in this fan-out: the event is counted as dropped.
func (d *dispatcher) offer(s *subscription, env envelope, ok bool) bool {
	if !s.matches(env.ev) {
		return ok
	}
	s.matched.Add(1)
	w := s.worker(env.ev)
	switch {
	case !ok:
		w.drops.closed.Add(1)
		return false
	case !w.offer(env):
		return false
	}
	return true
}

// route asks the router for ev's destinations; a panicking router counts
// as a bus panic and routes ev nowhere.
func (d *dispatcher) route(ev *semevent.Event, dst []string) (out []string) {
	defer func() {
		if r := recover(); r != nil {
			d.b.routerPanics.Add(1)
			if f := d.b.opts.OnError; f != nil {
				f(&HandlerError{EventID: ev.ID, Err: &semevent.PanicError{Where: "router", Value: r}})
			}
			out = dst[:0]
		}
	}()
	return d.b.opts.Router.Route(ev, dst)
}

// releaseDue delivers the held events that are complete or whose window
// ended, in order per boundary.
func (d *dispatcher) releaseDue() bool {
	if d.dedup.len() == 0 {
		return true
	}
	d.b.epoch.Add(1)
	defer d.b.epoch.Add(1)
	d.due = d.dedup.popDue(semevent.Now(), d.due[:0])
	for i, env := range d.due {
		if !d.fanout(env) {
			d.b.dropClosed.Add(uint64(len(d.due) - i - 1))
			return false
		}
	}
	return true
}

// releaseAll delivers every held event; Close uses it.
func (d *dispatcher) releaseAll() bool {
	d.b.epoch.Add(1)
	defer d.b.epoch.Add(1)
	for d.dedup.len() > 0 {
		if !d.fanout(d.dedup.popOldest()) {
			return false
		}
	}
	return true
}

// dedupTimer arms the timer for the earliest held deadline, or returns nil.
func (d *dispatcher) dedupTimer() *time.Timer {
	if d.dedup == nil || d.dedup.len() == 0 {
		return nil
	}
	wait := time.Duration(d.dedup.nextDeadline() - semevent.Now())
	wait = max(wait, time.Microsecond)
	if d.timer == nil {
		d.timer = time.NewTimer(wait)
	} else {
		d.timer.Reset(wait)
	}
	return d.timer
}

// empty reports whether every boundary queue is empty (as far as the
// counters tell: accepted events not yet taken).
func (d *dispatcher) empty() bool {
	for i := range d.b.inbound {
		in := &d.b.inbound[i]
		if in.depth() != 0 {
			return false
		}
	}
	return true
}

// abort counts everything still queued or held as dropped because Close
// gave up.
func (d *dispatcher) abort() {
	b := d.b
	var n uint64
	for i := range b.inbound {
		in := &b.inbound[i]
		for {
			if _, ok := in.q.TryDequeue(); !ok {
				break
			}
			in.taken.Add(1)
			in.space.Broadcast()
			n++
		}
	}
	if d.dedup != nil {
		n += uint64(d.dedup.len())
		for d.dedup.len() > 0 {
			d.dedup.popOldest()
		}
	}
	b.dropClosed.Add(n)
}
