package cep_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
)

// TestCEPFarFutureRefused is issue 18 item 6: one far-future event of
// another tenant does not blind acme's absence pattern. Events more than
// MaxFuture ahead of the clock are refused, counted and handed to
// OnFuture; they do not move the watermark.
func TestCEPFarFutureRefused(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC).UnixNano())
	pub := &automationtest.Publisher{}
	var refused []*semevent.Event
	e, err := cep.New([]cep.Pattern{
		&cep.Absence{Name: "unacked", First: cep.Stage{Kind: semevent.KindFileCreate}, Then: cep.Stage{Kind: semevent.KindFileClose}, Within: time.Minute},
	}, &cep.Options{Publisher: pub, Clock: now.Load, OnFuture: func(ev *semevent.Event) { refused = append(refused, ev) }})
	require.NoError(t, err)
	ctx := context.Background()
	ids := semevent.NewIDGenerator(1)
	t0 := now.Load()
	future := &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileWrite, Tenant: "globex", Path: "/g", Time: t0 + int64(365*24*time.Hour)}
	require.NoError(t, e.Handle(ctx, future))
	create := &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileCreate, Tenant: "acme", Path: "/a", Time: t0}
	require.NoError(t, e.Handle(ctx, create))
	require.NoError(t, e.Advance(ctx, t0+int64(2*time.Minute)))
	ms := pub.Events()
	require.Len(t, ms, 1, "acme's unacknowledged create must fire")
	require.Equal(t, create.ID, ms[0].Cause)
	st := e.Stats()
	require.Equal(t, uint64(1), st.Future)
	require.Zero(t, st.Late)
	require.Len(t, refused, 1)
	require.Equal(t, future.ID, refused[0].ID)

	// Within the bound, and once the clock has caught up, events are taken.
	near := &semevent.Event{ID: ids.Next(), Kind: semevent.KindFileCreate, Tenant: "globex", Path: "/g", Time: t0 + int64(3*time.Minute)}
	require.NoError(t, e.Handle(ctx, near)) // the clock is still t0: 3 min ahead
	require.Equal(t, uint64(2), e.Stats().Future)
	now.Add(int64(2*time.Minute + 30*time.Second))
	require.NoError(t, e.Handle(ctx, near))
	require.Equal(t, uint64(2), e.Stats().Future)
	require.Equal(t, near.Time, e.Watermark())

	// MaxFuture < 0 disables the bound.
	e2, err := cep.New([]cep.Pattern{
		&cep.Absence{Name: "unacked", First: cep.Stage{Kind: semevent.KindFileCreate}, Then: cep.Stage{Kind: semevent.KindFileClose}, Within: time.Minute},
	}, &cep.Options{Clock: now.Load, MaxFuture: -1})
	require.NoError(t, err)
	require.NoError(t, e2.Handle(ctx, future))
	require.Equal(t, future.Time, e2.Watermark())
	require.Zero(t, e2.Stats().Future)
}
