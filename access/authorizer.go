package access

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/puzpuzpuz/xsync/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access/audit"
)

// Errors. Every denial wraps ErrDenied, so errors.Is(err, ErrDenied) tells
// a refusal from a failure.
var (
	ErrDenied      = errors.New("access: denied")
	ErrNoPrincipal = errors.New("access: no principal")
	ErrUnknownRole = errors.New("access: unknown role")
)

// DeniedError says who was refused what, and why.
type DeniedError struct {
	Principal string
	Op        Op
	Topic     string
	Path      string
	EventID   semevent.ID
	Reason    string
	Err       error // ErrNoPrincipal, ErrUnknownRole or nil
}

func (e *DeniedError) Error() string {
	s := fmt.Sprintf("access: %s may not %s", e.Principal, e.Op)
	if e.Topic != "" {
		s += " " + e.Topic
	}
	if e.Path != "" {
		s += " " + e.Path
	}
	return s + ": " + e.Reason
}

// Unwrap returns ErrDenied and the cause, if any.
func (e *DeniedError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrDenied, e.Err}
	}
	return []error{ErrDenied}
}

// Options configure an Authorizer. A nil *Options means defaults.
type Options struct {
	// Audit, when set, records every denial and every admin operation
	// (allowed or not), and with AuditAllowed every allowed decision.
	Audit *audit.Log
	// AuditAllowed records allowed publish and replay decisions too.
	AuditAllowed bool
	// CacheSize bounds the shared decision cache (entries). Default 65536.
	CacheSize int
}

// Authorizer decides, from a Policy, whether a principal may do an
// operation on an event, and audits what it decides. Its methods may be
// called concurrently; a policy change takes effect for every decision
// that starts after SetPolicy returns.
type Authorizer struct {
	pol   atomic.Pointer[policyState]
	opts  Options
	audit *audit.Log
}

// policyState is a compiled policy and the decision cache that belongs to
// it: replacing the policy drops the cache with it.
type policyState struct {
	c     *compiled
	cache *xsync.MapOf[cacheKey, *candidates]
	size  atomic.Int64
}

type cacheKey struct {
	p     *Principal
	op    Op
	topic string
}

// candidates are the grants of a principal's roles that apply to an
// operation on a topic, deny grants first. When none needs the path or a
// condition, the decision is final and cached as such.
type candidates struct {
	err    error
	grants []*grant
	final  bool
	allow  bool
	reason string
}

// New compiles p (nil: no roles, everything denied).
func New(p *Policy, opts *Options) (*Authorizer, error) {
	c, err := compile(p)
	if err != nil {
		return nil, err
	}
	a := &Authorizer{}
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.CacheSize <= 0 {
		a.opts.CacheSize = 65536
	}
	a.audit = a.opts.Audit
	a.pol.Store(newState(c))
	return a, nil
}

func newState(c *compiled) *policyState {
	return &policyState{c: c, cache: xsync.NewMapOf[cacheKey, *candidates]()}
}

// SetPolicy replaces the policy, if ctx's principal may administer
// "access.policy". An invalid policy is rejected whole (*PolicyError) and
// the current one stays. Both outcomes are audited.
func (a *Authorizer) SetPolicy(ctx context.Context, p *Policy) error {
	return a.Guard(ctx, "access.policy", func() error {
		c, err := compile(p)
		if err != nil {
			return err
		}
		a.pol.Store(newState(c))
		return nil
	})
}

// Guard runs fn, an administrative operation on target (a rule set, a
// workflow, the cluster membership), if ctx's principal holds OpAdmin on
// the topic "admin.<target>". The decision and fn's outcome are audited.
// Use it around routing.Table.Load, workflow reloads and membership
// changes.
func (a *Authorizer) Guard(ctx context.Context, target string, fn func() error) error {
	p, _ := FromContext(ctx)
	ev := &semevent.Event{Kind: semevent.KindCustom, Topic: "admin." + target}
	if p != nil {
		ev.Tenant = p.Tenant
	}
	err := a.decide(a.pol.Load(), p, OpAdmin, ev)
	rec := audit.Record{Kind: audit.Admin, Op: OpAdmin.String(), Target: target, Allowed: err == nil}
	if err == nil {
		if ferr := fn(); ferr != nil {
			rec.Reason = "failed: " + ferr.Error()
			err = ferr
		}
	} else {
		rec.Reason = reasonOf(err)
	}
	a.record(p, rec)
	return err
}

