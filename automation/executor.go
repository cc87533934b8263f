package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/automation/breaker"
	"github.com/vexfs/semevent/internal/logx"
)

// Outcome is how an execution ended.
type Outcome uint8

// The outcomes.
const (
	Running            Outcome = iota // not ended yet
	Succeeded                         // Run returned nil
	Failed                            // Run failed; completed steps were compensated
	CompensationFailed                // Run failed and a compensation failed too
	Cancelled                         // cancelled by Executor.Cancel; completed steps were compensated

	outcomeEnd
)

func (o Outcome) String() string {
	switch o {
	case Running:
		return "running"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case CompensationFailed:
		return "compensation failed"
	case Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// TenantQuota limits one tenant's executions. The zero value means: no
// limit of its own beyond the executor's MaxConcurrent (and the fair
// round-robin between tenants), and DefaultMaxQueued waiting.
type TenantQuota struct {
	MaxConcurrent int     // running executions at once; 0: no own limit
	PerSecond     float64 // executions started per second; 0: no limit
	Burst         int     // token bucket size for PerSecond; default max(1, PerSecond)
	MaxQueued     int     // executions waiting to start; beyond, Start fails with ErrQuotaExceeded
}

// DefaultMaxQueued is the default [TenantQuota.MaxQueued].
const DefaultMaxQueued = 10000

// DefaultMaxFinished is the default [ExecutorOptions.MaxFinished].
const DefaultMaxFinished = 1 << 18

// ExecutorOptions configure [NewExecutor]. A nil *ExecutorOptions means
// defaults: no workflows, volatile state.
type ExecutorOptions struct {
	// Workflows are the workflows the executor can run, by Name.
	Workflows []Workflow
	// Store records execution state durably; see [JournalStore]. NewExecutor
	// loads it and resumes the executions that had not finished. Nil: state
	// is in memory only.
	Store Store
	// MaxConcurrent bounds running executions. Default 64.
	MaxConcurrent int
	// Quota is every tenant's quota unless Quotas has one for it.
	Quota  TenantQuota
	Quotas map[string]TenantQuota
	// Breaker configures the per-action circuit breakers; its Clock
	// defaults to Clock.
	Breaker breaker.Options
	// Clock is the time source for backoff, Await timeouts, breakers and
	// rates. Default the real clock.
	Clock Clock
	// Rand returns uniform numbers in [0, 1) for retry jitter. Default
	// math/rand/v2.
	Rand func() float64
	// History is how many ended executions [Executor.History] keeps.
	// Default 1000.
	History int
	// MaxFinished is how many IDs of ended executions the executor
	// remembers, so that Start (and Handle) refuse a trigger seen before
	// with ErrDuplicate, also after a restart. Beyond it the oldest is
	// forgotten, counted in ExecutorStats.FinishedForgotten: a trigger
	// redelivered after more than MaxFinished later executions ended runs
	// again. Each costs about 150 bytes. Default [DefaultMaxFinished].
	MaxFinished int
	// Publisher, if set, receives a semevent.KindWorkflowStep event for
	// each step that completes, fails or is compensated.
	Publisher semevent.Publisher
	// PublishTimeout bounds each publish to Publisher (see
	// semevent.PublishTimeout): 0 means semevent.DefaultPublishTimeout,
	// a negative value means no bound. A publish that times out is
	// reported to OnError and the step goes on.
	PublishTimeout time.Duration
	// Principal is who publishes the step events on a bus with an access.Authorizer:
	// each publish's context carries it (access.WithPrincipal). Without it
	// an authorized bus refuses the publish (access.ErrNoPrincipal), since
	// the handler context the bus gives subscribers carries none. It needs
	// a grant of OpPublish on the topic "automation.workflow.step" (semevent.KindWorkflowStep), e.g. the policy role
	//
	//	- name: automation
	//	  grants:
	//	    - ops: [publish]
	//	      topics: [automation.workflow.step]
	Principal *access.Principal
	// OnError receives errors no caller is waiting for: a store that
	// fails, a recorded execution whose workflow is unknown.
	OnError func(error)
	// Logger receives the executor's log lines (component "automation"):
	// a workflow that failed (warning) or whose compensation failed
	// (error), each compensation, and every error OnError receives, with
	// the attributes "workflow", "execution", "tenant", "step" and "err".
	// nil means slog.Default(); slog.New(slog.DiscardHandler) silences
	// it.
	Logger *slog.Logger
	// Authorize, when set, is asked before Start runs a workflow on
	// behalf of ctx's caller; an error refuses the run and is returned.
	// (*access.Authorizer).AuthorizeWorkflow fits. Executions that
	// Handle starts for matching events are not asked again: the event's
	// delivery was authorized by the subscription that brought it.
	Authorize func(ctx context.Context, workflow string, ev *semevent.Event) error
}

// Validate lists every problem in o.
func (o *ExecutorOptions) Validate() error {
	p := &semevent.OptionsError{Options: "automation.ExecutorOptions"}
	if o == nil {
		return nil
	}
	names := map[string]bool{}
	for i, w := range o.Workflows {
		switch {
		case w == nil:
			p.Addf(fmt.Sprintf("Workflows[%d]", i), "is nil")
		case w.Name() == "":
			p.Addf(fmt.Sprintf("Workflows[%d]", i), "has an empty name")
		case names[w.Name()]:
			p.Addf(fmt.Sprintf("Workflows[%d]", i), "duplicate name %q", w.Name())
		default:
			names[w.Name()] = true
		}
	}
	if o.MaxConcurrent < 0 {
		p.Addf("MaxConcurrent", "%d is negative", o.MaxConcurrent)
	}
	if o.History < 0 {
		p.Addf("History", "%d is negative", o.History)
	}
	if o.MaxFinished < 0 {
		p.Addf("MaxFinished", "%d is negative", o.MaxFinished)
	}
	check := func(name string, q TenantQuota) {
		if q.MaxConcurrent < 0 || q.PerSecond < 0 || q.Burst < 0 || q.MaxQueued < 0 {
			p.Addf(name, "negative limit in %+v", q)
		}
	}
	check("Quota", o.Quota)
	for t, q := range o.Quotas {
		check(fmt.Sprintf("Quotas[%q]", t), q)
	}
	var be *semevent.OptionsError
	if err := o.Breaker.Validate(); errors.As(err, &be) {
		for _, pb := range be.Problems {
			p.Addf("Breaker."+pb.Field, "%s", pb.Msg)
		}
	}
	return p.Err()
}

// ExecutorStats are an [Executor]'s counters.
type ExecutorStats struct {
	Started            uint64 // executions accepted by Start
	Resumed            uint64 // executions resumed from the store
	Succeeded          uint64
	Failed             uint64
	CompensationFailed uint64
	Cancelled          uint64
	Abandoned          uint64 // stopped by Close or a store failure; resumed on restart
	Rejected           uint64 // Start calls refused by a tenant quota
	Retries            uint64 // step attempts after the first
	Compensations      uint64 // compensations that succeeded
	InboxDropped       uint64 // events not kept by a full Listener inbox
	TenantsFreed       uint64 // idle tenant queues freed (see Tenants)
	Relayed            uint64 // records whose committed events recovery published again
	FinishedForgotten  uint64 // IDs of ended executions forgotten beyond MaxFinished
	Tenants            int    // tenant queues held now: tenants with queued or running executions
	Running, Queued    int
}

// StepInfo is one step in an execution's history.
type StepInfo struct {
	ID       string
	Status   string // running, done, failed, replayed, awaiting, timeout, compensated, compensation failed
	Attempts int
	Started  time.Time
	Ended    time.Time
	Err      string
}

// ExecutionInfo is an execution's history: its steps, timings and
// outcome.
type ExecutionInfo struct {
	ID       string
	Workflow string
	Tenant   string
	Trigger  semevent.ID // the triggering event's ID
	Path     string      // the triggering event's path
	Resumed  bool        // resumed from the store after a restart
	Queued   time.Time
	Started  time.Time
	Ended    time.Time
	Outcome  Outcome
	Err      string
	Steps    []StepInfo
}

func (i *ExecutionInfo) clone() ExecutionInfo {
	c := *i
	c.Steps = slices.Clone(i.Steps)
	return c
}

// Executor runs workflow executions: it admits them per tenant, starts
// them fairly (round-robin across tenants, within MaxConcurrent and each
// tenant's quota), retries and guards their steps, compensates failed
// executions, records everything in its Store and resumes unfinished
// executions when it is created again on the same Store. It is a
// semevent.Handler: Handle starts triggered workflows and feeds
// [Run.Await]. All methods are safe for concurrent use.
type Executor struct {
	authorize func(ctx context.Context, workflow string, ev *semevent.Event) error

	mu        sync.Mutex // guards every field down to stats
	execs     map[string]*execution
	finished  map[string]struct{} // IDs of ended executions, for ErrDuplicate; at most maxFin
	finOrder  []string            // finished's IDs, oldest first from finHead (a ring once full)
	finHead   int
	maxFin    int
	tenants   map[string]*tenantQ   // tenants with queued or running executions (or a refilling rate bucket)
	ready     readyQueue            // tenants with queued executions that may start one: served round-robin
	rateWait  rateHeap              // tenants with queued executions waiting for a rate token, by when
	refilling map[*tenantQ]struct{} // idle tenants kept until their rate bucket is full again
	lastSweep time.Time             // of refilling
	running   int
	waiters   map[string]map[*waiter]struct{} // by tenant: Handle offers an event to its own tenant's waiters only
	closed    bool
	history   []*ExecutionInfo // ring of ended executions
	histNext  int
	breakers  map[string]*breaker.Breaker
	stats     ExecutorStats
	workflows map[string]Workflow
	triggers  []Workflow

	store     Store
	maxConc   int
	quota     TenantQuota
	quotas    map[string]TenantQuota
	brOpts    breaker.Options
	clock     Clock
	rand      func() float64
	histCap   int
	pub       semevent.Publisher
	pubTO     time.Duration
	pubCtx    context.Context // root, carrying Principal
	onErr     func(error)
	log       *slog.Logger // Logger with component=automation
	ids       *semevent.IDGenerator
	root      context.Context
	stopRoot  context.CancelFunc
	wake      chan struct{}
	stop      chan struct{}
	schedDone chan struct{}
	wg        sync.WaitGroup
	randMu    sync.Mutex
}

var _ semevent.Handler = (*Executor)(nil)

type tenantQ struct {
	name    string
	q       []*execution
	running int
	quota   TenantQuota
	tokens  float64
	last    time.Time
	// Where the tenant is, guarded by Executor.mu: in the ready queue, in
	// the rate heap until tokenAt, or neither (idle, or at its
	// MaxConcurrent: the end of one of its executions puts it back).
	inReady, inRate bool
	tokenAt         time.Time
}

// readyQueue is a FIFO of tenants: dispatch takes one from the front,
// starts one of its executions, and puts it back at the end while it has
// more, which is the round-robin, in O(1) per start whatever the number
// of tenants.
type readyQueue struct {
	s    []*tenantQ
	head int
}

func (r *readyQueue) len() int { return len(r.s) - r.head }

func (r *readyQueue) push(tq *tenantQ) {
	tq.inReady = true
	r.s = append(r.s, tq)
}

func (r *readyQueue) pop() *tenantQ {
	tq := r.s[r.head]
	r.s[r.head] = nil
	r.head++
	if r.head == len(r.s) {
		r.s, r.head = r.s[:0], 0
	} else if r.head > 1024 && r.head > len(r.s)/2 {
		n := copy(r.s, r.s[r.head:])
		clear(r.s[n:])
		r.s, r.head = r.s[:n], 0
	}
	tq.inReady = false
	return tq
}

// rateHeap orders tenants waiting for a rate token by when it comes.
type rateHeap []*tenantQ

func (h *rateHeap) push(tq *tenantQ) {
	tq.inRate = true
	*h = append(*h, tq)
	s := *h
	for i := len(s) - 1; i > 0; {
		j := (i - 1) / 2
		if !s[i].tokenAt.Before(s[j].tokenAt) {
			break
		}
		s[i], s[j] = s[j], s[i]
		i = j
	}
}

func (h *rateHeap) pop() *tenantQ {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = nil
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].tokenAt.Before(s[l].tokenAt) {
			m = r
		}
		if !s[m].tokenAt.Before(s[i].tokenAt) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	top.inRate = false
	return top
}

type comp struct {
	step   string
	seq    uint64
	s      *Step
	result []byte
}

// execution is one run of a workflow.
type execution struct {
	e      *Executor
	id, wf string
	w      Workflow
	tenant string
	ev     *semevent.Event
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu          sync.Mutex // guards the fields below
	done        map[string]*Record
	compensated map[string]bool
	deadlines   map[string]int64 // recorded Await deadlines, Unix ns
	comps       []comp
	seq         uint64
	storeFailed bool
	suspended   bool    // stopped in Await by Close
	inbox       *waiter // for a Listener workflow
	info        *ExecutionInfo
}

// attrs returns x's identifying log attributes followed by more.
func (x *execution) attrs(more ...slog.Attr) []slog.Attr {
	return append([]slog.Attr{slog.String(logx.Workflow, x.wf), slog.String("execution", x.id), slog.String(logx.Tenant, x.tenant)}, more...)
}

// errCancelled is the cause of an execution cancelled by Executor.Cancel.
var errCancelled = errors.New("automation: execution cancelled")

// NewExecutor returns a running executor. With a Store, it first loads
// the store and queues every execution that had started and not
// finished; they resume from their last recorded step.
func NewExecutor(opts *ExecutorOptions) (*Executor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o ExecutorOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 64
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Rand == nil {
		o.Rand = defaultRand
	}
	if o.History == 0 {
		o.History = 1000
	}
	if o.MaxFinished == 0 {
		o.MaxFinished = DefaultMaxFinished
	}
	if o.Breaker.Clock == nil {
		o.Breaker.Clock = o.Clock
	}
	e := &Executor{
		execs: map[string]*execution{}, finished: map[string]struct{}{},
		tenants: map[string]*tenantQ{}, refilling: map[*tenantQ]struct{}{}, waiters: map[string]map[*waiter]struct{}{},
		breakers: map[string]*breaker.Breaker{}, workflows: map[string]Workflow{},
		maxFin: o.MaxFinished, store: o.Store, maxConc: o.MaxConcurrent, quota: o.Quota, quotas: o.Quotas,
		brOpts: o.Breaker, clock: o.Clock, rand: o.Rand, histCap: o.History,
		pub: o.Publisher, pubTO: o.PublishTimeout, onErr: o.OnError, authorize: o.Authorize, ids: semevent.NewIDGenerator(0),
		log:  logx.For(o.Logger, "automation"),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), schedDone: make(chan struct{}),
	}
	e.root, e.stopRoot = context.WithCancel(context.Background())
	e.pubCtx = e.root
	if o.Principal != nil {
		e.pubCtx = access.WithPrincipal(e.root, o.Principal)
	}
	for _, w := range o.Workflows {
		e.workflows[w.Name()] = w
		if t, ok := w.(Triggered); ok && t.Trigger() != nil {
			e.triggers = append(e.triggers, w)
		}
	}
	if e.store != nil {
		if err := e.recover(); err != nil {
			e.stopRoot()
			return nil, err
		}
	}
	go e.schedule()
	return e, nil
}

