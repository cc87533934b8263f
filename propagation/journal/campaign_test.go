package journal_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

// soak reports whether long soaks were asked for (SEMEVENT_SOAK=1).
func soak() bool { return os.Getenv("SEMEVENT_SOAK") == "1" }

// TestCrashCampaign runs random histories against a journal on a CrashFS:
// appends and batches under a random sync policy, syncs, durable consumer
// runs, and crashes — process kills and power losses (with or without a
// random part of the unsynced bytes surviving) — each followed by a
// restart with a possibly different policy. After every crash image it
// checks that every acknowledged-durable record is there, byte for byte,
// that every record served is one that was appended at that offset, that
// nothing is corrupt, and that each consumer's committed offset survived
// and does not point past the journal's end. CI runs at least 200 crash
// images; SEMEVENT_SOAK=1 runs 20,000.
func TestCrashCampaign(t *testing.T) {
	images := 240
	if soak() {
		images = 20000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	total, histories := 0, 0
	for total < images {
		n := crashHistory(t, r, seed+uint64(histories))
		total += n
		histories++
	}
	t.Logf("%d crash images in %d histories, 0 acknowledged records lost", total, histories)
}

type campaign struct {
	t        *testing.T
	r        *rand.Rand
	stream   uint64
	fsys     *journaltest.CrashFS
	j        *journal.Journal
	opts     journal.Options
	records  map[uint64]uint64 // offset → genEvent index appended there
	metas    map[uint64][]byte // offset → the record's expected metadata
	durable  uint64            // every offset below is acknowledged and durable
	count    uint64            // genEvent indexes used
	commits  map[string]uint64 // consumer → durably committed offset
	enc      *journal.Encryption
	appended int
}

func (c *campaign) randomOptions() {
	policies := []journal.SyncPolicy{journal.SyncAlways, journal.SyncNever, journal.SyncInterval(time.Duration(1+c.r.IntN(3)) * time.Millisecond)}
	c.opts = journal.Options{
		FS:            c.fsys,
		Sync:          policies[c.r.IntN(len(policies))],
		BufferSize:    []int{0, 1, 700}[c.r.IntN(3)],
		FlushInterval: time.Millisecond,
		SegmentSize:   int64(1024 + c.r.IntN(4)*1024),
		Encryption:    c.enc,
		MetaSize:      []int{0, 0, 24, 7}[c.r.IntN(4)], // a restart may change it
	}
}

func (c *campaign) open() {
	c.t.Helper()
	j, err := journal.Open(crashDir, &c.opts)
	require.NoError(c.t, err, "stream %d: Open", c.stream)
	c.j = j
	// Everything served after Open is durable (Open fsyncs the tail), and
	// must be what was appended at those offsets.
	next := j.NextOffset()
	require.GreaterOrEqual(c.t, next, c.durable, "stream %d: acknowledged durable records lost", c.stream)
	offs, evs, metas, err := readAllMeta(c.t, j, j.FirstOffset())
	require.NoError(c.t, err, "stream %d: read after restart", c.stream)
	require.Len(c.t, evs, int(next-j.FirstOffset()))
	for i, ev := range evs {
		n, ok := c.records[offs[i]]
		require.True(c.t, ok, "stream %d: offset %d was never appended", c.stream, offs[i])
		require.Empty(c.t, semevent.Diff(genEvent(c.stream, n), ev), "stream %d: record at offset %d differs", c.stream, offs[i])
		require.True(c.t, bytes.Equal(c.metas[offs[i]], metas[i]), "stream %d: record at offset %d: meta %x, want %x", c.stream, offs[i], metas[i], c.metas[offs[i]])
	}
	for off := range c.records {
		if off >= next {
			delete(c.records, off) // lost (never durable): the offsets are reused
			delete(c.metas, off)
		}
	}
	c.durable = next
	for name, want := range c.commits {
		got, ok, err := j.CommittedOffset(name)
		require.NoError(c.t, err)
		require.True(c.t, ok && got == want, "stream %d: consumer %s committed %d, have %d (%v)", c.stream, name, want, got, ok)
		require.LessOrEqual(c.t, got, next, "stream %d: consumer %s past the end", c.stream, name)
	}
}

func (c *campaign) appendSome() {
	ctx := context.Background()
	k := 1 + c.r.IntN(6)
	evs := make([]*semevent.Event, k)
	idx := make([]uint64, k)
	for i := range evs {
		idx[i] = c.count
		evs[i] = genEvent(c.stream, c.count)
		c.count++
	}
	var first uint64
	var err error
	var meta []byte // what the records will read back with
	if size := c.opts.MetaSize; size > 0 {
		meta = make([]byte, size)
	}
	switch {
	case meta != nil && c.r.IntN(3) > 0:
		meta = genMeta(c.stream, c.count, len(meta))
		first, err = c.j.AppendBatchMeta(ctx, evs, meta)
	case k == 1:
		first, err = c.j.Append(ctx, evs[0])
	default:
		first, err = c.j.AppendBatch(ctx, evs)
	}
	require.NoError(c.t, err)
	for i := range evs {
		c.records[first+uint64(i)] = idx[i]
		c.metas[first+uint64(i)] = meta
	}
	c.appended += k
	if c.opts.Sync == journal.SyncAlways {
		c.durable = first + uint64(k)
	}
}

func (c *campaign) consume(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	end := c.j.NextOffset()
	from, ok, err := c.j.CommittedOffset(name)
	require.NoError(c.t, err)
	if !ok {
		from = c.j.FirstOffset()
	}
	if from >= end {
		return
	}
	want := from
	err = c.j.Consume(ctx, name, func(off uint64, ev *semevent.Event) error {
		require.Equal(c.t, want, off, "stream %d: consumer %s skipped", c.stream, name)
		want++
		if off+1 >= end {
			cancel()
		}
		return nil
	})
	require.ErrorIs(c.t, err, context.Canceled)
	got, ok, err := c.j.CommittedOffset(name)
	require.NoError(c.t, err)
	if ok {
		c.commits[name] = got
	}
}

// crashHistory runs one random history and returns its crash images.
func crashHistory(t *testing.T, r *rand.Rand, stream uint64) int {
	c := &campaign{t: t, r: r, stream: stream, fsys: newCrashFS(t), records: map[uint64]uint64{}, metas: map[uint64][]byte{}, commits: map[string]uint64{}}
	if r.IntN(4) == 0 {
		c.enc = &journal.Encryption{KeyID: "c", Keys: map[string][]byte{"c": key(3)}}
	}
	c.randomOptions()
	c.open()
	images := 0
	for step := 0; step < 60; step++ {
		switch x := r.IntN(20); {
		case x < 12:
			c.appendSome()
		case x < 14:
			require.NoError(t, c.j.Sync(context.Background()))
			c.durable = c.j.NextOffset()
		case x < 16:
			c.consume(fmt.Sprintf("c%d", r.IntN(2)))
		default:
			var img *journaltest.CrashFS
			switch r.IntN(3) {
			case 0:
				img = c.fsys.Kill()
			case 1:
				img = c.fsys.PowerLoss(nil)
			default:
				img = c.fsys.PowerLoss(r)
			}
			images++
			c.j.Close(context.Background()) // the dead process's journal; img is already taken
			c.fsys = img
			c.randomOptions()
			c.open()
		}
	}
	require.NoError(t, c.j.Close(context.Background()))
	return images
}

// TestCrashCampaignConcurrent takes crash images while several goroutines
// append (SyncAlways, single appends and batches) and a durable consumer
// follows, so images fall in the middle of group commits, segment
// rollovers and offset commits. Every append acknowledged before an image
// was taken must be in it, unchanged; a consumer's committed offset never
// goes back below what the previous restart found, nor past the journal's
// end. CI takes 40 images;
// SEMEVENT_SOAK=1 takes 3,000.
func TestCrashCampaignConcurrent(t *testing.T) {
	images := 40
	if soak() {
		images = 3000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 11))
	fsys := newCrashFS(t)
	type ack struct {
		stream, n uint64
		meta      []byte // expected metadata
	}
	acked := map[uint64]ack{} // acknowledged before the current image
	durableCommit := uint64(0)
	checked := 0
	var enc *journal.Encryption
	if r.IntN(3) == 0 {
		enc = &journal.Encryption{KeyID: "c", Keys: map[string][]byte{"c": key(5)}}
	}
	for img := 0; img < images; img++ {
		if img%20 == 19 { // a fresh history every 20 images keeps each one short
			fsys, acked, durableCommit = newCrashFS(t), map[uint64]ack{}, 0
		}
		opts := &journal.Options{FS: fsys, SegmentSize: int64(1024 + r.IntN(4)*1024), Encryption: enc, MetaSize: []int{0, 16}[r.IntN(2)]}
		j, err := journal.Open(crashDir, opts)
		require.NoError(t, err, "seed %d image %d", seed, img)
		offs, evs, metas, err := readAllMeta(t, j, j.FirstOffset())
		require.NoError(t, err, "seed %d image %d", seed, img)
		got := map[uint64]*semevent.Event{}
		gotMeta := map[uint64][]byte{}
		for i, off := range offs {
			got[off], gotMeta[off] = evs[i], metas[i]
		}
		checked += len(acked)
		for off, a := range acked {
			ev, ok := got[off]
			require.True(t, ok, "seed %d image %d: acknowledged offset %d lost", seed, img, off)
			require.Empty(t, semevent.Diff(genEvent(a.stream, a.n), ev), "seed %d image %d: offset %d differs", seed, img, off)
			require.True(t, bytes.Equal(a.meta, gotMeta[off]), "seed %d image %d: offset %d: meta %x, want %x", seed, img, off, gotMeta[off], a.meta)
		}
		next, ok, err := j.CommittedOffset("follower")
		require.NoError(t, err)
		require.True(t, !ok || next >= durableCommit, "seed %d image %d: consumer commit %d went back to %d", seed, img, durableCommit, next)
		require.LessOrEqual(t, next, j.NextOffset(), "seed %d image %d: consumer past the end", seed, img)
		// What a restart finds is durable: no later image may go below it.
		// (A value read while a commit is in flight may not be durable yet:
		// its rename can still be undone by a power loss.)
		durableCommit = next

		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		live := map[uint64]ack{}
		var wg sync.WaitGroup
		for g := range uint64(3) {
			wg.Go(func() {
				stream := seed + uint64(img)*8 + g
				for n := uint64(0); ctx.Err() == nil; n++ {
					k := 1 + int(n%3)
					batch := make([]*semevent.Event, k)
					for i := range batch {
						batch[i] = genEvent(stream, n*4+uint64(i))
					}
					var meta []byte
					var off uint64
					var err error
					switch size := opts.MetaSize; {
					case size > 0 && g == 1:
						meta = genMeta(stream, n, size)
						off, err = j.AppendBatchMeta(ctx, batch, meta)
					case size > 0:
						meta = make([]byte, size)
						fallthrough
					default:
						off, err = j.AppendBatch(ctx, batch)
					}
					if err != nil {
						return // ctx ended
					}
					mu.Lock()
					for i := range batch {
						live[off+uint64(i)] = ack{stream, n*4 + uint64(i), meta}
					}
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			j.Consume(ctx, "follower", func(uint64, *semevent.Event) error { return nil })
		})
		for {
			mu.Lock()
			n := len(live)
			mu.Unlock()
			if n >= 5+r.IntN(60) {
				break
			}
			runtime.Gosched()
		}
		// Snapshot what is acknowledged and committed, then take the image.
		mu.Lock()
		for off, a := range live {
			acked[off] = a
		}
		mu.Unlock()
		var next2 *journaltest.CrashFS
		if r.IntN(2) == 0 {
			next2 = fsys.PowerLoss(nil)
		} else {
			next2 = fsys.PowerLoss(r)
		}
		cancel()
		wg.Wait()
		j.Close(context.Background())
		fsys = next2
	}
	t.Logf("%d crash images taken under concurrent appends and a consumer, %d acknowledged records checked (counted once per image), 0 lost", images, checked)
}
