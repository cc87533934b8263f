package automation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/filter"
)

// TestAwaitSeesOnlyOwnTenant is issue 18 item 3: an acme execution's
// Await never receives a globex event given to Executor.Handle.
func TestAwaitSeesOnlyOwnTenant(t *testing.T) {
	got := make(chan *semevent.Event, 1)
	wf := automation.NewWorkflow("wait-close", nil, func(r *automation.Run) error {
		ev, err := r.Await("close", filter.Kinds(semevent.KindFileClose), 0)
		if err != nil {
			return err
		}
		got <- ev
		return nil
	})
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}})
	ctx := context.Background()
	id, err := ex.Start(ctx, "wait-close", newEvent("acme", "/f"))
	require.NoError(t, err)
	waitAwaiting(t, ex, id, "close")
	require.NoError(t, ex.Handle(ctx, &semevent.Event{ID: evSeq.Next(), Kind: semevent.KindFileClose, Tenant: "globex", Path: "/f"}))
	acme := &semevent.Event{ID: evSeq.Next(), Kind: semevent.KindFileClose, Tenant: "acme", Path: "/f"}
	require.NoError(t, ex.Handle(ctx, acme))
	ev := <-got
	require.Equal(t, "acme", ev.Tenant, "the Await took another tenant's event")
	require.Equal(t, acme.ID, ev.ID)
	require.Equal(t, automation.Succeeded, wait(t, ex, id).Outcome)
}

// TestMachineIgnoresOtherTenant is issue 18 item 3: a globex event on the
// same path does not move acme's state machine, with the default
// Correlate and with a KeyFunc that leaves the tenant out.
func TestMachineIgnoresOtherTenant(t *testing.T) {
	noTenant := func(ev *semevent.Event) semevent.Key { return semevent.Key{S: ev.Path} }
	for name, key := range map[string]semevent.KeyFunc{"default": nil, "no-tenant": noTenant} {
		t.Run(name, func(t *testing.T) {
			var j journalOf
			enter := func(name string) *automation.Step {
				return &automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
					j.add(name)
					return nil, nil
				}}
			}
			wf, err := automation.NewMachine(automation.Machine{
				Name: "upload", When: `Kind == "create"`, Initial: "open", Correlate: key,
				States: map[string]automation.State{
					"open":   {Enter: enter("open"), On: []automation.Transition{{When: `Kind == "close"`, To: "closed"}}},
					"closed": {Enter: enter("closed:" + name), Final: true},
				},
			})
			require.NoError(t, err)
			store := automationtest.NewStore()
			ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Store: store})
			ctx := context.Background()
			create := newEvent("acme", "/m/a")
			require.NoError(t, ex.Handle(ctx, create))
			id := automation.ExecutionID("upload", create)
			waitAwaiting(t, ex, id, "in:open")
			globex := &semevent.Event{ID: evSeq.Next(), Kind: semevent.KindFileClose, Tenant: "globex", Path: "/m/a"}
			require.NoError(t, ex.Handle(ctx, globex))
			acme := &semevent.Event{ID: evSeq.Next(), Kind: semevent.KindFileClose, Tenant: "acme", Path: "/m/a"}
			require.NoError(t, ex.Handle(ctx, acme))
			require.Equal(t, automation.Succeeded, wait(t, ex, id).Outcome)
			require.Equal(t, []string{"open", "closed:" + name}, j.list())
			// The transition was taken on acme's event: the machine's
			// inbox never held globex's, which came first.
			var took []semevent.ID
			for _, r := range store.Records() {
				if r.Type == automation.RecAwaitDone && r.Event != nil {
					took = append(took, r.Event.ID)
				}
			}
			require.Equal(t, []semevent.ID{acme.ID}, took, "a globex event moved acme's machine")
			require.Zero(t, ex.Stats().InboxDropped)
		})
	}
}

// waitAwaiting blocks until execution id waits in the Await named step.
func waitAwaiting(t *testing.T, ex *automation.Executor, id, step string) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, _ := ex.Execution(id)
		n := len(info.Steps)
		return n > 0 && info.Steps[n-1].ID == step && info.Steps[n-1].Status == "awaiting"
	}, 10*time.Second, time.Millisecond)
}

// TestIdleTenantQueuesFreed is issue 18 item 19: the executor holds a
// tenant's queue only while the tenant has work (or its rate bucket is
// refilling), so many one-off tenants leave nothing behind; a freed
// rate-limited tenant still gets no more than its rate.
func TestIdleTenantQueuesFreed(t *testing.T) {
	clock := automationtest.NewClock(t0, false)
	var j journalOf
	wf := automation.NewWorkflow("q", nil, func(r *automation.Run) error {
		j.add(r.Tenant())
		return nil
	})
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Clock: clock,
		Quotas: map[string]automation.TenantQuota{"slow": {PerSecond: 1, Burst: 1}}})
	ctx := context.Background()
	const n = 1000
	for i := range n {
		_, err := ex.Start(ctx, "q", newEvent(fmt.Sprint("t", i), "/x"))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return ex.Stats().Succeeded == n }, 20*time.Second, time.Millisecond)
	st := ex.Stats()
	require.Zero(t, st.Tenants, "idle tenant queues must be freed")
	require.Equal(t, uint64(n), st.TenantsFreed)

	// The rate-limited tenant: its first execution uses its one token;
	// its queue is kept while the bucket refills, so a second start
	// right away still waits a second of (fake) time.
	_, err := ex.Start(ctx, "q", newEvent("slow", "/s1"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ex.Stats().Succeeded == n+1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 1, ex.Stats().Tenants, "a refilling tenant is kept")
	from := clock.Now()
	_, err = ex.Start(ctx, "q", newEvent("slow", "/s2"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		if ex.Stats().Succeeded == n+2 {
			return true
		}
		clock.Advance(10 * time.Millisecond)
		return false
	}, 20*time.Second, time.Millisecond)
	require.GreaterOrEqual(t, clock.Now().Sub(from), 990*time.Millisecond, "the second execution started before its token")
	// Once the bucket is full again, the next dispatch frees it.
	clock.Advance(2 * time.Second)
	_, err = ex.Start(ctx, "q", newEvent("t-last", "/x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { s := ex.Stats(); return s.Succeeded == n+3 && s.Tenants == 0 }, 10*time.Second, time.Millisecond)
}

// TestFinishedIDsCapped: the executor remembers at most MaxFinished ended
// executions for ErrDuplicate, forgetting the oldest and counting it
// (issue 18 item 19: every per-key structure has a cap).
func TestFinishedIDsCapped(t *testing.T) {
	wf := automation.NewWorkflow("w", nil, func(*automation.Run) error { return nil })
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, MaxFinished: 3})
	ctx := context.Background()
	var evs []*semevent.Event
	for i := range 5 {
		ev := newEvent("acme", fmt.Sprint("/f", i))
		evs = append(evs, ev)
		id, err := ex.Start(ctx, "w", ev)
		require.NoError(t, err)
		wait(t, ex, id)
	}
	require.Equal(t, uint64(2), ex.Stats().FinishedForgotten)
	_, err := ex.Start(ctx, "w", evs[4])
	require.ErrorIs(t, err, automation.ErrDuplicate, "a remembered trigger")
	id, err := ex.Start(ctx, "w", evs[0])
	require.NoError(t, err, "a forgotten trigger runs again, as documented")
	wait(t, ex, id)
}
