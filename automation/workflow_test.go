package automation_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/breaker"
	"github.com/vexfs/semevent/filter"
)

var t0 = time.Unix(1_700_000_000, 0)

var evSeq = semevent.NewIDGenerator(9)

func newEvent(tenant, path string) *semevent.Event {
	return &semevent.Event{ID: evSeq.Next(), Kind: semevent.KindFileCreate, Tenant: tenant, Path: path, Time: semevent.Now()}
}

func newExecutor(t *testing.T, o *automation.ExecutorOptions) *automation.Executor {
	t.Helper()
	if o.Clock == nil {
		o.Clock = automationtest.NewClock(t0, true)
	}
	ex, err := automation.NewExecutor(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ex.Close(context.Background())) })
	return ex
}

// wait blocks until execution id has ended and returns its history.
func wait(t *testing.T, ex *automation.Executor, id string) automation.ExecutionInfo {
	t.Helper()
	var info automation.ExecutionInfo
	require.Eventually(t, func() bool {
		var ok bool
		info, ok = ex.Execution(id)
		return ok && info.Outcome != automation.Running
	}, 20*time.Second, time.Millisecond, "execution %s did not end", id)
	return info
}

// journalOf records calls in order.
type journalOf struct {
	mu    sync.Mutex
	calls []string
}

func (j *journalOf) add(s string) {
	j.mu.Lock()
	j.calls = append(j.calls, s)
	j.mu.Unlock()
}

func (j *journalOf) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.calls)
}

func TestLinearFlowHistory(t *testing.T) {
	var j journalOf
	step := func(name string) automation.Node {
		return automation.Task(name, automation.Step{Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
			j.add(name)
			return []byte(name + "-out"), nil
		}})
	}
	wf, err := automation.NewFlow(automation.Flow{
		Name:  "ingest",
		When:  `Path endsWith ".pdf"`,
		Steps: []automation.Node{step("checksum"), step("index"), step("notify")},
	})
	require.NoError(t, err)
	pub := &automationtest.Publisher{}
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Publisher: pub})
	ev := newEvent("acme", "/inbox/a.pdf")
	require.NoError(t, ex.Handle(context.Background(), ev))
	require.NoError(t, ex.Handle(context.Background(), newEvent("acme", "/inbox/a.txt")))
	require.NoError(t, ex.Handle(context.Background(), ev)) // duplicate: ignored
	info := wait(t, ex, automation.ExecutionID("ingest", ev))
	require.Equal(t, automation.Succeeded, info.Outcome)
	require.Equal(t, []string{"checksum", "index", "notify"}, j.list())
	var ids []string
	for _, s := range info.Steps {
		ids = append(ids, s.ID+":"+s.Status)
	}
	require.Equal(t, []string{"checksum:done", "index:done", "notify:done"}, ids)
	require.Len(t, pub.Events(), 3)
	for _, e := range pub.Events() {
		require.Equal(t, semevent.KindWorkflowStep, e.Kind)
		require.Equal(t, ev.ID, e.Cause)
	}
	st := ex.Stats()
	require.Equal(t, uint64(1), st.Started)
	require.Equal(t, uint64(1), st.Succeeded)
	require.Len(t, ex.History(), 1)
}

func TestParallelAndIf(t *testing.T) {
	var j journalOf
	step := func(name string) automation.Node {
		return automation.Task(name, automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
			j.add(name)
			return nil, nil
		}})
	}
	wf, err := automation.NewFlow(automation.Flow{
		Name: "fan",
		Steps: []automation.Node{
			step("first"),
			automation.Parallel(step("a"), step("b"), automation.Seq(step("c1"), step("c2"))),
			automation.If(`Size > 100`, step("big"), step("small")),
			step("last"),
		},
	})
	require.NoError(t, err)
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}})
	for _, size := range []int64{10, 1000} {
		j = journalOf{}
		ev := newEvent("", "/x")
		ev.Size = size
		id, err := ex.Start(context.Background(), "fan", ev)
		require.NoError(t, err)
		info := wait(t, ex, id)
		require.Equal(t, automation.Succeeded, info.Outcome)
		calls := j.list()
		require.Equal(t, "first", calls[0])
		require.ElementsMatch(t, []string{"a", "b", "c1", "c2"}, calls[1:5])
		require.Less(t, slices.Index(calls, "c1"), slices.Index(calls, "c2"))
		want := map[bool]string{true: "big", false: "small"}[size > 100]
		require.Equal(t, []string{want, "last"}, calls[5:])
	}
}

