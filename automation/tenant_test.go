package automation_test

import (
	"context"
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
