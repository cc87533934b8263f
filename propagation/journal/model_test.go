package journal_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// TestModel runs random sequences of operations — single and batch
// appends, reopening with other options, reads from random offsets, syncs
// and consumer commits — against a journal and a model (the slice of what
// was appended), and checks that every read agrees with the model.
func TestModel(t *testing.T) {
	enc := &journal.Encryption{KeyID: "m", Keys: map[string][]byte{"m": key(3)}}
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 42))
		encrypted := seed%2 == 1
		options := func() *journal.Options {
			o := &journal.Options{SegmentSize: int64(1024 + r.IntN(8192)), BufferSize: 256 + r.IntN(4096)}
			switch r.IntN(3) {
			case 1:
				o.Sync = journal.SyncInterval(time.Duration(1+r.IntN(5)) * time.Millisecond)
			case 2:
				o.Sync = journal.SyncNever
			}
			if encrypted {
				o.Encryption = enc
			}
			return o
		}
		dir := t.TempDir()
		j := open(t, dir, options())
		var model []uint64 // model[off] = the genEvent number appended at off
		committed, hasCommit := uint64(0), false
		ctx := context.Background()
		for step := range 100 {
			switch op := r.IntN(10); {
			case op < 4:
				n := uint64(len(model))
				off, err := j.Append(ctx, genEvent(seed, n))
				require.NoError(t, err)
				require.Equal(t, n, off)
				model = append(model, n)
			case op < 6:
				k := 1 + r.IntN(20)
				evs := make([]*semevent.Event, k)
				for i := range evs {
					evs[i] = genEvent(seed, uint64(len(model)+i))
				}
				off, err := j.AppendBatch(ctx, evs)
				require.NoError(t, err)
				require.Equal(t, uint64(len(model)), off)
				for range k {
					model = append(model, uint64(len(model)))
				}
			case op < 8:
				require.NoError(t, j.Sync(ctx))
				from := uint64(r.IntN(len(model) + 1))
				offs, evs, err := readAll(t, j, from)
				require.NoError(t, err, "seed %d step %d", seed, step)
				require.Equal(t, len(model)-int(from), len(evs), "seed %d step %d from %d", seed, step, from)
				checkEvents(t, seed, from, 0, offs, evs)
			case op < 9:
				require.NoError(t, j.Close(context.Background()))
				j = open(t, dir, options())
				require.Equal(t, uint64(len(model)), j.NextOffset(), "seed %d step %d", seed, step)
				require.Nil(t, j.Recovery())
				next, ok, err := j.CommittedOffset("m")
				require.NoError(t, err)
				require.Equal(t, hasCommit, ok)
				require.Equal(t, committed, next)
			default:
				committed, hasCommit = uint64(r.IntN(len(model)+1)), true
				require.NoError(t, j.CommitOffset("m", committed))
			}
		}
		require.NoError(t, j.Close(context.Background()))
	}
}
