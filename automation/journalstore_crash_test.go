package automation_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

// TestJournalStoreCrashImages (issue 14, machinery) appends records
// through a JournalStore on a journal over journaltest.CrashFS and takes
// kill and power-loss images: every record whose Append returned (the
// store's promise: durable on return) is loaded after each restart, in
// order.
func TestJournalStoreCrashImages(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 3))
	fsys := journaltest.NewCrashFS()
	require.NoError(t, fsys.MkdirAllDurable("/data"))
	var acked []string
	for img := 0; img < 60; img++ {
		j, err := journal.Open("/data/wf", &journal.Options{FS: fsys, SegmentSize: 2048})
		require.NoError(t, err)
		s := automation.NewJournalStore(j)
		var got []string
		require.NoError(t, s.Load(ctx, func(rec *automation.Record) error {
			got = append(got, rec.Execution)
			return nil
		}))
		require.Equal(t, acked, got, "seed %d image %d: acknowledged records lost or changed", seed, img)
		for range 1 + r.IntN(5) {
			id := fmt.Sprintf("x%d-%d", img, r.Uint32())
			require.NoError(t, s.Append(ctx, &automation.Record{Type: automation.RecStarted, Execution: id, Tenant: "acme", Time: 1}))
			acked = append(acked, id)
		}
		var next *journaltest.CrashFS
		if r.IntN(2) == 0 {
			next = fsys.Kill()
		} else {
			next = fsys.PowerLoss(r)
		}
		j.Close(ctx)
		fsys = next
	}
}
