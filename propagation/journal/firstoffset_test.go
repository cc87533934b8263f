package journal_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// A new journal created with FirstOffset starts there, keeps that start
// across a reopen before the first append, and ignores FirstOffset once it
// exists.
func TestFirstOffsetNewJournal(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{FirstOffset: 1000})
	require.Equal(t, uint64(1000), j.FirstOffset())
	require.Equal(t, uint64(1000), j.NextOffset())
	_, err := j.NewReader(999)
	require.ErrorIs(t, err, journal.ErrOutOfRange)
	require.NoError(t, j.Close(context.Background()))

	j = open(t, dir, nil) // no FirstOffset: the MANIFEST keeps it
	require.Equal(t, uint64(1000), j.NextOffset(), "reopened before any append")
	appendN(t, j, 1, 5)
	require.NoError(t, j.Close(context.Background()))

	j = open(t, dir, &journal.Options{FirstOffset: 7}) // ignored: the journal exists
	defer j.Close(context.Background())
	require.Equal(t, uint64(1000), j.FirstOffset())
	require.Equal(t, uint64(1005), j.NextOffset())
	offs, evs, err := readAll(t, j, 1000)
	require.NoError(t, err)
	checkEvents(t, 1, 0, 1000, offs, evs)
}

// Flush makes buffered records readable without waiting for the periodic
// write.
func TestFlushMakesRecordsReadable(t *testing.T) {
	j := open(t, t.TempDir(), &journal.Options{Sync: journal.SyncNever, FlushInterval: time.Hour})
	defer j.Close(context.Background())
	appendN(t, j, 1, 3)
	r, err := j.NewReader(0)
	require.NoError(t, err)
	defer r.Close()
	var ev semevent.Event
	_, err = r.Next(&ev)
	require.ErrorIs(t, err, io.EOF, "buffered records are not readable before a write")
	require.NoError(t, j.Flush(context.Background()))
	for i := range uint64(3) {
		off, err := r.Next(&ev)
		require.NoError(t, err)
		require.Equal(t, i, off)
	}
	require.NoError(t, j.Flush(context.Background()), "nothing pending")
	require.NoError(t, j.Close(context.Background()))
	require.ErrorIs(t, j.Flush(context.Background()), journal.ErrClosed)
}
