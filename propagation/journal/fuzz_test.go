package journal_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// noSyncFS skips fsyncs, which durability does not need here and which
// would make fuzzing (and the fuzzer's minimisation) crawl.
type noSyncFS struct{ journal.FS }

func (noSyncFS) SyncDir(string) error { return nil }

func (n noSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (journal.File, error) {
	f, err := n.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

type noSyncFile struct{ journal.File }

func (noSyncFile) Sync() error { return nil }

// FuzzSegment feeds arbitrary bytes to Open and the Reader as the only
// segment file (seeded with segments with and without record metadata): recovery and decoding must return records or typed errors,
// never panic, and never serve a record that fails its checks.
func FuzzSegment(f *testing.F) {
	// Small seeds keep each run, and the fuzzer's minimisation, quick.
	for i, enc := range []bool{false, true, false, true} {
		dir := f.TempDir()
		opts := &journal.Options{MetaSize: []int{0, 0, 24, 5}[i]}
		if enc {
			opts.Encryption = &journal.Encryption{KeyID: "f", Keys: map[string][]byte{"f": key(6)}}
		}
		j, err := journal.Open(dir, opts)
		if err != nil {
			f.Fatal(err)
		}
		for i := range 3 {
			ev := &semevent.Event{ID: semevent.MakeID(uint64(i), 1, 1), Path: "/p", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte{byte(i)}}
			meta := bytes.Repeat([]byte{byte(i + 1)}, opts.MetaSize)
			if _, err := j.AppendBatchMeta(context.Background(), []*semevent.Event{ev}, meta); err != nil {
				f.Fatal(err)
			}
		}
		if err := j.Close(context.Background()); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.seg"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-7])
	}
	f.Add([]byte("SEVJ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000000.seg"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := journal.Open(dir, &journal.Options{MaxRecordSize: 1 << 20, FS: noSyncFS{journal.OSFS()}})
		if err != nil {
			if !errors.Is(err, journal.ErrCorrupt) && !errors.Is(err, journal.ErrMissingKey) {
				t.Fatalf("Open: untyped error %v", err)
			}
			return
		}
		defer j.Close(context.Background())
		_, evs, metas, err := readAllMeta(t, j, 0)
		if err != nil && !errors.Is(err, journal.ErrCorrupt) {
			t.Fatalf("read: untyped error %v", err)
		}
		if segs := j.Segments(); len(evs) > 0 {
			for i, m := range metas {
				if len(m) != segs[0].MetaSize || (m == nil) != (segs[0].MetaSize == 0) {
					t.Fatalf("record %d: %d bytes of meta (nil %v) in a segment with MetaSize %d", i, len(m), m == nil, segs[0].MetaSize)
				}
			}
		}
		if uint64(len(evs)) > j.NextOffset() {
			t.Fatalf("read %d records, journal has %d", len(evs), j.NextOffset())
		}
	})
}
