package propagation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/hist"
	"github.com/vexfs/semevent/internal/logx"
	"github.com/vexfs/semevent/internal/park"
)

// subscription is the bus's side of a Subscribe call.
type subscription struct {
	bus     *Bus
	h       semevent.Handler
	opts    SubscribeOptions
	workers []*worker

	ctx    context.Context // handlers' context
	cancel context.CancelFunc

	leaving atomic.Bool   // Unsubscribe was called
	unsub   atomic.Bool   // s is out of the dispatcher's list
	stop    chan struct{} // closed by Unsubscribe
	halt    chan struct{} // closed by abort: stop calling the handler
	halted  atomic.Bool   // halt is closed; cheaper to check per event
	once    sync.Once     // guards closing halt
	live    atomic.Int32  // workers still running
	done    chan struct{} // closed when the last worker exits
	matched atomic.Uint64 // written by the dispatcher
	checker EventChecker  // nil without an Authorizer; used by the dispatcher (or the replay goroutine)

	unrouted         atomic.Bool // no router rule names s
	reportedUnrouted atomic.Bool // OnError was told so
	consumer         string      // Replay.Consumer scoped to the tenant; "" without one
	retries          atomic.Uint64
	deadLettered     atomic.Uint64
	errLog, dropLog  logx.Limiter // first failure or drop, then a summary per interval
}

// worker is one goroutine calling the handler, fed through a bounded queue.
type worker struct {
	sub  *subscription
	q    buffer
	wake *park.Parker // the worker sleeps on it
	spin park.Spinner

	freed     int         // events taken since the last madeRoom; worker only
	roomEvery int         // min(32, Buffer/16), at least 1
	space     park.Signal // the dispatcher waits on it under Block

	enq atomic.Uint64 // by the dispatcher
	_   [56]byte      // keeps the dispatcher's and the worker's counters on separate cache lines
	deq atomic.Uint64 // by the worker (and the dispatcher when it evicts)

	delivered atomic.Uint64
	finished  park.Signal // broadcast after each delivery; Sync waits on it
	errors    atomic.Uint64
	panics    atomic.Uint64
	drops     dropCounters
	lat       hist.Histogram
}

type dropCounters struct {
	full, evicted, unsubscribed, closed atomic.Uint64
}

func (d *dropCounters) load() DropStats {
	return DropStats{Full: d.full.Load(), Evicted: d.evicted.Load(), Unsubscribed: d.unsubscribed.Load(), Closed: d.closed.Load()}
}

func newSubscription(b *Bus, h semevent.Handler, o SubscribeOptions) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{
		bus:    b,
		h:      h,
		opts:   o,
		ctx:    ctx,
		cancel: cancel,
		stop:   make(chan struct{}),
		halt:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if o.Replay != nil {
		// The journal calls back on one goroutine: one worker, no buffer.
		s.workers = []*worker{{sub: s}}
		return s
	}
	s.workers = make([]*worker, o.Workers)
	for i := range s.workers {
		s.workers[i] = &worker{sub: s, q: newBuffer(o.Buffer, o.Policy), wake: park.New(), spin: park.NewSpinner(b.opts.Spin),
			roomEvery: max(1, min(32, o.Buffer/16))}
	}
	return s
}

func (s *subscription) start() {
	s.live.Store(int32(len(s.workers)))
	if r := s.opts.Replay; r != nil {
		if r.Replicated {
			go s.replayReplicated()
		} else {
			go s.replay()
		}
		return
	}
	for _, w := range s.workers {
		go w.run()
	}
}

func (s *subscription) Name() string          { return s.opts.Name }
func (s *subscription) Done() <-chan struct{} { return s.done }

func (s *subscription) Unsubscribe() {
	if s.leaving.Swap(true) {
		return
	}
	// Out of the dispatcher's list first: a worker that sees unsub then
	// waits for the dispatcher's current batch, after which no batch can
	// reach s.
	s.bus.remove(s)
	s.unsub.Store(true)
	close(s.stop)
	s.cancel()
}

// abort makes the workers stop calling the handler; Close uses it when its
// context ends.
func (s *subscription) abort() {
	s.once.Do(func() {
		s.halted.Store(true)
		close(s.halt)
	})
	s.cancel()
}

// matches reports whether ev goes to s. A panicking filter counts as a
// handler panic of s and does not match.
func (s *subscription) matches(ev *semevent.Event) (ok bool) {
	if s.opts.Tenant != "" && s.opts.Tenant != ev.Tenant {
		return false
	}
	if s.checker != nil && !s.checker.Allow(ev) {
		return false
	}
	if s.opts.Filter == nil {
		return true
	}
	defer func() {
		if r := recover(); r != nil {
			s.workers[0].panics.Add(1)
			s.report(ev, &semevent.PanicError{Where: fmt.Sprintf("filter of subscription %q", s.opts.Name), Value: r})
			ok = false
		}
	}()
	return s.opts.Filter.Match(ev)
}

