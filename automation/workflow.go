package automation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

// Workflow is a named program that an [Executor] runs for an event. Run
// does the work through r: [Run.Step] for each action (recorded, retried,
// guarded by a circuit breaker, compensated if the execution fails),
// [Run.Parallel] for fan-out/fan-in and [Run.Await] to wait for an event.
//
// Run is replayed after a restart: steps that completed return their
// recorded results without running again, so Run must be deterministic —
// it must call the same steps in the same order given the same results —
// and do its side effects only inside steps. [NewFlow] and [NewMachine]
// build workflows declaratively; [NewWorkflow] wraps a function.
//
// A Workflow may also implement [Triggered], to be started by
// [Executor.Handle], and [Listener], to receive events after it starts.
type Workflow interface {
	Name() string
	Run(r *Run) error
}

// Triggered is implemented by workflows that say which events start
// them: [Executor.Handle] starts one execution per matching event.
type Triggered interface {
	Trigger() filter.Filter
}

type funcWorkflow struct {
	name string
	fn   func(*Run) error
}

func (w *funcWorkflow) Name() string     { return w.name }
func (w *funcWorkflow) Run(r *Run) error { return w.fn(r) }

// Listener is implemented by workflows whose executions wait for events
// with [Run.Await]. Inbox returns, for an execution's triggering event,
// the filter of the events the execution wants (nil: all) and how many
// it keeps while it is not waiting (0: 64). The executor then keeps
// those events from the moment the execution is started, beyond the
// limit dropping them and counting them in ExecutorStats.InboxDropped,
// and Await takes them in order, discarding those its own filter does
// not match — so events that arrive before or between Awaits are not
// missed. Without an inbox, Await only sees events that arrive while it
// waits. The inbox is not durable: after a restart it starts empty.
type Listener interface {
	Inbox(trigger *semevent.Event) (f filter.Filter, size int)
}

type triggeredWorkflow struct {
	funcWorkflow
	trigger filter.Filter
}

func (w *triggeredWorkflow) Trigger() filter.Filter { return w.trigger }

// NewWorkflow returns a Workflow named name that runs fn and, if trigger
// is not nil, is started by [Executor.Handle] for the events it matches.
func NewWorkflow(name string, trigger filter.Filter, fn func(r *Run) error) Workflow {
	if trigger == nil {
		return &funcWorkflow{name: name, fn: fn}
	}
	return &triggeredWorkflow{funcWorkflow{name: name, fn: fn}, trigger}
}

// Step is one action of a workflow.
type Step struct {
	// Do performs the action and returns its result, which is recorded
	// and returned again, without running Do, when the workflow is
	// replayed. Across a crash Do may run more than once (it ran but its
	// completion was not yet recorded): make it idempotent with
	// [StepContext.Key].
	Do func(ctx context.Context, sc *StepContext) ([]byte, error)
	// Compensate undoes Do. If the execution fails, the steps that
	// completed are compensated in reverse order of completion; each
	// compensation is retried like Do and recorded, so it succeeds at
	// most once. sc.Result is Do's result.
	Compensate func(ctx context.Context, sc *StepContext) error
	// Retry is the retry policy of Do and Compensate.
	Retry RetryPolicy
	// Timeout bounds each attempt of Do; 0 means none. An attempt that
	// times out fails with an error wrapping ErrTimeout.
	Timeout time.Duration
	// Action names the circuit breaker guarding Do; steps that call the
	// same external action should share it. Default: workflow/step.
	Action string
}

// StepContext is what a step's Do and Compensate receive.
type StepContext struct {
	Execution string          // the execution ID
	Step      string          // the step ID, unique within the execution
	Attempt   int             // 1-based
	Tenant    string          // the triggering event's tenant
	Event     *semevent.Event // the triggering event; read-only
	Result    []byte          // Do's result, for Compensate

	x   *execution
	mu  sync.Mutex // guards out
	out []*semevent.Event
}