// Authorize decides whether p may do op on ev: nil means allowed, a
// *DeniedError (wrapping ErrDenied) refused. Denials are audited.
func (a *Authorizer) Authorize(p *Principal, op Op, ev *semevent.Event) error {
	err := a.decide(a.pol.Load(), p, op, ev)
	if err != nil || a.opts.AuditAllowed {
		a.recordDecision(p, op, ev, err)
	}
	return err
}

// Check is Authorize for the principal ctx carries.
func (a *Authorizer) Check(ctx context.Context, op Op, ev *semevent.Event) error {
	p, _ := FromContext(ctx)
	return a.Authorize(p, op, ev)
}

// Permits reports whether p holds any grant that allows op, before any
// event is known: Subscribe uses it to refuse a principal who could never
// receive anything. Refusals are audited.
func (a *Authorizer) Permits(p *Principal, op Op) error {
	err := a.permits(p, op)
	if err != nil {
		a.recordDecision(p, op, &semevent.Event{}, err)
	}
	return err
}

func (a *Authorizer) permits(p *Principal, op Op) error {
	if p == nil {
		return &DeniedError{Principal: p.String(), Op: op, Reason: "no principal", Err: ErrNoPrincipal}
	}
	c := a.pol.Load().c
	for _, r := range p.Roles {
		gs, ok := c.roles[r]
		if !ok {
			return &DeniedError{Principal: p.String(), Op: op, Reason: fmt.Sprintf("unknown role %q", r), Err: ErrUnknownRole}
		}
		for _, g := range gs {
			if !g.deny && g.ops&op != 0 {
				return nil
			}
		}
	}
	return &DeniedError{Principal: p.String(), Op: op, Reason: "no role grants it"}
}

// decide is the decision itself, without auditing.
func (a *Authorizer) decide(st *policyState, p *Principal, op Op, ev *semevent.Event) error {
	if p == nil {
		return &DeniedError{Principal: p.String(), Op: op, Topic: ev.TopicOrKind(), Path: ev.Path, EventID: ev.ID, Reason: "no principal", Err: ErrNoPrincipal}
	}
	if p.Tenant != "" && ev.Tenant != p.Tenant {
		return &DeniedError{Principal: p.String(), Op: op, Topic: ev.TopicOrKind(), Path: ev.Path, EventID: ev.ID,
			Reason: fmt.Sprintf("event of tenant %q, principal of tenant %q", ev.Tenant, p.Tenant)}
	}
	topic := ev.TopicOrKind()
	key := cacheKey{p: p, op: op, topic: topic}
	cand, ok := st.cache.Load(key)
	if !ok {
		cand = st.c.candidates(p, op, topic)
		if st.size.Add(1) > int64(a.opts.CacheSize) {
			st.cache.Clear()
			st.size.Store(1)
		}
		st.cache.Store(key, cand)
	}
	if allowed, reason := cand.decide(p, ev); !allowed {
		return &DeniedError{Principal: p.String(), Op: op, Topic: topic, Path: ev.Path, EventID: ev.ID, Reason: reason, Err: cand.err}
	}
	return nil
}

// candidates gathers the grants of p's roles for op on topic.
func (c *compiled) candidates(p *Principal, op Op, topic string) *candidates {
	out := &candidates{final: true}
	var allows []*grant
	for _, r := range p.Roles {
		gs, ok := c.roles[r]
		if !ok {
			return &candidates{err: ErrUnknownRole, final: true, reason: fmt.Sprintf("unknown role %q", r)}
		}
		for _, g := range gs {
			if g.ops&op == 0 || !g.topicMatch(topic) {
				continue
			}
			if len(g.paths) > 0 || g.when != nil {
				out.final = false
			}
			if g.deny {
				out.grants = append(out.grants, g)
			} else {
				allows = append(allows, g)
			}
		}
	}
	out.grants = append(out.grants, allows...)
	if out.final {
		out.allow, out.reason = out.evaluate(nil, nil)
	}
	return out
}

// decide returns the decision for ev.
func (c *candidates) decide(p *Principal, ev *semevent.Event) (bool, string) {
	if c.final {
		return c.allow, c.reason
	}
	return c.evaluate(p, ev)
}

// evaluate applies the grants in order (denies first); with ev nil only
// topic-level grants are present.
func (c *candidates) evaluate(p *Principal, ev *semevent.Event) (bool, string) {
	if c.err != nil {
		return false, c.reason
	}
	for _, g := range c.grants {
		if ev != nil && (!g.pathMatch(ev.Path) || !g.holds(p, ev)) {
			continue
		}
		if g.deny {
			return false, "denied by " + g.src
		}
		return true, ""
	}
	return false, "no grant allows it"
}

