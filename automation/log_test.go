package automation_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/breaker"
	"github.com/vexfs/semevent/internal/logx/logxtest"
)

// TestLoggerWorkflowFailure: a workflow whose second step fails is logged
// as failed, and the failed compensation of its first step as an error,
// with the workflow, execution, tenant and step as attributes (issue 17
// item 3).
func TestLoggerWorkflowFailure(t *testing.T) {
	rec, lg := logxtest.New(slog.LevelDebug)
	ok := func(context.Context, *automation.StepContext) ([]byte, error) { return []byte("r"), nil }
	wf, err := automation.NewFlow(automation.Flow{Name: "saga", Steps: []automation.Node{
		automation.Task("reserve", automation.Step{Do: ok, Compensate: func(context.Context, *automation.StepContext) error {
			return automation.Permanent(errors.New("release refused"))
		}}),
		automation.Task("charge", automation.Step{Do: func(context.Context, *automation.StepContext) ([]byte, error) {
			return nil, automation.Permanent(errors.New("card declined"))
		}}),
	}})
	require.NoError(t, err)
	ex := newExecutor(t, &automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Logger: lg, Breaker: breaker.Options{Failures: -1}})
	id, err := ex.Start(context.Background(), "saga", newEvent("acme", "/s"))
	require.NoError(t, err)
	info := wait(t, ex, id)
	require.Equal(t, automation.CompensationFailed, info.Outcome)

	comp := rec.Find("compensation failed")
	require.Len(t, comp, 1, "records: %v", rec.Records())
	a := comp[0].Attrs
	require.Equal(t, slog.LevelError, comp[0].Level)
	require.Equal(t, "automation", a["component"])
	require.Equal(t, "saga", a["workflow"])
	require.Equal(t, id, a["execution"])
	require.Equal(t, "acme", a["tenant"])
	require.Equal(t, "reserve", a["step"])
	require.ErrorContains(t, a["err"].(error), "release refused")

	fail := rec.Find("workflow failed and a compensation failed")
	require.Len(t, fail, 1, "records: %v", rec.Records())
	require.Equal(t, slog.LevelError, fail[0].Level)
	require.Equal(t, id, fail[0].Attrs["execution"])
	require.ErrorContains(t, fail[0].Attrs["err"].(error), "card declined")
}