func (e *Executor) newExecution(id string, w Workflow, wf string, ev *semevent.Event) *execution {
	x := &execution{e: e, id: id, wf: wf, w: w, tenant: ev.Tenant, ev: ev,
		done: map[string]*Record{}, compensated: map[string]bool{}, deadlines: map[string]int64{}}
	x.ctx, x.cancel = context.WithCancelCause(e.root)
	if l, ok := w.(Listener); ok {
		f, size := l.Inbox(ev)
		if size <= 0 {
			size = 64
		}
		x.inbox = &waiter{tenant: ev.Tenant, f: f, ch: make(chan *semevent.Event, size)}
	}
	x.info = &ExecutionInfo{ID: id, Workflow: wf, Tenant: ev.Tenant, Trigger: ev.ID, Path: ev.Path, Queued: e.clock.Now()}
	return x
}

// recover loads the store and queues unfinished executions.
func (e *Executor) recover() error {
	pending := map[string]*execution{}
	var order []string
	// The outbox: records whose events were committed and not yet
	// published (no RecEmitted after them), in log order.
	type relayKey struct {
		exec, step string
		typ        RecordType
	}
	unrelayed := map[relayKey]int{}
	var relays []*Record
	err := e.store.Load(e.root, func(r *Record) error {
		switch {
		case r.Type == RecEmitted:
			if i, ok := unrelayed[relayKey{r.Execution, r.Step, RecordType(r.Seq)}]; ok {
				relays[i] = nil
			}
			return nil
		case len(r.Events) > 0:
			unrelayed[relayKey{r.Execution, r.Step, r.Type}] = len(relays)
			relays = append(relays, r)
		}
		if r.Type == RecStarted {
			if r.Event == nil {
				return &RecordError{Msg: "started record of " + r.Execution + " without event"}
			}
			x := e.newExecution(r.Execution, e.workflows[r.Workflow], r.Workflow, r.Event)
			x.info.Resumed = true
			pending[r.Execution] = x
			order = append(order, r.Execution)
			return nil
		}
		x := pending[r.Execution]
		if x == nil {
			return nil // finished, or started before the retained log
		}
		switch r.Type {
		case RecAwaitStarted:
			x.deadlines[r.Step] = int64(r.Seq)
		case RecStepDone, RecStepFailed, RecAwaitDone:
			x.done[r.Step] = r
			x.seq = max(x.seq, r.Seq)
		case RecCompensated, RecCompensationFailed:
			x.compensated[r.Step] = true
		case RecFinished:
			delete(pending, r.Execution)
			x.cancel(nil)
			e.finishedLocked(r.Execution)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("automation: loading the store: %w", err)
	}
	for _, r := range relays {
		if r != nil && e.pub != nil {
			e.relay(r) // committed before the crash, maybe published: the same IDs again
			e.stats.Relayed++
		}
	}
	for _, id := range order {
		x := pending[id]
		if x == nil {
			continue
		}
		if x.w == nil {
			x.cancel(nil)
			e.report(fmt.Errorf("%w: %q (execution %s not resumed)", ErrUnknownWorkflow, x.wf, id))
			continue
		}
		e.execs[id] = x
		if x.inbox != nil {
			e.addWaiterLocked(x.inbox)
		}
		e.enqueueLocked(x)
		e.stats.Resumed++
	}
	return nil
}

// finishedLocked remembers that execution id ended, forgetting the
// oldest remembered one beyond MaxFinished.
func (e *Executor) finishedLocked(id string) {
	if _, ok := e.finished[id]; ok {
		return
	}
	if len(e.finOrder) < e.maxFin {
		e.finOrder = append(e.finOrder, id)
	} else {
		delete(e.finished, e.finOrder[e.finHead])
		e.finOrder[e.finHead] = id
		e.finHead = (e.finHead + 1) % e.maxFin
		e.stats.FinishedForgotten++
	}
	e.finished[id] = struct{}{}
}

func (e *Executor) report(err error) {
	e.log.LogAttrs(context.Background(), slog.LevelError, "automation error", slog.Any(logx.Err, err))
	if e.onErr != nil {
		e.onErr(err)
	}
}

func (e *Executor) tenantLocked(t string) *tenantQ {
	tq := e.tenants[t]
	if tq == nil {
		q, ok := e.quotas[t]
		if !ok {
			q = e.quota
		}
		if q.MaxQueued == 0 {
			q.MaxQueued = DefaultMaxQueued
		}
		if q.Burst == 0 {
			q.Burst = max(1, int(q.PerSecond))
		}
		tq = &tenantQ{name: t, quota: q, tokens: float64(q.Burst), last: e.clock.Now()}
		e.tenants[t] = tq
	}
	return tq
}

// enqueueLocked queues x on its tenant's queue.
func (e *Executor) enqueueLocked(x *execution) {
	tq := e.tenantLocked(x.tenant)
	tq.q = append(tq.q, x)
	delete(e.refilling, tq)
	if !tq.inReady && !tq.inRate {
		e.ready.push(tq) // at its MaxConcurrent, dispatch takes it out again
	}
}

// idleLocked frees tq if it has nothing queued or running, and its rate
// bucket (if it has a PerSecond quota) is full again: a new queue for the
// tenant then starts exactly as tq would go on. A tenant whose bucket is
// still refilling is kept in e.refilling, swept by dispatchLocked.
func (e *Executor) idleLocked(tq *tenantQ, now time.Time) {
	if tq.running > 0 || len(tq.q) > 0 {
		return
	}
	if q := tq.quota; q.PerSecond > 0 && tq.tokens+now.Sub(tq.last).Seconds()*q.PerSecond < float64(q.Burst) {
		e.refilling[tq] = struct{}{}
		return
	}
	delete(e.refilling, tq)
	if e.tenants[tq.name] == tq {
		delete(e.tenants, tq.name)
		e.stats.TenantsFreed++
	}
}

// ExecutionID returns the ID of the execution of workflow for ev.
func ExecutionID(workflow string, ev *semevent.Event) string {
	return workflow + "/" + ev.ID.String()
}

// Start queues an execution of the workflow named workflow for ev and
// returns its ID, [ExecutionID](workflow, ev), once the start is recorded.
// An event without an ID gets one (on a copy). It fails with
// [ErrUnknownWorkflow], [ErrDuplicate] if that execution was started
// before (also before a restart), [ErrQuotaExceeded] if the tenant's
// queue is full, or ErrClosed.
func (e *Executor) Start(ctx context.Context, workflow string, ev *semevent.Event) (string, error) {
	if ev == nil {
		return "", semevent.ErrNilEvent
	}
	if e.authorize != nil {
		if err := e.authorize(ctx, workflow, ev); err != nil {
			return "", err
		}
	}
	return e.start(ctx, workflow, ev)
}

// start is Start without authorization.
func (e *Executor) start(ctx context.Context, workflow string, ev *semevent.Event) (string, error) {
	if ev.ID.IsZero() {
		ev = ev.Clone()
		ev.ID = e.ids.Next()
	}
	e.mu.Lock()
	w := e.workflows[workflow]
	if w == nil {
		e.mu.Unlock()
		return "", fmt.Errorf("%w: %q", ErrUnknownWorkflow, workflow)
	}
	id := ExecutionID(workflow, ev)
	if e.closed {
		e.mu.Unlock()
		return "", ErrClosed
	}
	if _, ok := e.finished[id]; ok || e.execs[id] != nil {
		e.mu.Unlock()
		return id, ErrDuplicate
	}
	tq := e.tenantLocked(ev.Tenant)
	if len(tq.q) >= tq.quota.MaxQueued {
		e.stats.Rejected++
		e.mu.Unlock()
		return "", fmt.Errorf("%w: tenant %q has %d executions queued", ErrQuotaExceeded, ev.Tenant, len(tq.q))
	}
	x := e.newExecution(id, w, workflow, ev)
	e.execs[id] = x
	if x.inbox != nil {
		e.addWaiterLocked(x.inbox)
	}
	e.mu.Unlock()

	if e.store != nil {
		err := e.store.Append(ctx, &Record{Type: RecStarted, Time: e.clock.Now().UnixNano(), Execution: id, Workflow: workflow, Tenant: ev.Tenant, Event: ev})
		if err != nil {
			e.mu.Lock()
			delete(e.execs, id)
			if x.inbox != nil {
				e.removeWaiterLocked(x.inbox)
			}
			e.mu.Unlock()
			x.cancel(nil)
			return "", err
		}
	}
	e.mu.Lock()
	e.stats.Started++
	e.enqueueLocked(x)
	e.mu.Unlock()
	e.poke()
	return id, nil
}

func (e *Executor) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Handle starts an execution of every workflow whose trigger ev matches
// (see [Triggered]) and offers ev to every [Run.Await] in progress of an
// execution of ev's tenant (the triggering event's Tenant): executions
// never see another tenant's events. It
// returns the Start errors joined, except ErrDuplicate.
func (e *Executor) Handle(ctx context.Context, ev *semevent.Event) error {
	if ev == nil {
		return semevent.ErrNilEvent
	}
	var errs []error
	for _, w := range e.triggers {
		if w.(Triggered).Trigger().Match(ev) {
			if _, err := e.start(ctx, w.Name(), ev); err != nil && !errors.Is(err, ErrDuplicate) {
				errs = append(errs, err)
			}
		}
	}
	e.mu.Lock()
	for w := range e.waiters[ev.Tenant] {
		if w.fired || (w.f != nil && !w.f.Match(ev)) {
			continue
		}
		if w.once {
			w.fired = true
			w.ch <- ev.Clone()
			continue
		}
		select {
		case w.ch <- ev.Clone():
		default:
			e.stats.InboxDropped++
		}
	}
	e.mu.Unlock()
	return errors.Join(errs...)
}

func (e *Executor) addWaiter(w *waiter) {
	e.mu.Lock()
	e.addWaiterLocked(w)
	e.mu.Unlock()
}

func (e *Executor) addWaiterLocked(w *waiter) {
	ws := e.waiters[w.tenant]
	if ws == nil {
		ws = map[*waiter]struct{}{}
		e.waiters[w.tenant] = ws
	}
	ws[w] = struct{}{}
}

func (e *Executor) removeWaiter(w *waiter) {
	e.mu.Lock()
	e.removeWaiterLocked(w)
	e.mu.Unlock()
}

func (e *Executor) removeWaiterLocked(w *waiter) {
	ws := e.waiters[w.tenant]
	delete(ws, w)
	if len(ws) == 0 {
		delete(e.waiters, w.tenant)
	}
}

// Cancel cancels the execution id: its context ends, and once Run
// returns its completed steps are compensated and it ends Cancelled. It
// reports whether the execution was in flight.
func (e *Executor) Cancel(id string) bool {
	e.mu.Lock()
	x := e.execs[id]
	e.mu.Unlock()
	if x == nil {
		return false
	}
	x.cancel(errCancelled)
	return true
}

// schedule starts queued executions: round-robin over tenants, one per
// tenant per round, within the limits. Each start costs O(1) plus
// O(log n) for a tenant that must wait for a rate token, whatever the
// number of tenants.
func (e *Executor) schedule() {
	defer close(e.schedDone)
	for {
		e.mu.Lock()
		wait := e.dispatchLocked()
		e.mu.Unlock()
		var tc <-chan time.Time
		if wait > 0 {
			tc = e.clock.After(wait)
		}
		select {
		case <-e.wake:
		case <-tc:
		case <-e.stop:
			return
		}
	}
}

func (e *Executor) dispatchLocked() time.Duration {
	if e.closed {
		return 0
	}
	now := e.clock.Now()
	if len(e.refilling) > 0 && now.Sub(e.lastSweep) >= time.Second {
		e.lastSweep = now
		for tq := range e.refilling {
			e.idleLocked(tq, now)
		}
	}
	for len(e.rateWait) > 0 && !e.rateWait[0].tokenAt.After(now) {
		e.ready.push(e.rateWait.pop())
	}
	for e.running < e.maxConc && e.ready.len() > 0 {
		tq := e.ready.pop()
		if len(tq.q) == 0 || (tq.quota.MaxConcurrent > 0 && tq.running >= tq.quota.MaxConcurrent) {
			continue // the end of one of its executions puts it back
		}
		if tq.quota.PerSecond > 0 {
			tq.tokens = min(float64(tq.quota.Burst), tq.tokens+now.Sub(tq.last).Seconds()*tq.quota.PerSecond)
			tq.last = now
			if tq.tokens < 1 {
				d := time.Duration((1 - tq.tokens) / tq.quota.PerSecond * float64(time.Second))
				tq.tokenAt = now.Add(max(d, time.Millisecond))
				e.rateWait.push(tq)
				continue
			}
			tq.tokens--
		}
		x := tq.q[0]
		tq.q[0] = nil
		tq.q = tq.q[1:]
		if len(tq.q) == 0 {
			tq.q = nil // give back the drained array
		} else {
			e.ready.push(tq) // one per tenant per round
		}
		tq.running++
		e.running++
		e.wg.Add(1)
		go e.execute(x, tq)
	}
	if len(e.rateWait) > 0 {
		return max(e.rateWait[0].tokenAt.Sub(now), time.Millisecond)
	}
	return 0
}

// abandoning reports whether x must stop without compensating or
// finishing: the executor is shutting down or the store failed.
func (e *Executor) abandoning(x *execution) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.storeFailed || x.suspended || e.root.Err() != nil
}

// record appends r for x to the store. A store failure abandons x.
func (e *Executor) record(x *execution, r *Record) error {
	r.Execution, r.Workflow, r.Tenant = x.id, x.wf, x.tenant
	r.Time = e.clock.Now().UnixNano()
	if e.store == nil {
		return nil
	}
	if err := e.store.Append(e.root, r); err != nil {
		x.mu.Lock()
		x.storeFailed = true
		x.mu.Unlock()
		err = fmt.Errorf("automation: execution %s: recording %s: %w", x.id, r.Step, err)
		e.report(err)
		return err
	}
	return nil
}

func (e *Executor) execute(x *execution, tq *tenantQ) {
	defer e.wg.Done()
	x.mu.Lock()
	x.info.Started = e.clock.Now()
	x.mu.Unlock()
	run := &Run{x: x, names: map[string]int{}}
	err := safeRun(x.w.Run, run)
	outcome := Succeeded
	abandoned := e.abandoning(x)
	if err != nil && !abandoned {
		outcome = Failed
		if errors.Is(context.Cause(x.ctx), errCancelled) {
			outcome = Cancelled
		}
		if !e.compensate(x) {
			outcome = CompensationFailed
		}
		abandoned = e.abandoning(x)
	}
	if !abandoned {
		r := &Record{Type: RecFinished, Outcome: outcome}
		if err != nil {
			r.Err = err.Error()
		}
		if e.record(x, r) != nil {
			abandoned = true
		}
	}
	x.cancel(nil)
	if x.inbox != nil {
		e.removeWaiter(x.inbox)
	}
	x.mu.Lock()
	x.info.Ended = e.clock.Now()
	x.info.Outcome = outcome
	if err != nil {
		x.info.Err = err.Error()
	}
	info := x.info
	x.mu.Unlock()
	if !abandoned && outcome != Succeeded {
		lv, msg := slog.LevelWarn, "workflow failed; completed steps compensated"
		switch outcome {
		case CompensationFailed:
			lv, msg = slog.LevelError, "workflow failed and a compensation failed"
		case Cancelled:
			lv, msg = slog.LevelInfo, "workflow cancelled; completed steps compensated"
		}
		e.log.LogAttrs(context.Background(), lv, msg, x.attrs(slog.Any(logx.Err, err))...)
	}

	e.mu.Lock()
	delete(e.execs, x.id)
	tq.running--
	if len(tq.q) > 0 && !tq.inReady && !tq.inRate {
		e.ready.push(tq) // it was at its MaxConcurrent
	}
	e.idleLocked(tq, e.clock.Now())
	e.running--
	if abandoned {
		e.stats.Abandoned++
	} else {
		e.finishedLocked(x.id)
		switch outcome {
		case Succeeded:
			e.stats.Succeeded++
		case Failed:
			e.stats.Failed++
		case CompensationFailed:
			e.stats.CompensationFailed++
		case Cancelled:
			e.stats.Cancelled++
		}
		if len(e.history) < e.histCap {
			e.history = append(e.history, info)
		} else {
			e.history[e.histNext] = info
			e.histNext = (e.histNext + 1) % e.histCap
		}
	}
	e.mu.Unlock()
	e.poke()
}

// compensate runs the compensations of x's completed steps in reverse
// order of completion, skipping those recorded as done. It reports
// whether all succeeded.
func (e *Executor) compensate(x *execution) bool {
	x.mu.Lock()
	comps := slices.Clone(x.comps)
	x.mu.Unlock()
	slices.SortFunc(comps, func(a, b comp) int {
		switch {
		case a.seq > b.seq:
			return -1
		case a.seq < b.seq:
			return 1
		}
		return 0
	})
	ok := true
	for _, c := range comps {
		x.mu.Lock()
		done := x.compensated[c.step]
		x.mu.Unlock()
		if done {
			continue
		}
		ctx := context.WithoutCancel(x.ctx)
		_, emitted, attempts, err := e.attempts(ctx, x, c.step, c.s, nil, true, c.result)
		if e.abandoning(x) {
			return false
		}
		if err != nil {
			ok = false
			e.log.LogAttrs(context.Background(), slog.LevelError, "compensation failed",
				x.attrs(slog.String(logx.Step, c.step), slog.Int("attempts", attempts), slog.Any(logx.Err, err))...)
			x.noteStep(c.step, "compensation failed", attempts, err)
			e.commit(x, &Record{Type: RecCompensationFailed, Step: c.step, Err: err.Error()}, "compensation failed", nil)
		} else {
			e.log.LogAttrs(context.Background(), slog.LevelInfo, "step compensated", x.attrs(slog.String(logx.Step, c.step))...)
			x.noteStep(c.step, "compensated", attempts, nil)
			if e.commit(x, &Record{Type: RecCompensated, Step: c.step}, "compensated", emitted) != nil {
				return false
			}
			e.mu.Lock()
			e.stats.Compensations++
			e.mu.Unlock()
		}
		x.mu.Lock()
		x.compensated[c.step] = true
		x.mu.Unlock()
	}
	return ok
}

// attempts runs s.Do (or, with comp, s.Compensate) under its retry policy,
// breaker and timeout, and returns its result, the events the successful
// attempt emitted, the number of attempts and the last error.
func (e *Executor) attempts(ctx context.Context, x *execution, id string, s *Step, br *breaker.Breaker, comp bool, compResult []byte) ([]byte, []*semevent.Event, int, error) {
	pol := s.Retry.withDefaults()
	for a := 1; ; a++ {
		sc := &StepContext{Execution: x.id, Step: id, Attempt: a, Tenant: x.tenant, Event: x.ev, Result: compResult, x: x}
		var res []byte
		var err error
		if br != nil {
			err = br.Allow()
		}
		if err == nil {
			actx, cancel := ctx, context.CancelFunc(func() {})
			if s.Timeout > 0 && !comp {
				actx, cancel = context.WithTimeoutCause(ctx, s.Timeout, ErrTimeout)
			}
			res, err = safeDo(s, comp, actx, sc)
			if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrTimeout) {
				err = fmt.Errorf("%w after %v: %w", ErrTimeout, s.Timeout, err)
			}
			cancel()
			if br != nil {
				if err != nil && ctx.Err() != nil {
					br.Release() // cancelled: says nothing about the action
				} else {
					br.Done(err)
				}
			}
		}
		if err == nil {
			return res, sc.take(), a, nil
		}
		if a >= pol.MaxAttempts || IsPermanent(err) || ctx.Err() != nil {
			return nil, nil, a, err
		}
		e.mu.Lock()
		e.stats.Retries++
		e.mu.Unlock()
		e.randMu.Lock()
		u := e.rand()
		e.randMu.Unlock()
		if serr := sleep(ctx, e.clock, pol.Backoff(a, u)); serr != nil {
			return nil, nil, a, errors.Join(err, serr)
		}
	}
}

