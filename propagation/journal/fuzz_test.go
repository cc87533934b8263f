package journal_test

import (
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
// segment file: recovery and decoding must return records or typed errors,
// never panic, and never serve a record that fails its checks.
func FuzzSegment(f *testing.F) {
	// Small seeds keep each run, and the fuzzer's minimisation, quick.
	for _, enc := range []bool{false, true} {
		dir := f.TempDir()
		opts := &journal.Options{}
		if enc {
			opts.Encryption = &journal.Encryption{KeyID: "f", Keys: map[string][]byte{"f": key(6)}}
		}
		j, err := journal.Open(dir, opts)
		if err != nil {
			f.Fatal(err)
		}
		for i := range 3 {
			ev := &semevent.Event{ID: semevent.MakeID(uint64(i), 1, 1), Path: "/p", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte{byte(i)}}
			if _, err := j.Append(context.Background(), ev); err != nil {
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
		_, evs, err := readAll(t, j, 0)
		if err != nil && !errors.Is(err, journal.ErrCorrupt) {
			t.Fatalf("read: untyped error %v", err)
		}
		if uint64(len(evs)) > j.NextOffset() {
			t.Fatalf("read %d records, journal has %d", len(evs), j.NextOffset())
		}
	})
}
