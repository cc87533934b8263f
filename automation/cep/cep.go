package cep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/internal/logx"
)

// AttrValueKey keys events by their tenant and the value of the
// attribute named name.
func AttrValueKey(name string) semevent.KeyFunc {
	return func(ev *semevent.Event) semevent.Key {
		v, _ := ev.Attr(name)
		return semevent.Key{Tenant: ev.Tenant, S: v}
	}
}

// Stage selects the events that play one part of a pattern: the
// conjunction of an optional kind, an optional exact topic
// ([semevent.Event.TopicOrKind]), an optional expr condition (see
// filter.Compile) and an optional filter. The zero Stage matches every
// event. Kind and Topic also index the pattern, so that events of other
// kinds and topics never reach it: set them when you can.
type Stage struct {
	Kind   semevent.Kind // KindUnknown: any kind
	Topic  string        // "": any topic
	When   string        // expr condition; "": true
	Filter filter.Filter // nil: true
}

type cstage struct {
	kind  semevent.Kind
	topic string
	f     filter.Filter
}

func (s *Stage) compile(pattern, field string) (cstage, error) {
	c := cstage{kind: s.Kind, topic: s.Topic, f: s.Filter}
	if s.When != "" {
		x, err := filter.Compile(s.When, nil)
		if err != nil {
			return c, &automation.RuleError{Rule: pattern, Field: field + ".when", Err: err}
		}
		if c.f == nil {
			c.f = x
		} else {
			c.f = filter.And(x, c.f)
		}
	}
	if !s.Kind.Valid() {
		return c, &automation.RuleError{Rule: pattern, Field: field + ".kind", Err: fmt.Errorf("unknown kind %d", s.Kind)}
	}
	return c, nil
}

func (s *cstage) match(ev *semevent.Event) bool {
	if s.kind != semevent.KindUnknown && ev.Kind != s.kind {
		return false
	}
	if s.topic != "" && ev.TopicOrKind() != s.topic {
		return false
	}
	return s.f == nil || s.f.Match(ev)
}

// Pattern is a complex-event pattern: [Sequence], [Count], [Absence] or
// [Repeat]. Every pattern has a name, a semevent.KeyFunc (nil means
// semevent.PathKey), a
// Scope (the events it sees at all; the zero Stage means every event) and
// a Within duration on event time, which bounds its memory.
type Pattern interface {
	// PatternName returns the pattern's name, carried by its matches.
	PatternName() string
	build() (*cpat, error)
}

// Sequence matches Stages in order within Within of the first, per key.
//
// With Strict (contiguity "next") the matched events are consecutive in
// the key's stream of in-Scope events: a run e1..en where ei matches
// Stages[i]; every such run matches, overlapping ones included.
//
// Without Strict (contiguity "followed-by", skip-till-next-match) every
// event that matches Stages[0] starts a partial match, which advances at
// the first later event of its key matching its next stage (events in
// between are skipped) and matches when complete, if the last event is
// within Within of the first. An event may advance several partial
// matches and start a new one.
type Sequence struct {
	Name   string
	Key    semevent.KeyFunc
	Scope  Stage
	Stages []Stage // 1 to MaxStages
	Within time.Duration
	Strict bool
}

// Count matches at least Min events matching Stage within Within, per
// key: when an event brings the number of matching events of its key in
// [t-Within, t] since the previous match to Min, those Min events match
// and are consumed, so the next match needs Min new ones.
type Count struct {
	Name   string
	Key    semevent.KeyFunc
	Scope  Stage
	Stage  Stage
	Min    int
	Within time.Duration
}

// Absence matches an event matching First that is not followed, within
// Within, by an event of the same key matching Then. It fires on timeout:
// once the watermark (the largest event time seen, or [CEP.Advance])
// passes First's time plus Within. The match's only cause is the First
// event; its time is the deadline. An event matching Then cancels every
// pending First of its key before it; an event matching both cancels
// older ones and starts its own.
type Absence struct {
	Name   string
	Key    semevent.KeyFunc
	Scope  Stage
	First  Stage
	Then   Stage
	Within time.Duration
}