// Emit adds ev (a copy) to the events this attempt of the step emits. They
// are kept only if the attempt succeeds, and then commit with the step's
// record in the same single store append as its result — the
// transactional outbox — and are published to ExecutorOptions.Publisher
// after the commit: a crash can neither publish them without the step
// being recorded nor record the step without them (see the package
// documentation, # Durability). The copy is stamped with an ID when it
// has none (the ID is what makes a publication after a restart
// idempotent), the execution's tenant (always), and, when unset, the
// triggering event as Cause, its trace and the current time. Emit may be called from goroutines that Do or Compensate
// starts, until it returns.
func (sc *StepContext) Emit(ev *semevent.Event) {
	c := ev.Clone()
	x := sc.x
	if c.ID.IsZero() {
		c.ID = x.e.ids.Next()
	}
	c.Tenant = x.tenant
	if c.Cause.IsZero() {
		c.Cause = x.ev.ID
	}
	if c.Trace == (semevent.TraceContext{}) {
		c.Trace = x.ev.Trace
	}
	if c.Time == 0 {
		c.Time = x.e.clock.Now().UnixNano()
	}
	sc.mu.Lock()
	sc.out = append(sc.out, c)
	sc.mu.Unlock()
}

// take returns the emitted events and forgets them.
func (sc *StepContext) take() []*semevent.Event {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := sc.out
	sc.out = nil
	return out
}

// Key returns Execution + "/" + Step: the same for every attempt, replay
// and restart of the step, for idempotent side effects.
func (sc *StepContext) Key() string { return sc.Execution + "/" + sc.Step }

// Run is one execution of a workflow as seen by its Run method. Its
// methods may be called from the goroutines of [Run.Parallel] branches,
// each through the branch's own Run.
type Run struct {
	x      *execution
	prefix string
	mu     sync.Mutex // guards names and par
	names  map[string]int
	par    int
}

// Context returns the execution's context, cancelled by
// [Executor.Cancel] and when the executor shuts down.
func (r *Run) Context() context.Context { return r.x.ctx }

// ID returns the execution ID: the workflow name and the triggering
// event's ID.
func (r *Run) ID() string { return r.x.id }

// Event returns the triggering event; it must not be modified.
func (r *Run) Event() *semevent.Event { return r.x.ev }

// Tenant returns the triggering event's tenant.
func (r *Run) Tenant() string { return r.x.tenant }

// stepID returns the ID of the next step called name: the Run's prefix,
// the name, and "#n" for its n-th use from the second on.
func (r *Run) stepID(name string) string {
	r.mu.Lock()
	n := r.names[name] + 1
	r.names[name] = n
	r.mu.Unlock()
	id := r.prefix + name
	if n > 1 {
		id += "#" + strconv.Itoa(n)
	}
	return id
}

// Step runs s as the step called name, or, when the workflow is replayed
// after a restart and the step completed before, returns its recorded
// result. It returns Do's result, or a *[StepError] once the retries are
// spent (and on replay of a step that failed).
func (r *Run) Step(name string, s Step) ([]byte, error) {
	x := r.x
	id := r.stepID(name)
	if rec := x.replayed(id); rec != nil {
		switch rec.Type {
		case RecStepDone:
			x.addComp(id, rec.Seq, &s, rec.Result)
			x.noteStep(id, "replayed", 0, nil)
			return rec.Result, nil
		case RecStepFailed:
			return nil, &StepError{Execution: x.id, Step: id, Err: errors.New(rec.Err)}
		}
	}
	if s.Do == nil {
		return nil, &StepError{Execution: x.id, Step: id, Err: errors.New("step has no Do")}
	}
	e := x.e
	x.noteStep(id, "running", 0, nil)
	action := s.Action
	if action == "" {
		action = x.wf + "/" + name
	}
	res, emitted, attempts, err := e.attempts(x.ctx, x, id, &s, e.breaker(action), false, nil)
	if err != nil {
		if e.abandoning(x) {
			return nil, err
		}
		serr := &StepError{Execution: x.id, Step: id, Attempts: attempts, Err: err}
		x.noteStep(id, "failed", attempts, err)
		if aerr := e.commit(x, &Record{Type: RecStepFailed, Step: id, Err: err.Error()}, "failed", nil); aerr != nil {
			return nil, aerr
		}
		return nil, serr
	}
	seq := x.nextSeq()
	if aerr := e.commit(x, &Record{Type: RecStepDone, Step: id, Seq: seq, Result: res}, "done", emitted); aerr != nil {
		return nil, aerr
	}
	x.addComp(id, seq, &s, res)
	x.noteStep(id, "done", attempts, nil)
	return res, nil
}

