package journal_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

func TestFaultsStopAcknowledging(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(f *journaltest.FaultFS)
		errno  syscall.Errno
		op     string
		opts   journal.Options
	}{
		{"write EIO", func(f *journaltest.FaultFS) { f.FailWrites(0, syscall.EIO) }, syscall.EIO, "write", journal.Options{}},
		{"write ENOSPC", func(f *journaltest.FaultFS) { f.FailWrites(0, syscall.ENOSPC) }, syscall.ENOSPC, "write", journal.Options{}},
		{"fsync EIO", func(f *journaltest.FaultFS) { f.FailSyncs(0, syscall.EIO) }, syscall.EIO, "fsync", journal.Options{}},
		{"fsync ENOSPC", func(f *journaltest.FaultFS) { f.FailSyncs(0, syscall.ENOSPC) }, syscall.ENOSPC, "fsync", journal.Options{}},
		// With 2 KiB segments every few appends roll over: the failing
		// fsync may be the old segment's, the new one's or the directory's.
		{"fsync EIO at rollover", func(f *journaltest.FaultFS) { f.FailSyncs(1, syscall.EIO) }, syscall.EIO, "", journal.Options{SegmentSize: 2048}},
		{"write ENOSPC interval", func(f *journaltest.FaultFS) { f.FailWrites(0, syscall.ENOSPC) }, syscall.ENOSPC, "write",
			journal.Options{Sync: journal.SyncInterval(time.Millisecond)}},
		{"fsync EIO interval", func(f *journaltest.FaultFS) { f.FailSyncs(0, syscall.EIO) }, syscall.EIO, "fsync",
			journal.Options{Sync: journal.SyncInterval(time.Millisecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := journaltest.NewFaultFS(nil)
			opts := tc.opts
			opts.FS = ffs
			j := open(t, dir, &opts)
			appendN(t, j, 1, 10)
			require.NoError(t, j.Sync(context.Background()))
			tc.inject(ffs)

			// Appenders see the failure: at once under SyncAlways, within
			// a flush interval otherwise.
			var err error
			deadline := time.Now().Add(10 * time.Second)
			for err == nil && time.Now().Before(deadline) {
				_, err = j.Append(context.Background(), genEvent(2, 0))
				if err == nil && opts.Sync != journal.SyncAlways {
					time.Sleep(time.Millisecond)
				}
			}
			var we *journal.WriteError
			require.ErrorAs(t, err, &we)
			require.ErrorIs(t, err, journal.ErrFailed)
			require.ErrorIs(t, err, tc.errno)
			if tc.op != "" {
				require.Equal(t, tc.op, we.Op)
			}
			_, syncs, _ := ffs.Counts()

			// The disk recovers; the journal does not: no retried fsync,
			// nothing acknowledged.
			ffs.FailWrites(0, nil)
			ffs.FailSyncs(0, nil)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					_, err := j.Append(context.Background(), genEvent(3, 0))
					if !errors.Is(err, journal.ErrFailed) {
						t.Errorf("Append after failure = %v, want ErrFailed", err)
					}
				})
			}
			wg.Wait()
			_, err = j.AppendBatch(context.Background(), []*semevent.Event{genEvent(3, 1)})
			require.ErrorIs(t, err, journal.ErrFailed)
			require.ErrorIs(t, j.Sync(context.Background()), journal.ErrFailed)
			require.ErrorIs(t, j.Tail(context.Background(), 0, func(uint64, *semevent.Event) error { return nil }), journal.ErrFailed)
			_, syncs2, _ := ffs.Counts()
			require.Equal(t, syncs, syncs2, "no fsync after the failure")
			require.ErrorIs(t, j.Close(context.Background()), journal.ErrFailed)

			// Reopen on a good disk: every acknowledged record is there.
			j = open(t, dir, nil)
			defer j.Close(context.Background())
			offs, evs, err := readAll(t, j, 0)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(evs), 10)
			checkEvents(t, 1, 0, 0, offs[:10], evs[:10])
		})
	}
}

func TestFaultOnOpen(t *testing.T) {
	dir := t.TempDir()
	// The first segment's creation fails at the directory fsync: nothing in
	// it is acknowledged.
	ffs := journaltest.NewFaultFS(nil)
	j := open(t, dir, &journal.Options{FS: ffs})
	ffs.FailSyncs(1, syscall.EIO) // the new segment's own fsync passes, the directory's fails
	_, err := j.Append(context.Background(), genEvent(2, 0))
	var we *journal.WriteError
	require.ErrorAs(t, err, &we)
	require.Equal(t, "sync dir", we.Op)
	require.ErrorIs(t, j.Close(context.Background()), journal.ErrFailed)
}

// opLog is an FS that records the order of the operations that matter for
// durability.
type opLog struct {
	journal.FS
	mu  sync.Mutex
	ops []string
}

func (l *opLog) add(op string) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

func (l *opLog) OpenFile(name string, flag int, perm fs.FileMode) (journal.File, error) {
	f, err := l.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if flag&os.O_CREATE != 0 {
		l.add("create " + filepath.Ext(name))
	}
	return &loggedFile{File: f, log: l, ext: filepath.Ext(name)}, nil
}

func (l *opLog) Rename(o, n string) error {
	l.add("rename " + filepath.Ext(o) + " " + filepath.Ext(n))
	return l.FS.Rename(o, n)
}

func (l *opLog) SyncDir(name string) error {
	l.add("syncdir")
	return l.FS.SyncDir(name)
}

type loggedFile struct {
	journal.File
	log *opLog
	ext string
}

func (f *loggedFile) Write(p []byte) (int, error) {
	f.log.add("write " + f.ext)
	return f.File.Write(p)
}

func (f *loggedFile) Sync() error {
	f.log.add("fsync " + f.ext)
	return f.File.Sync()
}

// TestNewSegmentDurableBeforeAck checks the order of operations behind the
// first acknowledged record of a new segment: the segment is written under
// a temporary name, fsynced, renamed, and its directory fsynced before the
// record is written and fsynced and Append returns.
func TestNewSegmentDurableBeforeAck(t *testing.T) {
	log := &opLog{FS: journal.OSFS()}
	j := open(t, t.TempDir(), &journal.Options{FS: log, SegmentSize: 1024})
	log.mu.Lock()
	log.ops = nil // Open's own directory and manifest fsyncs
	log.mu.Unlock()
	_, err := j.Append(context.Background(), genEvent(1, 0))
	require.NoError(t, err)
	log.add("ack")
	big := genEvent(1, 1)
	big.Data = make([]byte, 1000)
	_, err = j.Append(context.Background(), big) // does not fit: a new segment

	require.NoError(t, err)
	log.add("ack")
	require.NoError(t, j.Close(context.Background()))
	manifest := []string{"create .tmp", "write .tmp", "fsync .tmp", "rename .tmp ", "syncdir"}
	var want []string
	for range 2 {
		want = append(want, "create .tmp", "write .tmp", "fsync .tmp", "rename .tmp .seg", "syncdir")
		want = append(want, manifest...) // the new segment is listed before anything in it is acknowledged
		want = append(want, "write .tmp", "fsync .tmp", "ack")
	}
	require.Equal(t, want, log.ops)
}
