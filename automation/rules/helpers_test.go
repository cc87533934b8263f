package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
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