// Repeat matches runs of consecutive in-Scope events of a key that match
// Stage, with at least Min and at most Max events (Max 0: no bound), all
// within Within of the run's first. A run ends at a non-matching in-Scope
// event, when it reaches Max events (it matches at once), or when the
// watermark passes its first event's time plus Within; on ending it
// matches if it has at least Min events.
type Repeat struct {
	Name     string
	Key      semevent.KeyFunc
	Scope    Stage
	Stage    Stage
	Min, Max int
	Within   time.Duration
}

// MaxStages is the largest number of stages a [Sequence] may have.
const MaxStages = 16

func (p *Sequence) PatternName() string { return p.Name }
func (p *Count) PatternName() string    { return p.Name }
func (p *Absence) PatternName() string  { return p.Name }
func (p *Repeat) PatternName() string   { return p.Name }

func newCpat(name string, key semevent.KeyFunc, scope *Stage, within time.Duration) (*cpat, error) {
	if name == "" {
		return nil, &automation.RuleError{Rule: "#?", Field: "name", Err: errors.New("empty name")}
	}
	if within <= 0 {
		return nil, &automation.RuleError{Rule: name, Field: "within", Err: fmt.Errorf("within %v, want > 0", within)}
	}
	sc, err := scope.compile(name, "scope")
	if err != nil {
		return nil, err
	}
	byPath := key == nil
	if byPath {
		key = semevent.PathKey
	}
	return &cpat{name: name, key: key, byPath: byPath, scope: sc, within: int64(within)}, nil
}

func (p *Sequence) build() (*cpat, error) {
	c, err := newCpat(p.Name, p.Key, &p.Scope, p.Within)
	if err != nil {
		return nil, err
	}
	if len(p.Stages) == 0 || len(p.Stages) > MaxStages {
		return nil, &automation.RuleError{Rule: p.Name, Field: "stages", Err: fmt.Errorf("%d stages, want 1 to %d", len(p.Stages), MaxStages)}
	}
	st := make([]cstage, len(p.Stages))
	for i := range p.Stages {
		if st[i], err = p.Stages[i].compile(p.Name, fmt.Sprintf("stages[%d]", i)); err != nil {
			return nil, err
		}
	}
	if p.Strict {
		c.m = &strictSeq{stages: st}
		c.all = true
	} else {
		c.m = &relaxedSeq{stages: st}
		c.stages = st
	}
	return c, nil
}

func (p *Count) build() (*cpat, error) {
	c, err := newCpat(p.Name, p.Key, &p.Scope, p.Within)
	if err != nil {
		return nil, err
	}
	if p.Min < 1 {
		return nil, &automation.RuleError{Rule: p.Name, Field: "min", Err: fmt.Errorf("min %d, want >= 1", p.Min)}
	}
	st, err := p.Stage.compile(p.Name, "stage")
	if err != nil {
		return nil, err
	}
	c.m = &countM{stage: st, min: p.Min}
	c.stages = []cstage{st}
	return c, nil
}

func (p *Absence) build() (*cpat, error) {
	c, err := newCpat(p.Name, p.Key, &p.Scope, p.Within)
	if err != nil {
		return nil, err
	}
	first, err := p.First.compile(p.Name, "first")
	if err != nil {
		return nil, err
	}
	then, err := p.Then.compile(p.Name, "then")
	if err != nil {
		return nil, err
	}
	c.m = &absenceM{first: first, then: then}
	c.stages = []cstage{first, then}
	return c, nil
}

func (p *Repeat) build() (*cpat, error) {
	c, err := newCpat(p.Name, p.Key, &p.Scope, p.Within)
	if err != nil {
		return nil, err
	}
	if p.Min < 1 || p.Max < 0 || (p.Max > 0 && p.Max < p.Min) {
		return nil, &automation.RuleError{Rule: p.Name, Field: "min/max", Err: fmt.Errorf("min %d max %d, want 1 <= min <= max or max 0", p.Min, p.Max)}
	}
	st, err := p.Stage.compile(p.Name, "stage")
	if err != nil {
		return nil, err
	}
	c.m = &repeatM{stage: st, min: p.Min, max: p.Max}
	c.all = true
	return c, nil
}

