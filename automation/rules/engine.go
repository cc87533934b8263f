package rules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/internal/logx"
)

// ErrUnknownAction is wrapped by the *automation.RuleError for a rule
// whose action is not registered.
var ErrUnknownAction = errors.New("automation/rules: unknown action")

// AttrRule is the attribute of a semevent.KindRuleFired event that names
// the rule that fired.
const AttrRule = "rule"

// Rule is "when <condition> then <actions>".
type Rule struct {
	Name string `yaml:"name" json:"name"`
	// When is an expr condition over the event (see filter.Compile), such
	// as `Kind == "write" && Path startsWith "/inbox/"`. Empty: true.
	When string `yaml:"when,omitempty" json:"when,omitempty"`
	// Filter is a typed condition, ANDed with When; code only.
	Filter filter.Filter `yaml:"-" json:"-"`
	// Kinds, when set, restricts the rule to events of these kinds. It is
	// an index: events of other kinds never evaluate the rule's condition,
	// which is what keeps a thousand rules cheap.
	Kinds []semevent.Kind `yaml:"kinds,omitempty" json:"kinds,omitempty"`
	// Then lists the actions to run, in order, when the rule fires.
	Then     []ActionRef `yaml:"then" json:"then"`
	Disabled bool        `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// ActionRef names a registered action and its parameters.
type ActionRef struct {
	Action string            `yaml:"action" json:"action"`
	Params map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
}

// RuleSet is a list of rules, as loaded from code or a file.
type RuleSet struct {
	Rules []Rule `yaml:"rules" json:"rules"`
}

// Firing is what an action receives: the rule that fired, the event that
// fired it and the action's parameters. Actions must not modify Event or
// Params.
type Firing struct {
	Rule   string
	Event  *semevent.Event
	Params map[string]string
}

// ActionFunc is a rule action. It runs on the goroutine that called
// [Engine.Handle]: keep it short, or start a workflow.
type ActionFunc func(ctx context.Context, f *Firing) error

// ActionEmit is the built-in action that publishes a
// semevent.KindRuleFired event to Options.Publisher, caused by the
// firing event, with its tenant, path and trace, the attribute "rule" and
// the action's parameters as attributes.
const ActionEmit = "emit"

// Options configure [New]. A nil *Options means defaults: only the
// built-in [ActionEmit], publishing nowhere.
type Options struct {
	// Guard, when set, authorizes every reload: LoadContext,
	// LoadFileContext and [Watch] call Guard(ctx, "automation.rules", load)
	// and load only through it. (*access.Authorizer).Guard fits: it checks
	// OpAdmin for ctx's principal and audits the reload. Load and LoadFile
	// carry no principal and are then refused. The rule set given to
	// New is not guarded.
	Guard func(ctx context.Context, target string, load func() error) error

	// Actions registers actions by name; rules refer to them in Then. The
	// name "emit" is reserved for [ActionEmit].
	Actions map[string]ActionFunc
	// Publisher receives the events of ActionEmit.
	Publisher semevent.Publisher
	// PublishTimeout bounds each publish to Publisher (see
	// semevent.PublishTimeout): 0 means semevent.DefaultPublishTimeout,
	// a negative value means no bound. A publish that times out fails
	// its action with context.DeadlineExceeded, reported to OnError.
	PublishTimeout time.Duration
	// Principal is who publishes the events of ActionEmit on a bus with an access.Authorizer:
	// each publish's context carries it (access.WithPrincipal). Without it
	// an authorized bus refuses the publish (access.ErrNoPrincipal), since
	// the handler context the bus gives subscribers carries none. It needs
	// a grant of OpPublish on the topic "automation.rule.fired" (semevent.KindRuleFired), e.g. the policy role
	//
	//	- name: automation
	//	  grants:
	//	    - ops: [publish]
	//	      topics: [automation.rule.fired]
	Principal *access.Principal
	// OnError receives action errors, and the reload errors of a [Watch]
	// whose WatchOptions.OnError is nil. Nil: action errors are only
	// returned by Handle.
	OnError func(error)
	// Logger receives the engine's log lines (component "automation",
	// attribute "rule"): action errors, logged the first time and then at
	// most every 10s as a summary whose "count" says how many occurred,
	// and refused reloads. nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// Validate lists every problem in o.
func (o *Options) Validate() error {
	p := &semevent.OptionsError{Options: "rules.Options"}
	if o != nil {
		for name, fn := range o.Actions {
			switch {
			case name == "":
				p.Addf("Actions", "empty action name")
			case name == ActionEmit:
				p.Addf("Actions", "%q is reserved", name)
			case fn == nil:
				p.Addf(fmt.Sprintf("Actions[%q]", name), "is nil")
			}
		}
	}
	return p.Err()
}

// Stats are an [Engine]'s counters.
type Stats struct {
	Events       uint64 // events handled
	Evaluations  uint64 // rule conditions evaluated
	Fired        uint64 // rules fired
	ActionErrors uint64 // actions that returned an error
	Reloads      uint64 // rule sets loaded
	ReloadErrors uint64 // rule sets rejected
	Rules        int    // rules active now
}

// Engine evaluates a rule set against each event given to
// [Engine.Handle] and runs the actions of the rules that fire. Rule sets
// are compiled once and swapped atomically by [Engine.Load], so Handle
// never waits for a reload and sees either the old set or the new one.
// It is a semevent.Handler. All methods are safe for concurrent use.
type Engine struct {
	guard   func(ctx context.Context, target string, load func() error) error
	set     atomic.Pointer[ruleSet]
	actions map[string]ActionFunc
	pub     semevent.Publisher
	pubTO   time.Duration
	who     *access.Principal
	onErr   func(error)
	log     *slog.Logger
	actLog  logx.Limiter // holds back repeated action-error lines

	closed atomic.Bool

	events, evals, fired, actErrs, reloads, reloadErrs atomic.Uint64
}

var _ semevent.Closer = (*Engine)(nil)

var _ semevent.Handler = (*Engine)(nil)

type crule struct {
	name string
	cond filter.Filter // nil: true
	acts []boundAction
}

type boundAction struct {
	name   string
	fn     ActionFunc
	params map[string]string
}

type ruleSet struct {
	byKind [256][]*crule
	always []*crule
	n      int
}

// New returns an engine running rs (nil: no rules yet).
func New(rs *RuleSet, opts *Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	e := &Engine{actions: map[string]ActionFunc{}, pub: o.Publisher, pubTO: o.PublishTimeout, who: o.Principal, onErr: o.OnError, guard: o.Guard,
		log: logx.For(o.Logger, "automation")}
	for name, fn := range o.Actions {
		e.actions[name] = fn
	}
	e.actions[ActionEmit] = e.emit
	e.set.Store(&ruleSet{})
	if rs != nil {
		if err := e.load(rs); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Load compiles rs and, if every rule is valid, makes it the active set.
// Otherwise it returns every problem as *automation.RuleErrors joined (a bad
// condition carries the *filter.ExprError with its position) and keeps
// the active set.
//
// With Options.Guard set, Load is refused: use LoadContext.
func (e *Engine) Load(rs *RuleSet) error { return e.LoadContext(context.Background(), rs) }

// GuardTarget is the target name the engine passes to Options.Guard.
const GuardTarget = "automation.rules"

// LoadContext is Load on behalf of ctx's caller, whom Options.Guard,
// when set, authorizes.
func (e *Engine) LoadContext(ctx context.Context, rs *RuleSet) error {
	if e.guard != nil {
		err := e.guard(ctx, GuardTarget, func() error { return e.load(rs) })
		if err != nil {
			e.reloadErrs.Add(1) // a refusal counts once; load counts its own failure
		}
		return err
	}
	return e.load(rs)
}

func (e *Engine) load(rs *RuleSet) error {
	set, err := e.compile(rs)
	if err != nil {
		e.reloadErrs.Add(1)
		return err
	}
	e.set.Store(set)
	e.reloads.Add(1)
	return nil
}

func (e *Engine) compile(rs *RuleSet) (*ruleSet, error) {
	set := &ruleSet{}
	var errs []error
	names := map[string]bool{}
	conds := map[string]filter.Filter{} // identical conditions compile once
	for i := range rs.Rules {
		r := &rs.Rules[i]
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i)
			errs = append(errs, &automation.RuleError{Rule: name, Field: "name", Err: errors.New("empty name")})
		} else if names[name] {
			errs = append(errs, &automation.RuleError{Rule: name, Field: "name", Err: errors.New("duplicate rule name")})
		}
		names[name] = true
		if r.Disabled {
			continue
		}
		c := &crule{name: name, cond: r.Filter}
		if r.When != "" {
			x, ok := conds[r.When]
			if !ok {
				cx, err := filter.Compile(r.When, nil)
				if err != nil {
					errs = append(errs, &automation.RuleError{Rule: name, Field: "when", Err: err})
					continue
				}
				x = cx
				conds[r.When] = x
			}
			if c.cond == nil {
				c.cond = x
			} else {
				c.cond = filter.And(x, c.cond)
			}
		}
		if len(r.Then) == 0 {
			errs = append(errs, &automation.RuleError{Rule: name, Field: "then", Err: errors.New("no actions")})
		}
		for j, a := range r.Then {
			fn, ok := e.actions[a.Action]
			if !ok {
				errs = append(errs, &automation.RuleError{Rule: name, Field: fmt.Sprintf("then[%d].action", j), Err: fmt.Errorf("%w %q", ErrUnknownAction, a.Action)})
				continue
			}
			c.acts = append(c.acts, boundAction{name: a.Action, fn: fn, params: a.Params})
		}
		bad := false
		for j, k := range r.Kinds {
			if !k.Valid() || k == semevent.KindUnknown {
				errs = append(errs, &automation.RuleError{Rule: name, Field: fmt.Sprintf("kinds[%d]", j), Err: fmt.Errorf("invalid kind %d", k)})
				bad = true
			}
		}
		if bad {
			continue
		}
		set.n++
		if len(r.Kinds) == 0 {
			set.always = append(set.always, c)
			continue
		}
		var seen [256]bool
		for _, k := range r.Kinds {
			if !seen[k] {
				seen[k] = true
				set.byKind[k] = append(set.byKind[k], c)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Handle evaluates the active rules against ev and runs the actions of
// those that fire, in rule order and, within a rule, in Then order. It
// returns the actions' errors joined; a failing action does not stop the
// others.
func (e *Engine) Handle(ctx context.Context, ev *semevent.Event) error {
	if ev == nil {
		return semevent.ErrNilEvent
	}
	if e.closed.Load() {
		return automation.ErrClosed
	}
	set := e.set.Load()
	e.events.Add(1)
	var errs []error
	n := len(set.always)
	errs = e.run(ctx, set.always, ev, errs)
	if int(ev.Kind) < len(set.byKind) {
		list := set.byKind[ev.Kind]
		n += len(list)
		errs = e.run(ctx, list, ev, errs)
	}
	e.evals.Add(uint64(n))
	return errors.Join(errs...)
}

// run evaluates rules against ev and runs the actions of those that fire,
// appending action errors to errs.
func (e *Engine) run(ctx context.Context, rules []*crule, ev *semevent.Event, errs []error) []error {
	for _, r := range rules {
		if r.cond != nil && !r.cond.Match(ev) {
			continue
		}
		e.fired.Add(1)
		for _, a := range r.acts {
			if err := a.fn(ctx, &Firing{Rule: r.name, Event: ev, Params: a.params}); err != nil {
				e.actErrs.Add(1)
				err = fmt.Errorf("automation/rules: rule %s: action %s: %w", r.name, a.name, err)
				if n, ok := e.actLog.Note(semevent.Now()); ok {
					e.log.LogAttrs(ctx, slog.LevelError, "rule action failed", slog.String(logx.Rule, r.name), slog.String("action", a.name),
						slog.String(logx.Event, ev.ID.String()), slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
				}
				if e.onErr != nil {
					e.onErr(err)
				}
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// Match appends to dst the names of the active rules whose condition ev
// satisfies, without running their actions, and returns it.
func (e *Engine) Match(ev *semevent.Event, dst []string) []string {
	set := e.set.Load()
	for _, list := range [2][]*crule{set.always, set.byKind[ev.Kind]} {
		for _, r := range list {
			if r.cond == nil || r.cond.Match(ev) {
				dst = append(dst, r.name)
			}
		}
	}
	return dst
}

func (e *Engine) emit(ctx context.Context, f *Firing) error {
	if e.pub == nil {
		return nil
	}
	ev := f.Event
	out := &semevent.Event{
		Kind:     semevent.KindRuleFired,
		Boundary: semevent.Userspace,
		Tenant:   ev.Tenant,
		Path:     ev.Path,
		PID:      ev.PID,
		Trace:    ev.Trace,
		Cause:    ev.ID,
		Attrs:    make([]semevent.Attr, 0, 1+len(f.Params)),
	}
	out.Attrs = append(out.Attrs, semevent.Attr{Key: AttrRule, Value: f.Rule})
	for k, v := range f.Params {
		if k != AttrRule {
			out.Attrs = append(out.Attrs, semevent.Attr{Key: k, Value: v})
		}
	}
	if e.who != nil {
		ctx = access.WithPrincipal(ctx, e.who)
	}
	return semevent.PublishTimeout(ctx, e.pub, out, e.pubTO)
}

// Close stops the engine: Handle returns automation.ErrClosed (which
// wraps semevent.ErrClosed) from then on. The engine starts no goroutines,
// so Close does not wait; actions already running finish on their
// callers' goroutines. It is idempotent and safe in any order with the
// bus the engine publishes to.
func (e *Engine) Close(ctx context.Context) error {
	e.closed.Store(true)
	return nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Events: e.events.Load(), Evaluations: e.evals.Load(), Fired: e.fired.Load(),
		ActionErrors: e.actErrs.Load(), Reloads: e.reloads.Load(), ReloadErrors: e.reloadErrs.Load(),
		Rules: e.set.Load().n,
	}
}

// ParseRuleSet parses a rule set written in YAML or JSON (JSON is YAML):
//
//	rules:
//	  - name: big-write
//	    when: Kind == "write" && Size > 1000000
//	    kinds: [write]
//	    then:
//	      - action: emit
//	      - action: notify
//	        params: {channel: ops}
//
// Unknown fields are errors. A syntax error is a *automation.RuleError with Field
// "file" wrapping the YAML error, which says the line. Conditions are
// compiled by [Engine.Load], not here.
func ParseRuleSet(data []byte) (rs *RuleSet, err error) {
	defer func() {
		if r := recover(); r != nil {
			rs, err = nil, &automation.RuleError{Rule: "-", Field: "file", Err: fmt.Errorf("yaml decoder panic: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	rs = &RuleSet{}
	if err := dec.Decode(rs); err != nil && !errors.Is(err, io.EOF) {
		return nil, &automation.RuleError{Rule: "-", Field: "file", Err: err}
	}
	return rs, nil
}

// LoadFile parses the rule set in the file at path and loads it.
func (e *Engine) LoadFile(path string) error { return e.LoadFileContext(context.Background(), path) }

// LoadFileContext is LoadFile on behalf of ctx's caller; see LoadContext.
func (e *Engine) LoadFileContext(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		e.reloadErrs.Add(1)
		return err
	}
	return e.loadData(ctx, path, data)
}

// StartWorkflow returns an action that starts, on ex, an execution of the
// workflow named by the action's "workflow" parameter for the firing
// event. Register it under a name of your choice:
//
//	Actions: map[string]rules.ActionFunc{"start": rules.StartWorkflow(ex)}
//
//	then: [{action: start, params: {workflow: ingest-pdf}}]
//
// An event that already started that workflow is not an error
// (ErrDuplicate is ignored), so redelivered events are harmless.
func StartWorkflow(ex *automation.Executor) ActionFunc {
	return func(ctx context.Context, f *Firing) error {
		name := f.Params["workflow"]
		if name == "" {
			return fmt.Errorf("%w: action has no \"workflow\" parameter", automation.ErrUnknownWorkflow)
		}
		if _, err := ex.Start(ctx, name, f.Event); err != nil && !errors.Is(err, automation.ErrDuplicate) {
			return err
		}
		return nil
	}
}
