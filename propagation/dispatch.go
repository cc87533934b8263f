package propagation

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/logx"
	"github.com/vexfs/semevent/internal/park"
)

// dispatcher is the goroutine that takes events from the boundary queues,
// passes them through deduplication, commits the durable ones to the
// journal and offers each to the subscriptions whose filters match.
type dispatcher struct {
	b     *Bus
	dedup *deduper // nil when deduplication is off
	timer *time.Timer
	now   int64      // bus clock, read once per round when dedup is on
	due   []envelope // reused by releaseDue
	spin  park.Spinner
	dests []string // reused for the router's decisions

	// grace and wm make dedup exact under any backlog. For each
	// deduplicated boundary, wm is a time such that every event stamped at
	// or before it has been taken. A grace period advances it: the
	// dispatcher reads the clock (t), flips the boundary's epoch, waits
	// until the publishes in flight in the old epoch are over (they may
	// carry stamps before t; later publishers stamp after t), notes how
	// many events were accepted by then (a), and once it has taken a
	// events, sets wm to t.
	grace [semevent.NumBoundaries]grace
	wm    [semevent.NumBoundaries]int64

	// out holds, in order, the events of this round from the first
	// durable one on; flush commits the durable ones with one append,
	// then offers them all.
	out       []envelope
	durable   int               // envelopes in out with commits
	lastGroup int               // durable events the last flush appended
	evs       []*semevent.Event // reused for the append
	ctx       context.Context   // for journal appends; ended when Close gives up
	end       context.CancelFunc

	takeSeq       uint64 // events taken so far
	routerVersion uint64
	syncs         []*syncRequest // requests being served; dispatcher only
	syncGen       uint64         // b.syncGen when the dispatcher last looked
}

type grace struct {
	active  bool
	drained bool   // the old epoch has no publish in flight
	t       int64  // clock reading before the flip
	old     uint32 // the epoch that must drain
	a       uint64 // events accepted (mod 2^24) when it drained
}

func newDispatcher(b *Bus) *dispatcher {
	d := &dispatcher{b: b, spin: park.NewSpinner(b.opts.Spin)}
	if b.opts.Dedup != nil {
		d.dedup = newDeduper(b.opts.Dedup)
	}
	d.ctx, d.end = context.WithCancel(context.Background())
	return d
}

func (d *dispatcher) run() {
	b := d.b
	defer close(b.drained)
	defer d.end()
	if d.timer != nil {
		defer d.timer.Stop()
	}
	for {
		n, ok := d.round()
		if ok && d.dedup != nil {
			ok = d.releaseDue()
		}
		if ok {
			ok = d.gather()
		}
		if ok {
			ok = d.flush()
		}
		if !ok {
			d.abort()
			return
		}
		d.serveSyncs()
		if n > 0 {
			continue
		}
		// Nothing queued: finish if Close has begun, else sleep.
		select {
		case <-b.draining:
			if d.empty() {
				if d.dedup != nil && (!d.releaseAll() || !d.flush()) {
					d.abort()
				}
				d.serveSyncs()
				d.failSyncs()
				return
			}
			continue
		default:
		}
		if d.spinUntilWork() {
			continue
		}
		timer, again := d.holdTimer()
		if again {
			continue
		}
		b.wake.Prepare()
		if !d.empty() || d.graceCanProgress() || d.syncPending() {
			b.wake.Cancel()
			continue
		}
		b.parked.Store(true)
		b.wake.Wait(b.draining, b.aborting, timer)
		b.parked.Store(false)
	}
}

// spinUntilWork polls the queues for up to Options.Spin before the
// dispatcher parks, and reports whether work (or Close) arrived. Events
// held for dedup are not work: they wait on a timer.
func (d *dispatcher) spinUntilWork() bool {
	d.spin.Reset()
	for d.spin.Spin() {
		if !d.empty() || d.b.closed.Load() {
			return true
		}
	}
	return false
}

