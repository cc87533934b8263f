package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

func TestMinerSupport(t *testing.T) {
	ev := func(kind semevent.Kind, path string, ms int) *semevent.Event {
		return &semevent.Event{Kind: kind, Path: path, Time: at(ms)}
	}
	const (
		o = semevent.KindFileOpen
		r = semevent.KindFileRead
		w = semevent.KindFileWrite
		c = semevent.KindFileClose
	)
	for _, tc := range []struct {
		name   string
		opts   *analytics.MinerOptions
		events []*semevent.Event
		want   map[string]uint64 // pattern → support; others may exist
		absent []string
	}{
		{"interleaved keys stay apart", nil,
			[]*semevent.Event{ev(o, "/a.tmp", 0), ev(o, "/b", 1), ev(r, "/a.tmp", 2), ev(r, "/b", 3), ev(c, "/a.tmp", 4), ev(c, "/b", 5)},
			map[string]uint64{"open *.tmp → read *.tmp → close *.tmp": 1, "open → read → close": 1, "read → close": 1},
			[]string{"open *.tmp → open"}},
		{"repeats count", nil,
			[]*semevent.Event{ev(w, "/x", 0), ev(w, "/x", 1), ev(w, "/x", 2), ev(w, "/x", 3)},
			map[string]uint64{"write → write": 3, "write → write → write": 2, "write → write → write → write": 1}, nil},
		{"gap restarts a sequence", &analytics.MinerOptions{Gap: time.Second},
			[]*semevent.Event{ev(o, "/x", 0), ev(r, "/x", 5000), ev(c, "/x", 5001)},
			map[string]uint64{"read → close": 1}, []string{"open → read"}},
		{"length bounds", &analytics.MinerOptions{MinLen: 3, MaxLen: 3},
			[]*semevent.Event{ev(o, "/x", 0), ev(r, "/x", 1), ev(c, "/x", 2), ev(o, "/x", 3)},
			map[string]uint64{"open → read → close": 1, "read → close → open": 1}, []string{"open → read", "open → read → close → open"}},
		{"label cap", &analytics.MinerOptions{MaxLabels: 1},
			[]*semevent.Event{ev(o, "/x", 0), ev(r, "/x", 1), ev(c, "/x", 2)},
			map[string]uint64{"open → other": 1, "other → other": 1}, nil},
	} {
		m, err := analytics.NewMiner(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tc.events {
			if err := m.Handle(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]uint64{}
		for _, p := range m.Top(1000, 1) {
			got[p.String()] = p.Support
		}
		for p, n := range tc.want {
			if got[p] != n {
				t.Errorf("%s: support(%q) = %d, want %d (all: %v)", tc.name, p, got[p], n, got)
			}
		}
		for _, p := range tc.absent {
			if _, ok := got[p]; ok {
				t.Errorf("%s: pattern %q found, want none", tc.name, p)
			}
		}
	}
	_, err := analytics.NewMiner(&analytics.MinerOptions{MinLen: 1, MaxLen: 99, Gap: -1})
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || !errors.Is(err, semevent.ErrInvalidOptions) || len(oe.Problems) != 3 {
		t.Errorf("NewMiner(bad) = %v, want a *semevent.OptionsError with three problems", err)
	}
}

func TestMinerEvicts(t *testing.T) {
	m, _ := analytics.NewMiner(&analytics.MinerOptions{MaxKeys: 10})
	for i := range 1000 {
		// Each key gets two events in a row, then is not seen for long.
		_ = m.Handle(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprint(i / 2 % 100), Time: at(i)})
	}
	if top := m.Top(1, 0); len(top) != 1 || top[0].String() != "write → write" {
		t.Errorf("Top = %v", top)
	}
}

func TestDetectorSeasonal(t *testing.T) {
	// A daily pattern: quiet nights, busy days. The EWMA baseline, whose
	// variance the daily swing inflates, misses a busy hour at night; the
	// seasonal baseline flags it and nothing else.
	day := []float64{10, 10, 10, 10, 10, 10, 100, 100, 100, 100, 100, 100}
	run := func(season int) (flagged []int) {
		d := analytics.NewDetector(&analytics.DetectorOptions{Season: season, Warmup: 12, MinStdDev: 5})
		for i := range 12 * 8 {
			v := day[i%12]
			if i == 12*7+3 {
				v = 90 // a busy hour at night
			}
			if a, ok := d.Observe(semevent.Key{S: "k"}, int64(i), v); ok {
				flagged = append(flagged, i)
				if season > 0 && (!a.Seasonal || math.Abs(a.Baseline-10) > 1) {
					t.Errorf("seasonal anomaly %+v, want a seasonal baseline near 10", a)
				}
			}
		}
		return flagged
	}
	if got := run(12); len(got) != 1 || got[0] != 12*7+3 {
		t.Errorf("seasonal detector flagged %v, want only %d", got, 12*7+3)
	}
	if got := run(0); slices.Contains(got, 12*7+3) {
		t.Errorf("EWMA-only detector flagged %v; the test expects it to miss the night outlier", got)
	}
}