// cpat is a compiled pattern.
type cpat struct {
	idx    int32 // its index in cep.pats, which keys its state in a keyEntry
	tq     int   // its timer queue: the one of the patterns with its Within
	name   string
	key    semevent.KeyFunc
	byPath bool // key is the default semevent.PathKey, built inline
	scope  cstage
	within int64
	m      matcher
	stages []cstage // the stages that index it; nil with all
	all    bool     // sees every in-scope event (strict contiguity, runs)
	epoch  uint64   // the last event it saw, to visit it once per event
	// lastSweep is the watermark of its last sweep.
	lastSweep int64
}

// matcher is one pattern's state machine. Its methods are called with
// CEP.mu held.
type matcher interface {
	event(c *cep, p *cpat, r *keyRef, ev *semevent.Event, t int64)
	// timer fires deadline seq of state st; st may have been recycled
	// since, which seq tells.
	timer(c *cep, p *cpat, st keyState, seq uint64, at int64)
	sweep(c *cep, p *cpat, wm int64)
	partials() int
	reset() // drops every key's state
}

// origin is what a match event copies from the events that caused it.
type origin struct {
	tenant, path string
	pid          uint32
}

func originOf(ev *semevent.Event) origin { return origin{ev.Tenant, ev.Path, ev.PID} }

// Options configure [New]. A nil *Options means defaults.
type Options struct {
	// Publisher receives every match as an event of kind
	// semevent.KindPatternMatched. Nil: matches are only counted.
	Publisher semevent.Publisher
	// PublishTimeout bounds the publishes to Publisher of the matches
	// one Handle or Advance call makes: they share one deadline (one
	// timer per call, not per match), PublishTimeout after they start.
	// 0 means semevent.DefaultPublishTimeout, a negative value means no
	// bound. A publish that times out is returned by Handle or Advance
	// and reported to OnError.
	PublishTimeout time.Duration
	// Principal is who publishes the matches on a bus with an access.Authorizer:
	// each publish's context carries it (access.WithPrincipal). Without it
	// an authorized bus refuses the publish (access.ErrNoPrincipal), since
	// the handler context the bus gives subscribers carries none. It needs
	// a grant of OpPublish on the topic "automation.pattern.matched" (semevent.KindPatternMatched), e.g. the policy role
	//
	//	- name: automation
	//	  grants:
	//	    - ops: [publish]
	//	      topics: [automation.pattern.matched]
	Principal *access.Principal
	// MaxPartialsPerKey caps the partial matches (and pending Absence
	// timers) one pattern keeps for one key; beyond it the oldest is
	// evicted and counted in Stats.Evicted. Default 1024.
	MaxPartialsPerKey int
	// MaxKeys caps the keys one pattern holds state for (partial
	// matches, buffered Count events, pending Absence timers, open Repeat
	// runs). A new key beyond it evicts the state of another key of that
	// pattern, chosen at random, and counts it in Stats.KeysEvicted: keys
	// are attacker-chosen (paths), and without the cap state would grow
	// with every distinct one seen within Within. Default
	// [DefaultMaxKeys]. Together with MaxPartialsPerKey this bounds an
	// engine's memory: see the package documentation for the figures.
	MaxKeys int
	// OnError receives Publisher errors. Nil: they are returned by Handle
	// and Advance only.
	OnError func(error)
	// Logger receives the engine's log lines (component "cep"): publish
	// errors (error) and events refused by MaxFuture (warning, with
	// "event", "tenant" and "time"), each logged the first time and then
	// at most every 10s as a summary whose "count" says how many occurred.
	// nil means slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger

	// Clock returns the processing time in Unix nanoseconds (default the
	// real clock). It is read only to check MaxFuture.
	Clock func() int64
	// MaxFuture bounds how far ahead of the processing clock (Clock) an
	// event's time may be: an event with Time > Clock() + MaxFuture is
	// refused — not matched, and it does not move the watermark —
	// counted in Stats.Future and passed to OnFuture. Without the bound,
	// one event from any tenant with a far-future time would move the one
	// watermark that every key and tenant shares: every later event would
	// be late, and no Absence or Repeat deadline would fire until the
	// clock caught up. 0 means [DefaultMaxFuture]; < 0 disables the bound
	// (for replaying a recorded stream whose times are ahead of the
	// clock, say). [Engine.Advance] is not bounded: its caller decides.
	// analytics.Options.MaxFuture makes the same choice.
	MaxFuture time.Duration
	// OnFuture receives each event refused for being more than MaxFuture
	// ahead of the clock, on the goroutine that called Handle, after the
	// engine's lock is released. Nil: refused events are only counted.
	OnFuture func(*semevent.Event)
}

