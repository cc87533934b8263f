package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/internal/logx"
)

// MaxTime bounds event times: a Processor clamps Event.Time to
// [-MaxTime, MaxTime] (about the years 1824 to 2116) so that window
// arithmetic cannot overflow.
const MaxTime = 1 << 62

// Result is one window's aggregate for one key.
type Result struct {
	Name       string // Options.Name
	Key        semevent.Key
	Start, End int64 // the window, [Start, End), Unix nanoseconds
	// Update is set when late events (within Options.AllowedLateness)
	// changed a window already emitted; the newer result replaces the
	// older one. A session result also replaces earlier results of its key
	// that lie inside [Start, End): sessions merge as events bridge them.
	Update bool
	// Partial is set on a result that Flush or Close emitted before the
	// watermark passed the window's end: the window may not have seen all
	// its events. Partial results are not scored for anomalies, not fed
	// to the forecaster and not stored in Options.Series.
	Partial   bool
	Watermark int64 // the watermark when the result was emitted
	Agg       *Aggregate
	// Next forecasts this key's count in the next window (Holt-Winters
	// over the key's earlier results) when Options.Forecast is set and the
	// model has seen enough windows; nil otherwise.
	Next *Prediction
}

// Stats is a snapshot of a processor's counters.
type Stats struct {
	Events        uint64 // events aggregated, found late or refused
	Skipped       uint64 // "analytics.*" events skipped
	Late          uint64 // events too late for any window (side output)
	Future        uint64 // events refused for being more than MaxFuture ahead of the clock
	KeyOverflow   uint64 // events refused because their key would exceed MaxKeys
	Results       uint64 // results emitted, updates and partial ones included
	Updates       uint64 // results emitted because of late events
	Partial       uint64 // results emitted by Flush or Close before their window closed
	Anomalies     uint64
	PublishErrors uint64
	OpenWindows   int   // panes (tumbling, sliding) or sessions held
	Keys          int   // per-key aggregates held (at most Options.MaxKeys)
	Watermark     int64 // Unix nanoseconds; math.MinInt64 before any event
}

// Processor is the windowing [Analyzer]: it puts each event in the windows
// of its key, closes windows as the watermark passes their end and emits
// one [Result] per key and window.
type Processor struct {
	o                               Options
	topic, anomalyTopic             string
	size, slide, gap, ooo, lateness int64
	session                         bool
	maxFuture                       int64 // < 0: no bound
	keyOf                           keyFunc
	detector                        *Detector
	pubCtx                          func(context.Context) context.Context
	forecasts                       *forecasts
	log                             *slog.Logger
	pubLog, futureLog               logx.Limiter // hold back repeated lines

	mu     sync.Mutex // guards every field below
	closed bool
	wm     int64
	// tumbling and sliding: panes of width slide, sorted by start.
	panes     []*pane
	last      *pane
	nextCheck int64 // advanceLocked has nothing to do below this watermark
	// futureLimit is the latest event time accepted, Clock()+MaxFuture as
	// of the last clock read.
	futureLimit int64
	// idleness (EventTime with IdleTimeout): when the last event arrived,
	// by the processing clock, and the watermark it left.
	lastArrival, idleFrom int64
	// session windows.
	sessions map[semevent.Key][]*session
	timers   timerHeap
	// nkeys counts the per-key aggregates held: pane entries and live
	// sessions.
	nkeys int
	// output collected under mu and delivered after unlocking.
	out    []Result
	late   []*semevent.Event
	future []*semevent.Event
	stats  Stats
	// recycling: emptied pane maps, and a slab that new aggregates are cut
	// from when no sketch is kept.
	freeMaps []*keyMap
	keysHint int
	slab     []Aggregate

	stop chan struct{} // closed by Close to end the ticker
	done chan struct{} // closed when the ticker has returned
}

var (
	_ Analyzer         = (*Processor)(nil)
	_ Advancer         = (*Processor)(nil)
	_ StatsReporter    = (*Processor)(nil)
	_ semevent.Handler = (*Processor)(nil)
)

