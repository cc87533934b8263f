package journal_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/internal/logx/logxtest"
	"github.com/vexfs/semevent/propagation/journal"
)

// TestLoggerTornTail: reopening a journal whose last record is torn logs
// the cut with the same segment and byte Recovery reports (issue 17 item 3).
func TestLoggerTornTail(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 1, 5)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	last := rs[len(rs)-1]
	require.NoError(t, os.Truncate(last.file, int64(last.end-3)))

	rec, lg := logxtest.New(slog.LevelDebug)
	j, err := journal.Open(dir, &journal.Options{Logger: lg})
	require.NoError(t, err)
	defer j.Close(context.Background())
	r := j.Recovery()
	require.NotNil(t, r)
	got := rec.Find("torn tail cut off")
	require.Len(t, got, 1, "records: %v", rec.Records())
	a := got[0].Attrs
	require.Equal(t, slog.LevelWarn, got[0].Level)
	require.Equal(t, "journal", a["component"])
	require.Equal(t, dir, a["dir"])
	require.Equal(t, r.Segment, a["segment"])
	require.Equal(t, r.Pos, a["offset"])
	require.Equal(t, r.Dropped, a["dropped"])
	require.Equal(t, r.Next, a["next"])
}

// TestLoggerCorruptRecord: a bit flip inside the last segment fails Open
// with a *CorruptError, and the log line carries its segment, byte and
// reason as attributes.
func TestLoggerCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 1, 5)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	victim := rs[1]
	b, err := os.ReadFile(victim.file)
	require.NoError(t, err)
	b[victim.start+20] ^= 0x10
	require.NoError(t, os.WriteFile(victim.file, b, 0o644))

	rec, lg := logxtest.New(slog.LevelDebug)
	_, err = journal.Open(dir, &journal.Options{Logger: lg})
	ce := requireCorrupt(t, err)
	got := rec.Find("journal refused: corrupt record")
	require.Len(t, got, 1, "records: %v", rec.Records())
	a := got[0].Attrs
	require.Equal(t, slog.LevelError, got[0].Level)
	require.Equal(t, filepath.Base(victim.file), a["segment"])
	require.Equal(t, ce.Pos, a["offset"])
	require.Equal(t, ce.Offset, a["record"])
	require.Equal(t, ce.Reason, a["reason"])
}
