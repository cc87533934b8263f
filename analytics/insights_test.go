package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
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

// Issue 18 item 19, the Miner: 500,000 distinct attacker keys and
// sequences (every file its own extension pair) keep at most MaxKeys
// keys, MaxLabels labels and MaxSequences sequences, with the heap under
// the documented cost, and the rest is counted.
func TestMinerBoundsAttackerState(t *testing.T) {
	// 500k keys; 100k under the race detector, which makes the full run
	// take 30 s (the plain run checks the full count and the heap).
	attackerKeys := 500_000 / (1 + 4*(raceScale-1))
	m, err := analytics.NewMiner(&analytics.MinerOptions{MaxKeys: 10_000, MaxSequences: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := heapInUse()
	kinds := []semevent.Kind{semevent.KindFileOpen, semevent.KindFileWrite, semevent.KindFileRead, semevent.KindFileClose,
		semevent.KindFileChmod, semevent.KindFileTruncate, semevent.KindFileXattr, semevent.KindFileCreate}
	r := rand.New(rand.NewPCG(5, 5))
	ev := &semevent.Event{}
	buf := make([]byte, 0, 32)
	for i := range attackerKeys {
		// 8 kinds × 600 extensions: more labels than MaxLabels, and far
		// more two-step sequences than MaxSequences.
		buf = strconv.AppendInt(append(buf[:0], "/x/"...), int64(i), 10)
		buf = strconv.AppendInt(append(buf, ".e"...), int64(i%600), 10)
		ev.Path, ev.Time = string(buf), at(i)
		for range 2 {
			ev.Kind = kinds[r.IntN(len(kinds))]
			_ = m.Handle(ctx, ev)
		}
	}
	grown := heapInUse() - before
	s := m.Stats()
	t.Logf("heap grew %.1f MiB; %+v", float64(grown)/(1<<20), s)
	if s.Keys > 10_000 || s.Labels > 4096+1 || s.Sequences != 10_000 {
		t.Errorf("Stats = %+v: over the caps (10000 keys, 4096 labels and \"other\", 10000 sequences)", s)
	}
	if s.KeysEvicted == 0 || s.SequencesDropped == 0 || s.OtherLabels == 0 {
		t.Errorf("Stats = %+v: evictions and drops not counted", s)
	}
	// 10k keys and 10k sequences at ~100 B each, 4096 labels, plus slack.
	if grown > 8<<20 && raceScale == 1 {
		t.Errorf("heap grew %.1f MiB, want under 8 MiB", float64(grown)/(1<<20))
	}
}

// The Detector's key cap: keys beyond MaxKeys are not scored, and counted.
func TestDetectorKeyCap(t *testing.T) {
	d := analytics.NewDetector(&analytics.DetectorOptions{MaxKeys: 100})
	for i := range 500_000 {
		d.Observe(semevent.Key{Tenant: "evil", N: uint64(i + 1)}, int64(i), 1)
	}
	if s := d.Stats(); s.Keys != 100 || s.Unscored != 500_000-100 {
		t.Errorf("Stats = %+v, want 100 keys and %d unscored", s, 500_000-100)
	}
}

// The series store's cap: series beyond MaxSeries are dropped, and counted.
func TestSeriesStoreCap(t *testing.T) {
	s, err := analytics.NewSeriesStore(&analytics.SeriesStoreOptions{Tiers: []analytics.Tier{{Resolution: time.Second, Points: 4}}, MaxSeries: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500_000 {
		s.Add(fmt.Sprint("attacker.", i), int64(i), 1)
	}
	if n, d := len(s.Names()), s.Dropped(); n != 10 || d != 500_000-10 {
		t.Errorf("%d series, %d dropped; want 10 and %d", n, d, 500_000-10)
	}
}