func (e *Executor) breaker(action string) *breaker.Breaker {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.breakers[action]
	if b == nil {
		b, _ = breaker.New(&e.brOpts)
		e.breakers[action] = b
	}
	return b
}

// Breaker returns the circuit breaker of the named action (see
// [Step.Action]), creating it closed.
func (e *Executor) Breaker(action string) *breaker.Breaker { return e.breaker(action) }

// commit records r for x together with the events of its step — those
// the step emitted and its status event — in one store append, so that
// they are durable together or not at all (the transactional outbox), and
// then publishes them (relay). A store failure abandons x.
func (e *Executor) commit(x *execution, r *Record, status string, emitted []*semevent.Event) error {
	r.Events = emitted
	if e.pub != nil {
		r.Events = append(r.Events, e.stepEvent(x, r.Step, status))
	}
	if err := e.record(x, r); err != nil {
		return err
	}
	e.relay(r)
	return nil
}

// stepEvent returns the semevent.KindWorkflowStep event saying that step
// of x reached status, with an ID of its own so that publishing it again
// (relay after a restart) is idempotent on a durable bus.
func (e *Executor) stepEvent(x *execution, step, status string) *semevent.Event {
	return &semevent.Event{
		ID: e.ids.Next(), Kind: semevent.KindWorkflowStep, Boundary: semevent.Userspace, Time: e.clock.Now().UnixNano(),
		Tenant: x.tenant, Path: x.ev.Path, Trace: x.ev.Trace, Cause: x.ev.ID,
		Attrs: []semevent.Attr{{Key: AttrWorkflow, Value: x.wf}, {Key: AttrExecution, Value: x.id}, {Key: AttrStep, Value: step}, {Key: AttrStatus, Value: status}},
	}
}

