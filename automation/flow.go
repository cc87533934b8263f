package automation

import (
	"errors"
	"fmt"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

// Node is one element of a declarative [Flow]: a [Task], a [Seq] of
// nodes, a [Parallel] fan-out or an [If] on the triggering event. A
// NodeFunc is a node too.
type Node interface {
	Run(r *Run) error
}

// NodeFunc adapts a function to [Node].
type NodeFunc func(r *Run) error

// Run calls f(r).
func (f NodeFunc) Run(r *Run) error { return f(r) }

type taskNode struct {
	name string
	s    Step
}

func (n *taskNode) Run(r *Run) error {
	_, err := r.Step(n.name, n.s)
	return err
}

// Task is a node that runs s as the step called name.
func Task(name string, s Step) Node { return &taskNode{name, s} }

type seqNode []Node

func (s seqNode) Run(r *Run) error {
	for _, n := range s {
		if err := n.Run(r); err != nil {
			return err
		}
	}
	return nil
}

// Seq runs nodes one after another, stopping at the first error.
func Seq(nodes ...Node) Node { return seqNode(nodes) }

type parNode []Node

func (p parNode) Run(r *Run) error {
	fns := make([]func(*Run) error, len(p))
	for i, n := range p {
		fns[i] = n.Run
	}
	return r.Parallel(fns...)
}

// Parallel runs nodes concurrently and waits for all (fan-out/fan-in);
// see [Run.Parallel].
func Parallel(nodes ...Node) Node { return parNode(nodes) }

type ifNode struct {
	cond       string
	x          *filter.Expr
	then, els  Node
	compileErr error
}

func (n *ifNode) Run(r *Run) error {
	if n.x == nil {
		return n.compileErr
	}
	if n.x.Match(r.Event()) {
		return n.then.Run(r)
	}
	if n.els != nil {
		return n.els.Run(r)
	}
	return nil
}

// If runs then when the expr condition cond (see filter.Compile) holds
// for the triggering event, else els (which may be nil). [NewFlow]
// compiles cond and rejects the flow if it does not compile.
func If(cond string, then, els Node) Node {
	n := &ifNode{cond: cond, then: then, els: els}
	n.x, n.compileErr = filter.Compile(cond, nil)
	return n
}

// Flow is a declarative workflow: Steps run in sequence, started by the
// events that When (an expr condition) and Trigger both match, when
// either is set.
type Flow struct {
	Name    string
	When    string
	Trigger filter.Filter
	Steps   []Node
}

type flow struct {
	name    string
	trigger filter.Filter
	root    Node
}

func (f *flow) Name() string     { return f.name }
func (f *flow) Run(r *Run) error { return f.root.Run(r) }

type triggeredFlow struct{ *flow }

func (f triggeredFlow) Trigger() filter.Filter { return f.trigger }

// NewFlow checks and compiles f: every condition must compile (a bad one
// is a *[RuleError] carrying the *filter.ExprError and its position) and
// every Task needs a Do.
func NewFlow(f Flow) (Workflow, error) {
	var errs []error
	if f.Name == "" {
		errs = append(errs, &RuleError{Rule: "#?", Field: "name", Err: errors.New("empty name")})
	}
	trigger := f.Trigger
	if f.When != "" {
		x, err := filter.Compile(f.When, nil)
		if err != nil {
			errs = append(errs, &RuleError{Rule: f.Name, Field: "when", Err: err})
		} else if trigger == nil {
			trigger = x
		} else {
			trigger = filter.And(x, trigger)
		}
	}
	var walk func(n Node, path string)
	walk = func(n Node, path string) {
		switch n := n.(type) {
		case nil:
			errs = append(errs, &RuleError{Rule: f.Name, Field: path, Err: errors.New("nil node")})
		case *taskNode:
			if n.s.Do == nil {
				errs = append(errs, &RuleError{Rule: f.Name, Field: path + "(" + n.name + ")", Err: errors.New("task without Do")})
			}
		case seqNode:
			for i, c := range n {
				walk(c, fmt.Sprintf("%s.seq[%d]", path, i))
			}
		case parNode:
			for i, c := range n {
				walk(c, fmt.Sprintf("%s.parallel[%d]", path, i))
			}
		case *ifNode:
			if n.compileErr != nil {
				errs = append(errs, &RuleError{Rule: f.Name, Field: path + ".if", Err: n.compileErr})
			}
			if n.then == nil {
				errs = append(errs, &RuleError{Rule: f.Name, Field: path + ".then", Err: errors.New("nil node")})
			} else {
				walk(n.then, path+".then")
			}
			if n.els != nil {
				walk(n.els, path+".else")
			}
		}
	}
	for i, n := range f.Steps {
		walk(n, fmt.Sprintf("steps[%d]", i))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	fl := &flow{name: f.Name, trigger: trigger, root: seqNode(f.Steps)}
	if trigger != nil {
		return triggeredFlow{fl}, nil
	}
	return fl, nil
}

// Machine is a state machine workflow: it enters Initial, runs each
// state's Enter step, and waits for an event (given to [Executor.Handle])
// of the same key as the triggering event that matches one of the
// state's transitions, or for its Timeout. A Final state ends the
// execution successfully; a timeout with no OnTimeout fails it with
// ErrTimeout. Waiting and transitions are recorded, so a resumed machine
// continues in the state it was in.
type Machine struct {
	Name    string
	When    string        // expr condition for the triggering events
	Trigger filter.Filter // ANDed with When
	Initial string
	States  map[string]State
	// Correlate keys events: a transition only considers events with
	// the triggering event's key. Nil: semevent.PathKey. Keys are scoped
	// by tenant whatever the KeyFunc returns, and an execution only ever
	// sees its own tenant's events.
	Correlate semevent.KeyFunc
	// MaxTransitions bounds the transitions of one execution, so a
	// cycle cannot run forever. Default 10000.
	MaxTransitions int
	// Inbox is how many events of its key an execution keeps while it is
	// not waiting (see [Run.Listen]). Default 64.
	Inbox int
}

// State is one state of a [Machine].
type State struct {
	Enter     *Step
	On        []Transition
	Timeout   time.Duration
	OnTimeout string
	Final     bool
}

// Transition moves a [Machine] to state To on an event matching When (an
// expr condition) and Filter (a typed condition; nil matches every event).
type Transition struct {
	When   string
	Filter filter.Filter
	To     string
}

type machine struct {
	name    string
	trigger filter.Filter
	initial string
	states  map[string]*cstate
	key     semevent.KeyFunc
	maxT    int
	inbox   int
}

type cstate struct {
	name      string
	enter     *Step
	on        []ctrans
	timeout   time.Duration
	onTimeout string
	final     bool
}

type ctrans struct {
	f  filter.Filter
	to string
}

func (m *machine) Name() string { return m.name }

// Inbox keeps the events of the triggering event's key.
func (m *machine) Inbox(trigger *semevent.Event) (filter.Filter, int) {
	key, id := m.keyOf(trigger), trigger.ID
	return filter.Func(func(ev *semevent.Event) bool { return ev.ID != id && m.keyOf(ev) == key }), m.inbox
}

// keyOf is the Correlate key of ev, scoped by ev's tenant whatever the
// KeyFunc returned.
func (m *machine) keyOf(ev *semevent.Event) semevent.Key {
	k := m.key(ev)
	k.Tenant = ev.Tenant
	return k
}

type triggeredMachine struct{ *machine }

func (m triggeredMachine) Trigger() filter.Filter { return m.trigger }

// NewMachine checks and compiles m: states named by Initial, To and
// OnTimeout must exist, non-final states need a transition or a timeout,
// and every condition must compile.
func NewMachine(m Machine) (Workflow, error) {
	var errs []error
	bad := func(field string, err error) { errs = append(errs, &RuleError{Rule: m.Name, Field: field, Err: err}) }
	if m.Name == "" {
		bad("name", errors.New("empty name"))
	}
	cm := &machine{name: m.Name, initial: m.Initial, states: map[string]*cstate{}, key: m.Correlate, maxT: m.MaxTransitions, trigger: m.Trigger, inbox: m.Inbox}
	if cm.key == nil {
		cm.key = semevent.PathKey
	}
	if cm.maxT == 0 {
		cm.maxT = 10000
	}
	if m.When != "" {
		x, err := filter.Compile(m.When, nil)
		if err != nil {
			bad("when", err)
		} else if cm.trigger == nil {
			cm.trigger = x
		} else {
			cm.trigger = filter.And(x, cm.trigger)
		}
	}
	if _, ok := m.States[m.Initial]; !ok {
		bad("initial", fmt.Errorf("no state %q", m.Initial))
	}
	for name, s := range m.States {
		cs := &cstate{name: name, enter: s.Enter, timeout: s.Timeout, onTimeout: s.OnTimeout, final: s.Final}
		if s.Enter != nil && s.Enter.Do == nil {
			bad("states."+name+".enter", errors.New("step without Do"))
		}
		if !s.Final && len(s.On) == 0 && s.Timeout <= 0 {
			bad("states."+name, errors.New("not final, and no transition or timeout leaves it"))
		}
		if s.OnTimeout != "" {
			if _, ok := m.States[s.OnTimeout]; !ok {
				bad("states."+name+".onTimeout", fmt.Errorf("no state %q", s.OnTimeout))
			}
		}
		for i, t := range s.On {
			field := fmt.Sprintf("states.%s.on[%d]", name, i)
			if _, ok := m.States[t.To]; !ok {
				bad(field+".to", fmt.Errorf("no state %q", t.To))
			}
			f := t.Filter
			if t.When != "" {
				x, err := filter.Compile(t.When, nil)
				if err != nil {
					bad(field+".when", err)
					continue
				}
				if f == nil {
					f = x
				} else {
					f = filter.And(x, f)
				}
			}
			if f == nil {
				f = filter.Func(func(*semevent.Event) bool { return true })
			}
			cs.on = append(cs.on, ctrans{f: f, to: t.To})
		}
		cm.states[name] = cs
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cm.trigger != nil {
		return triggeredMachine{cm}, nil
	}
	return cm, nil
}

func (m *machine) Run(r *Run) error {
	key := m.keyOf(r.Event())
	state := m.initial
	for range m.maxT {
		s := m.states[state]
		if s.enter != nil {
			if _, err := r.Step("enter:"+state, *s.enter); err != nil {
				return err
			}
		}
		if s.final {
			return nil
		}
		f := filter.Func(func(ev *semevent.Event) bool {
			if m.keyOf(ev) != key {
				return false
			}
			for _, t := range s.on {
				if t.f.Match(ev) {
					return true
				}
			}
			return false
		})
		var on filter.Filter = f
		if len(s.on) == 0 {
			on = filter.Func(func(*semevent.Event) bool { return false })
		}
		ev, err := r.Await("in:"+state, on, s.timeout)
		if errors.Is(err, ErrTimeout) {
			if s.onTimeout == "" {
				return fmt.Errorf("state %s: %w", state, err)
			}
			state = s.onTimeout
			continue
		}
		if err != nil {
			return err
		}
		for _, t := range s.on {
			if t.f.Match(ev) {
				state = t.to
				break
			}
		}
	}
	return fmt.Errorf("automation: machine %s: more than %d transitions", m.name, m.maxT)
}