// holdTimer returns the channel that fires when the earliest held event's
// window ends, nil when nothing is held (or a publish in flight will wake
// the dispatcher), and again when another round can release something at
// once.
func (d *dispatcher) holdTimer() (<-chan time.Time, bool) {
	if d.dedup == nil || d.dedup.len() == 0 {
		return nil, false
	}
	next, ok := d.dedup.nextDeadline(&d.wm)
	if !ok {
		return nil, true // a head is due: release it
	}
	now := d.b.now()
	if next >= now {
		wait := time.Duration(next - now + 1)
		if c := d.b.opts.Clock; c != nil {
			return c.After(wait), false
		}
		if d.timer == nil {
			d.timer = time.NewTimer(wait)
		} else {
			d.timer.Reset(wait)
		}
		return d.timer.C, false
	}
	// The window ended but a watermark lags. A grace period whose old
	// epoch still has a publish in flight ends with that publish, which
	// wakes the dispatcher; otherwise a new round moves the watermark.
	for i := range d.grace {
		if g := &d.grace[i]; g.active && !g.drained {
			return nil, false
		}
	}
	return nil, true
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
	b.rounds.Add(1)
	if d.dedup != nil {
		d.now = b.now()
	}
	if b.opts.Router != nil {
		d.checkRouter()
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
			d.takeSeq++
			if !d.accept(env, d.takeSeq) {
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
		if d.dedup != nil && d.dedup.opts.Boundaries.Has(semevent.Boundary(i)) {
			d.stepGrace(i)
		}
	}
	return total, true
}

// stepGrace moves boundary i's grace period on (see dispatcher.grace).
func (d *dispatcher) stepGrace(i int) {
	in, g := &d.b.inbound[i], &d.grace[i]
	if !g.active {
		g.t = d.now
		g.old = (in.ep.Add(1) - 1) & 1
		g.active, g.drained = true, false
	}
	if !g.drained {
		s := in.state.Load()
		if s>>(inflightBits*g.old)&inflightMask != 0 {
			return
		}
		g.a, g.drained = s>>acceptShift&acceptedMask, true
	}
	if behind := (g.a - in.taken.Load()) & acceptedMask; behind == 0 || behind > acceptedMask/2 {
		d.wm[i] = g.t
		g.active = false
	}
}

// graceCanProgress reports whether a grace period's old epoch has drained
// since the last round: the dispatcher then must not sleep.
func (d *dispatcher) graceCanProgress() bool {
	for i := range d.grace {
		g := &d.grace[i]
		if g.active && !g.drained && d.b.inbound[i].state.Load()>>(inflightBits*g.old)&inflightMask == 0 {
			return true
		}
	}
	return false
}

// accept routes one event through dedup or on to emit.
func (d *dispatcher) accept(env envelope, seq uint64) bool {
	if d.dedup != nil && d.dedup.opts.Boundaries.Has(env.queue()) {
		if d.dedup.offer(env, seq, d.b) || !d.dedup.full() {
			return true // folded into a held event, or held
		}
		d.b.dedupEvicted.Add(1)
		return d.emit(d.dedup.popOldest())
	}
	return d.emit(env)
}

// emit offers env to the subscriptions now, or, once a durable event is
// pending in this round, queues it behind that event for flush.
func (d *dispatcher) emit(env envelope) bool {
	if env.src == srcReplicate {
		// Delivered when it comes back from the coordinator's log.
		return d.b.cl.replicate(env)
	}
	if env.c == nil && len(d.out) == 0 {
		return d.fanout(env)
	}
	d.out = append(d.out, env)
	if env.c != nil {
		d.durable++
	}
	return true
}

// Bounds of gather.
const (
	gatherYields = 64
	gatherMax    = 100 * time.Microsecond
)

// gather lets durable publishers that the last commit released publish
// again before the dispatcher appends: while fewer durable events wait
// than the last append carried, it yields and takes more, briefly, so that
// one fsync carries them all instead of splitting them into small groups
// (the journal's own group commit does the same for direct appenders).
func (d *dispatcher) gather() bool {
	if d.durable == 0 || d.durable >= d.lastGroup {
		return true
	}
	deadline := time.Now().Add(gatherMax)
	for i := 1; d.durable < d.lastGroup && i <= gatherYields; i++ {
		runtime.Gosched()
		if _, ok := d.round(); !ok {
			return false
		}
		if i%8 == 0 && time.Now().After(deadline) {
			break
		}
	}
	return true
}

// flush commits the durable events queued by emit with one journal append
// and resolves their publishers, then offers every queued event in order.
// If the append fails, the durable events go nowhere and their publishers
// get the error; the volatile ones are still offered.
func (d *dispatcher) flush() bool {
	if len(d.out) == 0 {
		return true
	}
	b := d.b
	d.evs = d.evs[:0]
	for _, env := range d.out {
		if env.c != nil {
			d.evs = append(d.evs, env.ev)
		}
	}
	_, err := b.opts.Journal.AppendBatch(d.ctx, d.evs)
	if err != nil {
		b.journalErrs.Add(uint64(len(d.evs)))
	}
	for _, env := range d.out {
		if env.c != nil {
			b.recent.resolve(env.c, err)
		}
	}
	b.epoch.Add(1)
	defer b.epoch.Add(1)
	ok := true
	for i, env := range d.out {
		if env.c != nil && err != nil {
			continue
		}
		if ok = d.fanout(env); !ok {
			b.dropClosed.Add(uint64(len(d.out) - i - 1))
			break
		}
	}
	clear(d.out)
	d.out = d.out[:0]
	d.lastGroup, d.durable = len(d.evs), 0
	clear(d.evs)
	return ok
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
			d.b.log.LogAttrs(context.Background(), slog.LevelError, "router panicked: event routed nowhere",
				slog.String(logx.Event, ev.ID.String()), slog.Any(logx.Err, r))
			if f := d.b.opts.OnError; f != nil {
				f(&HandlerError{EventID: ev.ID, Err: &semevent.PanicError{Where: "router", Value: r}})
			}
			out = dst[:0]
		}
	}()
	return d.b.opts.Router.Route(ev, dst)
}

