package cep_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

func TestCEPOnBus(t *testing.T) {
	bus := propagationtest.New()
	defer bus.Close(context.Background())
	c, err := cep.New([]cep.Pattern{
		&cep.Count{Name: "mass-delete", Key: semevent.PIDKey, Stage: cep.Stage{Kind: semevent.KindFileDelete}, Min: 101, Within: time.Second},
	}, &cep.Options{Publisher: bus})
	require.NoError(t, err)
	_, err = bus.Subscribe(c, &propagation.SubscribeOptions{Filter: filter.Not(filter.Kinds(semevent.KindPatternMatched))})
	require.NoError(t, err)
	ctx := context.Background()
	base := int64(1e12)
	// pid 7 deletes 150 files in 0.5 s; pid 8 deletes 150 in 3 s.
	for i := range 150 {
		require.NoError(t, bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileDelete, PID: 7, Path: "/d/a", Time: base + int64(i)*int64(time.Second/300)}))
	}
	for i := range 150 {
		require.NoError(t, bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileDelete, PID: 8, Path: "/d/b", Time: base + 2e9 + int64(i)*int64(20*time.Millisecond)}))
	}
	var matches []*semevent.Event
	for _, ev := range bus.Published() {
		if ev.Kind == semevent.KindPatternMatched {
			matches = append(matches, ev)
		}
	}
	require.Len(t, matches, 1)
	m := matches[0]
	require.Equal(t, uint32(7), m.PID)
	ids, err := cep.CausingIDs(m)
	require.NoError(t, err)
	require.Len(t, ids, 101)
	require.Equal(t, ids[100], m.Cause)
	key, _ := m.Attr(cep.AttrKey)
	require.Equal(t, "7", key)
}

func TestCEPEvictionAndExpiry(t *testing.T) {
	pub := &automationtest.Publisher{}
	c, err := cep.New([]cep.Pattern{
		&cep.Sequence{Name: "a-b", Stages: []cep.Stage{{Kind: semevent.KindFileCreate}, {Kind: semevent.KindFileClose}}, Within: time.Second},
	}, &cep.Options{Publisher: pub, MaxPartialsPerKey: 10})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 25 {
		require.NoError(t, c.Handle(ctx, &semevent.Event{ID: semevent.MakeID(uint64(i+1), 0, 0), Kind: semevent.KindFileCreate, Path: "/p", Time: int64(i)}))
	}
	st := c.Stats()
	require.Equal(t, uint64(15), st.Evicted)
	require.Equal(t, 10, st.Partials)
	// A close completes the 10 partial matches left.
	require.NoError(t, c.Handle(ctx, &semevent.Event{ID: semevent.MakeID(100, 0, 0), Kind: semevent.KindFileClose, Path: "/p", Time: 30}))
	require.Len(t, pub.Take(), 10)
	// Partial matches expire with their window, without further events
	// on their key.
	for i := range 5 {
		require.NoError(t, c.Handle(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/q", Time: 100 + int64(i)}))
	}
	require.Equal(t, 5, c.Stats().Partials)
	require.NoError(t, c.Advance(ctx, int64(10*time.Second)))
	require.NoError(t, c.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/z", Time: int64(20 * time.Second)}))
	require.Equal(t, 0, c.Stats().Partials)
	// A late event is counted and processed at the watermark.
	require.NoError(t, c.Handle(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/z", Time: 5}))
	require.Equal(t, uint64(1), c.Stats().Late)
}

func TestCEPAbsenceFiresOnTimeout(t *testing.T) {
	pub := &automationtest.Publisher{}
	c, err := cep.New([]cep.Pattern{
		&cep.Absence{Name: "unclosed", First: cep.Stage{Kind: semevent.KindFileOpen}, Then: cep.Stage{Kind: semevent.KindFileClose}, Within: time.Minute},
	}, &cep.Options{Publisher: pub})
	require.NoError(t, err)
	ctx := context.Background()
	open := &semevent.Event{ID: semevent.MakeID(1, 0, 0), Kind: semevent.KindFileOpen, Path: "/f", Tenant: "acme", Time: 0}
	require.NoError(t, c.Handle(ctx, open))
	require.NoError(t, c.Handle(ctx, &semevent.Event{ID: semevent.MakeID(2, 0, 0), Kind: semevent.KindFileOpen, Path: "/g", Time: 1}))
	require.NoError(t, c.Handle(ctx, &semevent.Event{ID: semevent.MakeID(3, 0, 0), Kind: semevent.KindFileClose, Path: "/g", Time: 2}))
	require.NoError(t, c.Advance(ctx, int64(time.Minute)))
	require.Empty(t, pub.Events(), "the deadline itself does not fire")
	require.NoError(t, c.Advance(ctx, int64(time.Minute)+1))
	got := pub.Take()
	require.Len(t, got, 1)
	require.Equal(t, open.ID, got[0].Cause)
	require.Equal(t, "/f", got[0].Path)
	require.Equal(t, "acme", got[0].Tenant)
	require.Equal(t, int64(time.Minute), got[0].Time)
}

func TestCEPRejectsBadPatterns(t *testing.T) {
	_, err := cep.New([]cep.Pattern{
		&cep.Sequence{Name: "s", Within: time.Second},
		&cep.Sequence{Name: "w", Stages: []cep.Stage{{When: `Size >`}}, Within: time.Second},
		&cep.Count{Name: "c", Stage: cep.Stage{}, Min: 0, Within: time.Second},
		&cep.Absence{Name: "a", Within: 0},
		&cep.Repeat{Name: "r", Min: 3, Max: 2, Within: time.Second},
		&cep.Count{Name: "c", Min: 1, Within: time.Second},
		&cep.Count{Name: "c", Min: 1, Within: time.Second},
		nil,
	}, nil)
	require.ErrorIs(t, err, automation.ErrBadRule)
	var xe *filter.ExprError
	require.ErrorAs(t, err, &xe)
	for _, want := range []string{"rule s: stages", "rule w: stages[0].when", "rule c: min", "rule a: within", "rule r: min/max", "rule c: name: duplicate", "rule #7: pattern"} {
		require.Contains(t, err.Error(), want)
	}
}