// DefaultMaxFuture is the default [Options.MaxFuture].
const DefaultMaxFuture = time.Minute

// DefaultMaxPartialsPerKey is the default [Options.MaxPartialsPerKey].
const DefaultMaxPartialsPerKey = 1024

// DefaultMaxKeys is the default [Options.MaxKeys].
const DefaultMaxKeys = 65536

// Validate lists every problem in o.
func (o *Options) Validate() error {
	p := &semevent.OptionsError{Options: "cep.Options"}
	if o != nil && o.MaxPartialsPerKey < 0 {
		p.Addf("MaxPartialsPerKey", "%d is negative", o.MaxPartialsPerKey)
	}
	if o != nil && o.MaxKeys < 0 {
		p.Addf("MaxKeys", "%d is negative", o.MaxKeys)
	}
	return p.Err()
}

// Stats are an [Engine]'s counters.
type Stats struct {
	Events  uint64 // events handled (refused future events excluded)
	Matches uint64 // matches emitted
	Evicted uint64 // partial matches evicted by MaxPartialsPerKey
	// KeysEvicted counts the keys whose state was evicted by MaxKeys.
	KeysEvicted uint64
	Late        uint64 // events older than the watermark (processed at the watermark)
	Future      uint64 // events refused for being more than MaxFuture ahead of the clock
	Partials    int    // partial matches and pending timers held now
}

// Engine is the complex-event-processing engine: it runs a fixed set of
// [Pattern]s over the events given to [Engine.Handle] and publishes a
// semevent.KindPatternMatched event for each match. It is a
// semevent.Handler, so it can subscribe to a propagation.Propagator.
//
// Time is event time: the watermark is the largest [semevent.Event.Time]
// seen, or a later time given to [Engine.Advance]. Absence and Repeat fire
// when the watermark passes their deadline, partial matches expire with
// their window, and state is swept once per the shortest Within of event
// time. Events should arrive in event-time order; a late event is
// processed as if it happened at the watermark and counted. Each
// pattern's expired partial matches are swept once per its Within of event
// time, so they live at most twice their window. Time
// arithmetic saturates at the ends of int64 rather than wrapping: a
// deadline past math.MaxInt64 is math.MaxInt64, which the watermark never
// passes, and two events at opposite ends of the range are as far apart
// as can be.
//
// All methods are safe for concurrent use; Handle serialises on one
// mutex, and publishes after releasing it.
type Engine struct {
	c cep
}

type cep struct {
	mu        sync.Mutex // guards every field below
	pats      []*cpat
	byTopic   map[string][]*cpat
	byKind    [256][]*cpat
	always    []*cpat
	epoch     uint64
	watermark int64
	started   bool
	closed    bool
	lastSweep int64
	sweepGap  int64
	seq       uint64 // last timer sequence number
	timers    timers
	keys      keyIndex
	refs      [maxRefs + 1]keyRef // the current event's keys (the last: scratch)
	nrefs     int
	rng       uint64
	scratch   []semevent.ID
	out       []*semevent.Event // matches made under mu, published after
	slab      []matchEvent      // unused match blocks (see emit)
	cap       int               // MaxPartialsPerKey
	maxKeys   int               // MaxKeys
	stats     Stats

	// clock, maxFuture and futureLimit bound event times (MaxFuture);
	// futureLimit is Clock()+MaxFuture as of the last clock read, which
	// happens only for an event beyond it.
	clock       func() int64
	maxFuture   int64
	futureLimit int64
	onFuture    func(*semevent.Event)

	pub   semevent.Publisher
	pubTO time.Duration
	who   *access.Principal
	onErr func(error)
	log   *slog.Logger
	// pubLog and futureLog hold back repeated lines (see logx.Limiter).
	pubLog, futureLog logx.Limiter
	idsFL             [MaxStages + 1][][]semevent.ID
}

