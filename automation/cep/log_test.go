package cep_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/internal/logx/logxtest"
)

// TestLoggerFarFutureRateLimited: far-future refusals are logged the first
// time, held back within the interval and summarised after it, on the
// engine's clock (issue 17 item 3).
func TestLoggerFarFutureRateLimited(t *testing.T) {
	rec, lg := logxtest.New(slog.LevelDebug)
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC).UnixNano())
	e, err := cep.New([]cep.Pattern{
		&cep.Absence{Name: "unacked", First: cep.Stage{Kind: semevent.KindFileCreate}, Then: cep.Stage{Kind: semevent.KindFileClose}, Within: time.Minute},
	}, &cep.Options{Clock: now.Load, Logger: lg})
	require.NoError(t, err)
	ctx := context.Background()
	ids := semevent.NewIDGenerator(1)
	far := func() *semevent.Event {
		return &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileWrite, Tenant: "globex", Path: "/g", Time: now.Load() + int64(365*24*time.Hour)}
	}
	for range 30 {
		require.NoError(t, e.Handle(ctx, far()))
	}
	lines := rec.Find("event refused: too far in the future")
	require.Len(t, lines, 1, "records: %v", rec.Records())
	require.Equal(t, slog.LevelWarn, lines[0].Level)
	require.Equal(t, "cep", lines[0].Attrs["component"])
	require.Equal(t, "globex", lines[0].Attrs["tenant"])
	require.Equal(t, uint64(1), lines[0].Attrs["count"])
	now.Add(int64(11 * time.Second))
	require.NoError(t, e.Handle(ctx, far()))
	lines = rec.Find("event refused: too far in the future")
	require.Len(t, lines, 2)
	require.Equal(t, uint64(30), lines[1].Attrs["count"])
	require.NoError(t, e.Close(ctx))
}