func TestFlowRejectsBadCondition(t *testing.T) {
	_, err := automation.NewFlow(automation.Flow{Name: "bad", When: `Size >`, Steps: []automation.Node{
		automation.If(`Path startsWith 3`, automation.Task("x", automation.Step{}), nil),
	}})
	var re *automation.RuleError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, automation.ErrBadRule)
	var xe *filter.ExprError
	require.ErrorAs(t, err, &xe)
	for _, want := range []string{"rule bad: when", "steps[0].if", "task without Do", "column"} {
		require.Contains(t, err.Error(), want)
	}
}

// TestSagaCompensation injects transient failures into steps and
// compensations and a permanent failure at a random step, and checks that
// the completed steps, and only they, are compensated, once each, in
// reverse order of completion, and that the history shows it.
func TestSagaCompensation(t *testing.T) {
	for seed := range 60 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 3))
			const n = 6
			failAt := r.IntN(n + 1) // n: no failure
			var mu sync.Mutex
			transient := map[string]int{} // remaining injected failures per Do/comp
			var completed, compensated []string
			compCalls := map[string]int{}
			for i := range n {
				transient[fmt.Sprintf("do%d", i)] = r.IntN(3)   // < MaxAttempts 3
				transient[fmt.Sprintf("comp%d", i)] = r.IntN(3) // < MaxAttempts 3
			}
			fail := func(k string) bool {
				mu.Lock()
				defer mu.Unlock()
				if transient[k] > 0 {
					transient[k]--
					return true
				}
				return false
			}
			steps := make([]automation.Node, n)
			for i := range n {
				name := fmt.Sprintf("s%d", i)
				steps[i] = automation.Task(name, automation.Step{
					Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
						if fail(fmt.Sprintf("do%d", i)) {
							return nil, errors.New("transient")
						}
						if i == failAt {
							return nil, automation.Permanent(errors.New("boom"))
						}
						mu.Lock()
						completed = append(completed, sc.Step)
						mu.Unlock()
						return []byte(name), nil
					},
					Compensate: func(ctx context.Context, sc *automation.StepContext) error {
						if string(sc.Result) != name {
							return automation.Permanent(fmt.Errorf("result %q", sc.Result))
						}
						if fail(fmt.Sprintf("comp%d", i)) {
							return errors.New("transient")
						}
						mu.Lock()
						compensated = append(compensated, sc.Step)
						compCalls[sc.Step]++
						mu.Unlock()
						return nil
					},
					Retry: automation.RetryPolicy{MaxAttempts: 3},
				})
			}
			// Steps 2 and 3 run in parallel.
			nodes := []automation.Node{steps[0], steps[1], automation.Parallel(steps[2], steps[3]), steps[4], steps[5]}
			wf, err := automation.NewFlow(automation.Flow{Name: "saga", Steps: nodes})
			require.NoError(t, err)
			store := automationtest.NewStore()
			ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Store: store, Breaker: breaker.Options{Failures: -1}})
			id, err := ex.Start(context.Background(), "saga", newEvent("", "/s"))
			require.NoError(t, err)
			info := wait(t, ex, id)
			mu.Lock()
			defer mu.Unlock()
			if failAt == n {
				require.Equal(t, automation.Succeeded, info.Outcome)
				require.Empty(t, compensated)
				return
			}
			require.Equal(t, automation.Failed, info.Outcome, info.Err)
			// Completion order is the order of the steps' recorded Seq;
			// for the two parallel steps it may differ from the order in
			// which their Do calls returned.
			var done []*automation.Record
			for _, rec := range store.Records() {
				if rec.Type == automation.RecStepDone {
					done = append(done, rec)
				}
			}
			slices.SortFunc(done, func(a, b *automation.Record) int { return cmp.Compare(a.Seq, b.Seq) })
			var want []string
			for _, rec := range done {
				want = append(want, rec.Step)
			}
			require.ElementsMatch(t, completed, want)
			slices.Reverse(want)
			require.Equal(t, want, compensated, "compensations must run in reverse completion order")
			for s, c := range compCalls {
				require.Equal(t, 1, c, "step %s compensated %d times", s, c)
			}
			var hist []string
			for _, s := range info.Steps {
				if s.Status == "compensated" {
					hist = append(hist, s.ID)
				}
			}
			require.Equal(t, want, hist, "history shows the compensations in order")
			// The records say the same, and a new executor on the store
			// does not compensate again.
			var recComp []string
			for _, rec := range store.Records() {
				if rec.Type == automation.RecCompensated {
					recComp = append(recComp, rec.Step)
				}
			}
			require.Equal(t, want, recComp)
			ex2, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Store: store, Clock: automationtest.NewClock(t0, true)})
			require.NoError(t, err)
			require.Equal(t, uint64(0), ex2.Stats().Resumed)
			require.NoError(t, ex2.Close(context.Background()))
		})
	}
}