// holds evaluates g's condition, if any; an evaluation error denies.
func (g *grant) holds(p *Principal, ev *semevent.Event) bool {
	if g.when == nil {
		return true
	}
	out, err := expr.Run(g.when, condEnv{Event: viewOf(ev), Principal: p})
	b, ok := out.(bool)
	return err == nil && ok && b
}

func reasonOf(err error) string {
	var de *DeniedError
	if errors.As(err, &de) {
		return de.Reason
	}
	return err.Error()
}

func (a *Authorizer) recordDecision(p *Principal, op Op, ev *semevent.Event, err error) {
	if a.audit == nil {
		return
	}
	rec := audit.Record{Kind: audit.Decision, Op: op.String(), Allowed: err == nil, Topic: ev.TopicOrKind(), Path: ev.Path, EventID: ev.ID}
	if err != nil {
		rec.Reason = reasonOf(err)
	}
	if ev.Topic == "" && ev.Kind == semevent.KindUnknown {
		rec.Topic = ""
	}
	a.record(p, rec)
}

func (a *Authorizer) record(p *Principal, rec audit.Record) {
	if a.audit == nil {
		return
	}
	if p != nil {
		rec.User, rec.Tenant, rec.Roles = p.User, p.Tenant, p.Roles
	}
	// An audit failure must not turn a denial into an allow, nor block
	// the caller: the Log keeps its error (audit.ErrFailed) for its owner.
	_ = a.audit.Append(rec)
}

// Checker decides for one principal and one operation, for one goroutine
// at a time: the bus keeps one per subscription and asks it about every
// event it would deliver. Its private cache makes a decision a map lookup
// by topic and a tenant comparison. The first denial per topic (and per
// foreign tenant) is audited; Denied counts them all.
type Checker struct {
	a         *Authorizer
	p         *Principal
	op        Op
	st        *policyState
	cache     map[string]*candidates
	last      *candidates // the decision for lastTopic: events often share a topic
	lastTopic string
	audited   map[string]bool // topics whose denial was audited
	tenants   map[string]bool // foreign tenants whose denial was audited
	denied    atomic.Uint64
}

// Checker returns a Checker for p and op.
func (a *Authorizer) Checker(p *Principal, op Op) *Checker {
	return &Checker{a: a, p: p, op: op}
}

// Allow reports whether the principal may do the operation on ev.
func (c *Checker) Allow(ev *semevent.Event) bool {
	st := c.a.pol.Load()
	if st != c.st {
		c.st = st
		c.cache, c.audited, c.tenants = make(map[string]*candidates), make(map[string]bool), make(map[string]bool)
		c.last = nil
	}
	p := c.p
	if p == nil || (p.Tenant != "" && ev.Tenant != p.Tenant) {
		c.denied.Add(1)
		if !c.tenants[ev.Tenant] {
			c.tenants[ev.Tenant] = true
			c.a.recordDecision(p, c.op, ev, c.a.decide(st, p, c.op, ev))
		}
		return false
	}
	topic := ev.TopicOrKind()
	cand := c.last
	if cand == nil || topic != c.lastTopic {
		var ok bool
		if cand, ok = c.cache[topic]; !ok {
			cand = st.c.candidates(p, c.op, topic)
			if len(c.cache) >= c.a.opts.CacheSize {
				clear(c.cache)
				clear(c.audited)
			}
			c.cache[topic] = cand
		}
		c.last, c.lastTopic = cand, topic
	}
	if allowed, _ := cand.decide(p, ev); allowed {
		return true
	}
	c.denied.Add(1)
	if !c.audited[topic] {
		c.audited[topic] = true
		c.a.recordDecision(p, c.op, ev, c.a.decide(st, p, c.op, ev))
	}
	return false
}

// Denied returns how many events Allow refused. It may be called from any
// goroutine.
func (c *Checker) Denied() uint64 { return c.denied.Load() }

// AuthorizeWorkflow decides whether ctx's principal may run the named
// workflow for ev: OpRunWorkflow on the topic "workflow.<name>" (grant it
// with Topics such as "workflow.>"), ev's tenant and path. It fits
// automation.ExecutorOptions.Authorize. Denials are audited.
func (a *Authorizer) AuthorizeWorkflow(ctx context.Context, workflow string, ev *semevent.Event) error {
	probe := &semevent.Event{ID: ev.ID, Kind: semevent.KindWorkflowStep, Topic: "workflow." + workflow, Tenant: ev.Tenant, Path: ev.Path, UID: ev.UID, PID: ev.PID}
	return a.Check(ctx, OpRunWorkflow, probe)
}
