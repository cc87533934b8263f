package cep_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
)

// TestCEPExtremeTimes is issue 14 item 22: time arithmetic at the ends of
// int64 saturates instead of wrapping, so windows and deadlines keep
// their meaning. Every case here wrapped before the fix.
func TestCEPExtremeTimes(t *testing.T) {
	const (
		minT = math.MinInt64
		maxT = math.MaxInt64
	)
	seqAB := func() cep.Pattern {
		return &cep.Sequence{Name: "a-b", Stages: []cep.Stage{{Kind: semevent.KindFileCreate}, {Kind: semevent.KindFileDelete}}, Within: time.Minute}
	}
	strictAB := func() cep.Pattern {
		return &cep.Sequence{Name: "a-b", Strict: true, Stages: []cep.Stage{{Kind: semevent.KindFileCreate}, {Kind: semevent.KindFileDelete}}, Within: time.Minute}
	}
	count2 := func() cep.Pattern {
		return &cep.Count{Name: "two", Stage: cep.Stage{Kind: semevent.KindFileCreate}, Min: 2, Within: time.Minute}
	}
	repeat2 := func() cep.Pattern {
		return &cep.Repeat{Name: "run", Stage: cep.Stage{Kind: semevent.KindFileCreate}, Min: 2, Max: 2, Within: time.Minute}
	}
	absence := func() cep.Pattern {
		return &cep.Absence{Name: "unclosed", First: cep.Stage{Kind: semevent.KindFileOpen}, Then: cep.Stage{Kind: semevent.KindFileClose}, Within: time.Minute}
	}
	type step struct {
		kind semevent.Kind
		t    int64
	}
	cases := []struct {
		name    string
		pat     func() cep.Pattern
		steps   []step
		advance int64 // 0: none
		want    int
	}{
		// 18e18 ns apart: far outside Within, but t-start wrapped negative.
		{"sequence spanning the range", seqAB, []step{{semevent.KindFileCreate, minT + 1}, {semevent.KindFileDelete, maxT - 1}}, 0, 0},
		{"strict sequence spanning the range", strictAB, []step{{semevent.KindFileCreate, minT + 1}, {semevent.KindFileDelete, maxT - 1}}, 0, 0},
		{"count spanning the range", count2, []step{{semevent.KindFileCreate, minT + 1}, {semevent.KindFileCreate, maxT - 1}}, 0, 0},
		{"repeat spanning the range", repeat2, []step{{semevent.KindFileCreate, minT + 1}, {semevent.KindFileCreate, maxT - 1}}, 0, 0},
		// Near the top: t+Within wrapped to a deadline in the far past.
		{"absence acknowledged near the top", absence, []step{{semevent.KindFileOpen, maxT - 1000}, {semevent.KindFileClose, maxT - 500}}, 0, 0},
		{"sequence near the top", seqAB, []step{{semevent.KindFileCreate, maxT - 1000}, {semevent.KindFileDelete, maxT - 10}}, 0, 1},
		{"count near the top", count2, []step{{semevent.KindFileCreate, maxT - 1000}, {semevent.KindFileCreate, maxT}}, 0, 1},
		// An unacknowledged open near the top fires once the watermark
		// reaches the (saturated) deadline.
		{"absence unacknowledged at the top", absence, []step{{semevent.KindFileOpen, maxT - 1000}}, maxT, 0},
		{"absence near the bottom", absence, []step{{semevent.KindFileOpen, minT}}, minT + int64(2*time.Minute), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := &automationtest.Publisher{}
			e, err := cep.New([]cep.Pattern{tc.pat()}, &cep.Options{Publisher: pub, MaxFuture: -1})
			require.NoError(t, err)
			ctx := context.Background()
			ids := semevent.NewIDGenerator(1)
			for _, s := range tc.steps {
				require.NoError(t, e.Handle(ctx, &semevent.Event{ID: ids.Next(), Kind: s.kind, Path: "/x", Time: s.t}))
			}
			if tc.advance != 0 {
				require.NoError(t, e.Advance(ctx, tc.advance))
			}
			require.Len(t, pub.Events(), tc.want)
			require.Zero(t, e.Stats().Late)
		})
	}
}
