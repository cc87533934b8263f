package journal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

// Regression tests for issue 14 (journal items 1–5, 7, 9, 10) and issue 18
// (items 16, 17, 21), each run against the code before its fix and seen to
// fail there.

func closeJ(t testing.TB, j *journal.Journal) {
	t.Helper()
	require.NoError(t, j.Close(context.Background()))
}

// crashDir is where the power-loss tests keep their journal: its parent
// "/data" exists durably, as a mounted file system's directory would.
const crashDir = "/data/j"

func newCrashFS(t testing.TB) *journaltest.CrashFS {
	t.Helper()
	fsys := journaltest.NewCrashFS()
	require.NoError(t, fsys.MkdirAllDurable("/data"))
	return fsys
}

// Issue 14 item 1: Open must not build on a killed process's unsynced tail.
// A killed process leaves written, never fsynced records; the next Open
// serves them, so it must make them durable before serving them or
// appending after them. Before the fix, a power loss after the restart
// lost the old tail and the records acknowledged after it could no longer
// be read ("segment ends at offset 5, want 8").
func TestOpenSyncsKilledTail(t *testing.T) {
	ctx := context.Background()
	fsys := newCrashFS(t)
	j := open(t, crashDir, &journal.Options{FS: fsys, Sync: journal.SyncNever, BufferSize: 1})
	appendN(t, j, 1, 5)
	require.NoError(t, j.Sync(ctx))
	for i := 5; i < 8; i++ { // written (BufferSize 1), never fsynced
		_, err := j.Append(ctx, genEvent(1, uint64(i)))
		require.NoError(t, err)
	}
	killed := fsys.Kill()
	closeJ(t, j)

	j = open(t, crashDir, &journal.Options{FS: killed})
	require.Equal(t, uint64(8), j.NextOffset(), "the killed process's written records are served")
	for i := 8; i < 10; i++ { // acknowledged after fsync
		_, err := j.Append(ctx, genEvent(1, uint64(i)))
		require.NoError(t, err)
	}
	lost := killed.PowerLoss(nil)
	closeJ(t, j)

	j = open(t, crashDir, &journal.Options{FS: lost})
	defer closeJ(t, j)
	offs, evs, err := readAll(t, j, 0)
	require.NoError(t, err, "records acknowledged after a restart must survive a power loss")
	require.Len(t, evs, 10)
	checkEvents(t, 1, 0, 0, offs, evs)
}

// Issue 14 item 1 (second half): records the first Open after a kill
// serves are durable at once: a power loss right after that Open keeps
// every one of them.
func TestOpenServesOnlySyncedRecords(t *testing.T) {
	ctx := context.Background()
	fsys := newCrashFS(t)
	j := open(t, crashDir, &journal.Options{FS: fsys, Sync: journal.SyncNever, BufferSize: 1})
	for i := range 6 {
		_, err := j.Append(ctx, genEvent(2, uint64(i)))
		require.NoError(t, err)
	}
	killed := fsys.Kill()
	closeJ(t, j)
	j = open(t, crashDir, &journal.Options{FS: killed})
	served := j.NextOffset()
	require.Equal(t, uint64(6), served)
	lost := killed.PowerLoss(nil)
	closeJ(t, j)
	j = open(t, crashDir, &journal.Options{FS: lost})
	defer closeJ(t, j)
	require.Equal(t, served, j.NextOffset(), "records served after Open must be durable")
}

// Issue 14 item 1: a sealed segment's end is checked, not taken from the
// next file's name. A sealed segment cut short leaves a gap that Open
// reports as a *CorruptError (before the fix Open succeeded and the gap
// surfaced, if at all, only when a reader reached it).
func TestOpenDetectsGapBetweenSegments(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{SegmentSize: 4096})
	appendN(t, j, 3, 60)
	closeJ(t, j)
	segs := segments(t, dir)
	require.Greater(t, len(segs), 2)
	// Cut the last record off the first (sealed) segment.
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(segs[0], b[:len(b)-10], 0o644))
	_, err = journal.Open(dir, nil)
	ce := requireCorrupt(t, err)
	require.Equal(t, filepath.Base(segs[0]), ce.Segment)
}