type pane struct {
	start int64
	keys  *keyMap
}

// New returns a Processor, or the problems of opts as a
// *[semevent.OptionsError]. In ProcessingTime mode, or with IdleTimeout,
// it starts a ticker goroutine that [Processor.Close] stops.
func New(opts *Options) (*Processor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	p := &Processor{
		o:            o,
		topic:        "analytics.window." + o.Name,
		anomalyTopic: "analytics.anomaly." + o.Name,
		log:          logx.For(o.Logger, "analytics").With(slog.String("processor", o.Name)),
		size:         int64(o.Window.Size),
		slide:        int64(o.Window.Slide),
		gap:          int64(o.Window.Gap),
		ooo:          int64(o.MaxOutOfOrder),
		lateness:     int64(o.AllowedLateness),
		session:      o.Window.Kind == KindSession,
		wm:           math.MinInt64,
		nextCheck:    math.MinInt64,
		futureLimit:  math.MinInt64,
		sessions:     map[semevent.Key][]*session{},
		maxFuture:    int64(o.MaxFuture),
		keyOf:        keyFuncOf(o.Key),
		pubCtx:       func(ctx context.Context) context.Context { return ctx },
	}
	if o.Time == ProcessingTime {
		p.ooo = 0
	}
	if pr := o.Principal; pr != nil {
		p.pubCtx = func(ctx context.Context) context.Context { return access.WithPrincipal(ctx, pr) }
	}
	if o.Anomaly != nil {
		p.detector = NewDetector(o.Anomaly)
	}
	if o.Forecast != nil {
		p.forecasts = &forecasts{o: *o.Forecast, keys: map[semevent.Key]*HoltWinters{}}
	}
	p.stats.Watermark = math.MinInt64
	if o.Time == ProcessingTime || o.IdleTimeout > 0 {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p, nil
}

func (p *Processor) tick() {
	defer close(p.done)
	t := time.NewTicker(p.o.Tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			now := p.o.Clock()
			if p.o.Time == ProcessingTime {
				_ = p.Advance(context.Background(), now)
				continue
			}
			p.mu.Lock()
			idle := now - p.lastArrival
			w := sat(p.idleFrom, max(idle, 0))
			due := p.lastArrival != 0 && idle >= int64(p.o.IdleTimeout) && w > p.wm
			p.mu.Unlock()
			if due {
				_ = p.Advance(context.Background(), w)
			}
		}
	}
}

// Handle puts ev in its windows; it may emit the results of windows that
// ev's time closes. It returns semevent.ErrNilEvent for nil and an error
// wrapping semevent.ErrClosed after Close. Safe for concurrent use.
func (p *Processor) Handle(ctx context.Context, ev *semevent.Event) error {
	if ev == nil {
		return semevent.ErrNilEvent
	}
	return p.run(ctx, func() {
		if isAnalytics(ev) && !p.o.IncludeAnalytics {
			p.stats.Skipped++
			return
		}
		p.addLocked(ev)
	})
}

// HandleBatch handles evs in order under one lock acquisition; nil
// events are skipped.
func (p *Processor) HandleBatch(ctx context.Context, evs []*semevent.Event) error {
	return p.run(ctx, func() {
		for _, ev := range evs {
			if ev == nil || isAnalytics(ev) && !p.o.IncludeAnalytics {
				p.stats.Skipped += boolToUint(ev != nil)
				continue
			}
			p.addLocked(ev)
		}
	})
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Advance moves the watermark to at least t (event time, Unix
// nanoseconds) without an event, emitting the windows it closes; in
// ProcessingTime mode the ticker calls it with the clock's time.
func (p *Processor) Advance(ctx context.Context, t int64) error {
	return p.run(ctx, func() {
		if t > p.wm {
			p.advanceLocked(t)
		}
	})
}

// Flush emits every window still open, as if the watermark had passed it,
// and drops all window state (the watermark itself stays). Use it at the
// end of a stream.
func (p *Processor) Flush(ctx context.Context) error {
	return p.run(ctx, p.flushLocked)
}

// run calls f with p.mu held unless p is closed, then delivers what f
// emitted with the lock released.
func (p *Processor) run(ctx context.Context, f func()) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("analytics: processor %q: %w", p.o.Name, semevent.ErrClosed)
	}
	f()
	if len(p.out) == 0 && len(p.late) == 0 && len(p.future) == 0 {
		p.mu.Unlock()
		return nil
	}
	b := p.takeLocked()
	p.mu.Unlock()
	p.deliver(ctx, b)
	return nil
}

