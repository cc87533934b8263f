package access

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
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
	// CheckerCacheSize bounds each [Checker]'s (each subscription's)
	// decision cache, in topics: when full it is emptied, and the entries
	// dropped are counted (Stats.CheckerEvictions). Default 4096.
	CheckerCacheSize int
	// MaxAuditedKeys bounds, per [Checker], the distinct denied topics and
	// foreign tenants whose first denial is audited. Past it, one audit
	// record says so and further new keys are only counted
	// (Stats.UnauditedDenials, Checker.Denied), so neither a checker's
	// memory nor the trail grows with attacker-chosen topics or tenants.
	// Default 1024.
	MaxAuditedKeys int
}

// Default caps.
const (
	DefaultCacheSize        = 65536
	DefaultCheckerCacheSize = 4096
	DefaultMaxAuditedKeys   = 1024
)

// Stats are an Authorizer's counters since New.
type Stats struct {
	// ConditionErrors counts When conditions that failed at run time. A
	// failing deny condition denies; a failing allow condition does not
	// allow.
	ConditionErrors uint64
	// CheckerEvictions counts decision-cache entries dropped by Checkers
	// that reached CheckerCacheSize.
	CheckerEvictions uint64
	// UnauditedDenials counts denials of new topics or tenants that a
	// Checker did not audit because it had reached MaxAuditedKeys.
	UnauditedDenials uint64
}

// Authorizer decides, from a Policy, whether a principal may do an
// operation on an event, and audits what it decides. Its methods may be
// called concurrently; a policy change takes effect for every decision
// that starts after SetPolicy returns.
type Authorizer struct {
	pol   atomic.Pointer[policyState]
	opts  Options
	audit *audit.Log

	condErrors, checkerEvictions, unaudited atomic.Uint64
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
	who    *Principal // a copy of the principal they were computed for
	err    error
	grants []*grant
	final  bool
	allow  bool
	reason string
}

// Validate reports every problem of o as a *semevent.OptionsError.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "access.Options"}
	for _, f := range []struct {
		name string
		v    int
	}{{"CacheSize", o.CacheSize}, {"CheckerCacheSize", o.CheckerCacheSize}, {"MaxAuditedKeys", o.MaxAuditedKeys}} {
		if f.v < 0 {
			e.Addf(f.name, "%d is negative", f.v)
		}
	}
	return e.Err()
}