func (s *subscription) report(ev *semevent.Event, err error) {
	if lg := s.bus.log; lg.Enabled(context.Background(), slog.LevelError) {
		if n, ok := s.errLog.Note(s.bus.now()); ok {
			msg := "handler failed"
			if _, p := errors.AsType[*semevent.PanicError](err); p {
				msg = "handler panicked"
			}
			lg.LogAttrs(context.Background(), slog.LevelError, msg, slog.String(logx.Subscription, s.opts.Name),
				slog.String(logx.Event, ev.ID.String()), slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
		}
	}
	if f := s.bus.opts.OnError; f != nil {
		f(&HandlerError{Subscription: s.opts.Name, EventID: ev.ID, Err: err})
	}
}

// logDrop logs a drop for reason: the subscription's first, then at most
// one summary per interval. It allocates nothing when the level leaves
// warnings out or the limiter holds the line back.
func (s *subscription) logDrop(reason string, total uint64) {
	lg := s.bus.log
	if !lg.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	if n, ok := s.dropLog.Note(s.bus.now()); ok {
		lg.LogAttrs(context.Background(), slog.LevelWarn, "subscription dropped events", slog.String(logx.Subscription, s.opts.Name),
			slog.String(logx.Reason, reason), slog.Uint64(logx.Count, n), slog.Uint64(logx.Total, total))
	}
}

// worker picks the worker for ev: by key when there are several.
func (s *subscription) worker(ev *semevent.Event) *worker {
	if len(s.workers) == 1 {
		return s.workers[0]
	}
	return s.workers[s.opts.Key(ev).Hash()%uint64(len(s.workers))]
}

// offer puts env in w's buffer under the subscription's policy, counting
// it as dropped if it does not get there. It runs on the dispatcher
// goroutine and returns false only when Close gave up while it waited.
func (w *worker) offer(env envelope) bool {
	s := w.sub
	for !w.q.tryEnqueue(env) {
		switch s.opts.Policy {
		case DropNewest:
			w.drops.full.Add(1)
			s.logDrop("full", w.drops.full.Load())
			return true
		case DropOldest:
			if _, ok := w.q.evict(); ok {
				w.deq.Add(1)
				w.drops.evicted.Add(1)
				s.logDrop("evicted", w.drops.evicted.Load())
				w.space.Broadcast()
			}
			continue
		}
		// Block: wait for the worker to make room.
		ch := w.space.Enter()
		if w.q.tryEnqueue(env) {
			w.space.Leave()
			break
		}
		w.wake.Wake()
		select {
		case <-ch:
		case <-s.stop:
		case <-s.halt:
		case <-s.bus.aborting:
			w.space.Leave()
			w.drops.closed.Add(1)
			return false
		}
		w.space.Leave()
		if s.unsub.Load() {
			w.drops.unsubscribed.Add(1)
			return true
		}
	}
	w.enq.Add(1)
	w.wake.Wake()
	return true
}

// run is the worker goroutine.
func (w *worker) run() {
	s := w.sub
	defer w.exit()
	for {
		if s.unsub.Load() {
			w.finish(&w.drops.unsubscribed)
			return
		}
		if s.halted.Load() {
			w.finish(&w.drops.closed)
			return
		}
		env, ok := w.q.tryDequeue()
		if !ok {
			w.madeRoom()
			env, ok = w.spinUntilWork()
		}
		if !ok {
			w.wake.Prepare()
			if env, ok = w.q.tryDequeue(); !ok {
				select {
				case <-s.bus.drained:
					w.wake.Cancel()
					return // nothing buffered and nothing more will come
				default:
				}
				w.wake.Wait(s.stop, s.bus.drained, nil)
				continue
			}
			w.wake.Cancel()
		}
		w.deq.Add(1)
		if w.freed++; w.freed >= w.roomEvery {
			w.madeRoom()
		}
		w.deliver(env)
	}
}

// madeRoom wakes the dispatcher if it waits for room in the buffer. The
// worker calls it every roomEvery events and whenever the buffer runs
// empty, so that a dispatcher blocked by a full buffer (Block policy)
// wakes to a batch of free slots instead of once per event.
func (w *worker) madeRoom() {
	if w.freed > 0 {
		w.freed = 0
		w.space.Broadcast()
	}
}

// spinUntilWork polls the buffer for up to Options.Spin before the worker
// parks; it gives up early when the subscription or the bus ends.
func (w *worker) spinUntilWork() (envelope, bool) {
	s := w.sub
	w.spin.Reset()
	for w.spin.Spin() {
		if env, ok := w.q.tryDequeue(); ok {
			return env, true
		}
		if s.unsub.Load() || s.halted.Load() || s.bus.closed.Load() {
			break
		}
	}
	return envelope{}, false
}

// finish counts what is still buffered as dropped for reason c, once the
// dispatcher can no longer add to the buffer.
func (w *worker) finish(c *atomic.Uint64) {
	w.sub.bus.quiesce()
	for {
		if _, ok := w.q.tryDequeue(); !ok {
			return
		}
		w.deq.Add(1)
		c.Add(1)
		w.space.Broadcast()
	}
}

func (w *worker) exit() {
	s := w.sub
	if s.live.Add(-1) == 0 {
		s.cancel()
		s.bus.retire(s)
		close(s.done)
	}
}

// deliver calls the handler for env, counts it delivered and reports its
// error.
func (w *worker) deliver(env envelope) {
	if env.t != 0 {
		w.lat.Record(semevent.Now() - env.t)
	}
	if err := w.call(env.ev); err != nil {
		w.sub.report(env.ev, err)
	}
	w.delivered.Add(1)
	w.finished.Broadcast()
}

// call calls the handler once, recovering a panic as a
// *semevent.PanicError, and counts an error or a panic.
func (w *worker) call(ev *semevent.Event) error { return w.callCtx(w.sub.ctx, ev) }

// callCtx is call with the ctx the handler gets.
func (w *worker) callCtx(ctx context.Context, ev *semevent.Event) (err error) {
	s := w.sub
	defer func() {
		if r := recover(); r != nil {
			w.panics.Add(1)
			err = &semevent.PanicError{Where: fmt.Sprintf("handler of subscription %q", s.opts.Name), Value: r}
		}
	}()
	if err = s.h.Handle(ctx, ev); err != nil {
		w.errors.Add(1)
	}
	return err
}

// settled returns the events w no longer holds: handled, or dropped after
// they were buffered.
func (w *worker) settled() uint64 {
	return w.delivered.Load() + w.drops.evicted.Load() + w.drops.unsubscribed.Load() + w.drops.closed.Load()
}

// stats snapshots s and adds its latency counts into lat.
func (s *subscription) stats(lat *latencySum) SubscriptionStats {
	st := SubscriptionStats{Name: s.opts.Name, Matched: s.matched.Load(), Unrouted: s.unrouted.Load(),
		Retries: s.retries.Load(), DeadLettered: s.deadLettered.Load()}
	if s.checker != nil {
		st.Denied = s.checker.Denied()
	}
	var own latencySum
	for _, w := range s.workers {
		st.Delivered += w.delivered.Load()
		st.Errors += w.errors.Load()
		st.Panics += w.panics.Load()
		st.Dropped.add(w.drops.load())
		st.Depth += int(max(int64(w.enq.Load())-int64(w.deq.Load()), 0))
		w.lat.AddTo(&own.s)
		w.lat.AddTo(&lat.s)
	}
	st.Latency = own.stats()
	return st
}

// latencySum merges histograms for a snapshot.
type latencySum struct{ s hist.Snapshot }

func (l *latencySum) stats() LatencyStats {
	return LatencyStats{
		Count: l.s.Total,
		P50:   time.Duration(l.s.Quantile(0.50)),
		P90:   time.Duration(l.s.Quantile(0.90)),
		P99:   time.Duration(l.s.Quantile(0.99)),
		Max:   time.Duration(l.s.Max()),
	}
}

// statsSum keeps the totals of subscriptions that have ended, so that the
// bus's counters never go down.
type statsSum struct {
	mu  sync.Mutex // guards all fields
	st  Stats
	lat hist.Snapshot
}

func (f *statsSum) add(ss SubscriptionStats, lat *hist.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Matched += ss.Matched
	f.st.Denied += ss.Denied
	f.st.Delivered += ss.Delivered
	f.st.Dropped.add(ss.Dropped)
	f.st.Errors += ss.Errors
	f.st.Panics += ss.Panics
	f.st.Retries += ss.Retries
	f.st.DeadLettered += ss.DeadLettered
	for i, c := range lat.Counts {
		f.lat.Counts[i] += c
	}
	f.lat.Total += lat.Total
}

func (f *statsSum) addTo(st *Stats, lat *latencySum) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st.Matched += f.st.Matched
	st.Denied += f.st.Denied
	st.Delivered += f.st.Delivered
	st.Dropped.add(f.st.Dropped)
	st.Errors += f.st.Errors
	st.Panics += f.st.Panics
	st.Retries += f.st.Retries
	st.DeadLettered += f.st.DeadLettered
	for i, c := range f.lat.Counts {
		lat.s.Counts[i] += c
	}
	lat.s.Total += f.lat.Total
}

// buffer is a worker's bounded queue: single-producer single-consumer (the
// dispatcher and the worker) under Block and DropNewest, multi-consumer
// under DropOldest, where the dispatcher also takes the oldest out.
type buffer struct {
	spsc *xsync.SPSCQueueOf[envelope]
	mpmc *xsync.MPMCQueueOf[envelope]
}

func newBuffer(size int, p Policy) buffer {
	if p == DropOldest {
		return buffer{mpmc: xsync.NewMPMCQueueOf[envelope](size)}
	}
	return buffer{spsc: xsync.NewSPSCQueueOf[envelope](size)}
}

func (b *buffer) tryEnqueue(env envelope) bool {
	if b.spsc != nil {
		return b.spsc.TryEnqueue(env)
	}
	return b.mpmc.TryEnqueue(env)
}

func (b *buffer) tryDequeue() (envelope, bool) {
	if b.spsc != nil {
		return b.spsc.TryDequeue()
	}
	return b.mpmc.TryDequeue()
}

// evict takes the oldest event out from the producer side (DropOldest).
func (b *buffer) evict() (envelope, bool) { return b.mpmc.TryDequeue() }