// Close flushes the open windows (as partial results, see Flush), stops
// the ticker and makes later calls return an error wrapping
// semevent.ErrClosed. Calling it again returns nil. It publishes the
// last results with ctx; a Close after the bus closed reports the
// refused publishes to OnError and returns.
func (p *Processor) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.flushLocked()
	p.closed = true
	b := p.takeLocked()
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	p.deliver(ctx, b)
	return nil
}

// Stats returns a snapshot of the counters.
func (p *Processor) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Watermark = p.wm
	s.OpenWindows = len(p.panes)
	s.Keys = p.nkeys
	if p.session {
		s.OpenWindows = 0
		for _, ss := range p.sessions {
			s.OpenWindows += len(ss)
		}
	}
	return s
}

// Watermark returns the current watermark (math.MinInt64 before any event).
func (p *Processor) Watermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wm
}

func isAnalytics(ev *semevent.Event) bool {
	return len(ev.Topic) > 10 && ev.Topic[0] == 'a' && strings.HasPrefix(ev.Topic, "analytics.")
}

// batch is what one call emitted, delivered after unlocking.
type batch struct {
	out          []Result
	late, future []*semevent.Event
}

func (p *Processor) takeLocked() batch {
	b := batch{p.out, p.late, p.future}
	p.out, p.late, p.future = nil, nil, nil
	p.stats.Results += uint64(len(b.out))
	return b
}

// emitLocked queues r, stamped with the watermark, for delivery.
func (p *Processor) emitLocked(r Result) {
	r.Watermark = p.wm
	if r.Update {
		p.stats.Updates++
	}
	if r.Partial {
		p.stats.Partial++
	}
	p.out = append(p.out, r)
}

func (p *Processor) value(ev *semevent.Event) float64 {
	if p.o.Value != nil {
		return p.o.Value(ev)
	}
	return float64(ev.Size)
}

// key returns ev's key, scoped to ev's tenant whatever Options.Key does.
// The package's own key functions are computed inline: a call through the
// func value cost about 45 ns per event (BenchmarkWindows), more than
// the rest of the pane update.
func (p *Processor) key(ev *semevent.Event) semevent.Key {
	if p.keyOf == keyPath { // small enough to inline
		return semevent.Key{Tenant: ev.Tenant, S: ev.Path}
	}
	return p.keyOther(ev)
}

func (p *Processor) keyOther(ev *semevent.Event) semevent.Key {
	switch p.keyOf {
	case keyTenant:
		return semevent.Key{Tenant: ev.Tenant}
	case keyPID:
		return semevent.Key{Tenant: ev.Tenant, N: uint64(ev.PID)}
	case keyTopic:
		return semevent.Key{Tenant: ev.Tenant, S: ev.TopicOrKind()}
	case keyKind:
		return semevent.Key{Tenant: ev.Tenant, S: ev.Kind.String()}
	}
	k := p.o.Key(ev)
	k.Tenant = ev.Tenant
	return k
}

// keyFunc names the key functions that [Processor.key] computes inline.
type keyFunc uint8

const (
	keyCustom keyFunc = iota
	keyPath
	keyTenant
	keyPID
	keyTopic
	keyKind
)

