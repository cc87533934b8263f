package journal_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" || os.Getenv(intervalChildEnv) != "" {
		os.Exit(m.Run()) // the crash child is killed, never checked for leaks
	}
	goleak.VerifyTestMain(m)
}

// genEvent returns the event number n of stream s: every field set, all
// derived from (s, n), so a test can regenerate what it appended.
func genEvent(s, n uint64) *semevent.Event {
	r := rand.New(rand.NewPCG(s, n))
	str := func(prefix string) string { return fmt.Sprintf("%s-%d-%d-%x", prefix, s, n, r.Uint32()) }
	ev := &semevent.Event{
		ID:       semevent.MakeID(r.Uint64(), r.Uint32(), r.Uint32()|1),
		Kind:     semevent.Kind(r.UintN(19)),
		Boundary: semevent.Boundary(r.UintN(4)),
		Priority: semevent.Priority(int8(r.UintN(256))),
		Topic:    "fs.file.write",
		Tenant:   str("tenant"),
		Path:     "/data/" + str("path"),
		OldPath:  str("old"),
		Inode:    r.Uint64(),
		PID:      r.Uint32(),
		UID:      r.Uint32(),
		GID:      r.Uint32(),
		Offset:   int64(r.Uint64()),
		Size:     int64(r.Uint64()),
		Time:     int64(r.Uint64()),
		Cause:    semevent.MakeID(r.Uint64(), 1, 2),
		Attrs:    []semevent.Attr{{Key: "k", Value: str("v")}, {Key: "n", Value: fmt.Sprint(n)}},
		Seen:     semevent.BoundarySet(r.UintN(16)),
		Observed: []semevent.Observation{{ID: semevent.MakeID(r.Uint64(), 3, 4), Boundary: semevent.Kernel, Time: int64(r.Uint64()), PID: r.Uint32()}},
		Data:     make([]byte, 64+r.IntN(64)),
	}
	binary.LittleEndian.PutUint64(ev.Trace.TraceID[:], r.Uint64())
	binary.LittleEndian.PutUint64(ev.Trace.TraceID[8:], r.Uint64())
	binary.LittleEndian.PutUint64(ev.Trace.SpanID[:], r.Uint64())
	ev.Trace.Flags = semevent.FlagSampled
	for i := range ev.Data {
		ev.Data[i] = byte(r.Uint32())
	}
	return ev
}

func open(t testing.TB, dir string, opts *journal.Options) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, opts)
	require.NoError(t, err)
	return j
}

// appendN appends genEvent(s, 0..n-1) and checks the offsets.
func appendN(t testing.TB, j *journal.Journal, s uint64, n int) {
	t.Helper()
	ctx := context.Background()
	start := j.NextOffset()
	for i := 0; i < n; {
		if i%3 == 0 && i+5 <= n { // a batch
			batch := make([]*semevent.Event, 5)
			for k := range batch {
				batch[k] = genEvent(s, uint64(i+k))
			}
			off, err := j.AppendBatch(ctx, batch)
			require.NoError(t, err)
			require.Equal(t, start+uint64(i), off)
			i += 5
			continue
		}
		off, err := j.Append(ctx, genEvent(s, uint64(i)))
		require.NoError(t, err)
		require.Equal(t, start+uint64(i), off)
		i++
	}
}

// readAll reads every record from offset from to the end.
func readAll(t testing.TB, j *journal.Journal, from uint64) ([]uint64, []*semevent.Event, error) {
	t.Helper()
	offs, evs, _, err := readAllMeta(t, j, from)
	return offs, evs, err
}

// readAllMeta reads every record from offset from to the end, with a copy
// of each record's metadata (nil for records without).
func readAllMeta(t testing.TB, j *journal.Journal, from uint64) ([]uint64, []*semevent.Event, [][]byte, error) {
	t.Helper()
	r, err := j.NewReader(from)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	var offs []uint64
	var evs []*semevent.Event
	var metas [][]byte
	for {
		ev := new(semevent.Event)
		off, err := r.Next(ev)
		if err == io.EOF {
			return offs, evs, metas, nil
		}
		if err != nil {
			require.Nil(t, r.Meta(), "Meta after a failed Next")
			return offs, evs, metas, err
		}
		offs = append(offs, off)
		evs = append(evs, ev)
		metas = append(metas, bytes.Clone(r.Meta()))
	}
}

