package journal_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

func TestRoundTripPolicies(t *testing.T) {
	enc := &journal.Encryption{KeyID: "k1", Keys: map[string][]byte{"k1": key(1)}}
	for _, tc := range []struct {
		name string
		opts journal.Options
	}{
		{"always", journal.Options{}},
		{"interval", journal.Options{Sync: journal.SyncInterval(5 * time.Millisecond)}},
		{"never", journal.Options{Sync: journal.SyncNever}},
		{"always small segments", journal.Options{SegmentSize: 4096}},
		{"interval small buffer", journal.Options{Sync: journal.SyncInterval(time.Second), BufferSize: 1000, SegmentSize: 8192}},
		{"encrypted", journal.Options{Encryption: enc, SegmentSize: 4096}},
		{"encrypted never", journal.Options{Encryption: enc, Sync: journal.SyncNever}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tc.opts
			j := open(t, dir, &opts)
			appendN(t, j, 1, 300)
			require.NoError(t, j.Close(context.Background()))
			require.ErrorIs(t, j.Close(context.Background()), nil)

			j = open(t, dir, &opts)
			defer j.Close(context.Background())
			require.Nil(t, j.Recovery())
			require.Equal(t, uint64(300), j.NextOffset())
			offs, evs, err := readAll(t, j, 0)
			require.NoError(t, err)
			require.Equal(t, 300, len(evs))
			checkEvents(t, 1, 0, 0, offs, evs)
			for _, from := range []uint64{1, 99, 150, 299, 300} {
				offs, evs, err := readAll(t, j, from)
				require.NoError(t, err)
				require.Equal(t, 300-int(from), len(evs), "from %d", from)
				checkEvents(t, 1, from, 0, offs, evs)
			}
			// Appends after reopening continue the offsets.
			appendN(t, j, 2, 10)
			offs, evs, err = readAll(t, j, 300)
			require.NoError(t, err)
			checkEvents(t, 2, 0, 300, offs, evs)
		})
	}
}

func TestReaderOffsetErrors(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close(context.Background())
	appendN(t, j, 1, 3)
	_, err := j.NewReader(4)
	var oe *journal.OffsetError
	require.ErrorAs(t, err, &oe)
	require.ErrorIs(t, err, journal.ErrOutOfRange)
	require.Equal(t, journal.OffsetError{Offset: 4, First: 0, Next: 3}, *oe)
}

func TestConcurrentAppendersGroupCommit(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{SegmentSize: 16 << 10})
	const writers, each = 8, 100
	offs := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range each {
				off, err := j.Append(context.Background(), genEvent(uint64(10+w), uint64(n)))
				if err != nil {
					t.Error(err)
					return
				}
				offs[w] = append(offs[w], off)
			}
		})
	}
	wg.Wait()
	st := j.Stats()
	require.Equal(t, int64(writers*each), st.Records)
	require.LessOrEqual(t, st.Fsyncs, st.Records, "no more fsyncs than records")
	require.Positive(t, st.Segments)
	segs := j.Segments()
	require.Len(t, segs, int(st.Segments))
	for i, sg := range segs {
		require.Equal(t, i == len(segs)-1, !sg.Sealed, "only the last segment is open")
		if i > 0 {
			require.Equal(t, segs[i-1].End, sg.First, "segments are contiguous")
		}
	}
	require.Equal(t, uint64(writers*each), segs[len(segs)-1].End)
	t.Logf("%d records in %d group writes, %d fsyncs, %d segments", st.Records, st.Flushes, st.Fsyncs, st.Segments)
	require.NoError(t, j.Close(context.Background()))
	j = open(t, dir, nil)
	defer j.Close(context.Background())
	got, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Equal(t, writers*each, len(evs))
	byOff := map[uint64]*semevent.Event{}
	for i, off := range got {
		byOff[off] = evs[i]
	}
	for w := range writers {
		for n, off := range offs[w] {
			require.Empty(t, semevent.Diff(genEvent(uint64(10+w), uint64(n)), byOff[off]), "writer %d event %d", w, n)
			if n > 0 {
				require.Greater(t, off, offs[w][n-1], "offsets of one writer increase")
			}
		}
	}
}