// keyFuncOf recognises the key functions of this package and the root.
func keyFuncOf(f semevent.KeyFunc) keyFunc {
	ptr := reflect.ValueOf(f).Pointer()
	for _, k := range []struct {
		f  semevent.KeyFunc
		kf keyFunc
	}{{semevent.PathKey, keyPath}, {semevent.TenantKey, keyTenant}, {semevent.PIDKey, keyPID}, {TopicKey, keyTopic}, {KindKey, keyKind}} {
		if reflect.ValueOf(k.f).Pointer() == ptr {
			return k.kf
		}
	}
	return keyCustom
}

// roomLocked reports whether one more per-key aggregate fits under
// MaxKeys, counting ev as refused when not.
func (p *Processor) roomLocked() bool {
	if p.o.MaxKeys < 0 || p.nkeys < p.o.MaxKeys {
		p.nkeys++
		return true
	}
	p.stats.KeyOverflow++
	return false
}

// update adds ev to a.
func (p *Processor) update(a *Aggregate, ev *semevent.Event) {
	v := p.value(ev)
	a.Count++
	a.Sum += v
	if v < a.Min {
		a.Min = v
	}
	if v > a.Max {
		a.Max = v
	}
	if p.o.Aggs != 0 {
		p.updateSketches(a, ev, v)
	}
}

func (p *Processor) updateSketches(a *Aggregate, ev *semevent.Event, v float64) {
	if a.Distinct != nil || a.ApproxDistinct != nil {
		d := p.o.DistinctOf(ev)
		if a.Distinct != nil {
			a.Distinct.Add(d)
		}
		if a.ApproxDistinct != nil {
			a.ApproxDistinct.Add(hash64(d))
		}
	}
	if a.Quantiles != nil {
		a.Quantiles.Add(v)
	}
	if a.TopK != nil {
		a.TopK.Add(p.o.TopOf(ev), 1)
	}
}

func (p *Processor) newAggregate() *Aggregate {
	if p.o.Aggs != 0 {
		return NewAggregate(p.o.Aggs, &p.o)
	}
	if len(p.slab) == 0 {
		p.slab = make([]Aggregate, 128)
	}
	a := &p.slab[0]
	p.slab = p.slab[1:]
	a.Min, a.Max = math.Inf(1), math.Inf(-1)
	return a
}

// addLocked places ev and advances the watermark.
func (p *Processor) addLocked(ev *semevent.Event) {
	p.stats.Events++
	t := ev.Time
	if p.o.Time == ProcessingTime {
		t = p.o.Clock()
	} else if p.maxFuture >= 0 && t > p.futureLimit {
		// The clock only moves forward: read it again only for an event
		// beyond the limit it gave last time.
		now := p.o.Clock()
		p.futureLimit = sat(now, p.maxFuture)
		if t > p.futureLimit {
			p.stats.Future++
			if n, ok := p.futureLog.Note(now); ok {
				// At most once per interval, so under the lock.
				p.log.LogAttrs(context.Background(), slog.LevelWarn, "event refused: too far in the future", slog.String(logx.Event, ev.ID.String()),
					slog.String(logx.Tenant, ev.Tenant), slog.Int64("time", t), slog.Int64("limit", p.futureLimit), slog.Uint64(logx.Count, n))
			}
			if p.o.OnFuture != nil {
				p.future = append(p.future, ev)
			}
			return
		}
	}
	t = min(max(t, -MaxTime), MaxTime)
	if p.session {
		p.addSessionLocked(ev, t)
	} else {
		p.addAlignedLocked(ev, t)
	}
	if w := satSub(t, p.ooo); w > p.wm {
		p.advanceLocked(w)
	}
	if p.o.IdleTimeout > 0 {
		p.lastArrival, p.idleFrom = p.o.Clock(), p.wm
	}
}

func (p *Processor) lateLocked(ev *semevent.Event) {
	p.stats.Late++
	if p.o.OnLate != nil {
		p.late = append(p.late, ev)
	}
}