var (
	_ semevent.Handler = (*Engine)(nil)
	_ semevent.Closer  = (*Engine)(nil)
)

// New compiles patterns. Every invalid pattern is reported, as
// *automation.RuleErrors joined; pattern names must be unique.
func New(patterns []Pattern, opts *Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxPartialsPerKey == 0 {
		o.MaxPartialsPerKey = DefaultMaxPartialsPerKey
	}
	e := &Engine{}
	c := &e.c
	c.byTopic = map[string][]*cpat{}
	c.keys = newKeyIndex()
	withins := map[int64]int{}
	c.cap = o.MaxPartialsPerKey
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	c.maxKeys = o.MaxKeys
	c.pub = o.Publisher
	c.pubTO = o.PublishTimeout
	if o.MaxFuture == 0 {
		o.MaxFuture = DefaultMaxFuture
	}
	if o.Clock == nil {
		o.Clock = semevent.Now
	}
	c.clock, c.maxFuture, c.onFuture = o.Clock, int64(o.MaxFuture), o.OnFuture
	c.futureLimit = math.MinInt64 // read the clock at the first event
	c.who = o.Principal
	c.onErr = o.OnError
	c.log = logx.For(o.Logger, "cep")
	var errs []error
	names := map[string]bool{}
	for i, p := range patterns {
		if p == nil {
			errs = append(errs, &automation.RuleError{Rule: fmt.Sprintf("#%d", i), Field: "pattern", Err: errors.New("nil pattern")})
			continue
		}
		cp, err := p.build()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if names[cp.name] {
			errs = append(errs, &automation.RuleError{Rule: cp.name, Field: "name", Err: errors.New("duplicate pattern name")})
			continue
		}
		names[cp.name] = true
		q, ok := withins[cp.within]
		if !ok {
			q = len(withins)
			withins[cp.within] = q
		}
		cp.tq = q
		c.pats = append(c.pats, cp)
		if c.sweepGap == 0 || cp.within < c.sweepGap {
			c.sweepGap = cp.within
		}
		c.index(cp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.timers.init(len(withins))
	c.numberSlots()
	return e, nil
}

// numberSlots gives each pattern its index in the per-key tables
// (cpat.idx): the patterns an event of one topic or kind wakes get
// consecutive numbers, so that their states for a key lie next to each
// other in that key's table.
func (c *cep) numberSlots() {
	for _, p := range c.pats {
		p.idx = -1
	}
	next := int32(0)
	number := func(list []*cpat) {
		for _, p := range list {
			if p.idx < 0 {
				p.idx = next
				next++
			}
		}
	}
	number(c.always)
	for _, l := range c.byKind {
		number(l)
	}
	for _, t := range slices.Sorted(maps.Keys(c.byTopic)) {
		number(c.byTopic[t])
	}
	number(c.pats) // none is left: every pattern is filed somewhere
}

// index files p under the kinds and topics of the stages that can wake it.
func (c *cep) index(p *cpat) {
	stages := p.stages
	if p.all {
		stages = []cstage{p.scope}
	}
	seen := map[string]bool{}
	add := func(k string, list *[]*cpat) {
		if !seen[k] {
			seen[k] = true
			*list = append(*list, p)
		}
	}
	for _, s := range stages {
		switch {
		case s.topic != "":
			l := c.byTopic[s.topic]
			add("t:"+s.topic, &l)
			c.byTopic[s.topic] = l
		case s.kind != semevent.KindUnknown:
			add("k:"+strconv.Itoa(int(s.kind)), &c.byKind[s.kind])
		default:
			add("*", &c.always)
			return
		}
	}
}

// Handle runs ev through every pattern it may concern and publishes the
// matches it completes, and those whose deadline ev's time passed. It
// returns the publisher's errors, joined. An event more than
// Options.MaxFuture ahead of the clock is refused (see there); Handle
// returns nil for it.
func (e *Engine) Handle(ctx context.Context, ev *semevent.Event) error {
	if ev == nil {
		return semevent.ErrNilEvent
	}
	c := &e.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return automation.ErrClosed
	}
	t := ev.Time
	if c.maxFuture >= 0 && t > c.futureLimit {
		c.futureLimit = addSat(c.clock(), c.maxFuture)
		if t > c.futureLimit {
			c.stats.Future++
			c.mu.Unlock()
			if c.log.Enabled(context.Background(), slog.LevelWarn) {
				if n, ok := c.futureLog.Note(c.clock()); ok {
					c.log.LogAttrs(context.Background(), slog.LevelWarn, "event refused: too far in the future", slog.String(logx.Event, ev.ID.String()),
						slog.String(logx.Tenant, ev.Tenant), slog.Int64("time", t), slog.Uint64(logx.Count, n))
				}
			}
			if c.onFuture != nil {
				c.onFuture(ev)
			}
			return nil
		}
	}
	c.stats.Events++
	if !c.started {
		c.started = true
		c.watermark, c.lastSweep = t, t
	}
	if t < c.watermark {
		c.stats.Late++
		t = c.watermark
	} else if t > c.watermark {
		c.advanceLocked(t)
	}
	c.epoch++
	c.nrefs = 0
	c.visit(c.always, ev, t)
	if int(ev.Kind) < len(c.byKind) {
		c.visit(c.byKind[ev.Kind], ev, t)
	}
	if len(c.byTopic) > 0 {
		c.visit(c.byTopic[ev.TopicOrKind()], ev, t)
	}
	return c.flushLocked(ctx)
}

func (c *cep) visit(list []*cpat, ev *semevent.Event, t int64) {
	for _, p := range list {
		if p.epoch == c.epoch {
			continue
		}
		p.epoch = c.epoch
		if !p.scope.match(ev) {
			continue
		}
		var k semevent.Key
		if p.byPath {
			k = semevent.Key{S: ev.Path}
		} else {
			k = p.key(ev)
		}
		k.Tenant = ev.Tenant // per tenant by construction, whatever the KeyFunc
		p.m.event(c, p, c.ref(k), ev, t)
	}
}

// Advance moves the watermark to t (Unix nanoseconds) if t is later,
// firing the Absence and Repeat deadlines it passes, and publishes those
// matches. Call it from a ticker to fire timeouts when events are sparse.
func (e *Engine) Advance(ctx context.Context, t int64) error {
	c := &e.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return automation.ErrClosed
	}
	if !c.started {
		c.started = true
		c.watermark, c.lastSweep = t, t
	}
	if t > c.watermark {
		c.advanceLocked(t)
	}
	return c.flushLocked(ctx)
}

