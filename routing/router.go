package routing

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/vexfs/semevent"
)

// Router decides where events go.
type Router interface {
	// Route appends to dst the names of the destinations of ev, each at
	// most once and in no particular order, and returns the extended
	// slice. It must be safe for concurrent use, must not modify or retain
	// ev, and should not allocate when dst has room.
	Route(ev *semevent.Event, dst []string) []string
}

// Table is the default [Router]: a compiled rule set that can be replaced
// while events flow. Use [New]; a zero Table routes nowhere until Load. Every decision is made by exactly one rule set: Route
// reads the current one once, and [Table.Load] swaps in the next one
// atomically after compiling it aside. All methods are safe for concurrent
// use.
type Table struct {
	opts    Options
	mu      sync.Mutex // serialises Load; guards nothing Route reads
	version uint64     // guarded by mu
	cur     atomic.Pointer[compiled]
	panics  atomic.Uint64
}

var _ Router = (*Table)(nil)

// New compiles rs (nil means no rules: every event goes nowhere) into a
// Table. An invalid rule set yields a *[RuleSetError] listing every
// problem.
func New(rs *RuleSet, opts *Options) (*Table, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	t := &Table{opts: opts.withDefaults()}
	if err := t.load(rs); err != nil {
		return nil, err
	}
	return t, nil
}

// Route appends the destinations of ev to dst; see [Router].
func (t *Table) Route(ev *semevent.Event, dst []string) []string {
	return t.cur.Load().route(ev, dst) // small enough to inline into the caller
}

// RouteVersion is Route that also returns the version of the rule set that
// made the decision (1 for the rule set given to New, then one more per
// successful Load).
func (t *Table) RouteVersion(ev *semevent.Event, dst []string) ([]string, uint64) {
	c := t.cur.Load()
	if c == nil {
		return dst, 0
	}
	return c.route(ev, dst), c.version
}

// Load compiles rs and, if it is valid, replaces the current rule set with
// it: decisions already under way finish with the old rules, later ones use
// the new rules, and the decision cache starts empty. If rs is invalid,
// Load returns a *[RuleSetError] listing every problem and the current rule
// set stays.
//
// With Options.Guard set, Load is refused: use LoadContext.
func (t *Table) Load(rs *RuleSet) error { return t.LoadContext(context.Background(), rs) }

// GuardTarget is the target name routing passes to Options.Guard.
const GuardTarget = "routing.rules"

// LoadContext is Load on behalf of ctx's caller, whom Options.Guard, when
// set, authorizes.
func (t *Table) LoadContext(ctx context.Context, rs *RuleSet) error {
	if g := t.opts.Guard; g != nil {
		return g(ctx, GuardTarget, func() error { return t.load(rs) })
	}
	return t.load(rs)
}

func (t *Table) load(rs *RuleSet) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.opts.withDefaults()
	o.panics = &t.panics
	c, err := compile(rs, o, t.version+1)
	if err != nil {
		return err
	}
	t.version++
	t.cur.Store(c)
	return nil
}

// FilterPanics returns how many times a Rule.Filter panicked. Route
// recovers such a panic and treats the rule as not matching.
func (t *Table) FilterPanics() uint64 { return t.panics.Load() }

// Version returns the version of the current rule set.
func (t *Table) Version() uint64 {
	if c := t.cur.Load(); c != nil {
		return c.version
	}
	return 0
}

// Done reports that dest finished an event, for LeastLoaded groups that
// count load themselves (no Options.Load). Unknown names are ignored.
func (t *Table) Done(dest string) {
	c := t.cur.Load()
	if c == nil {
		return
	}
	if id, ok := c.destIdx[dest]; ok {
		c.load[id].Add(-1)
	}
}

// Destinations returns every destination name the current rule set can
// produce: plain destinations and group members. The bus can resolve them
// once per reload.
func (t *Table) Destinations() []string {
	c := t.cur.Load()
	if c == nil {
		return nil
	}
	return append([]string(nil), c.dests...)
}
