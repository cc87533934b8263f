package journaltest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vexfs/semevent/propagation/journal"
)

// CrashFS is an in-memory [journal.FS] that models what survives a crash,
// in the spirit of pebble's vfs.NewCrashableMem. It keeps, for every file,
// the bytes written and the bytes as of its last fsync, and for every
// directory, its entries and the entries as of its last SyncDir.
//
//   - [CrashFS.Kill] models the death of the process (SIGKILL): everything
//     written to the FS survives; nothing more is written by the dead
//     process. What was not yet fsynced is still not durable in the clone.
//   - [CrashFS.PowerLoss] models a power loss: only fsynced file bytes and
//     fsynced directory entries survive. A file survives only under a name
//     that its directory's last SyncDir saw, and a directory only if its
//     own parent's last SyncDir saw it.
//
// Both return an independent clone; the original keeps working, so the
// journal using it can be closed afterwards without touching the image.
// Paths are slash-separated; relative paths are taken from "/". A CrashFS
// is a [journal.Locker] (locks are per CrashFS). It is safe for concurrent
// use.
type CrashFS struct {
	mu    sync.Mutex // guards everything below and every node
	root  *node
	locks map[string]bool
	now   func() time.Time
}

var (
	_ journal.FS     = (*CrashFS)(nil)
	_ journal.Locker = (*CrashFS)(nil)
)

type node struct {
	dir     bool
	modTime time.Time
	// files
	data   []byte
	synced []byte // data as of the last fsync
	// directories
	children map[string]*node
	durable  map[string]*node // children as of the last SyncDir
}

func newDir(now time.Time) *node {
	return &node{dir: true, modTime: now, children: map[string]*node{}, durable: map[string]*node{}}
}

// NewCrashFS returns an empty CrashFS holding only the root directory.
func NewCrashFS() *CrashFS {
	return &CrashFS{root: newDir(time.Now()), locks: map[string]bool{}, now: time.Now}
}

// Kill returns the file system as the next process finds it after this one
// was killed: every written byte and every directory entry, with the same
// fsync state (a later PowerLoss of the clone still drops what was never
// fsynced).
func (f *CrashFS) Kill() *CrashFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[*node]*node{}
	var clone func(n *node) *node
	clone = func(n *node) *node {
		if c, ok := seen[n]; ok {
			return c
		}
		c := &node{dir: n.dir, modTime: n.modTime, data: bytes.Clone(n.data), synced: bytes.Clone(n.synced)}
		seen[n] = c
		if n.dir {
			c.children = make(map[string]*node, len(n.children))
			c.durable = make(map[string]*node, len(n.durable))
			for name, ch := range n.children {
				c.children[name] = clone(ch)
			}
			for name, ch := range n.durable {
				c.durable[name] = clone(ch)
			}
		}
		return c
	}
	return &CrashFS{root: clone(f.root), locks: map[string]bool{}, now: f.now}
}

// PowerLoss returns the file system as it is after a power loss: only
// fsynced bytes and fsynced directory entries. With r nil every unsynced
// byte is lost. With r set, each file keeps a random part of what was
// written after its last fsync, as a disk may: a random prefix of it when
// the file only grew, and sometimes that prefix with its last 512-byte
// sector zeroed. Directory entries never survive unless synced.
func (f *CrashFS) PowerLoss(r *rand.Rand) *CrashFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[*node]*node{}
	var clone func(n *node) *node
	clone = func(n *node) *node {
		if c, ok := seen[n]; ok {
			return c
		}
		c := &node{dir: n.dir, modTime: n.modTime}
		seen[n] = c
		if n.dir {
			c.children = make(map[string]*node, len(n.durable))
			c.durable = make(map[string]*node, len(n.durable))
			for name, ch := range n.durable {
				cc := clone(ch)
				c.children[name], c.durable[name] = cc, cc
			}
			return c
		}
		c.data = bytes.Clone(n.synced)
		if r != nil && len(n.data) > len(n.synced) && bytes.HasPrefix(n.data, n.synced) && r.IntN(2) == 0 {
			keep := len(n.synced) + r.IntN(len(n.data)-len(n.synced)+1)
			c.data = bytes.Clone(n.data[:keep])
			if r.IntN(4) == 0 && keep > len(n.synced) {
				z := max(len(n.synced), (keep-1)/512*512)
				clear(c.data[z:])
			}
		}
		c.synced = bytes.Clone(c.data)
		return c
	}
	return &CrashFS{root: clone(f.root), locks: map[string]bool{}, now: f.now}
}