// TestCompensationResumesAfterCrash crashes the executor (a store that
// starts failing) at every record position, restarts it on the same
// store, and checks that every execution ends exactly once and that each
// compensation succeeded exactly once.
func TestCompensationResumesAfterCrash(t *testing.T) {
	for crashAt := 0; crashAt < 14; crashAt++ {
		t.Run(fmt.Sprint(crashAt), func(t *testing.T) {
			var mu sync.Mutex
			doCount := map[string]int{}
			compCount := map[string]int{}
			compEffect := map[string]int{}
			mk := func(name string, fail bool) automation.Node {
				return automation.Task(name, automation.Step{
					Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
						mu.Lock()
						doCount[sc.Key()]++
						mu.Unlock()
						if fail {
							return nil, automation.Permanent(errors.New("boom"))
						}
						return nil, nil
					},
					Compensate: func(ctx context.Context, sc *automation.StepContext) error {
						mu.Lock()
						compCount[sc.Key()]++
						compEffect[sc.Key()] = 1 // idempotent by key
						mu.Unlock()
						return nil
					},
				})
			}
			wf, err := automation.NewFlow(automation.Flow{Name: "c", Steps: []automation.Node{mk("a", false), mk("b", false), mk("c", false), mk("d", true)}})
			require.NoError(t, err)
			store := automationtest.NewStore()
			store.FailAfter(crashAt)
			clock := automationtest.NewClock(t0, true)
			ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Store: store, Clock: clock})
			require.NoError(t, err)
			ev := newEvent("", "/c")
			id, startErr := ex.Start(context.Background(), "c", ev)
			if startErr == nil {
				require.Eventually(t, func() bool { s := ex.Stats(); return s.Running == 0 && s.Queued == 0 }, 10*time.Second, time.Millisecond)
			}
			require.NoError(t, ex.Close(context.Background()))
			store.FailAfter(-1)
			ex2, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Store: store, Clock: clock})
			require.NoError(t, err)
			defer ex2.Close(context.Background())
			if startErr != nil {
				require.Equal(t, uint64(0), ex2.Stats().Resumed)
				return
			}
			require.Eventually(t, func() bool { s := ex2.Stats(); return s.Running == 0 && s.Queued == 0 }, 10*time.Second, time.Millisecond)
			finishes := 0
			for _, rec := range store.Records() {
				if rec.Type == automation.RecFinished {
					finishes++
					require.Equal(t, automation.Failed, rec.Outcome)
				}
			}
			require.Equal(t, 1, finishes, "execution finished exactly once")
			mu.Lock()
			defer mu.Unlock()
			recomp := 0
			for _, s := range []string{"a", "b", "c"} {
				// A compensation whose record was lost in the crash runs
				// again after the restart (at least once, like a step):
				// its effect is idempotent through sc.Key().
				c := compCount[id+"/"+s]
				require.True(t, c == 1 || c == 2, "compensation of %s ran %d times", s, c)
				recomp += c - 1
				require.Equal(t, 1, compEffect[id+"/"+s], "compensation effect of %s", s)
			}
			require.LessOrEqual(t, recomp, 1, "only the compensation cut by the crash runs again")
			compCounts := 0
			for _, rec := range store.Records() {
				if rec.Type == automation.RecCompensated {
					compCounts++
				}
			}
			require.Equal(t, 3, compCounts, "each compensation recorded once")
		})
	}
}