// New compiles p (nil: no roles, everything denied). Invalid options are a
// *semevent.OptionsError, an invalid policy a *PolicyError.
func New(p *Policy, opts *Options) (*Authorizer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c, err := compile(p)
	if err != nil {
		return nil, err
	}
	a := &Authorizer{}
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.CacheSize <= 0 {
		a.opts.CacheSize = DefaultCacheSize
	}
	if a.opts.CheckerCacheSize <= 0 {
		a.opts.CheckerCacheSize = DefaultCheckerCacheSize
	}
	if a.opts.MaxAuditedKeys <= 0 {
		a.opts.MaxAuditedKeys = DefaultMaxAuditedKeys
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
//
// Every target Guard protects is global (the policy, the routing table,
// the cluster), so the tenant rule applies: a principal bound to a tenant
// is refused whatever its roles, and global administration needs a
// principal bound to no tenant.
func (a *Authorizer) Guard(ctx context.Context, target string, fn func() error) error {
	p, _ := FromContext(ctx)
	ev := &semevent.Event{Kind: semevent.KindCustom, Topic: "admin." + target}
	var err error
	if p != nil && p.Tenant != "" {
		err = &DeniedError{Principal: p.String(), Op: OpAdmin, Topic: ev.Topic,
			Reason: fmt.Sprintf("principal bound to tenant %q: global administration needs a principal bound to no tenant", p.Tenant)}
	} else {
		err = a.decide(a.pol.Load(), p, OpAdmin, ev)
	}
	rec := audit.Record{Kind: audit.Admin, Op: OpAdmin.String(), Target: target, Allowed: err == nil}
	if err == nil {
		if ferr := fn(); ferr != nil {
			rec.Reason = "failed: " + ferr.Error()
			err = ferr
		}
	} else {
		rec.Reason = reasonOf(err)
	}
	a.record(p, rec, false)
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
		if _, ok := c.roles[r]; !ok {
			return &DeniedError{Principal: p.String(), Op: op, Reason: fmt.Sprintf("unknown role %q", r), Err: ErrUnknownRole}
		}
	}
	for _, r := range p.Roles {
		for _, g := range c.roles[r] {
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
	if op == OpPublish && p.Tenant != "" && ReservedTopic(topic) {
		return &DeniedError{Principal: p.String(), Op: op, Topic: topic, Path: ev.Path, EventID: ev.ID,
			Reason: "topic reserved for the library's own records: a tenant's principal may not publish it"}
	}
	key := cacheKey{p: p, op: op, topic: topic}
	cand, ok := st.cache.Load(key)
	if !ok || !cand.who.equal(p) {
		// A miss, or the principal was changed in place since: decide
		// on what it holds now.
		cand = st.c.candidates(p, op, topic)
		if st.size.Add(1) > int64(a.opts.CacheSize) {
			st.cache.Clear()
			st.size.Store(1)
		}
		st.cache.Store(key, cand)
	}
	if allowed, reason := cand.decide(p, ev, &a.condErrors); !allowed {
		return &DeniedError{Principal: p.String(), Op: op, Topic: topic, Path: ev.Path, EventID: ev.ID, Reason: reason, Err: cand.err}
	}
	return nil
}

// candidates gathers the grants of p's roles for op on topic.
func (c *compiled) candidates(p *Principal, op Op, topic string) *candidates {
	out := &candidates{who: p.Clone(), final: true}
	reserved := op == OpPublish && ReservedTopic(topic)
	var allows []*grant
	for _, r := range p.Roles {
		gs, ok := c.roles[r]
		if !ok {
			return &candidates{who: out.who, err: ErrUnknownRole, final: true, reason: fmt.Sprintf("unknown role %q", r)}
		}
		for _, g := range gs {
			if g.ops&op == 0 || !g.topicMatch(topic) {
				continue
			}
			if !g.deny && op == OpPublish && reserved && !g.namesReserved() {
				continue // a reserved topic is published only under a grant that names it
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
		out.allow, out.reason = out.evaluate(nil, nil, nil)
	}
	return out
}

// decide returns the decision for ev; condErrors counts conditions that
// fail at run time.
func (c *candidates) decide(p *Principal, ev *semevent.Event, condErrors *atomic.Uint64) (bool, string) {
	if c.final {
		return c.allow, c.reason
	}
	return c.evaluate(p, ev, condErrors)
}

// evaluate applies the grants in order (denies first); with ev nil only
// topic-level grants are present. Path globs match the cleaned path
// (path.Clean), so "/data/../secret/k", "//secret/k" and "/./secret/k" are
// "/secret/k"; a path that is relative once cleaned ("../etc/passwd")
// matches no glob and is denied outright when a grant names paths. A
// deny grant whose condition fails at run time denies.
func (c *candidates) evaluate(p *Principal, ev *semevent.Event, condErrors *atomic.Uint64) (bool, string) {
	if c.err != nil {
		return false, c.reason
	}
	var cleaned string
	rooted := true
	if ev != nil {
		cleaned, rooted = cleanPath(ev.Path)
	}
	for _, g := range c.grants {
		if ev != nil {
			if len(g.paths) > 0 {
				if !rooted {
					return false, "path is not absolute once cleaned"
				}
				if !g.pathMatch(cleaned) {
					continue
				}
			}
			if g.when != nil {
				ok, err := g.holds(p, ev, cleaned)
				if err != nil {
					condErrors.Add(1)
					if g.deny {
						return false, g.failedReason
					}
					continue
				}
				if !ok {
					continue
				}
			}
		}
		if g.deny {
			return false, g.denyReason
		}
		return true, ""
	}
	return false, "no grant allows it"
}

// cleanPath returns p cleaned (without allocating when p is clean) and
// whether it is rooted: "" and absolute paths are.
func cleanPath(p string) (string, bool) {
	if p == "" {
		return "", true
	}
	c := path.Clean(p)
	return c, c[0] == '/'
}

// holds evaluates g's condition over ev, whose path is seen cleaned.
func (g *grant) holds(p *Principal, ev *semevent.Event, cleaned string) (bool, error) {
	v := viewOf(ev)
	v.Path = cleaned
	out, err := expr.Run(g.when, condEnv{Event: v, Principal: p})
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %T, not bool", out)
	}
	return b, nil
}

// reservedPrefixes are the topics the library writes its own records
// under (audit trail, workflow records) into journals that may be shared
// with user events.
var reservedPrefixes = []string{"audit.", "automation.workflow.record"}

// ReservedTopic reports whether topic is one the library writes its own
// records under: "audit.>" (the audit trail in a journal) and
// "automation.workflow.record" (workflow executions). A principal bound to
// a tenant may not publish them whatever its grants; an operator (no
// tenant) needs an allow grant whose topic pattern names the reserved
// prefix literally ("audit.>", "automation.workflow.record"): a grant on
// every topic, or on a pattern that starts with a wildcard, does not
// cover them.
func ReservedTopic(topic string) bool {
	for _, r := range reservedPrefixes {
		if strings.HasPrefix(topic, r) {
			return true
		}
	}
	return false
}

// namesReserved reports whether one of g's topic patterns starts with a
// reserved prefix's first token spelled out.
func (g *grant) namesReserved() bool {
	for _, t := range g.topics {
		for _, r := range reservedPrefixes {
			first, _, _ := strings.Cut(r, ".")
			if strings.HasPrefix(t.String(), first+".") {
				return true
			}
		}
	}
	return false
}

func reasonOf(err error) string {
	var de *DeniedError
	if errors.As(err, &de) {
		return de.Reason
	}
	return err.Error()
}

func (a *Authorizer) recordDecision(p *Principal, op Op, ev *semevent.Event, err error) {
	a.recordDecisionMode(p, op, ev, err, false)
}

// recordDecisionAsync queues the record (audit.Log.Enqueue): a delivery
// must not wait for the trail's disk.
func (a *Authorizer) recordDecisionAsync(p *Principal, op Op, ev *semevent.Event, err error) {
	a.recordDecisionMode(p, op, ev, err, true)
}

func (a *Authorizer) recordDecisionMode(p *Principal, op Op, ev *semevent.Event, err error, async bool) {
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
	a.record(p, rec, async)
}

func (a *Authorizer) record(p *Principal, rec audit.Record, async bool) {
	if a.audit == nil {
		return
	}
	if p != nil {
		rec.User, rec.Tenant, rec.Roles = p.User, p.Tenant, slices.Clone(p.Roles)
	}
	// An audit failure must not turn a denial into an allow, nor block
	// the caller: the Log keeps its error (audit.ErrFailed) for its owner.
	if async {
		a.audit.Enqueue(rec)
		return
	}
	_ = a.audit.Append(rec)
}

// Checker decides for one principal and one operation, for one goroutine
// at a time: the bus keeps one per subscription and asks it about every
// event it would deliver. Its private cache makes a decision a map lookup
// by topic and a tenant comparison. The first denial per topic (and per
// foreign tenant) is audited, up to Options.MaxAuditedKeys keys; Denied
// counts them all. Its memory is bounded by Options.CheckerCacheSize
// topics and MaxAuditedKeys keys, whatever topics and tenants it sees.
type Checker struct {
	a         *Authorizer
	p         *Principal // a copy taken by Authorizer.Checker
	op        Op
	st        *policyState
	cache     map[string]*candidates
	last      *candidates // the decision for lastTopic: events often share a topic
	lastTopic string
	audited   map[auditKey]struct{} // topics and foreign tenants whose denial was audited
	capped    bool                  // audited reached MaxAuditedKeys (and that was audited)
	denied    atomic.Uint64
}

type auditKey struct {
	tenant bool // s is a foreign tenant, not a topic
	s      string
}

// Checker returns a Checker for a copy of p and op: changes made to p
// afterwards do not affect it.
func (a *Authorizer) Checker(p *Principal, op Op) *Checker {
	return &Checker{a: a, p: p.Clone(), op: op}
}

// Allow reports whether the principal may do the operation on ev.
func (c *Checker) Allow(ev *semevent.Event) bool {
	st := c.a.pol.Load()
	if st != c.st {
		c.st = st
		c.cache, c.audited, c.capped = make(map[string]*candidates), make(map[auditKey]struct{}), false
		c.last = nil
	}
	p := c.p
	if p == nil || (p.Tenant != "" && ev.Tenant != p.Tenant) {
		c.denied.Add(1)
		c.audit(auditKey{tenant: true, s: ev.Tenant}, ev, func() error { return c.a.decide(st, p, c.op, ev) })
		return false
	}
	topic := ev.TopicOrKind()
	cand := c.last
	if cand == nil || topic != c.lastTopic {
		var ok bool
		if cand, ok = c.cache[topic]; !ok {
			cand = st.c.candidates(p, c.op, topic)
			if len(c.cache) >= c.a.opts.CheckerCacheSize {
				c.a.checkerEvictions.Add(uint64(len(c.cache)))
				clear(c.cache)
			}
			c.cache[topic] = cand
		}
		c.last, c.lastTopic = cand, topic
	}
	allowed, reason := cand.decide(p, ev, &c.a.condErrors)
	if allowed {
		return true
	}
	c.denied.Add(1)
	c.audit(auditKey{s: topic}, ev, func() error {
		return &DeniedError{Principal: p.String(), Op: c.op, Topic: topic, Path: ev.Path, EventID: ev.ID, Reason: reason, Err: cand.err}
	})
	return false
}

// audit records the first denial for k, off the caller's goroutine, while
// fewer than MaxAuditedKeys keys were audited; past that it records once
// that it stops, then only counts.
func (c *Checker) audit(k auditKey, ev *semevent.Event, denial func() error) {
	if _, done := c.audited[k]; done || c.a.audit == nil {
		return
	}
	if len(c.audited) >= c.a.opts.MaxAuditedKeys {
		c.a.unaudited.Add(1)
		if !c.capped {
			c.capped = true
			c.a.record(c.p, audit.Record{Kind: audit.Decision, Op: c.op.String(), Allowed: false,
				Reason: fmt.Sprintf("%d distinct topics and tenants denied to this subscription were audited: further ones are counted, not audited", len(c.audited))}, true)
		}
		return
	}
	c.audited[k] = struct{}{}
	c.a.recordDecisionAsync(c.p, c.op, ev, denial())
}

// Denied returns how many events Allow refused. It may be called from any
// goroutine.
func (c *Checker) Denied() uint64 { return c.denied.Load() }

// Stats returns the Authorizer's counters.
func (a *Authorizer) Stats() Stats {
	return Stats{
		ConditionErrors:  a.condErrors.Load(),
		CheckerEvictions: a.checkerEvictions.Load(),
		UnauditedDenials: a.unaudited.Load(),
	}
}

// AuthorizeWorkflow decides whether ctx's principal may run the named
// workflow for ev: OpRunWorkflow on the topic "workflow.<name>" (grant it
// with Topics such as "workflow.>"), ev's tenant and path. It fits
// automation.ExecutorOptions.Authorize. Denials are audited.
func (a *Authorizer) AuthorizeWorkflow(ctx context.Context, workflow string, ev *semevent.Event) error {
	probe := &semevent.Event{ID: ev.ID, Kind: semevent.KindWorkflowStep, Topic: "workflow." + workflow, Tenant: ev.Tenant, Path: ev.Path, UID: ev.UID, PID: ev.PID}
	return a.Check(ctx, OpRunWorkflow, probe)
}