func floorTo(t, d int64) int64 {
	r := t % d
	if r < 0 {
		r += d
	}
	return t - r
}

func (p *Processor) addAlignedLocked(ev *semevent.Event, t int64) {
	var ps int64
	// The difference is taken in uint64: t and l.start lie in ±MaxTime, so
	// t-l.start may reach 2^63, one past math.MaxInt64.
	if l := p.last; l != nil && t >= l.start && uint64(t)-uint64(l.start) < uint64(p.slide) {
		ps = l.start // the common case, without a division
	} else {
		ps = floorTo(t, p.slide)
	}
	if sat(ps, p.size+p.lateness) <= p.wm {
		p.lateLocked(ev)
		return
	}
	pn := p.last
	if pn == nil || pn.start != ps {
		pn = p.paneLocked(ps)
		p.last = pn
	}
	var a *Aggregate
	if p.keyOf == keyPath { // the default: look up without building a Key
		a = pn.keys.getS(ev.Tenant, ev.Path)
	} else {
		k := p.key(ev)
		a = pn.keys.get(&k)
	}
	if a == nil {
		if !p.roomLocked() {
			return
		}
		a = p.newAggregate()
		pn.keys.add(p.key(ev), a)
	}
	p.update(a, ev)
	if sat(ps, p.slide) <= p.wm {
		// Windows holding this pane may have closed already: emit those
		// still within the allowed lateness again, for this key.
		p.refireLocked(ps, p.key(ev))
	}
}

// sat returns a+b for b >= 0, saturating at math.MaxInt64.
func sat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxInt64
}

// satSub returns a-b for b >= 0, saturating at math.MinInt64.
func satSub(a, b int64) int64 {
	if s := a - b; s <= a {
		return s
	}
	return math.MinInt64
}

// paneLocked returns the pane starting at ps, creating it in order.
func (p *Processor) paneLocked(ps int64) *pane {
	i, found := slices.BinarySearchFunc(p.panes, ps, func(x *pane, t int64) int {
		switch {
		case x.start < t:
			return -1
		case x.start > t:
			return 1
		}
		return 0
	})
	if found {
		return p.panes[i]
	}
	var keys *keyMap
	if n := len(p.freeMaps); n > 0 {
		keys = p.freeMaps[n-1]
		p.freeMaps = p.freeMaps[:n-1]
	} else {
		keys = newKeyMap(p.keysHint)
	}
	pn := &pane{start: ps, keys: keys}
	p.panes = slices.Insert(p.panes, i, pn)
	return pn
}

// panesIn returns the panes with start in [lo, hi).
func (p *Processor) panesIn(lo, hi int64) []*pane {
	i, _ := slices.BinarySearchFunc(p.panes, lo, func(x *pane, t int64) int {
		if x.start < t {
			return -1
		}
		if x.start > t {
			return 1
		}
		return 0
	})
	j := i
	for j < len(p.panes) && p.panes[j].start < hi {
		j++
	}
	return p.panes[i:j]
}

// refireLocked emits, for key k, every window holding pane ps whose end
// the watermark passed and whose lateness has not expired: called after
// an allowed-late event of k was added to pane ps.
func (p *Processor) refireLocked(ps int64, k semevent.Key) {
	for s := ps - p.size + p.slide; s <= ps; s += p.slide {
		end := s + p.size
		if end > p.wm || sat(end, p.lateness) <= p.wm {
			continue
		}
		var acc *Aggregate
		for _, pn := range p.panesIn(s, end) {
			if a := pn.keys.get(&k); a != nil {
				if acc == nil {
					acc = a.Clone()
				} else {
					_ = acc.Merge(a)
				}
			}
		}
		if acc != nil {
			// The window held k's events before this one only if it was
			// emitted for k before: otherwise this is its first result.
			p.emitLocked(Result{Name: p.o.Name, Key: k, Start: s, End: end, Update: acc.Count > 1, Agg: acc})
		}
	}
}