// Issue 14 item 3: reopening with a smaller MaxRecordSize must not delete
// committed records (before the fix Open cut them off as a torn tail).
func TestReopenSmallerMaxRecordSizeKeepsRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := open(t, dir, nil)
	big := genEvent(4, 0)
	big.Data = make([]byte, 8<<10)
	_, err := j.Append(ctx, big)
	require.NoError(t, err)
	_, err = j.Append(ctx, genEvent(4, 1))
	require.NoError(t, err)
	closeJ(t, j)

	j = open(t, dir, &journal.Options{MaxRecordSize: 1024})
	require.Nil(t, j.Recovery())
	require.Equal(t, uint64(2), j.NextOffset())
	_, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Empty(t, semevent.Diff(big, evs[0]))
	_, err = j.Append(ctx, big)
	require.ErrorIs(t, err, journal.ErrTooLarge, "new records still obey the smaller limit")
	closeJ(t, j)
	j = open(t, dir, nil)
	defer closeJ(t, j)
	require.Equal(t, uint64(2), j.NextOffset())
}

// Issue 14 item 4: an ErrTooLarge append must not start a segment, and an
// Open must append to the intact last segment (before the fix 50 rejected
// appends made 50 segments, and every Open one more).
func TestSegmentsDoNotMultiply(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{MaxRecordSize: 1024})
	appendN(t, j, 5, 3)
	big := genEvent(5, 99)
	big.Data = make([]byte, 2048)
	for range 50 {
		_, err := j.Append(ctx, big)
		require.ErrorIs(t, err, journal.ErrTooLarge)
		_, err = j.Append(ctx, genEvent(5, 100))
		require.NoError(t, err)
	}
	closeJ(t, j)
	require.Len(t, segments(t, dir), 1, "rejected appends made segments")
	for range 20 {
		j = open(t, dir, nil)
		_, err := j.Append(ctx, genEvent(5, 101))
		require.NoError(t, err)
		closeJ(t, j)
	}
	require.Len(t, segments(t, dir), 1, "each Open made a segment")
	j = open(t, dir, nil)
	defer closeJ(t, j)
	require.Equal(t, uint64(3+50+20), j.NextOffset())
}

// Issue 14 item 5: the journal directory (and its parents created with
// it), consumers/ and the consumer offset files are fsynced into their
// directories. Before the fix a power loss lost a new journal's whole
// directory, and a committed consumer offset with consumers/.
func TestDirectoryEntriesSynced(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{crashDir, "/data/deep/er/j"} {
		fsys := newCrashFS(t)
		j := open(t, dir, &journal.Options{FS: fsys})
		_, err := j.Append(ctx, genEvent(6, 0))
		require.NoError(t, err)
		require.NoError(t, j.CommitOffset("indexer", 1))
		lost := fsys.PowerLoss(nil)
		closeJ(t, j)
		j = open(t, dir, &journal.Options{FS: lost})
		require.Equal(t, uint64(1), j.NextOffset(), "%s: acknowledged record lost", dir)
		next, ok, err := j.CommittedOffset("indexer")
		require.NoError(t, err)
		require.True(t, ok && next == 1, "%s: committed offset lost (%d, %v)", dir, next, ok)
		closeJ(t, j)
	}
}