// relay publishes the events committed with r, in order, and then records
// that it did (RecEmitted). If a publish fails it stops: the events stay
// unpublished in the store, and the next executor on the store publishes
// them all again when it starts.
func (e *Executor) relay(r *Record) {
	if e.pub == nil || len(r.Events) == 0 {
		return
	}
	for _, ev := range r.Events {
		if err := semevent.PublishTimeout(e.pubCtx, e.pub, ev, e.pubTO); err != nil {
			e.report(fmt.Errorf("automation: execution %s: publishing the events of %s: %w", r.Execution, r.Step, err))
			return
		}
	}
	if e.store == nil {
		return
	}
	m := &Record{Type: RecEmitted, Time: e.clock.Now().UnixNano(), Execution: r.Execution, Workflow: r.Workflow, Tenant: r.Tenant, Step: r.Step, Seq: uint64(r.Type)}
	if err := e.store.Append(e.root, m); err != nil {
		e.report(fmt.Errorf("automation: execution %s: recording the publication of %s: %w", r.Execution, r.Step, err))
	}
}

// Stats returns the executor's counters.
func (e *Executor) Stats() ExecutorStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Running = e.running
	s.Tenants = len(e.tenants)
	for _, tq := range e.tenants {
		s.Queued += len(tq.q)
	}
	return s
}