func TestTailFollowsLiveAppends(t *testing.T) {
	for _, policy := range []journal.SyncPolicy{journal.SyncAlways, journal.SyncInterval(time.Millisecond), journal.SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			j := open(t, t.TempDir(), &journal.Options{Sync: policy, SegmentSize: 8192, FlushInterval: time.Millisecond})
			appendN(t, j, 1, 50)
			var offs []uint64
			var evs []*semevent.Event
			done := make(chan error, 1)
			caughtUp := make(chan struct{})
			go func() {
				done <- j.Tail(context.Background(), 20, func(off uint64, ev *semevent.Event) error {
					offs = append(offs, off)
					evs = append(evs, ev)
					if off == 249 {
						close(caughtUp)
					}
					return nil
				})
			}()
			for i := range 200 {
				_, err := j.Append(context.Background(), genEvent(1, uint64(50+i)))
				require.NoError(t, err)
			}
			<-caughtUp // the last record reaches the tail without Close or Sync
			require.NoError(t, j.Close(context.Background()))
			require.ErrorIs(t, <-done, journal.ErrClosed)
			require.Equal(t, 230, len(evs))
			checkEvents(t, 1, 20, 0, offs, evs)
		})
	}
}

func TestTailContextAndHandlerError(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close(context.Background())
	appendN(t, j, 1, 10)
	ctx, cancel := context.WithCancel(context.Background())
	caughtUp := make(chan struct{})
	go func() {
		<-caughtUp
		time.Sleep(5 * time.Millisecond) // Tail is now waiting for more records
		cancel()
	}()
	n := 0
	err := j.Tail(ctx, 0, func(off uint64, _ *semevent.Event) error {
		n++
		if off == 9 {
			close(caughtUp)
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 10, n)

	stop := errors.New("stop")
	err = j.Tail(context.Background(), 0, func(off uint64, _ *semevent.Event) error {
		if off == 4 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
}

func TestConsumeAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{SegmentSize: 4096})
	appendN(t, j, 1, 100)
	_, ok, err := j.CommittedOffset("indexer")
	require.NoError(t, err)
	require.False(t, ok)

	boom := errors.New("boom")
	var seen []uint64
	err = j.Consume(context.Background(), "indexer", func(off uint64, ev *semevent.Event) error {
		if off == 60 {
			return boom
		}
		require.Empty(t, semevent.Diff(genEvent(1, off), ev))
		seen = append(seen, off)
		return nil
	})
	require.ErrorIs(t, err, boom)
	next, ok, err := j.CommittedOffset("indexer")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, uint64(60), next, "the failed record is not committed")
	require.NoError(t, j.Close(context.Background()))

	// Reopen: the consumer resumes at the failed record and follows appends.
	j = open(t, dir, &journal.Options{SegmentSize: 4096})
	defer j.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	err = j.Consume(ctx, "indexer", func(off uint64, ev *semevent.Event) error {
		require.Empty(t, semevent.Diff(genEvent(1, off), ev))
		seen = append(seen, off)
		if off == 99 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	for i, off := range seen {
		require.Equal(t, uint64(i), off)
	}
	next, _, err = j.CommittedOffset("indexer")
	require.NoError(t, err)
	require.Equal(t, uint64(100), next)

	require.Error(t, j.CommitOffset("../x", 1))
	require.ErrorIs(t, j.CommitOffset("x", 101), journal.ErrOutOfRange)
}

func TestRetention(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir, &journal.Options{SegmentSize: 4096, RetentionBytes: 3 * 4096})
		appendN(t, j, 1, 500)
		require.LessOrEqual(t, len(segments(t, dir)), 5)
		first := j.FirstOffset()
		require.Greater(t, first, uint64(0))
		_, err := j.NewReader(0)
		require.ErrorIs(t, err, journal.ErrOutOfRange)
		offs, evs, err := readAll(t, j, first)
		require.NoError(t, err)
		checkEvents(t, 1, first, 0, offs, evs)
		require.NoError(t, j.Close(context.Background()))
	})
	t.Run("age", func(t *testing.T) {
		dir := t.TempDir()
		now := time.Now()
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		j := open(t, dir, &journal.Options{SegmentSize: 4096, RetentionAge: time.Hour, Now: clock})
		appendN(t, j, 1, 200)
		segs := len(segments(t, dir))
		require.Greater(t, segs, 2)
		mu.Lock()
		now = now.Add(2 * time.Hour)
		mu.Unlock()
		require.NoError(t, j.Close(context.Background()))
		j = open(t, dir, &journal.Options{SegmentSize: 4096, RetentionAge: time.Hour, Now: clock})
		defer j.Close(context.Background())
		require.Len(t, segments(t, dir), 1, "only the newest segment is kept")
		require.Equal(t, uint64(200), j.NextOffset())
		offs, evs, err := readAll(t, j, j.FirstOffset())
		require.NoError(t, err)
		checkEvents(t, 1, j.FirstOffset(), 0, offs, evs)
	})
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	_, err := journal.Open(dir, nil)
	require.ErrorIs(t, err, journal.ErrLocked)
	require.NoError(t, j.Close(context.Background()))
	j = open(t, dir, nil)
	require.NoError(t, j.Close(context.Background()))
}