// Parallel runs the branches concurrently, each with its own Run whose
// step IDs are prefixed by the branch, waits for all of them (fan-in)
// and returns their errors joined. Steps of a branch that fails are
// compensated with the rest if the execution fails.
func (r *Run) Parallel(branches ...func(r *Run) error) error {
	r.mu.Lock()
	r.par++
	k := r.par
	r.mu.Unlock()
	errs := make([]error, len(branches))
	var wg sync.WaitGroup
	for i, b := range branches {
		child := &Run{x: r.x, prefix: fmt.Sprintf("%spar%d.%d/", r.prefix, k, i), names: map[string]int{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = safeRun(b, child)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Await waits for an event of the execution's tenant given to
// [Executor.Handle] that f matches (nil matches any), for at most timeout (0: no limit), and returns a copy of
// it; after a timeout it returns [ErrTimeout]. The deadline and the
// outcome are recorded: on replay Await returns the outcome again at
// once, and an Await that was waiting when the process stopped waits
// until the same deadline after the restart.
func (r *Run) Await(name string, f filter.Filter, timeout time.Duration) (*semevent.Event, error) {
	x := r.x
	id := r.stepID(name)
	if rec := x.replayed(id); rec != nil && rec.Type == RecAwaitDone {
		if rec.Event == nil {
			return nil, ErrTimeout
		}
		return rec.Event, nil
	}
	e := x.e
	x.mu.Lock()
	inbox := x.inbox
	x.mu.Unlock()
	var ch <-chan *semevent.Event
	if inbox != nil {
		ch = inbox.ch
	} else {
		w := &waiter{tenant: x.tenant, f: f, ch: make(chan *semevent.Event, 1), once: true}
		e.addWaiter(w)
		defer e.removeWaiter(w)
		ch = w.ch
	}
	// The deadline is recorded, so that after a restart the wait goes on
	// until the same deadline rather than starting over.
	x.mu.Lock()
	deadline, known := x.deadlines[id]
	x.mu.Unlock()
	if !known {
		if timeout > 0 {
			deadline = e.clock.Now().Add(timeout).UnixNano()
		}
		if err := e.record(x, &Record{Type: RecAwaitStarted, Step: id, Seq: uint64(deadline)}); err != nil {
			return nil, err
		}
	}
	x.noteStep(id, "awaiting", 0, nil)
	var tc <-chan time.Time
	if deadline > 0 {
		tc = e.clock.After(time.Duration(deadline - e.clock.Now().UnixNano()))
	}
	for {
		select {
		case ev := <-ch:
			if inbox != nil && f != nil && !f.Match(ev) {
				continue // not for this Await: consumed, as if ignored
			}
			if err := e.record(x, &Record{Type: RecAwaitDone, Step: id, Event: ev}); err != nil {
				return nil, err
			}
			x.noteStep(id, "done", 1, nil)
			return ev, nil
		case <-tc:
			if err := e.record(x, &Record{Type: RecAwaitDone, Step: id}); err != nil {
				return nil, err
			}
			x.noteStep(id, "timeout", 1, ErrTimeout)
			return nil, ErrTimeout
		case <-x.ctx.Done():
			return nil, context.Cause(x.ctx)
		case <-e.stop:
			// Close does not wait for events: suspend, to resume on restart.
			x.mu.Lock()
			x.suspended = true
			x.mu.Unlock()
			return nil, ErrClosed
		}
	}
}

// waiter receives events from Executor.Handle: one (once) for a plain
// Await, or every match, while there is room, for an inbox.
type waiter struct {
	tenant string // the execution's tenant; only its events are offered
	f      filter.Filter
	ch     chan *semevent.Event
	once   bool
	fired  bool // guarded by Executor.mu
}

func safeRun(fn func(*Run) error, r *Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("automation: workflow panic: %v", p)
		}
	}()
	return fn(r)
}

func safeDo(s *Step, comp bool, ctx context.Context, sc *StepContext) (res []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("automation: step %s panic: %v", sc.Step, p)
		}
	}()
	if comp {
		return nil, s.Compensate(ctx, sc)
	}
	return s.Do(ctx, sc)
}

// Attribute keys of the semevent.KindWorkflowStep events an [Executor]
// publishes.
const (
	AttrWorkflow  = "workflow"  // the workflow of a step event
	AttrExecution = "execution" // the execution of a step event
	AttrStep      = "step"      // the step of a step event
	AttrStatus    = "status"    // the step's status
)