// History returns the ended executions it keeps (the last
// ExecutorOptions.History), oldest first.
func (e *Executor) History() []ExecutionInfo {
	e.mu.Lock()
	hist := slices.Clone(e.history)
	next := e.histNext
	e.mu.Unlock()
	out := make([]ExecutionInfo, 0, len(hist))
	for i := range hist {
		h := hist[(next+i)%len(hist)]
		out = append(out, h.info())
	}
	return out
}

func (i *ExecutionInfo) info() ExecutionInfo { return i.clone() }

// Execution returns the history of execution id, in flight or kept in
// History.
func (e *Executor) Execution(id string) (ExecutionInfo, bool) {
	e.mu.Lock()
	x := e.execs[id]
	var h *ExecutionInfo
	if x == nil {
		for _, hi := range e.history {
			if hi.ID == id {
				h = hi
			}
		}
	}
	e.mu.Unlock()
	if x != nil {
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.info.clone(), true
	}
	if h != nil {
		return h.clone(), true
	}
	return ExecutionInfo{}, false
}

// Close stops starting executions and waits for the running ones to end
// until ctx ends; then it cancels them, and they stop without
// compensating or finishing, to be resumed by the next executor on the
// same Store, as are the queued ones. It returns ctx's error if it had to
// cancel. Calling Close again returns nil.
func (e *Executor) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	close(e.stop)
	<-e.schedDone
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.stopRoot()
	<-done
	return err
}

func (x *execution) replayed(id string) *Record {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.done[id]
}

func (x *execution) nextSeq() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seq++
	return x.seq
}

func (x *execution) addComp(id string, seq uint64, s *Step, result []byte) {
	if s.Compensate == nil {
		return
	}
	x.mu.Lock()
	x.comps = append(x.comps, comp{step: id, seq: seq, s: s, result: result})
	x.mu.Unlock()
}

func (x *execution) noteStep(id, status string, attempts int, err error) {
	now := x.e.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	var si *StepInfo
	for i := len(x.info.Steps) - 1; i >= 0; i-- {
		if x.info.Steps[i].ID == id {
			si = &x.info.Steps[i]
			break
		}
	}
	if si == nil || status == "compensated" || status == "compensation failed" {
		x.info.Steps = append(x.info.Steps, StepInfo{ID: id, Started: now})
		si = &x.info.Steps[len(x.info.Steps)-1]
	}
	si.Status = status
	if attempts > 0 {
		si.Attempts = attempts
	}
	if status != "running" && status != "awaiting" {
		si.Ended = now
	}
	if err != nil {
		si.Err = err.Error()
	}
}