func TestClosed(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	require.NoError(t, j.Close(context.Background()))
	_, err := j.Append(context.Background(), genEvent(1, 1))
	require.ErrorIs(t, err, journal.ErrClosed)
	require.ErrorIs(t, err, semevent.ErrClosed)
	_, err = j.NewReader(0)
	require.ErrorIs(t, err, journal.ErrClosed)
	require.ErrorIs(t, j.Sync(context.Background()), journal.ErrClosed)
	_, err = j.Append(context.Background(), nil)
	require.ErrorIs(t, err, semevent.ErrNilEvent)
}

func TestTooLarge(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{MaxRecordSize: 1024})
	ev := genEvent(1, 0)
	ev.Data = make([]byte, 2000)
	_, err := j.AppendBatch(context.Background(), []*semevent.Event{genEvent(1, 0), ev})
	require.ErrorIs(t, err, journal.ErrTooLarge)
	appendN(t, j, 1, 3)
	require.NoError(t, j.Close(context.Background()))
	j = open(t, dir, nil)
	defer j.Close(context.Background())
	offs, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Equal(t, 3, len(evs))
	checkEvents(t, 1, 0, 0, offs, evs)
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   *journal.Options
		fields []string
	}{
		{"nil", nil, nil},
		{"zero", &journal.Options{}, nil},
		{"interval", &journal.Options{Sync: journal.SyncInterval(time.Millisecond)}, nil},
		{"bad sync", &journal.Options{Sync: -2}, []string{"Sync"}},
		{"many", &journal.Options{SegmentSize: 10, MaxRecordSize: 1, RetentionBytes: -1, RetentionAge: -1, BufferSize: -1, FlushInterval: -1},
			[]string{"FlushInterval", "BufferSize", "SegmentSize", "MaxRecordSize", "RetentionBytes", "RetentionAge"}},
		{"encryption", &journal.Options{Encryption: &journal.Encryption{KeyID: "a b", Keys: map[string][]byte{"k": {1}}}},
			[]string{"Encryption.KeyID", "Encryption.Keys[k]"}},
		{"key missing", &journal.Options{Encryption: &journal.Encryption{KeyID: "k"}}, []string{"Encryption.Keys"}},
	} {
		err := tc.opts.Validate()
		var fields []string
		if err != nil {
			var oe *semevent.OptionsError
			require.ErrorAs(t, err, &oe)
			require.ErrorIs(t, err, semevent.ErrInvalidOptions)
			require.Equal(t, "journal.Options", oe.Options)
			for _, p := range oe.Problems {
				fields = append(fields, p.Field)
			}
		}
		if !equalStrings(fields, tc.fields) {
			t.Errorf("%s: Validate() fields = %q, want %q (%v)", tc.name, fields, tc.fields, err)
		}
		if err != nil {
			_, oerr := journal.Open(t.TempDir(), tc.opts)
			require.Error(t, oerr)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSyncIntervalSync(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{Sync: journal.SyncInterval(time.Hour)})
	appendN(t, j, 1, 20)
	require.NoError(t, j.Sync(context.Background()))
	// Without Close, the synced records are on disk: read them through a
	// second handle on the files.
	b, err := os.ReadFile(segments(t, dir)[0])
	require.NoError(t, err)
	require.Greater(t, len(b), 20*100)
	r, err := j.NewReader(0)
	require.NoError(t, err)
	n := 0
	for {
		var ev semevent.Event
		if _, err := r.Next(&ev); err == io.EOF {
			break
		}
		n++
	}
	require.Equal(t, 20, n)
	require.NoError(t, r.Close())
	require.NoError(t, j.Close(context.Background()))
}

// TestReadFromMidSegment reads from offsets around the sparse index spacing
// (1024 records), with the index built by the writer and, after reopening,
// by readers.
func TestReadFromMidSegment(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{Sync: journal.SyncNever})
	const n = 3000
	appendN(t, j, 1, n)
	require.NoError(t, j.Sync(context.Background()))
	froms := []uint64{0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 2999, 3000}
	check := func(j *journal.Journal) {
		for _, from := range froms {
			offs, evs, err := readAll(t, j, from)
			require.NoError(t, err)
			require.Equal(t, n-int(from), len(evs), "from %d", from)
			for i, off := range offs {
				require.Equal(t, from+uint64(i), off)
			}
			k := min(len(evs), 20) // the records read first, and the last
			checkEvents(t, 1, from, 0, offs[:k], evs[:k])
			if len(evs) > 0 {
				checkEvents(t, 1, n-1, 0, offs[len(offs)-1:], evs[len(evs)-1:])
			}
		}
	}
	check(j)
	require.NoError(t, j.Close(context.Background()))
	j = open(t, dir, nil)
	defer j.Close(context.Background())
	check(j)
	slices.Reverse(froms)
	check(j)
}