// advanceLocked moves the watermark to w, emits the windows whose end it
// passed and drops state whose lateness expired.
func (p *Processor) advanceLocked(w int64) {
	prev := p.wm
	p.wm = w
	if p.session {
		p.fireSessionsLocked()
		return
	}
	if w < p.nextCheck {
		return // no window end and no purge time passed
	}
	if len(p.panes) > 0 {
		// Smallest window end after prev; nothing to do when past w.
		first := p.panes[0].start + p.slide
		if prev != math.MinInt64 {
			first = max(first, floorTo(prev, p.slide)+p.slide)
		}
		if first <= w {
			p.fireRangeLocked(first, w, false)
		}
		p.purgeLocked()
	}
	// The next end to fire, or the oldest pane's purge time if sooner.
	// A pane created later may fall due sooner; it is then purged at the
	// next check, which costs memory for a moment and nothing else.
	p.nextCheck = sat(floorTo(w, p.slide), p.slide)
	if len(p.panes) > 0 {
		p.nextCheck = min(p.nextCheck, sat(p.panes[0].start+p.size, p.lateness))
	}
}

// fireRangeLocked emits the windows with end in [from, to] that hold
// panes, flagged partial when the watermark has not passed them.
func (p *Processor) fireRangeLocked(from, to int64, partial bool) {
	for end := from; end <= to; {
		start := end - p.size
		ps := p.panesIn(start, end)
		if len(ps) == 0 {
			// Jump to the first window holding the next pane.
			i, _ := slices.BinarySearchFunc(p.panes, end, func(x *pane, t int64) int {
				if x.start < t {
					return -1
				}
				if x.start > t {
					return 1
				}
				return 0
			})
			if i == len(p.panes) {
				return
			}
			end = p.panes[i].start + p.slide
			continue
		}
		p.fireLocked(start, end, ps, partial)
		end += p.slide
	}
}

// fireLocked emits one result per key of the window [start, end).
func (p *Processor) fireLocked(start, end int64, ps []*pane, partial bool) {
	// A tumbling pane whose lateness is over is dropped right after: hand
	// its aggregates over instead of copying them.
	handOver := len(ps) == 1 && p.size == p.slide && sat(end, p.lateness) <= p.wm
	if len(ps) == 1 {
		for k, a := range ps[0].keys.all() {
			if !handOver {
				a = a.Clone()
			}
			p.emitLocked(Result{Name: p.o.Name, Key: k, Start: start, End: end, Partial: partial, Agg: a})
		}
		if handOver {
			p.nkeys -= ps[0].keys.len()
			p.keysHint = max(p.keysHint, ps[0].keys.len())
			ps[0].keys.reset(p.keysHint)
			if len(p.freeMaps) < 4 {
				p.freeMaps = append(p.freeMaps, ps[0].keys)
			}
			ps[0].keys = nil
		}
		return
	}
	acc := map[semevent.Key]*Aggregate{}
	for _, pn := range ps {
		for k, a := range pn.keys.all() {
			if m := acc[k]; m != nil {
				_ = m.Merge(a)
			} else {
				acc[k] = a.Clone()
			}
		}
	}
	for k, a := range acc {
		p.emitLocked(Result{Name: p.o.Name, Key: k, Start: start, End: end, Partial: partial, Agg: a})
	}
}

// purgeLocked drops panes that no window within its lateness still needs.
func (p *Processor) purgeLocked() {
	n := 0
	for n < len(p.panes) && sat(p.panes[n].start+p.size, p.lateness) <= p.wm {
		n++
	}
	if n > 0 {
		for _, pn := range p.panes[:n] {
			p.nkeys -= pn.keys.len()
		}
		clear(p.panes[:n])
		p.panes = p.panes[n:]
		if len(p.panes) == 0 {
			p.panes = nil
		}
		p.last = nil
	}
}