func TestRetryBackoffWithJitter(t *testing.T) {
	clock := automationtest.NewClock(t0, true)
	fails := 3
	wf := automation.NewWorkflow("r", nil, func(r *automation.Run) error {
		_, err := r.Step("flaky", automation.Step{
			Do: func(context.Context, *automation.StepContext) ([]byte, error) {
				if fails > 0 {
					fails--
					return nil, errors.New("flaky")
				}
				return nil, nil
			},
			Retry: automation.RetryPolicy{MaxAttempts: 4, Initial: 100 * time.Millisecond, Multiplier: 2, Jitter: 0.5},
		})
		return err
	})
	us := []float64{0, 0.5, 0.999}
	i := 0
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Clock: clock,
		Rand: func() float64 { u := us[i%len(us)]; i++; return u }, Breaker: breaker.Options{Failures: -1}})
	id, err := ex.Start(context.Background(), "r", newEvent("", "/r"))
	require.NoError(t, err)
	info := wait(t, ex, id)
	require.Equal(t, automation.Succeeded, info.Outcome)
	require.Equal(t, 4, info.Steps[0].Attempts)
	var backoffs []time.Duration
	for _, d := range clock.Sleeps() {
		if d < time.Second { // the scheduler's own waits are not backoffs
			backoffs = append(backoffs, d)
		}
	}
	// 100ms×(0.5+u), 200ms×(0.5+u), 400ms×(0.5+u)
	require.Equal(t, []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Duration(400e6 * 1.499)}, backoffs)
	require.Equal(t, uint64(3), ex.Stats().Retries)

	tests := []struct {
		p       automation.RetryPolicy
		attempt int
		u       float64
		want    time.Duration
	}{
		{automation.RetryPolicy{}, 1, 0.5, 100 * time.Millisecond},
		{automation.RetryPolicy{}, 3, 0.5, 400 * time.Millisecond},
		{automation.RetryPolicy{Max: time.Second}, 10, 0.5, time.Second},
		{automation.RetryPolicy{Jitter: -1}, 2, 0.99, 200 * time.Millisecond},
		{automation.RetryPolicy{Jitter: 1}, 1, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.p.Backoff(tt.attempt, tt.u); got != tt.want {
			t.Errorf("%+v.Backoff(%d, %v) = %v, want %v", tt.p, tt.attempt, tt.u, got, tt.want)
		}
	}
}

// TestBreakerStopsHammering checks that a failing action is called at
// most Failures times across executions while its breaker is open.
func TestBreakerStopsHammering(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	wf := automation.NewWorkflow("b", nil, func(r *automation.Run) error {
		_, err := r.Step("call", automation.Step{
			Action: "flaky-api",
			Retry:  automation.RetryPolicy{MaxAttempts: 2},
			Do: func(context.Context, *automation.StepContext) ([]byte, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				return nil, errors.New("down")
			},
		})
		return err
	})
	clock := automationtest.NewClock(t0, false) // backoff waits forever unless advanced: use MaxConcurrent 1 and Advance
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Clock: automationtest.NewClock(t0, true),
		MaxConcurrent: 1, Breaker: breaker.Options{Failures: 3, OpenFor: time.Hour, Clock: clock}})
	var ids []string
	for i := range 10 {
		id, err := ex.Start(context.Background(), "b", newEvent("", fmt.Sprint("/", i)))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	for _, id := range ids {
		info := wait(t, ex, id)
		require.Equal(t, automation.Failed, info.Outcome)
	}
	require.Equal(t, 3, calls)
	require.Equal(t, breaker.Open, ex.Breaker("flaky-api").State())
	info, _ := ex.Execution(ids[9])
	require.Contains(t, info.Err, breaker.ErrCircuitOpen.Error())
}