// genMeta returns size bytes of metadata for batch n of stream s.
func genMeta(s, n uint64, size int) []byte {
	r := rand.New(rand.NewPCG(s, n^0x6d657461))
	m := make([]byte, size)
	for i := range m {
		m[i] = byte(r.Uint32()) | 1 // never all zeros: tells meta from none
	}
	return m
}

// metaBatch is one batch appendMetaN appends: k records with meta, with
// AppendBatch (zero meta) when plain.
type metaBatch struct {
	k     int
	meta  []byte
	plain bool
}

// metaBatches plans appendMetaN's batches for genEvent(s, 0..n-1): batch b
// has 1+b%5 records and genMeta(s, b, size), every fourth one plain.
func metaBatches(s uint64, n, size int) []metaBatch {
	var bs []metaBatch
	for i, b := 0, uint64(0); i < n; b++ {
		k := min(1+int(b%5), n-i)
		if b%4 == 3 {
			bs = append(bs, metaBatch{k, make([]byte, size), true})
		} else {
			bs = append(bs, metaBatch{k, genMeta(s, b, size), false})
		}
		i += k
	}
	return bs
}

// wantMetas returns the metadata each record appendMetaN(s, n, size)
// appended reads back with (nil when size is 0).
func wantMetas(s uint64, n, size int) [][]byte {
	metas := make([][]byte, 0, n)
	for _, b := range metaBatches(s, n, size) {
		for range b.k {
			if size == 0 {
				metas = append(metas, nil)
			} else {
				metas = append(metas, b.meta)
			}
		}
	}
	return metas
}

// appendMetaN appends genEvent(s, 0..n-1) in the batches metaBatches
// plans, with AppendBatchMeta or (plain ones) AppendBatch, and returns
// wantMetas(s, n, size).
func appendMetaN(t testing.TB, j *journal.Journal, s uint64, n, size int) [][]byte {
	t.Helper()
	ctx := context.Background()
	start := j.NextOffset()
	i := 0
	for _, b := range metaBatches(s, n, size) {
		batch := make([]*semevent.Event, b.k)
		for x := range batch {
			batch[x] = genEvent(s, uint64(i+x))
		}
		var off uint64
		var err error
		if b.plain {
			off, err = j.AppendBatch(ctx, batch)
		} else {
			off, err = j.AppendBatchMeta(ctx, batch, b.meta)
		}
		require.NoError(t, err)
		require.Equal(t, start+uint64(i), off)
		i += b.k
	}
	return wantMetas(s, n, size)
}

// checkEvents checks that evs are genEvent(s, first..) at offsets base+first...
func checkEvents(t testing.TB, s, first, base uint64, offs []uint64, evs []*semevent.Event) {
	t.Helper()
	for i, ev := range evs {
		n := first + uint64(i)
		require.Equal(t, base+n, offs[i], "offset of record %d", i)
		require.Empty(t, semevent.Diff(genEvent(s, n), ev), "record at offset %d differs", offs[i])
	}
}

func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	slices.Sort(m)
	return m
}

// copyDir copies the journal's segment files to a new temporary directory.
func copyDir(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	for _, p := range segments(t, dir) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, filepath.Base(p)), b, 0o644))
	}
	return dst
}

func key(b byte) []byte { return []byte(strings.Repeat(string(rune('a'+b%26)), 32)) }

func requireCorrupt(t testing.TB, err error) *journal.CorruptError {
	t.Helper()
	var ce *journal.CorruptError
	require.True(t, errors.As(err, &ce), "want *journal.CorruptError, have %v", err)
	require.ErrorIs(t, err, journal.ErrCorrupt)
	return ce
}