// flushLocked emits every window the watermark has not closed, flagged
// partial, and drops all window state.
func (p *Processor) flushLocked() {
	p.nkeys = 0
	if p.session {
		for _, ss := range p.sessions {
			for _, s := range ss {
				if !s.fired {
					p.emitSessionLocked(s, s.end > p.wm)
				}
				s.dead = true
			}
		}
		clear(p.sessions)
		p.timers = p.timers[:0]
		return
	}
	if len(p.panes) > 0 {
		from := p.panes[0].start + p.slide
		if p.wm != math.MinInt64 {
			from = max(from, sat(floorTo(p.wm, p.slide), p.slide))
		}
		p.fireRangeLocked(from, math.MaxInt64-p.size, true)
	}
	p.panes, p.last, p.nextCheck = nil, nil, math.MinInt64
}

// deliver runs the callbacks and publishes, with no lock held.
func (p *Processor) deliver(ctx context.Context, b batch) {
	if p.o.OnLate != nil {
		for _, ev := range b.late {
			p.o.OnLate(ev)
		}
	}
	if p.o.OnFuture != nil {
		for _, ev := range b.future {
			p.o.OnFuture(ev)
		}
	}
	for i := range b.out {
		r := &b.out[i]
		// A first, complete result feeds the series; updates would count
		// a window twice, and a partial one did not see all its events.
		if !r.Update && !r.Partial {
			p.observeSeries(r)
			if p.detector != nil {
				p.score(ctx, r)
			}
		}
		if p.o.Publisher != nil {
			p.publish(ctx, ResultEvent(p.topic, r))
		}
		if p.o.OnResult != nil {
			p.o.OnResult(*r)
		}
	}
}

// score runs the anomaly detector over r's count.
func (p *Processor) score(ctx context.Context, r *Result) {
	a, ok := p.detector.Observe(r.Key, r.End, float64(r.Agg.Count))
	if !ok {
		return
	}
	p.mu.Lock()
	p.stats.Anomalies++
	p.mu.Unlock()
	if p.o.OnAnomaly != nil {
		p.o.OnAnomaly(a)
	}
	if p.o.Publisher != nil {
		p.publish(ctx, AnomalyEvent(p.anomalyTopic, a))
	}
}

// publish sends ev through the Publisher, bounded by PublishTimeout and
// carrying the Principal.
func (p *Processor) publish(ctx context.Context, ev *semevent.Event) {
	if err := semevent.PublishTimeout(p.pubCtx(ctx), p.o.Publisher, ev, p.o.PublishTimeout); err != nil {
		p.mu.Lock()
		p.stats.PublishErrors++
		p.mu.Unlock()
		if n, ok := p.pubLog.Note(p.o.Clock()); ok {
			p.log.LogAttrs(ctx, slog.LevelError, "publishing a result failed", slog.String("topic", ev.Topic),
				slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
		}
		if p.o.OnError != nil {
			p.o.OnError(&PublishError{Topic: ev.Topic, Err: err})
		}
	}
}

// forecasts keeps one Holt-Winters model per key.
type forecasts struct {
	o    ForecastOptions
	mu   sync.Mutex // guards keys
	keys map[semevent.Key]*HoltWinters
}

// maxForecastKeys bounds the models a Processor keeps.
const maxForecastKeys = 10000

// observeSeries feeds a first-time result to the store and the key's
// forecaster, and sets r.Next.
func (p *Processor) observeSeries(r *Result) {
	if p.o.Series != nil {
		p.o.Series.Add(p.o.Name+"."+r.Key.String(), r.End, float64(r.Agg.Count))
	}
	f := p.forecasts
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	hw := f.keys[r.Key]
	if hw == nil {
		if len(f.keys) >= maxForecastKeys {
			return
		}
		hw, _ = NewHoltWinters(&f.o)
		f.keys[r.Key] = hw
	}
	hw.Observe(float64(r.Agg.Count))
	if next := hw.Forecast(1)[0]; next.Value == next.Value {
		r.Next = &next
	}
}
