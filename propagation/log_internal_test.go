package propagation

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// TestLogDropAllocatesNothing: once the first drop of a subscription is
// logged, further drops within the interval allocate nothing, and a
// logger whose level leaves warnings out costs no allocation at all.
func TestLogDropAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		lg   *slog.Logger
	}{
		{"json", slog.New(slog.NewJSONHandler(io.Discard, nil))},
		{"discard", slog.New(slog.DiscardHandler)},
		{"error-level", slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(&Options{Logger: tc.lg})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(context.Background())
			s := &subscription{bus: b, opts: SubscribeOptions{Name: "slow"}}
			s.logDrop("full", 1)
			if n := testing.AllocsPerRun(1000, func() { s.logDrop("full", 2) }); n != 0 {
				t.Errorf("logDrop allocates %v per drop", n)
			}
		})
	}
}