// Issue 14 item 7: under SyncNever a durable consumer must not commit past
// the durable end. Before the fix it committed offset 10 for records never
// fsynced; after a power loss the journal restarted at 0 and the consumer
// skipped the new records at offsets 0–9.
func TestConsumerNeverCommitsPastDurableEnd(t *testing.T) {
	ctx := context.Background()
	for _, sync := range []journal.SyncPolicy{journal.SyncNever, journal.SyncInterval(time.Hour)} {
		fsys := newCrashFS(t)
		// Directories durable beforehand, so only item 7 is tested here.
		require.NoError(t, fsys.MkdirAllDurable(crashDir+"/consumers"))
		j := open(t, crashDir, &journal.Options{FS: fsys, Sync: sync, BufferSize: 1})
		for i := range 10 {
			_, err := j.Append(ctx, genEvent(7, uint64(i)))
			require.NoError(t, err)
		}
		cctx, cancel := context.WithCancel(ctx)
		n := 0
		err := j.Consume(cctx, "c", func(off uint64, ev *semevent.Event) error {
			if n++; n == 10 {
				cancel()
			}
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		lost := fsys.PowerLoss(nil)
		closeJ(t, j)

		j = open(t, crashDir, &journal.Options{FS: lost, Sync: sync, BufferSize: 1})
		next, _, err := j.CommittedOffset("c")
		require.NoError(t, err)
		require.LessOrEqual(t, next, j.NextOffset(), "%v: committed offset past the durable end", sync)
		first := j.NextOffset()
		for i := range 12 {
			_, err := j.Append(ctx, genEvent(8, uint64(i)))
			require.NoError(t, err)
		}
		var got []uint64
		cctx, cancel = context.WithCancel(ctx)
		err = j.Consume(cctx, "c", func(off uint64, ev *semevent.Event) error {
			if off >= first {
				got = append(got, off)
			}
			if off == first+11 {
				cancel()
			}
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, got, 12, "%v: records appended after the power loss were skipped", sync)
		closeJ(t, j)
	}
}

// Issue 14 item 9: a deleted last or first segment is reported, not
// silent. Before the fix Open succeeded with the records gone.
func TestDeletedSegmentDetected(t *testing.T) {
	for _, which := range []string{"first", "last"} {
		dir := t.TempDir()
		j := open(t, dir, &journal.Options{SegmentSize: 4096})
		appendN(t, j, 9, 60)
		closeJ(t, j)
		segs := segments(t, dir)
		require.Greater(t, len(segs), 2)
		victim := segs[0]
		if which == "last" {
			victim = segs[len(segs)-1]
		}
		require.NoError(t, os.Remove(victim))
		_, err := journal.Open(dir, nil)
		ce := requireCorrupt(t, err)
		require.Equal(t, filepath.Base(victim), ce.Segment, which)
	}
}

// Issue 14 item 10: Append validates events and stamps a missing ID and
// Time, as the bus does (before the fix Kind 200, Boundary 99 and duplicate
// attribute keys were journaled, with neither ID nor Time).
func TestAppendValidatesAndStamps(t *testing.T) {
	ctx := context.Background()
	j := open(t, t.TempDir(), nil)
	defer closeJ(t, j)
	for _, ev := range []*semevent.Event{
		{Kind: 200},
		{Kind: semevent.KindFileWrite, Boundary: 99},
		{Kind: semevent.KindFileWrite, Attrs: []semevent.Attr{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}},
	} {
		_, err := j.Append(ctx, ev)
		var ee *semevent.EventError
		require.True(t, errors.As(err, &ee), "Append(%+v) = %v, want *semevent.EventError", ev, err)
		_, err = j.AppendBatch(ctx, []*semevent.Event{genEvent(1, 1), ev})
		require.True(t, errors.As(err, &ee), "AppendBatch = %v, want *semevent.EventError", err)
	}
	require.Equal(t, uint64(0), j.NextOffset(), "nothing of a rejected batch is appended")
	ev := &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"}
	_, err := j.Append(ctx, ev)
	require.NoError(t, err)
	require.False(t, ev.ID.IsZero(), "ID stamped")
	require.NotZero(t, ev.Time, "Time stamped")
	_, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Equal(t, ev.ID, evs[0].ID)
	require.Equal(t, ev.Time, evs[0].Time)
}

// Issue 18 item 16: a plaintext segment injected into an encrypted
// journal is a *CorruptError unless plaintext is explicitly allowed
// (before the fix its forged events were served).
func TestPlaintextSegmentRefusedWhenEncrypted(t *testing.T) {
	ctx := context.Background()
	enc := &journal.Encryption{KeyID: "k", Keys: map[string][]byte{"k": key(1)}}
	plainDir := t.TempDir()
	p := open(t, plainDir, &journal.Options{SegmentSize: 4096})
	appendN(t, p, 11, 60)
	closeJ(t, p)
	psegs := segments(t, plainDir)
	require.Greater(t, len(psegs), 1)
	p = open(t, plainDir, nil)
	firstEnd := p.Segments()[0].End
	closeJ(t, p)

	dir := t.TempDir()
	j := open(t, dir, &journal.Options{Encryption: enc, SegmentSize: 1 << 20})
	for i := range firstEnd {
		_, err := j.Append(ctx, genEvent(12, i))
		require.NoError(t, err)
	}
	closeJ(t, j)
	b, err := os.ReadFile(psegs[1])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(psegs[1])), b, 0o644))

	_, err = journal.Open(dir, &journal.Options{Encryption: enc})
	ce := requireCorrupt(t, err)
	require.Equal(t, filepath.Base(psegs[1]), ce.Segment)
	require.Contains(t, ce.Reason, "plaintext")

	allow := &journal.Encryption{KeyID: "k", Keys: enc.Keys, AllowPlaintext: true}
	j = open(t, dir, &journal.Options{Encryption: allow})
	defer closeJ(t, j)
	_, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Greater(t, len(evs), int(firstEnd))
}

// Issue 18 item 17: Open copies the keys. Before the fix a caller zeroing
// its key slice after Open got segments encrypted under the zero key.
func TestEncryptionKeysCopied(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := key(2)
	j := open(t, dir, &journal.Options{Encryption: &journal.Encryption{KeyID: "k", Keys: map[string][]byte{"k": k}}})
	clear(k)
	_, err := j.Append(ctx, genEvent(13, 0))
	require.NoError(t, err)
	closeJ(t, j)
	j = open(t, dir, &journal.Options{Encryption: &journal.Encryption{KeyID: "k", Keys: map[string][]byte{"k": key(2)}}})
	defer closeJ(t, j)
	_, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}

