package audit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

// TestJournalStoreCrashImages (issue 14, machinery) appends encoded
// records to an audit JournalStore on a journal over journaltest.CrashFS,
// syncs (the Store contract: Sync makes every appended record durable)
// and takes kill and power-loss images: every synced record is read back
// after each restart, in order.
func TestJournalStoreCrashImages(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 5))
	fsys := journaltest.NewCrashFS()
	require.NoError(t, fsys.MkdirAllDurable("/data"))
	var synced []string
	for img := 0; img < 60; img++ {
		j, err := journal.Open("/data/audit", &journal.Options{FS: fsys, Sync: journal.SyncNever, SegmentSize: 2048})
		require.NoError(t, err)
		s, err := audit.NewJournalStore(j)
		require.NoError(t, err)
		var got []string
		require.NoError(t, s.Records(func(rec []byte) error {
			got = append(got, string(rec))
			return nil
		}))
		require.GreaterOrEqual(t, len(got), len(synced), "seed %d image %d: synced records lost", seed, img)
		require.Equal(t, synced, got[:len(synced)], "seed %d image %d", seed, img)
		synced = got
		for range 1 + r.IntN(5) {
			require.NoError(t, s.Append(fmt.Appendf(nil, "rec-%d-%d", img, r.Uint32())))
		}
		if r.IntN(3) > 0 {
			require.NoError(t, s.Sync())
			got = got[:0]
			require.NoError(t, s.Records(func(rec []byte) error {
				got = append(got, string(rec))
				return nil
			}))
			synced = append([]string(nil), got...)
		}
		var next *journaltest.CrashFS
		if r.IntN(2) == 0 {
			next = fsys.Kill()
		} else {
			next = fsys.PowerLoss(r)
		}
		j.Close(context.Background())
		fsys = next
	}
}
