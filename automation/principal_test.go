package automation_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
)

// TestPublishersOnAuthorizedBus is issue 18 item 22: the rule engine, the
// CEP engine and the executor's step events publish through a bus with an
// access.Authorizer under a Principal option of their own, holding the
// grant their docs show; without it the bus refuses them.
func TestPublishersOnAuthorizedBus(t *testing.T) {
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"fs.>"}}}},
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}}}},
		// The grants the package docs show.
		{Name: "rules", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"automation.rule.fired"}}}},
		{Name: "cep", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"automation.pattern.matched"}}}},
		{Name: "workflows", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"automation.workflow.step"}}}},
	}}, nil)
	require.NoError(t, err)
	reader := &access.Principal{User: "automation-sub", Roles: []string{"reader"}}
	writer := access.WithPrincipal(context.Background(), &access.Principal{User: "app", Roles: []string{"writer"}})

	type component struct {
		h    semevent.Handler
		stop func()
	}
	cases := []struct {
		name string
		kind semevent.Kind
		make func(t *testing.T, pub semevent.Publisher, who *access.Principal, onErr func(error)) component
	}{
		{"rules", semevent.KindRuleFired, func(t *testing.T, pub semevent.Publisher, who *access.Principal, onErr func(error)) component {
			e, err := rules.New(&rules.RuleSet{Rules: []rules.Rule{{Name: "w", Kinds: []semevent.Kind{semevent.KindFileWrite}, Then: []rules.ActionRef{{Action: rules.ActionEmit}}}}},
				&rules.Options{Publisher: pub, Principal: who, OnError: onErr})
			require.NoError(t, err)
			return component{e, func() { require.NoError(t, e.Close(context.Background())) }}
		}},
		{"cep", semevent.KindPatternMatched, func(t *testing.T, pub semevent.Publisher, who *access.Principal, onErr func(error)) component {
			e, err := cep.New([]cep.Pattern{&cep.Count{Name: "one-write", Stage: cep.Stage{Kind: semevent.KindFileWrite}, Min: 1, Within: time.Second}},
				&cep.Options{Publisher: pub, Principal: who, OnError: onErr})
			require.NoError(t, err)
			return component{e, func() { require.NoError(t, e.Close(context.Background())) }}
		}},
		{"workflows", semevent.KindWorkflowStep, func(t *testing.T, pub semevent.Publisher, who *access.Principal, onErr func(error)) component {
			wf, err := automation.NewFlow(automation.Flow{Name: "on-write", Trigger: filter.Kinds(semevent.KindFileWrite), Steps: []automation.Node{
				automation.Task("noop", automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) { return nil, nil }}),
			}})
			require.NoError(t, err)
			ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Publisher: pub, Principal: who, OnError: onErr})
			require.NoError(t, err)
			return component{ex, func() { require.NoError(t, ex.Close(context.Background())) }}
		}},
	}
	for _, tc := range cases {
		for _, granted := range []bool{true, false} {
			name := tc.name + map[bool]string{true: "/principal", false: "/none"}[granted]
			t.Run(name, func(t *testing.T) {
				bus, err := propagation.New(&propagation.Options{Authorizer: az})
				require.NoError(t, err)
				defer bus.Close(context.Background())
				var who *access.Principal
				if granted {
					who = &access.Principal{User: tc.name, Roles: []string{tc.name}}
				}
				errs := make(chan error, 16)
				c := tc.make(t, bus, who, func(err error) {
					select {
					case errs <- err:
					default:
					}
				})
				defer c.stop()
				var mu sync.Mutex
				var got []*semevent.Event
				_, err = bus.Subscribe(semevent.HandlerFunc(func(_ context.Context, ev *semevent.Event) error {
					mu.Lock()
					got = append(got, ev.Clone())
					mu.Unlock()
					return nil
				}), &propagation.SubscribeOptions{Name: "out", Filter: filter.Kinds(tc.kind), Principal: reader})
				require.NoError(t, err)
				_, err = bus.Subscribe(c.h, &propagation.SubscribeOptions{Name: tc.name, Filter: filter.Kinds(semevent.KindFileWrite), Principal: reader})
				require.NoError(t, err)
				require.NoError(t, bus.Publish(writer, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a", Time: semevent.Now()}))
				if !granted {
					err := <-errs
					require.True(t, errors.Is(err, access.ErrDenied), "publish without a principal: %v, want access.ErrDenied", err)
					return
				}
				require.Eventually(t, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(got) > 0
				}, 10*time.Second, time.Millisecond)
				select {
				case err := <-errs:
					t.Fatalf("publish with the granted principal: %v", err)
				default:
				}
			})
		}
	}
}
