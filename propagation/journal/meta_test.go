package journal_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// checkMetas checks that the records read carry the expected metadata.
func checkMetas(t testing.TB, want, got [][]byte) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for i := range want {
		require.True(t, bytes.Equal(want[i], got[i]), "record %d: meta %x, want %x", i, got[i], want[i])
	}
}

// TestMetaRoundTrip appends with AppendBatchMeta (and AppendBatch, which
// gives zeros) under every sync policy, plaintext and encrypted, with
// small segments (rollover, the sparse index, reading from mid-segment),
// and reads each record's meta back through a Reader, TailMeta and after a
// reopen; Consume delivers the same records.
func TestMetaRoundTrip(t *testing.T) {
	enc := &journal.Encryption{KeyID: "k1", Keys: map[string][]byte{"k1": key(1)}}
	for _, tc := range []struct {
		name string
		opts journal.Options
	}{
		{"always", journal.Options{MetaSize: 24}},
		{"interval", journal.Options{MetaSize: 24, Sync: journal.SyncInterval(5 * time.Millisecond)}},
		{"never", journal.Options{MetaSize: 24, Sync: journal.SyncNever}},
		{"small segments", journal.Options{MetaSize: 1, SegmentSize: 4096}},
		{"max meta", journal.Options{MetaSize: journal.MaxMetaSize, SegmentSize: 4096}},
		{"encrypted", journal.Options{MetaSize: 24, Encryption: enc, SegmentSize: 4096}},
		{"encrypted never", journal.Options{MetaSize: 24, Encryption: enc, Sync: journal.SyncNever}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			opts := tc.opts
			j := open(t, dir, &opts)
			want := appendMetaN(t, j, 1, 300, opts.MetaSize)
			for _, s := range j.Segments() {
				require.Equal(t, opts.MetaSize, s.MetaSize, "segment %s", s.Name)
			}
			require.NoError(t, j.Close(ctx))

			j = open(t, dir, &opts)
			defer j.Close(ctx)
			require.Nil(t, j.Recovery())
			offs, evs, metas, err := readAllMeta(t, j, 0)
			require.NoError(t, err)
			checkEvents(t, 1, 0, 0, offs, evs)
			checkMetas(t, want, metas)
			for _, from := range []uint64{1, 99, 150, 299, 300} {
				offs, evs, metas, err := readAllMeta(t, j, from)
				require.NoError(t, err)
				checkEvents(t, 1, from, 0, offs, evs)
				checkMetas(t, want[from:], metas)
			}

			// TailMeta hands fn the same meta.
			tctx, cancel := context.WithCancel(ctx)
			var tailed [][]byte
			err = j.TailMeta(tctx, 0, func(off uint64, meta []byte, ev *semevent.Event) error {
				tailed = append(tailed, bytes.Clone(meta))
				if off == 299 {
					cancel()
				}
				return nil
			})
			require.ErrorIs(t, err, context.Canceled)
			checkMetas(t, want, tailed)

			// Appends after reopening continue in meta segments; Consume
			// reads them.
			more := appendMetaN(t, j, 2, 10, opts.MetaSize)
			require.NoError(t, j.Sync(ctx)) // readable under SyncInterval and SyncNever too
			offs, evs, metas, err = readAllMeta(t, j, 300)
			require.NoError(t, err)
			checkEvents(t, 2, 0, 300, offs, evs)
			checkMetas(t, more, metas)
			cctx, ccancel := context.WithCancel(ctx)
			n := 0
			err = j.Consume(cctx, "c", func(off uint64, ev *semevent.Event) error {
				require.Equal(t, uint64(n), off)
				if n++; n == 310 {
					ccancel()
				}
				return nil
			})
			require.ErrorIs(t, err, context.Canceled)
			next, ok, err := j.CommittedOffset("c")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, uint64(310), next)
		})
	}
}

