package journaltest_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

func TestFaultFS(t *testing.T) {
	ffs := journaltest.NewFaultFS(nil)
	dir := t.TempDir()
	f, err := ffs.OpenFile(filepath.Join(dir, "f"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ffs.FailWrites(1, syscall.ENOSPC)
	ffs.FailSyncs(0, syscall.EIO)
	for i, want := range []error{nil, syscall.ENOSPC, syscall.ENOSPC} {
		if _, err := f.Write([]byte("x")); !errors.Is(err, want) && (want != nil || err != nil) {
			t.Errorf("write %d = %v, want %v", i, err, want)
		}
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Sync = %v, want EIO", err)
	}
	if err := ffs.SyncDir(dir); !errors.Is(err, syscall.EIO) {
		t.Errorf("SyncDir = %v, want EIO", err)
	}
	ffs.FailWrites(0, nil)
	ffs.FailSyncs(0, nil)
	if _, err := f.Write([]byte("y")); err != nil {
		t.Errorf("write after FailWrites(0, nil) = %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("Sync after FailSyncs(0, nil) = %v", err)
	}
	writes, syncs, failed := ffs.Counts()
	if writes != 4 || syncs != 3 || failed != 4 {
		t.Errorf("Counts() = %d, %d, %d; want 4, 3, 4", writes, syncs, failed)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "xy" {
		t.Errorf("file holds %q, want %q: failed writes must write nothing", b, "xy")
	}
	// The lock is the underlying FS's.
	l1, err := ffs.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ffs.Lock(filepath.Join(dir, "LOCK")); !errors.Is(err, journal.ErrLocked) {
		t.Errorf("second Lock = %v, want ErrLocked", err)
	}
	l1.Close()
}