func TestStepTimeoutAndCancel(t *testing.T) {
	started := make(chan string, 4)
	compensated := make(chan string, 4)
	wf := automation.NewWorkflow("t", nil, func(r *automation.Run) error {
		_, err := r.Step("ok", automation.Step{
			Do: func(context.Context, *automation.StepContext) ([]byte, error) { return nil, nil },
			Compensate: func(_ context.Context, sc *automation.StepContext) error {
				compensated <- sc.Execution
				return nil
			},
		})
		if err != nil {
			return err
		}
		_, err = r.Step("slow", automation.Step{
			Timeout: time.Duration(r.Event().Size),
			Retry:   automation.RetryPolicy{MaxAttempts: 1},
			Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
				started <- sc.Execution
				<-ctx.Done()
				return nil, ctx.Err()
			},
		})
		return err
	})
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}})
	ev := newEvent("", "/timeout")
	ev.Size = int64(5 * time.Millisecond)
	id, err := ex.Start(context.Background(), "t", ev)
	require.NoError(t, err)
	info := wait(t, ex, id)
	require.Equal(t, automation.Failed, info.Outcome)
	require.Contains(t, info.Err, automation.ErrTimeout.Error())
	require.Equal(t, id, <-compensated)
	<-started

	id, err = ex.Start(context.Background(), "t", newEvent("", "/cancel"))
	require.NoError(t, err)
	require.Equal(t, id, <-started)
	require.True(t, ex.Cancel(id))
	info = wait(t, ex, id)
	require.Equal(t, automation.Cancelled, info.Outcome)
	require.Equal(t, id, <-compensated)
}

// TestTenantFairness floods the executor with one tenant's executions and
// checks, by counting, that another tenant's executions are not starved:
// with round-robin they interleave.
func TestTenantFairness(t *testing.T) {
	gate := make(chan struct{})
	var j journalOf
	wf := automation.NewWorkflow("f", nil, func(r *automation.Run) error {
		_, err := r.Step("s", automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
			if r.Event().Path == "/gate" {
				<-gate
			}
			j.add(r.Tenant())
			return nil, nil
		}})
		return err
	})
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, MaxConcurrent: 1})
	ctx := context.Background()
	_, err := ex.Start(ctx, "f", newEvent("flood", "/gate"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ex.Stats().Running == 1 }, 10*time.Second, time.Millisecond)
	for i := range 300 {
		_, err := ex.Start(ctx, "f", newEvent("flood", fmt.Sprint("/f", i)))
		require.NoError(t, err)
	}
	for i := range 10 {
		_, err := ex.Start(ctx, "f", newEvent("quiet", fmt.Sprint("/q", i)))
		require.NoError(t, err)
	}
	close(gate)
	require.Eventually(t, func() bool { return len(j.list()) == 311 }, 30*time.Second, time.Millisecond)
	calls := j.list()
	lastQuiet := 0
	for i, c := range calls {
		if c == "quiet" {
			lastQuiet = i
		}
	}
	// flood's gate execution, then alternating: quiet's 10th is at most
	// the 21st call (index 20) plus one for the dispatch already made.
	require.LessOrEqual(t, lastQuiet, 22, "quiet tenant starved: its last execution ran %d-th of %d", lastQuiet+1, len(calls))

	// MaxQueued rejects the flood, not the other tenant.
	ex2 := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, MaxConcurrent: 1,
		Quotas: map[string]automation.TenantQuota{"flood": {MaxQueued: 5}}})
	gate = make(chan struct{})
	_, err = ex2.Start(ctx, "f", newEvent("flood", "/gate"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ex2.Stats().Running == 1 }, 10*time.Second, time.Millisecond)
	rejected := 0
	for i := range 20 {
		if _, err := ex2.Start(ctx, "f", newEvent("flood", fmt.Sprint("/f", i))); errors.Is(err, automation.ErrQuotaExceeded) {
			rejected++
		}
	}
	for i := range 20 {
		_, err := ex2.Start(ctx, "f", newEvent("quiet", fmt.Sprint("/q", i)))
		require.NoError(t, err)
	}
	require.Equal(t, 15, rejected)
	require.Equal(t, uint64(15), ex2.Stats().Rejected)
	close(gate)
}

func TestTenantRateQuota(t *testing.T) {
	clock := automationtest.NewClock(t0, false)
	var j journalOf
	wf := automation.NewWorkflow("q", nil, func(r *automation.Run) error {
		j.add(r.Tenant())
		return nil
	})
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Clock: clock,
		Quotas: map[string]automation.TenantQuota{"slow": {PerSecond: 2, Burst: 1}}})
	ctx := context.Background()
	for i := range 7 {
		_, err := ex.Start(ctx, "q", newEvent("slow", fmt.Sprint("/s", i)))
		require.NoError(t, err)
	}
	for i := range 5 {
		_, err := ex.Start(ctx, "q", newEvent("free", fmt.Sprint("/f", i)))
		require.NoError(t, err)
	}
	count := func(tenant string) int {
		n := 0
		for _, c := range j.list() {
			if c == tenant {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return count("free") == 5 && count("slow") == 1 }, 10*time.Second, time.Millisecond)
	// Move the fake clock in 10 ms steps: each further execution of the
	// slow tenant must wait for its token, 500 ms of fake time. (Burst 1:
	// a scheduler that lags cannot start two at once.)
	for want := 2; want <= 7; want++ {
		from := clock.Now()
		require.Eventually(t, func() bool {
			if count("slow") >= want {
				return true
			}
			clock.Advance(10 * time.Millisecond)
			return false
		}, 20*time.Second, time.Millisecond)
		require.Equal(t, want, count("slow"), "one execution per token")
		require.GreaterOrEqual(t, clock.Now().Sub(from), 490*time.Millisecond, "execution %d started before its token", want)
	}
}

func TestMachine(t *testing.T) {
	var j journalOf
	enter := func(name string) *automation.Step {
		return &automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
			j.add(name)
			return nil, nil
		}}
	}
	wf, err := automation.NewMachine(automation.Machine{
		Name:    "upload",
		When:    `Kind == "create"`,
		Initial: "open",
		States: map[string]automation.State{
			"open": {Enter: enter("open"), On: []automation.Transition{
				{When: `Kind == "write"`, To: "open"},
				{When: `Kind == "close"`, To: "closed"},
			}, Timeout: time.Minute, OnTimeout: "stale"},
			"closed": {Enter: enter("closed"), Final: true},
			"stale":  {Enter: enter("stale"), Final: true},
		},
	})
	require.NoError(t, err)
	clock := automationtest.NewClock(t0, false)
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Clock: clock})
	ctx := context.Background()
	create := newEvent("", "/m/a")
	require.NoError(t, ex.Handle(ctx, create))
	id := automation.ExecutionID("upload", create)
	send := func(k semevent.Kind, path, await string) {
		// wait until the machine waits in the given Await, then send
		require.Eventually(t, func() bool {
			info, _ := ex.Execution(id)
			n := len(info.Steps)
			return n > 0 && info.Steps[n-1].ID == await && info.Steps[n-1].Status == "awaiting"
		}, 10*time.Second, time.Millisecond)
		require.NoError(t, ex.Handle(ctx, &semevent.Event{ID: evSeq.Next(), Kind: k, Path: path}))
	}
	send(semevent.KindFileWrite, "/m/other", "in:open") // another key: ignored
	send(semevent.KindFileWrite, "/m/a", "in:open")
	send(semevent.KindFileClose, "/m/a", "in:open#2")
	info := wait(t, ex, id)
	require.Equal(t, automation.Succeeded, info.Outcome)
	require.Equal(t, []string{"open", "open", "closed"}, j.list())

	// The timeout path.
	j = journalOf{}
	create = newEvent("", "/m/b")
	w0 := clock.Waiting() // the first execution's unfired timeouts
	require.NoError(t, ex.Handle(ctx, create))
	id = automation.ExecutionID("upload", create)
	require.Eventually(t, func() bool { return clock.Waiting() > w0 }, 10*time.Second, time.Millisecond)
	clock.Advance(time.Minute)
	info = wait(t, ex, id)
	require.Equal(t, automation.Succeeded, info.Outcome)
	require.Equal(t, []string{"open", "stale"}, j.list())

	// Back to back: the events arrive before the machine waits for them,
	// and wait in its inbox.
	j = journalOf{}
	create = newEvent("", "/m/c")
	require.NoError(t, ex.Handle(ctx, create))
	for _, k := range []semevent.Kind{semevent.KindFileWrite, semevent.KindFileRead, semevent.KindFileWrite, semevent.KindFileClose} {
		require.NoError(t, ex.Handle(ctx, &semevent.Event{ID: evSeq.Next(), Kind: k, Path: "/m/c"}))
	}
	info = wait(t, ex, automation.ExecutionID("upload", create))
	require.Equal(t, automation.Succeeded, info.Outcome)
	require.Equal(t, []string{"open", "open", "open", "closed"}, j.list())

	_, err = automation.NewMachine(automation.Machine{Name: "bad", Initial: "x", States: map[string]automation.State{
		"a": {On: []automation.Transition{{When: `Kind ==`, To: "nowhere"}}},
	}})
	require.ErrorIs(t, err, automation.ErrBadRule)
	for _, want := range []string{`initial: no state "x"`, `on[0].to: no state "nowhere"`, "on[0].when"} {
		require.True(t, strings.Contains(err.Error(), want), "%v lacks %q", err, want)
	}
}