// Issue 18 item 21: Open reads a huge (sparse) last segment in bounded
// chunks. Before the fix it read all 512 MiB into memory.
func TestOpenHugeSparseTailBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 14, 3)
	closeJ(t, j)
	segs := segments(t, dir)
	st, err := os.Stat(segs[0])
	require.NoError(t, err)
	const huge = 512 << 20
	require.NoError(t, os.Truncate(segs[0], huge))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	j = open(t, dir, nil)
	runtime.ReadMemStats(&after)
	defer closeJ(t, j)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Open of a %d MiB sparse segment allocated %d KiB", huge>>20, alloc>>10)
	require.Less(t, alloc, uint64(16<<20), "Open allocated %d bytes", alloc)
	require.NotNil(t, j.Recovery())
	require.Equal(t, st.Size(), j.Recovery().Pos)
	require.Equal(t, uint64(3), j.NextOffset())
}

var _ = strings.Contains

// waitFor polls cond until it holds, failing after a generous deadline: it
// checks that something happens at all, never how fast.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Issue 14 item 2: under SyncInterval, writes must not wait behind an
// fsync in progress. With every fsync held (a disk that does not answer),
// records acknowledged after the held fsync began must still reach the
// operating system, both through the periodic write and through an
// appender that fills the buffer. Before the fix both waited for the held
// fsync (the background flush held flushMu across it), so a SIGKILL lost
// records far older than d.
func TestSyncIntervalWritesDuringSlowFsync(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		buffer int
	}{{"periodic", 0}, {"full-buffer", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := journaltest.NewFaultFS(newCrashFS(t))
			j := open(t, crashDir, &journal.Options{FS: ffs, Sync: journal.SyncInterval(time.Millisecond), BufferSize: tc.buffer})
			_, err := j.Append(ctx, genEvent(15, 0))
			require.NoError(t, err)
			require.NoError(t, j.Sync(ctx)) // the segment exists before fsyncs are held
			release := ffs.HoldSyncs()
			defer release()
			fsyncs := j.Stats().Fsyncs
			for i := 1; i < 4; i++ {
				_, err := j.Append(ctx, genEvent(15, uint64(i)))
				require.NoError(t, err)
			}
			waitFor(t, "an fsync starts", func() bool { return j.Stats().Fsyncs > fsyncs })
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 4; i < 7; i++ {
					if _, err := j.Append(ctx, genEvent(15, uint64(i))); err != nil {
						t.Error(err)
					}
				}
			}()
			waitFor(t, "records appended during a held fsync are written", func() bool {
				select {
				case <-done:
				default:
					return false
				}
				return j.Stats().Records == 7
			})
			release()
			closeJ(t, j)
		})
	}
}

// Issue 14 item 2, with an injected clock: under SyncInterval(d), every
// record acknowledged before a tick of the flush clock survives a kill
// taken after that tick, even while every fsync hangs — so a kill loses
// only records younger than one tick (d). Before the fix the background
// writer held flushMu across the hung fsync and the second tick was never
// taken.
func TestSyncIntervalLossBoundInjectedClock(t *testing.T) {
	ctx := context.Background()
	tick := make(chan time.Time)
	defer journal.SetFlushTicker(tick)()
	cfs := newCrashFS(t)
	ffs := journaltest.NewFaultFS(cfs)
	j := open(t, crashDir, &journal.Options{FS: ffs, Sync: journal.SyncInterval(20 * time.Millisecond)})
	_, err := j.Append(ctx, genEvent(16, 0))
	require.NoError(t, err)
	require.NoError(t, j.Sync(ctx))
	release := ffs.HoldSyncs()
	defer release()
	sendTick := func() {
		select {
		case tick <- time.Time{}:
		case <-time.After(20 * time.Second):
			t.Fatal("never happened: the flush clock's tick was not taken (writer stuck behind an fsync)")
		}
	}
	acked := uint64(1)
	for round := range 5 {
		for range 3 {
			_, err := j.Append(ctx, genEvent(16, acked))
			require.NoError(t, err)
			acked++
		}
		sendTick()
		sendTick() // taken only once the first tick's write is done
		img := cfs.Kill()
		k := open(t, crashDir, &journal.Options{FS: img})
		require.Equal(t, acked, k.NextOffset(), "round %d: a kill after the tick lost records acknowledged before it", round)
		closeJ(t, k)
	}
	release()
	closeJ(t, j)
}
