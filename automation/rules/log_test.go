package rules_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/internal/logx/logxtest"
)

// TestLoggerActionErrors: a rule whose action fails on every event is
// logged once within the interval, naming the rule and action, not once
// per event (issue 17 item 3).
func TestLoggerActionErrors(t *testing.T) {
	rec, lg := logxtest.New(slog.LevelDebug)
	rs := &rules.RuleSet{Rules: []rules.Rule{{Name: "notify", When: `true`, Then: []rules.ActionRef{{Action: "mail"}}}}}
	e, err := rules.New(rs, &rules.Options{Logger: lg, Actions: map[string]rules.ActionFunc{
		"mail": func(context.Context, *rules.Firing) error { return errors.New("smtp down") },
	}})
	require.NoError(t, err)
	for range 25 {
		require.Error(t, e.Handle(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/x"}))
	}
	lines := rec.Find("rule action failed")
	require.Len(t, lines, 1, "records: %v", rec.Records())
	a := lines[0].Attrs
	require.Equal(t, slog.LevelError, lines[0].Level)
	require.Equal(t, "automation", a["component"])
	require.Equal(t, "notify", a["rule"])
	require.Equal(t, "mail", a["action"])
	require.ErrorContains(t, a["err"].(error), "smtp down")
	require.Equal(t, uint64(25), e.Stats().ActionErrors)
}