// versioned is implemented by routers whose rules reload (*routing.Table).
type versioned interface{ Version() uint64 }

// checkRouter re-checks which subscriptions the router names after its
// rules changed.
func (d *dispatcher) checkRouter() {
	r, ok := d.b.opts.Router.(versioned)
	if !ok {
		return
	}
	if v := r.Version(); v != d.routerVersion {
		d.routerVersion = v
		for _, s := range d.b.subs.Load().list {
			d.b.checkRouted(s)
		}
	}
}

// releaseDue offers the held events that are complete or whose window
// ended at every boundary that has not seen them, in order per boundary.
func (d *dispatcher) releaseDue() bool {
	if d.dedup.len() == 0 {
		return true
	}
	d.b.epoch.Add(1)
	defer d.b.epoch.Add(1)
	d.due = d.dedup.popDue(&d.wm, d.due[:0])
	for i, env := range d.due {
		if !d.emit(env) {
			d.b.dropClosed.Add(uint64(len(d.due) - i - 1))
			return false
		}
	}
	return true
}

// releaseAll offers every held event; Close uses it.
func (d *dispatcher) releaseAll() bool {
	d.b.epoch.Add(1)
	defer d.b.epoch.Add(1)
	for d.dedup.len() > 0 {
		if !d.emit(d.dedup.popOldest()) {
			return false
		}
	}
	return true
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
// gave up, and tells durable publishers their events were not committed.
func (d *dispatcher) abort() {
	b := d.b
	d.end()
	errClosed := fmt.Errorf("propagation: close gave up before the journal append: %w", semevent.ErrClosed)
	var n uint64
	for i := range b.inbound {
		in := &b.inbound[i]
		for {
			env, ok := in.q.TryDequeue()
			if !ok {
				break
			}
			in.taken.Add(1)
			in.space.Broadcast()
			b.recent.resolve(env.c, errClosed)
			n++
		}
	}
	if d.dedup != nil {
		n += uint64(d.dedup.len())
		for d.dedup.len() > 0 {
			env := d.dedup.popOldest()
			b.recent.resolve(env.c, errClosed)
		}
	}
	for _, env := range d.out { // not committed yet: flush failed before
		b.recent.resolve(env.c, errClosed)
	}
	n += uint64(len(d.out))
	d.out, d.durable = d.out[:0], 0
	b.dropClosed.Add(n)
	d.serveSyncs()
	d.failSyncs()
}