// split cleans name and returns its elements below the root.
func split(name string) []string {
	p := path.Clean("/" + filepath.ToSlash(name))
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// lookupLocked returns the node at name, or nil.
func (f *CrashFS) lookupLocked(name string) *node {
	n := f.root
	for _, e := range split(name) {
		if !n.dir {
			return nil
		}
		if n = n.children[e]; n == nil {
			return nil
		}
	}
	return n
}

// parentLocked returns the directory holding name and name's last element.
func (f *CrashFS) parentLocked(op, name string) (*node, string, error) {
	els := split(name)
	if len(els) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	d := f.lookupLocked("/" + strings.Join(els[:len(els)-1], "/"))
	if d == nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if !d.dir {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return d, els[len(els)-1], nil
}

// OpenFile opens or creates a file. O_CREATE, O_EXCL, O_TRUNC, O_APPEND and
// the access modes are honoured. A directory may be opened read-only.
func (f *CrashFS) OpenFile(name string, flag int, perm fs.FileMode) (journal.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, base, err := f.parentLocked("open", name)
	if err != nil {
		if len(split(name)) == 0 && flag&(os.O_WRONLY|os.O_RDWR) == 0 {
			return &crashFile{fs: f, n: f.root, name: name, flag: flag}, nil
		}
		return nil, err
	}
	n := d.children[base]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case n != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case n != nil && n.dir && flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case n == nil:
		n = &node{modTime: f.now()}
		d.children[base] = n
	}
	if flag&os.O_TRUNC != 0 && !n.dir {
		n.data = n.data[:0:0]
	}
	return &crashFile{fs: f, n: n, name: name, flag: flag}, nil
}

// Remove removes a file or an empty directory.
func (f *CrashFS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, base, err := f.parentLocked("remove", name)
	if err != nil {
		return err
	}
	n := d.children[base]
	if n == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.dir && len(n.children) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(d.children, base)
	return nil
}

// Rename moves a file, replacing newpath if it exists.
func (f *CrashFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	od, ob, err := f.parentLocked("rename", oldpath)
	if err != nil {
		return err
	}
	nd, nb, err := f.parentLocked("rename", newpath)
	if err != nil {
		return err
	}
	n := od.children[ob]
	if n == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

// ReadDir lists a directory, sorted by name.
func (f *CrashFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.lookupLocked(name)
	if d == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if !d.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	out := make([]fs.DirEntry, 0, len(d.children))
	for n, c := range d.children {
		out = append(out, fs.FileInfoToDirEntry(infoOf(n, c)))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// MkdirAll creates a directory and any missing parents. The new entries
// are durable only once their parents are synced.
func (f *CrashFS) MkdirAll(name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.root
	for _, e := range split(name) {
		c := n.children[e]
		if c == nil {
			c = newDir(f.now())
			n.children[e] = c
		}
		if !c.dir {
			return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
		}
		n = c
	}
	return nil
}

// MkdirAllDurable creates a directory and any missing parents and syncs
// every level into its parent, as a directory that existed before a test
// started would be: for tests that give a journal an existing parent.
func (f *CrashFS) MkdirAllDurable(name string) error {
	if err := f.MkdirAll(name, 0o755); err != nil {
		return err
	}
	els := split(name)
	for i := range len(els) + 1 {
		if err := f.SyncDir("/" + strings.Join(els[:i], "/")); err != nil {
			return err
		}
	}
	return nil
}

// SyncDir makes the directory's current entries durable.
func (f *CrashFS) SyncDir(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.lookupLocked(name)
	if d == nil || !d.dir {
		return &fs.PathError{Op: "fsync", Path: name, Err: fs.ErrNotExist}
	}
	d.durable = maps(d.children)
	return nil
}

func maps(m map[string]*node) map[string]*node {
	c := make(map[string]*node, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Lock takes a lock on name that only this CrashFS knows about.
func (f *CrashFS) Lock(name string) (io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := path.Clean("/" + filepath.ToSlash(name))
	if f.locks[key] {
		return nil, &fs.PathError{Op: "lock", Path: name, Err: journal.ErrLocked}
	}
	f.locks[key] = true
	return closerFunc(func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.locks, key)
		return nil
	}), nil
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// ReadFile returns a copy of a file's current contents.
func (f *CrashFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.lookupLocked(name)
	if n == nil || n.dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(n.data), nil
}

// WriteFile replaces a file's contents, durably (file and directory entry
// fsynced), creating it if needed: for tests that plant files.
func (f *CrashFS) WriteFile(name string, data []byte) error {
	file, err := f.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := file.Write(data); err != nil {
		return err
	}
	if err := errors.Join(file.Sync(), file.Close()); err != nil {
		return err
	}
	return f.SyncDir(path.Dir(path.Clean("/" + filepath.ToSlash(name))))
}

type crashFile struct {
	fs     *CrashFS
	n      *node
	name   string
	flag   int
	pos    int64
	closed bool
}

func (c *crashFile) check(op string, write bool) error {
	switch {
	case c.closed:
		return &fs.PathError{Op: op, Path: c.name, Err: fs.ErrClosed}
	case c.n.dir && op != "fsync" && op != "stat":
		return &fs.PathError{Op: op, Path: c.name, Err: syscall.EISDIR}
	case write && c.flag&(os.O_WRONLY|os.O_RDWR) == 0:
		return &fs.PathError{Op: op, Path: c.name, Err: syscall.EBADF}
	case !write && op == "read" && c.flag&os.O_WRONLY != 0:
		return &fs.PathError{Op: op, Path: c.name, Err: syscall.EBADF}
	}
	return nil
}

func (c *crashFile) Read(p []byte) (int, error) {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if err := c.check("read", false); err != nil {
		return 0, err
	}
	if c.pos >= int64(len(c.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, c.n.data[c.pos:])
	c.pos += int64(n)
	return n, nil
}

func (c *crashFile) ReadAt(p []byte, off int64) (int, error) {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if err := c.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: c.name, Err: syscall.EINVAL}
	}
	if off >= int64(len(c.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, c.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (c *crashFile) Write(p []byte) (int, error) {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if err := c.check("write", true); err != nil {
		return 0, err
	}
	if c.flag&os.O_APPEND != 0 {
		c.pos = int64(len(c.n.data))
	}
	if end := c.pos + int64(len(p)); end > int64(len(c.n.data)) {
		c.n.data = append(c.n.data, make([]byte, end-int64(len(c.n.data)))...)
	}
	copy(c.n.data[c.pos:], p)
	c.pos += int64(len(p))
	c.n.modTime = c.fs.now()
	return len(p), nil
}

func (c *crashFile) Close() error {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if c.closed {
		return &fs.PathError{Op: "close", Path: c.name, Err: fs.ErrClosed}
	}
	c.closed = true
	return nil
}

// Sync makes the file's bytes durable (a directory's entries for a
// directory opened read-only).
func (c *crashFile) Sync() error {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if err := c.check("fsync", false); err != nil {
		return err
	}
	if c.n.dir {
		c.n.durable = maps(c.n.children)
		return nil
	}
	c.n.synced = bytes.Clone(c.n.data)
	return nil
}

func (c *crashFile) Truncate(size int64) error {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if err := c.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: c.name, Err: syscall.EINVAL}
	}
	if size <= int64(len(c.n.data)) {
		c.n.data = c.n.data[:size:size]
	} else {
		c.n.data = append(c.n.data, make([]byte, size-int64(len(c.n.data)))...)
	}
	return nil
}

func (c *crashFile) Stat() (fs.FileInfo, error) {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if err := c.check("stat", false); err != nil {
		return nil, err
	}
	return infoOf(path.Base(path.Clean("/"+filepath.ToSlash(c.name))), c.n), nil
}

// info is a snapshot of a node's metadata.
type info struct {
	name string
	dir  bool
	size int64
	mod  time.Time
}

func infoOf(name string, n *node) info {
	return info{name: name, dir: n.dir, size: int64(len(n.data)), mod: n.modTime}
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i info) ModTime() time.Time { return i.mod }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }
