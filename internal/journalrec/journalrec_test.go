package journalrec_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/journalrec"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const topic = "test.record"

// TestLogCrashCampaign appends records through a Log, interleaved with
// other events in the same journal, under random sync policies, and takes
// crash images (kills and power losses) at random: after each restart Each
// must return every acknowledged-durable record, in order, and nothing
// else. CI runs at least 200 images; SEMEVENT_SOAK=1 runs 10,000.
func TestLogCrashCampaign(t *testing.T) {
	images := 200
	if os.Getenv("SEMEVENT_SOAK") == "1" {
		images = 10000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 9))
	ctx := context.Background()
	total := 0
	for total < images {
		fsys := journaltest.NewCrashFS()
		require.NoError(t, fsys.MkdirAllDurable("/data"))
		var all [][]byte // records appended, in order, still possibly on disk
		durable := 0     // all[:durable] are acknowledged and durable
		var j *journal.Journal
		var l *journalrec.Log
		sync := journal.SyncAlways
		reopen := func() {
			policies := []journal.SyncPolicy{journal.SyncAlways, journal.SyncNever, journal.SyncInterval(time.Millisecond)}
			sync = policies[r.IntN(3)]
			var err error
			j, err = journal.Open("/data/j", &journal.Options{FS: fsys, Sync: sync, BufferSize: 1 + r.IntN(500), SegmentSize: 2048})
			require.NoError(t, err)
			l = journalrec.New(j, semevent.KindCustom, topic)
			var got [][]byte
			require.NoError(t, l.Each(ctx, func(_ uint64, ev *semevent.Event) error {
				got = append(got, ev.Data)
				return nil
			}))
			require.GreaterOrEqual(t, len(got), durable, "seed %d: acknowledged durable records lost", seed)
			for i, g := range got {
				require.True(t, i < len(all) && bytes.Equal(all[i], g), "seed %d: record %d is not the one appended", seed, i)
			}
			all, durable = got, len(got)
		}
		reopen()
		for range 40 {
			switch x := r.IntN(10); {
			case x < 6:
				data := fmt.Appendf(nil, "rec-%d-%d", total, r.Uint64())
				require.NoError(t, l.Append(ctx, &semevent.Event{Data: data}))
				all = append(all, data)
				if sync == journal.SyncAlways {
					durable = len(all)
				}
			case x < 7: // another component's event in the same journal
				_, err := j.Append(ctx, &semevent.Event{Topic: "other.event", Data: []byte("x")})
				require.NoError(t, err)
			case x < 8:
				require.NoError(t, l.Sync(ctx))
				durable = len(all)
			default:
				var img *journaltest.CrashFS
				switch r.IntN(3) {
				case 0:
					img = fsys.Kill()
				case 1:
					img = fsys.PowerLoss(nil)
				default:
					img = fsys.PowerLoss(r)
				}
				total++
				j.Close(ctx)
				fsys = img
				reopen()
			}
		}
		require.NoError(t, j.Close(ctx))
	}
	t.Logf("%d crash images, 0 acknowledged records lost", total)
}