// TestMetaSizeError: meta of the wrong length appends nothing and says
// what and where; a journal without MetaSize takes only empty meta.
func TestMetaSizeError(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{0, 24} {
		dir := t.TempDir()
		j := open(t, dir, &journal.Options{MetaSize: size})
		evs := []*semevent.Event{genEvent(1, 0), genEvent(1, 1)}
		for _, n := range []int{size - 1, size + 1, 65} {
			if n < 0 {
				continue
			}
			_, err := j.AppendBatchMeta(ctx, evs, make([]byte, n))
			require.ErrorIs(t, err, journal.ErrMetaSize, "%d bytes of meta, MetaSize %d", n, size)
			var me *journal.MetaSizeError
			require.True(t, errors.As(err, &me))
			require.Equal(t, journal.MetaSizeError{Dir: dir, Len: n, MetaSize: size}, *me)
			require.Contains(t, err.Error(), dir)
			require.Contains(t, err.Error(), "AppendBatchMeta")
			require.Equal(t, uint64(0), j.NextOffset(), "nothing appended")
		}
		off, err := j.AppendBatchMeta(ctx, evs, make([]byte, size))
		require.NoError(t, err)
		require.Equal(t, uint64(0), off)
		if size == 0 {
			_, err = j.AppendBatchMeta(ctx, evs, nil)
			require.NoError(t, err)
		}
		require.NoError(t, j.Close(ctx))
	}
	for _, size := range []int{-1, journal.MaxMetaSize + 1} {
		_, err := journal.Open(t.TempDir(), &journal.Options{MetaSize: size})
		var oe *semevent.OptionsError
		require.True(t, errors.As(err, &oe), "MetaSize %d: %v", size, err)
		require.Contains(t, err.Error(), "MetaSize")
	}
}

// TestMetaReopenOtherSize reopens a journal with a different MetaSize
// each time: old segments keep theirs (nil meta for records written
// without), the next record starts a new segment, and reopening with the
// same MetaSize appends to the last segment instead.
func TestMetaReopenOtherSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var want [][]byte
	var wantSegs []int
	for i, size := range []int{0, 24, 24, 8, 0, 64} {
		j := open(t, dir, &journal.Options{MetaSize: size})
		want = append(want, appendMetaN(t, j, uint64(i), 7, size)...)
		if i == 0 || size != []int{0, 24, 24, 8, 0, 64}[i-1] {
			wantSegs = append(wantSegs, size)
		}
		require.NoError(t, j.Close(ctx))
	}
	j := open(t, dir, &journal.Options{MetaSize: 3})
	defer j.Close(ctx)
	var got []int
	for _, s := range j.Segments() {
		got = append(got, s.MetaSize)
	}
	require.Equal(t, wantSegs, got, "segments' meta sizes")
	offs, evs, metas, err := readAllMeta(t, j, 0)
	require.NoError(t, err)
	for i := range 6 {
		checkEvents(t, uint64(i), 0, uint64(i*7), offs[i*7:i*7+7], evs[i*7:i*7+7])
	}
	checkMetas(t, want, metas)
	// No record yet with MetaSize 3: no segment made for it.
	require.Len(t, j.Segments(), len(wantSegs))
}

// TestMetaTamperDetected changes a record's meta and fixes up its CRC, as
// an attacker would: in an encrypted journal GCM authentication (meta is
// the additional data) catches it; in a plaintext one the CRC does when it
// is not fixed up.
func TestMetaTamperDetected(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		dir := t.TempDir()
		opts := &journal.Options{MetaSize: 24, SegmentSize: 4096}
		if encrypted {
			opts = encOpts("k1", "k1")
			opts.MetaSize = 24
		}
		j := open(t, dir, opts)
		appendMetaN(t, j, 1, 60, 24)
		require.NoError(t, j.Close(context.Background()))
		rs := records(t, dir)
		victim := rs[3]
		b, err := os.ReadFile(victim.file)
		require.NoError(t, err)
		b[victim.start+16+5] ^= 1 // a meta byte
		if encrypted {
			fixCRC(b, victim)
		}
		require.NoError(t, os.WriteFile(victim.file, b, 0o644))
		j = open(t, dir, opts)
		_, evs, err := readAll(t, j, 0)
		ce := requireCorrupt(t, err)
		require.Equal(t, victim.off, ce.Offset)
		if encrypted {
			require.Contains(t, ce.Reason, "authentication")
		} else {
			require.Contains(t, ce.Reason, "checksum")
		}
		require.Equal(t, int(victim.off), len(evs))
		require.NoError(t, j.Close(context.Background()))
	}
}