// TestTailRacesRetention runs readers while retention deletes segments
// under them: they get every record in order until they fall behind the
// retained range, and then an *OffsetError, never a corrupt record.
func TestTailRacesRetention(t *testing.T) {
	j := open(t, t.TempDir(), &journal.Options{Sync: journal.SyncNever, FlushInterval: time.Millisecond, SegmentSize: 2048, RetentionBytes: 4096})
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 4)
	for i := range 4 {
		pause := time.Duration(i/2) * 200 * time.Microsecond // two slow readers
		wg.Go(func() {
			next := uint64(0)
			errs <- j.Tail(ctx, 0, func(off uint64, ev *semevent.Event) error {
				if off != next {
					return errors.New("out of order")
				}
				if d := semevent.Diff(genEvent(1, off), ev); d != nil {
					return errors.New("differs")
				}
				next++
				time.Sleep(pause)
				return nil
			})
		})
	}
	appendN(t, j, 1, 1000)
	require.NoError(t, j.Sync(context.Background()))
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	behind := 0
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			require.ErrorIs(t, err, journal.ErrOutOfRange)
			behind++
		}
	}
	t.Logf("%d of 4 readers fell behind retention", behind)
	require.NoError(t, j.Close(context.Background()))
}

// TestInstance checks that a journal keeps its instance id across reopens
// and that a recreated directory gets a new one.
func TestInstance(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := j.Instance()
	if id == ([16]byte{}) {
		t.Fatal("Instance() is zero")
	}
	j.Close(context.Background())
	j, err = journal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Instance(); got != id {
		t.Fatalf("Instance() after reopen = %x, want %x", got, id)
	}
	j.Close(context.Background())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	j, err = journal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	if got := j.Instance(); got == id {
		t.Fatalf("Instance() of a recreated journal = %x, the old one's", got)
	}
}

// TestInstanceCorrupt checks that a damaged INSTANCE file fails Open with a
// *CorruptError instead of silently minting a new id.
func TestInstanceCorrupt(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Close(context.Background())
	if err := os.WriteFile(filepath.Join(dir, "INSTANCE"), []byte("xyz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = journal.Open(dir, nil)
	var ce *journal.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Open with a bad INSTANCE file: %v, want *CorruptError", err)
	}
}