func (c *cep) advanceLocked(t int64) {
	c.watermark = t
	c.nrefs = 0 // timers and sweeps may drop entries; no event's refs are in use
	for {
		tm, ok := c.timers.popBefore(t)
		if !ok {
			break
		}
		tm.p.m.timer(c, tm.p, tm.st, tm.seq, tm.at)
	}
	if subSat(t, c.lastSweep) > c.sweepGap {
		c.lastSweep = t
		for _, p := range c.pats {
			// Each pattern is swept once per its own Within: sweeping
			// every pattern at the shortest Within cost a quarter of
			// the engine's time with a thousand patterns.
			if subSat(t, p.lastSweep) > p.within {
				p.lastSweep = t
				p.m.sweep(c, p, t)
			}
		}
	}
}

// flushLocked publishes the matches made under c.mu, after unlocking it.
// The matches of one call share one PublishTimeout.
func (c *cep) flushLocked(ctx context.Context) error {
	if len(c.out) == 0 {
		c.mu.Unlock()
		return nil
	}
	var buf [8]*semevent.Event
	out := buf[:0]
	if len(c.out) > len(buf) {
		out = make([]*semevent.Event, 0, len(c.out))
	}
	out = append(out, c.out...)
	clear(c.out)
	c.out = c.out[:0]
	c.mu.Unlock()
	if c.pub == nil {
		return nil
	}
	var errs []error
	if c.who != nil {
		ctx = access.WithPrincipal(ctx, c.who)
	}
	if d := c.pubTO; d >= 0 {
		if d == 0 {
			d = semevent.DefaultPublishTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	for _, m := range out {
		if err := c.pub.Publish(ctx, m); err != nil {
			if n, ok := c.pubLog.Note(c.clock()); ok {
				c.log.LogAttrs(ctx, slog.LevelError, "publishing a match failed", slog.String("topic", m.Topic), slog.String(logx.Tenant, m.Tenant),
					slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
			}
			if c.onErr != nil {
				c.onErr(err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the engine: Handle and Advance return automation.ErrClosed
// (which wraps semevent.ErrClosed) from then on, and the partial matches
// and pending timers are dropped without firing. The engine starts no
// goroutines, so Close waits only for a Handle or Advance in progress to
// release the engine's lock. It is idempotent and safe in any order with
// the bus the engine publishes to.
func (e *Engine) Close(ctx context.Context) error {
	c := &e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.timers.init(len(c.timers.qs))
	for _, p := range c.pats {
		p.m.reset()
	}
	c.keys = newKeyIndex()
	return nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	c := &e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	for _, p := range c.pats {
		s.Partials += p.m.partials()
	}
	return s
}

// Watermark returns the current watermark in Unix nanoseconds.
func (e *Engine) Watermark() int64 {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	return e.c.watermark
}

// emit records a match; ids are copied.
func (c *cep) emit(p *cpat, k semevent.Key, ids []semevent.ID, at int64, o origin) {
	c.stats.Matches++
	// The event, its attributes and (for up to three causes) its data
	// share one block of 384 bytes, cut from a slab of matchSlab blocks:
	// one allocation per matchSlab matches. A block is never reused (the
	// publisher owns the event it is given), so a slab lives while any of
	// its matches is referenced.
	if len(c.slab) == 0 {
		c.slab = make([]matchEvent, matchSlab)
	}
	m := &c.slab[0]
	c.slab = c.slab[1:]
	data := m.data[:0]
	if n := 16 * len(ids); n > len(m.data) {
		data = make([]byte, 0, n)
	}
	for _, id := range ids {
		b := id.Bytes()
		data = append(data, b[:]...)
	}
	m.attrs = [2]semevent.Attr{{Key: AttrPattern, Value: p.name}, {Key: AttrKey, Value: k.String()}}
	m.ev = semevent.Event{
		Kind:     semevent.KindPatternMatched,
		Boundary: semevent.Userspace,
		Time:     at,
		Tenant:   o.tenant,
		Path:     o.path,
		PID:      o.pid,
		Cause:    ids[len(ids)-1],
		Attrs:    m.attrs[:],
		Data:     data,
	}
	c.out = append(c.out, &m.ev)
}

// matchSlab is how many match blocks one allocation holds.
const matchSlab = 16

// matchEvent is a match event with room for its attributes and three
// causing IDs.
type matchEvent struct {
	ev    semevent.Event
	attrs [2]semevent.Attr
	data  [48]byte
}

// Attribute keys of the semevent.KindPatternMatched events an [Engine]
// publishes.
const (
	AttrPattern = "pattern" // the pattern that matched
	AttrKey     = "key"     // the partition key (semevent.Key.String)
)

// CausingIDs returns the IDs of the events that caused a pattern match,
// in the order they matched: a match event's Data holds them as 16-byte
// [semevent.ID.Bytes] each, and its Cause is the last of them.
func CausingIDs(match *semevent.Event) ([]semevent.ID, error) {
	if match.Kind != semevent.KindPatternMatched || len(match.Data)%16 != 0 {
		return nil, &automation.RecordError{Pos: len(match.Data) / 16 * 16, Msg: "not a pattern-matched event with 16-byte IDs"}
	}
	ids := make([]semevent.ID, len(match.Data)/16)
	for i := range ids {
		ids[i] = semevent.IDFromBytes([16]byte(match.Data[16*i : 16*i+16]))
	}
	return ids, nil
}

// getIDs returns an empty ID slice with room for n, from the free list.
func (c *cep) getIDs(n int) []semevent.ID {
	fl := c.idsFL[n]
	if k := len(fl); k > 0 {
		s := fl[k-1]
		c.idsFL[n] = fl[:k-1]
		return s[:0]
	}
	return make([]semevent.ID, 0, n)
}

func (c *cep) putIDs(s []semevent.ID) {
	n := cap(s)
	if n <= MaxStages && len(c.idsFL[n]) < 4096 {
		c.idsFL[n] = append(c.idsFL[n], s)
	}
}

// addSat returns a+b, saturated at the ends of int64 instead of wrapping.
func addSat(a, b int64) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// subSat returns a-b, saturated at the ends of int64 instead of wrapping:
// the distance between two event times, whatever they are.
func subSat(a, b int64) int64 {
	s := a - b
	if (b < 0 && s < a) || (b > 0 && s > a) {
		if b < 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// timer is a deadline of one state of one pattern; seq tells a stale
// timer (its state recycled or its pending First gone) from a live one.
type timer struct {
	at  int64
	seq uint64
	p   *cpat
	st  keyState
}

// timers are the pending deadlines, in one FIFO queue per distinct Within:
// event time never goes back (a late event counts at the watermark), so
// the deadlines t+Within of the patterns sharing a Within arrive in
// order, and a queue's append is all a new timer costs. A small heap of
// the non-empty queues, ordered by their first deadline, gives the next
// to fire. (A heap entry per timer — hundreds of thousands with a
// thousand patterns — was a seventh of the engine's time.) A queue holds
// at most the timers started within its Within: each Absence First and
// each Repeat run starts one.
type timers struct {
	qs   []timerQueue
	heap []int // indices of non-empty queues, by their head's (at, seq)
}

type timerQueue struct {
	q    []timer
	head int // q[head:] are pending
}

func (ts *timers) init(n int) {
	ts.qs = make([]timerQueue, n)
	ts.heap = ts.heap[:0]
}

// add queues a deadline for p; at must not be before the last one queued
// for a pattern with p's Within.
func (c *cep) addTimer(p *cpat, at int64, seq uint64, st keyState) {
	ts := &c.timers
	q := &ts.qs[p.tq]
	empty := q.head == len(q.q)
	q.q = append(q.q, timer{at: at, seq: seq, p: p, st: st})
	if empty {
		ts.heap = append(ts.heap, p.tq)
		ts.up(len(ts.heap) - 1)
	}
}

// popBefore removes and returns the first deadline if it is before t.
func (ts *timers) popBefore(t int64) (timer, bool) {
	if len(ts.heap) == 0 {
		return timer{}, false
	}
	q := &ts.qs[ts.heap[0]]
	tm := q.q[q.head]
	if tm.at >= t {
		return timer{}, false
	}
	q.q[q.head] = timer{}
	q.head++
	switch {
	case q.head == len(q.q):
		q.q, q.head = q.q[:0], 0
		last := len(ts.heap) - 1
		ts.heap[0] = ts.heap[last]
		ts.heap = ts.heap[:last]
	case q.head >= 1024 && 2*q.head >= len(q.q):
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	ts.down(0)
	return tm, true
}

func (ts *timers) less(i, j int) bool {
	a, b := &ts.qs[ts.heap[i]], &ts.qs[ts.heap[j]]
	x, y := &a.q[a.head], &b.q[b.head]
	if x.at != y.at {
		return x.at < y.at
	}
	return x.seq < y.seq
}

func (ts *timers) up(i int) {
	for i > 0 {
		j := (i - 1) / 2
		if !ts.less(i, j) {
			break
		}
		ts.heap[i], ts.heap[j] = ts.heap[j], ts.heap[i]
		i = j
	}
}

func (ts *timers) down(i int) {
	n := len(ts.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && ts.less(r, l) {
			m = r
		}
		if !ts.less(m, i) {
			return
		}
		ts.heap[i], ts.heap[m] = ts.heap[m], ts.heap[i]
		i = m
	}
}