// TestMetaAppendReadNoAllocs: appending with metadata (plaintext and
// encrypted) and reading it back with Reader.Meta allocate nothing per
// record once buffers are warm.
func TestMetaAppendReadNoAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	ctx := context.Background()
	for _, enc := range []*journal.Encryption{nil, {KeyID: "k1", Keys: map[string][]byte{"k1": key(1)}}} {
		j := open(t, t.TempDir(), &journal.Options{MetaSize: 24, Sync: journal.SyncNever, FlushInterval: time.Hour, Encryption: enc})
		evs := []*semevent.Event{genEvent(1, 1)}
		meta := genMeta(1, 1, 24)
		for range 100 { // warm the buffers
			_, err := j.AppendBatchMeta(ctx, evs, meta)
			require.NoError(t, err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := j.AppendBatchMeta(ctx, evs, meta); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "AppendBatchMeta allocations per record (encrypted %v)", enc != nil)
		require.NoError(t, j.Sync(ctx))
		r, err := j.NewReader(0)
		require.NoError(t, err)
		var ev semevent.Event
		for range 10 {
			_, err := r.Next(&ev)
			require.NoError(t, err)
		}
		allocs = testing.AllocsPerRun(1000, func() {
			if _, err := r.Next(&ev); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Meta(), meta) {
				t.Fatalf("meta %x, want %x", r.Meta(), meta)
			}
		})
		require.Zero(t, allocs, "Reader.Next with meta allocations per record (encrypted %v)", enc != nil)
		r.Close()
		require.NoError(t, j.Close(ctx))
	}
}

// TestMetaIndexAndRetention: in a meta journal, readers starting at and
// around the sparse index's entries (every 1024th record of a segment),
// after byte retention has deleted the oldest segment, get the right
// records with the right meta, before and after a reopen.
func TestMetaIndexAndRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := &journal.Options{MetaSize: 24, Sync: journal.SyncNever, SegmentSize: 1 << 20, RetentionBytes: 1 << 20}
	j := open(t, dir, opts)
	const n = 6000
	want := appendMetaN(t, j, 1, n, 24)
	require.NoError(t, j.Sync(ctx))
	first := j.FirstOffset()
	require.Greater(t, first, uint64(0), "retention deleted the oldest segment")
	segs := j.Segments()
	require.Greater(t, segs[0].End-segs[0].First, uint64(2048), "segments long enough for index entries")
	_, err := j.NewReader(0)
	require.ErrorIs(t, err, journal.ErrOutOfRange)
	check := func(j *journal.Journal) {
		for _, from := range []uint64{first, first + 1, first + 1023, first + 1024, first + 1025, first + 2048, first + 2049, n - 1, n} {
			offs, evs, metas, err := readAllMeta(t, j, from)
			require.NoError(t, err, "from %d", from)
			require.Equal(t, n-int(from), len(evs), "from %d", from)
			k := min(len(evs), 20)
			checkEvents(t, 1, from, 0, offs[:k], evs[:k])
			checkMetas(t, want[from:], metas)
		}
	}
	check(j)
	require.NoError(t, j.Close(ctx))
	j = open(t, dir, opts)
	defer j.Close(ctx)
	check(j)
}
