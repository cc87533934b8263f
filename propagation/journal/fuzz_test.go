package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent/propagation/journal"
)

// FuzzSegment feeds arbitrary bytes to Open and the Reader as the only
// segment file: recovery and decoding must return records or typed errors,
// never panic, and never serve a record that fails its checks.
func FuzzSegment(f *testing.F) {
	for _, dir := range []string{"v1-plain"} {
		segs, _ := filepath.Glob(filepath.Join("testdata", dir, "*.seg"))
		for _, p := range segs {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			f.Add(b[:len(b)/2])
			f.Add(b[:200])
		}
	}
	f.Add([]byte("SEVJ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000000.seg"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := journal.Open(dir, &journal.Options{MaxRecordSize: 1 << 20})
		if err != nil {
			if !errors.Is(err, journal.ErrCorrupt) && !errors.Is(err, journal.ErrMissingKey) {
				t.Fatalf("Open: untyped error %v", err)
			}
			return
		}
		defer j.Close()
		_, evs, err := readAll(t, j, 0)
		if err != nil && !errors.Is(err, journal.ErrCorrupt) {
			t.Fatalf("read: untyped error %v", err)
		}
		if uint64(len(evs)) > j.NextOffset() {
			t.Fatalf("read %d records, journal has %d", len(evs), j.NextOffset())
		}
	})
}