func TestExecutorOptionsValidate(t *testing.T) {
	wf := automation.NewWorkflow("w", nil, func(*automation.Run) error { return nil })
	err := (&automation.ExecutorOptions{
		Workflows:     []automation.Workflow{wf, wf, nil},
		MaxConcurrent: -1, History: -2,
		Quota: automation.TenantQuota{PerSecond: -1},
	}).Validate()
	var oe *semevent.OptionsError
	require.ErrorAs(t, err, &oe)
	require.ErrorIs(t, err, semevent.ErrInvalidOptions)
	require.Len(t, oe.Problems, 5, "%v", oe.Problems)
	require.NoError(t, (*automation.ExecutorOptions)(nil).Validate())
}

// TestAwaitDeadlineSurvivesRestart suspends a machine waiting with a
// one-minute timeout, restarts the executor on the same store 40 s later
// and checks that it times out 20 s after that, at the recorded deadline.
func TestAwaitDeadlineSurvivesRestart(t *testing.T) {
	var j journalOf
	wf, err := automation.NewMachine(automation.Machine{
		Name: "wait", Initial: "open",
		States: map[string]automation.State{
			"open": {Enter: &automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
				j.add("open")
				return nil, nil
			}}, On: []automation.Transition{{When: `Kind == "close"`, To: "done"}}, Timeout: time.Minute, OnTimeout: "stale"},
			"done":  {Final: true},
			"stale": {Final: true},
		},
	})
	require.NoError(t, err)
	store := automationtest.NewStore()
	clock := automationtest.NewClock(t0, false)
	opts := func() *automation.ExecutorOptions {
		return &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Store: store, Clock: clock}
	}
	ex, err := automation.NewExecutor(opts())
	require.NoError(t, err)
	id, err := ex.Start(context.Background(), "wait", newEvent("", "/w"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return clock.Waiting() == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, ex.Close(context.Background())) // suspends the Await
	clock.Advance(40 * time.Second)

	ex2, err := automation.NewExecutor(opts())
	require.NoError(t, err)
	defer ex2.Close(context.Background())
	require.Equal(t, uint64(1), ex2.Stats().Resumed)
	// the suspended Await's timer is still in the fake clock: 2
	require.Eventually(t, func() bool { return clock.Waiting() == 2 }, 10*time.Second, time.Millisecond)
	clock.Advance(20 * time.Second)
	info := wait(t, ex2, id)
	require.Equal(t, automation.Succeeded, info.Outcome)
	last := info.Steps[len(info.Steps)-1]
	require.Equal(t, "in:open", last.ID)
	require.Equal(t, "timeout", last.Status)
	require.Equal(t, []string{"open"}, j.list(), "the Enter step ran once: replayed after the restart")
}
