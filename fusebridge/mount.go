package fusebridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
)

// MountOptions configure [MountFS]. A nil *MountOptions means defaults.
type MountOptions struct {
	// FsName is the source shown in /proc/mounts. Default "semevent".
	FsName string
	// EntryTimeout and AttrTimeout are the kernel's cache lifetimes for
	// names and attributes. Default one second each, go-fuse's default.
	EntryTimeout, AttrTimeout time.Duration
	// Debug logs every FUSE request.
	Debug bool
	// AllowOther lets users other than the mounting one use the mount.
	AllowOther bool
}

// Every long-lived component of the package has semevent's one Close.
var (
	_ semevent.Closer = (*Mount)(nil)
	_ semevent.Closer = (*Bridge)(nil)
	_ semevent.Closer = (*Watcher)(nil)
	_ semevent.Closer = (*ShmChannel)(nil)
	_ semevent.Closer = (*ShmWriter)(nil)
)

// Mount is a mounted FUSE file system, made by [MountFS].
type Mount struct {
	Dir    string
	server *fuse.Server

	once sync.Once
	err  error
}

// Available reports whether this process can mount FUSE file systems
// here, and if not, an error wrapping [ErrNoFUSE] that names what is
// missing.
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: /dev/fuse: %v", ErrNoFUSE, err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: mounting without fusermount needs root (euid %d)", ErrNoFUSE, os.Geteuid())
	}
	return nil
}

// MountFS mounts root at the directory dir, which must exist, and serves
// it until [Mount.Close]. It mounts directly with mount(2) (no
// fusermount) and so needs root and /dev/fuse; otherwise it returns a
// *[MountError] wrapping [ErrNoFUSE].
func MountFS(dir string, root fs.InodeEmbedder, opts *MountOptions) (*Mount, error) {
	if err := Available(); err != nil {
		return nil, &MountError{Op: "mount", Mountpoint: dir, Err: err}
	}
	var o MountOptions
	if opts != nil {
		o = *opts
	}
	if o.FsName == "" {
		o.FsName = "semevent"
	}
	if o.EntryTimeout == 0 {
		o.EntryTimeout = time.Second
	}
	if o.AttrTimeout == 0 {
		o.AttrTimeout = time.Second
	}
	fo := &fs.Options{
		EntryTimeout: &o.EntryTimeout,
		AttrTimeout:  &o.AttrTimeout,
		MountOptions: fuse.MountOptions{
			DirectMount: true,
			FsName:      o.FsName,
			Name:        "semevent",
			Debug:       o.Debug,
			AllowOther:  o.AllowOther,
		},
	}
	server, err := fs.Mount(dir, root, fo)
	if err != nil {
		return nil, &MountError{Op: "mount", Mountpoint: dir, Err: err}
	}
	return &Mount{Dir: dir, server: server}, nil
}

// Close unmounts the file system and waits for the server to stop, or
// for ctx to end (then it returns ctx's error; the server stops by
// itself when the kernel lets go). While a file inside the mount is open
// the kernel refuses (EBUSY); Close retries for about a second (or until
// ctx ends) and then detaches the mount lazily (MNT_DETACH), so that
// nothing stays mounted; the server then stops when the last open file is
// closed. Calling Close again returns the first result.
func (m *Mount) Close(ctx context.Context) error {
	m.once.Do(func() { m.err = m.unmount(ctx) })
	return m.err
}

func (m *Mount) unmount(ctx context.Context) error {
	var err error
	delay := 5 * time.Millisecond
	for try := 0; try < 8; try++ {
		if err = unix.Unmount(m.Dir, 0); err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			try = 8
		}
		delay *= 2
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
		if derr := unix.Unmount(m.Dir, unix.MNT_DETACH); derr != nil {
			return &MountError{Op: "unmount", Mountpoint: m.Dir, Err: errors.Join(err, derr)}
		}
		return nil // detached; the server ends with the last open file
	}
	done := make(chan struct{})
	go func() { m.server.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return &MountError{Op: "unmount", Mountpoint: m.Dir, Err: fmt.Errorf("server still running: %w", ctx.Err())}
	}
	return nil
}

// Server returns the go-fuse server, for its statistics and debugging.
func (m *Mount) Server() *fuse.Server { return m.server }
