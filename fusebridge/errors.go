package fusebridge

import (
	"errors"
	"fmt"
)

var (
	// ErrNoFUSE is wrapped by the error of [MountFS] and [Available] when
	// this machine cannot mount a FUSE file system: /dev/fuse is missing or
	// the caller is not root. The returned error names the missing piece.
	ErrNoFUSE = errors.New("fusebridge: FUSE unavailable")
	// ErrNilPublisher is returned by [New] and [NewWatcher] without a
	// publisher to publish to.
	ErrNilPublisher = errors.New("fusebridge: nil publisher")
	// ErrUnsupported is wrapped by [NewWatcher] when the requested kernel
	// watcher mode cannot run here; the error says why.
	ErrUnsupported = errors.New("fusebridge: unsupported")
	// ErrOverflow is wrapped by the error a [Watcher] hands to
	// WatcherOptions.OnError when the kernel's queue overflowed: events
	// were lost, how many is unknown (counted in WatcherStats.Overflows).
	ErrOverflow = errors.New("fusebridge: kernel event queue overflow: events lost")
	// ErrMalformedRecord is wrapped by the error a [Watcher] hands to
	// WatcherOptions.OnError for a kernel record that does not decode; the
	// error also says which record type and at which byte.
	ErrMalformedRecord = errors.New("fusebridge: malformed kernel record")
)

// MountError reports a mount or unmount that failed: which operation, on
// which mountpoint, and why.
type MountError struct {
	Op         string // "mount" or "unmount"
	Mountpoint string
	Err        error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("fusebridge: %s %s: %v", e.Op, e.Mountpoint, e.Err)
}

// Unwrap returns the cause.
func (e *MountError) Unwrap() error { return e.Err }
