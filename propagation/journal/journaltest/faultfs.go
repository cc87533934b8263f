// Package journaltest helps test code that uses a journal: [FaultFS] wraps
// a [journal.FS] and injects write and fsync failures (EIO, ENOSPC, …), so
// tests can check that a journal stops acknowledging when the disk fails.
package journaltest

import (
	"io"
	"io/fs"
	"sync"

	"github.com/vexfs/semevent/propagation/journal"
)

// FaultFS is a [journal.FS] that passes every call to an underlying FS and
// fails writes and fsyncs on demand. It is safe for concurrent use.
type FaultFS struct {
	base journal.FS

	mu        sync.Mutex // guards the fields below
	writeLeft int        // successful writes before writeErr; <0: no fault
	writeErr  error
	syncLeft  int
	syncErr   error
	writes    int
	syncs     int
	failed    int
	held      chan struct{} // while non-nil, Sync and SyncDir wait for it to close
}

var (
	_ journal.FS     = (*FaultFS)(nil)
	_ journal.Locker = (*FaultFS)(nil)
)

// NewFaultFS returns a FaultFS over base (journal.OSFS() when nil) that
// injects nothing until told to.
func NewFaultFS(base journal.FS) *FaultFS {
	if base == nil {
		base = journal.OSFS()
	}
	return &FaultFS{base: base, writeLeft: -1, syncLeft: -1}
}

// FailWrites makes every File.Write after the next n succeed fail with err
// without writing anything. A nil err stops the injection.
func (f *FaultFS) FailWrites(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeLeft, f.writeErr = n, err
	if err == nil {
		f.writeLeft = -1
	}
}

// FailSyncs makes every File.Sync and SyncDir after the next n succeed fail
// with err. A nil err stops the injection.
func (f *FaultFS) FailSyncs(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncLeft, f.syncErr = n, err
	if err == nil {
		f.syncLeft = -1
	}
}

// HoldSyncs makes every File.Sync and SyncDir from now on wait, before
// reaching the underlying FS, until release is called, as a slow disk
// would. release is idempotent.
func (f *FaultFS) HoldSyncs() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.held = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.held == ch {
				f.held = nil
			}
			f.mu.Unlock()
			close(ch)
		})
	}
}

// wait blocks while syncs are held.
func (f *FaultFS) wait() {
	f.mu.Lock()
	ch := f.held
	f.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// Counts returns how many writes and fsyncs (file and directory) were
// attempted, and how many of them were failed on purpose.
func (f *FaultFS) Counts() (writes, syncs, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.syncs, f.failed
}

// fault counts one write (sync false) or fsync (sync true) and returns the
// error to inject, if any.
func (f *FaultFS) fault(sync bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	left, err, n := &f.writeLeft, f.writeErr, &f.writes
	if sync {
		left, err, n = &f.syncLeft, f.syncErr, &f.syncs
	}
	*n++
	switch {
	case *left < 0:
		return nil
	case *left > 0:
		*left--
		return nil
	}
	f.failed++
	return err
}

// OpenFile opens name on the underlying FS, wrapped to inject faults.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (journal.File, error) {
	file, err := f.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// Remove calls the underlying FS.
func (f *FaultFS) Remove(name string) error { return f.base.Remove(name) }

// Rename calls the underlying FS.
func (f *FaultFS) Rename(oldpath, newpath string) error { return f.base.Rename(oldpath, newpath) }

// ReadDir calls the underlying FS.
func (f *FaultFS) ReadDir(name string) ([]fs.DirEntry, error) { return f.base.ReadDir(name) }

// MkdirAll calls the underlying FS.
func (f *FaultFS) MkdirAll(path string, perm fs.FileMode) error { return f.base.MkdirAll(path, perm) }

// SyncDir fails when fsyncs are being failed, else calls the underlying FS.
func (f *FaultFS) SyncDir(name string) error {
	f.wait()
	if err := f.fault(true); err != nil {
		return &fs.PathError{Op: "fsync", Path: name, Err: err}
	}
	return f.base.SyncDir(name)
}

// Lock uses the underlying FS's lock when it has one.
func (f *FaultFS) Lock(name string) (io.Closer, error) {
	if l, ok := f.base.(journal.Locker); ok {
		return l.Lock(name)
	}
	return io.NopCloser(nil), nil
}

type faultFile struct {
	journal.File
	fs   *FaultFS
	name string
}

func (ff *faultFile) Write(p []byte) (int, error) {
	if err := ff.fs.fault(false); err != nil {
		return 0, &fs.PathError{Op: "write", Path: ff.name, Err: err}
	}
	return ff.File.Write(p)
}

func (ff *faultFile) Sync() error {
	ff.fs.wait()
	if err := ff.fs.fault(true); err != nil {
		return &fs.PathError{Op: "fsync", Path: ff.name, Err: err}
	}
	return ff.File.Sync()
}
