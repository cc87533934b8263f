package fusebridge

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
)

// eventNode wraps a user's node. go-fuse picks the operations a node
// supports by type assertion, so eventNode implements every operation
// interface and, for those the wrapped node lacks, does what go-fuse does
// for a node without them.
type eventNode struct {
	fs.InodeEmbedder // the wrapped node; its Inode is this node's Inode
	b                *Bridge

	mu        sync.Mutex // guards dirty and dirtyPath
	dirty     bool       // changed without a handle since a write session last ended
	dirtyPath string     // the path when it became dirty
}

// markDirty records a change to the file's content or modification time
// made without a handle (truncate(2), utimes(2), the truncate of an
// open(O_TRUNC)), as the kernel does (fsnotify's FS_MODIFY): the next
// session of any handle open for writing reports it, as the kernel's
// next close-after-write does. The first such change fixes the path.
// Changes made through a handle belong to that handle's session
// ([eventFile.markDirty]).
func (n *eventNode) markDirty() {
	n.mu.Lock()
	if !n.dirty {
		n.dirty = true
		n.dirtyPath = n.path()
	}
	n.mu.Unlock()
}

// modified records a change to the file through ef, or without a handle
// when ef is nil.
func (n *eventNode) modified(ef *eventFile) {
	if ef != nil {
		ef.markDirty()
		return
	}
	n.markDirty()
}

// takeDirty ends the dirty period and returns its path.
func (n *eventNode) takeDirty() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.dirty {
		return "", false
	}
	n.dirty = false
	return n.dirtyPath, true
}

// Interface checks: every operation interface eventNode forwards.
var (
	_ fs.NodeWrapChilder    = (*eventNode)(nil)
	_ fs.NodeOnAdder        = (*eventNode)(nil)
	_ fs.NodeOnForgetter    = (*eventNode)(nil)
	_ fs.NodeLookuper       = (*eventNode)(nil)
	_ fs.NodeGetattrer      = (*eventNode)(nil)
	_ fs.NodeSetattrer      = (*eventNode)(nil)
	_ fs.NodeStatxer        = (*eventNode)(nil)
	_ fs.NodeAccesser       = (*eventNode)(nil)
	_ fs.NodeStatfser       = (*eventNode)(nil)
	_ fs.NodeOpener         = (*eventNode)(nil)
	_ fs.NodeCreater        = (*eventNode)(nil)
	_ fs.NodeReader         = (*eventNode)(nil)
	_ fs.NodeWriter         = (*eventNode)(nil)
	_ fs.NodeWritever       = (*eventNode)(nil)
	_ fs.NodeFlusher        = (*eventNode)(nil)
	_ fs.NodeReleaser       = (*eventNode)(nil)
	_ fs.NodeFsyncer        = (*eventNode)(nil)
	_ fs.NodeLseeker        = (*eventNode)(nil)
	_ fs.NodeAllocater      = (*eventNode)(nil)
	_ fs.NodeCopyFileRanger = (*eventNode)(nil)
	_ fs.NodeGetlker        = (*eventNode)(nil)
	_ fs.NodeSetlker        = (*eventNode)(nil)
	_ fs.NodeSetlkwer       = (*eventNode)(nil)
	_ fs.NodeIoctler        = (*eventNode)(nil)
	_ fs.NodeMkdirer        = (*eventNode)(nil)
	_ fs.NodeMknoder        = (*eventNode)(nil)
	_ fs.NodeSymlinker      = (*eventNode)(nil)
	_ fs.NodeLinker         = (*eventNode)(nil)
	_ fs.NodeReadlinker     = (*eventNode)(nil)
	_ fs.NodeUnlinker       = (*eventNode)(nil)
	_ fs.NodeRmdirer        = (*eventNode)(nil)
	_ fs.NodeRenamer        = (*eventNode)(nil)
	_ fs.NodeOpendirer      = (*eventNode)(nil)
	_ fs.NodeReaddirer      = (*eventNode)(nil)
	_ fs.NodeGetxattrer     = (*eventNode)(nil)
	_ fs.NodeSetxattrer     = (*eventNode)(nil)
	_ fs.NodeRemovexattrer  = (*eventNode)(nil)
	_ fs.NodeListxattrer    = (*eventNode)(nil)
)

// path returns the node's path in the mount, "/" for the root.
func (n *eventNode) path() string { return "/" + n.EmbeddedInode().Path(nil) }

// child returns the path of name in directory n.
func (n *eventNode) child(name string) string {
	p := n.EmbeddedInode().Path(nil)
	if p == "" {
		return "/" + name
	}
	return "/" + p + "/" + name
}

// emit queues an event of kind k at path for op, after fill (may be nil)
// adjusted it.
func (n *eventNode) emit(ctx context.Context, k semevent.Kind, path, op string, fill func(ev *semevent.Event)) {
	ev := n.b.event(ctx, k, path, op)
	if ev == nil {
		return
	}
	if fill != nil {
		fill(ev)
	}
	if n.Inode().StableAttr().Ino != 0 && ev.Inode == 0 {
		ev.Inode = n.Inode().StableAttr().Ino
	}
	n.b.emit(ctx, ev)
}

// Inode returns the node's go-fuse Inode.
func (n *eventNode) Inode() *fs.Inode { return n.EmbeddedInode() }

// unwrapFile returns the user's handle inside f.
func unwrapFile(f fs.FileHandle) fs.FileHandle {
	if ef, ok := f.(*eventFile); ok {
		return ef.fh
	}
	if pf, ok := f.(*passthroughFile); ok {
		return pf.fh
	}
	return f
}

func eventFileOf(f fs.FileHandle) *eventFile {
	switch f := f.(type) {
	case *eventFile:
		return f
	case *passthroughFile:
		return f.eventFile
	}
	return nil
}

func (n *eventNode) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if wc, ok := n.InodeEmbedder.(fs.NodeWrapChilder); ok {
		ops = wc.WrapChild(ctx, ops)
	}
	return n.b.Wrap(ops)
}

func (n *eventNode) OnAdd(ctx context.Context) {
	if a, ok := n.InodeEmbedder.(fs.NodeOnAdder); ok {
		a.OnAdd(ctx)
	}
}

func (n *eventNode) OnForget() {
	if f, ok := n.InodeEmbedder.(fs.NodeOnForgetter); ok {
		f.OnForget()
	}
}

func (n *eventNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if l, ok := n.InodeEmbedder.(fs.NodeLookuper); ok {
		return l.Lookup(ctx, name, out)
	}
	ch := n.Inode().GetChild(name)
	if ch == nil {
		return nil, syscall.ENOENT
	}
	if ga, ok := ch.Operations().(fs.NodeGetattrer); ok {
		var a fuse.AttrOut
		if ga.Getattr(ctx, nil, &a) == 0 {
			out.Attr = a.Attr
		}
	}
	return ch, 0
}

func (n *eventNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f = unwrapFile(f)
	if g, ok := n.InodeEmbedder.(fs.NodeGetattrer); ok {
		return g.Getattr(ctx, f, out)
	}
	if g, ok := f.(fs.FileGetattrer); ok {
		return g.Getattr(ctx, out)
	}
	return 0
}

func (n *eventNode) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	f = unwrapFile(f)
	if s, ok := n.InodeEmbedder.(fs.NodeStatxer); ok {
		return s.Statx(ctx, f, flags, mask, out)
	}
	if s, ok := f.(fs.FileStatxer); ok {
		return s.Statx(ctx, flags, mask, out)
	}
	return syscall.ENOSYS
}

func (n *eventNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	uf := unwrapFile(f)
	var errno syscall.Errno
	if s, ok := n.InodeEmbedder.(fs.NodeSetattrer); ok {
		errno = s.Setattr(ctx, uf, in, out)
	} else if s, ok := uf.(fs.FileSetattrer); ok {
		errno = s.Setattr(ctx, in, out)
	} else {
		errno = syscall.ENOTSUP
	}
	if errno != 0 {
		return errno
	}
	path := n.path()
	_, mok := in.GetMTime()
	_, aok := in.GetATime()
	sz, sok := in.GetSize()
	ef := eventFileOf(f)
	if sok || mok && !aok {
		// The kernel reports a new size, or a new mtime alone, as a
		// modification (fsnotify_change): of the handle's session when
		// it came through one (ftruncate, futimens).
		n.modified(ef)
	}
	if sok {
		n.emit(ctx, semevent.KindFileTruncate, path, "setattr", func(ev *semevent.Event) { ev.Size = int64(sz) })
	}
	var set []string
	if _, ok := in.GetMode(); ok {
		set = append(set, "mode")
	}
	_, uok := in.GetUID()
	_, gok := in.GetGID()
	if uok || gok {
		set = append(set, "owner")
	}
	if mok || aok {
		set = append(set, "times")
	}
	if len(set) > 0 {
		n.emit(ctx, semevent.KindFileChmod, path, "setattr", func(ev *semevent.Event) {
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrSet, Value: strings.Join(set, ",")})
		})
	}
	return 0
}

func (n *eventNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	if a, ok := n.InodeEmbedder.(fs.NodeAccesser); ok {
		return a.Access(ctx, mask)
	}
	var out fuse.AttrOut
	if errno := n.Getattr(ctx, nil, &out); errno != 0 {
		return errno
	}
	c, ok := fuse.FromContext(ctx)
	if !ok || hasAccess(c.Uid, c.Gid, out.Uid, out.Gid, out.Mode, mask) {
		return 0
	}
	return syscall.EACCES
}

// hasAccess is go-fuse's default permission check for nodes without
// Access: root may do anything, others get the owner, group or other bits.
func hasAccess(uid, gid, fuid, fgid, perm, mask uint32) bool {
	if uid == 0 {
		return true
	}
	mask &= 7
	switch {
	case uid == fuid:
		return (perm>>6)&mask == mask
	case gid == fgid:
		return (perm>>3)&mask == mask
	}
	return perm&mask == mask
}

func (n *eventNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	if s, ok := n.InodeEmbedder.(fs.NodeStatfser); ok {
		return s.Statfs(ctx, out)
	}
	return 0
}

func (n *eventNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	o, ok := n.InodeEmbedder.(fs.NodeOpener)
	if !ok {
		return nil, 0, syscall.ENOTSUP
	}
	fh, fflags, errno := o.Open(ctx, flags)
	if errno != 0 {
		return fh, fflags, errno
	}
	path := n.path()
	wf := n.b.wrapFile(ctx, n, fh, flags)
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		n.modified(eventFileOf(wf))
		n.emit(ctx, semevent.KindFileTruncate, path, "open", nil)
	}
	n.emit(ctx, semevent.KindFileOpen, path, "open", func(ev *semevent.Event) {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrFlags, Value: strconv.FormatUint(uint64(flags), 16)})
	})
	return wf, fflags, 0
}

func (n *eventNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	c, ok := n.InodeEmbedder.(fs.NodeCreater)
	if !ok {
		return nil, nil, 0, syscall.EROFS
	}
	ch, fh, fflags, errno := c.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, fflags, errno
	}
	n.emit(ctx, semevent.KindFileCreate, n.child(name), "create", func(ev *semevent.Event) { ev.Inode = out.Ino })
	cn, _ := ch.Operations().(*eventNode)
	if cn == nil {
		return ch, fh, fflags, 0
	}
	return ch, n.b.wrapFile(ctx, cn, fh, flags), fflags, 0
}

func (n *eventNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	uf := unwrapFile(f)
	var res fuse.ReadResult
	var errno syscall.Errno
	if r, ok := n.InodeEmbedder.(fs.NodeReader); ok {
		res, errno = r.Read(ctx, uf, dest, off)
	} else if r, ok := uf.(fs.FileReader); ok {
		res, errno = r.Read(ctx, dest, off)
	} else {
		return nil, syscall.ENOTSUP
	}
	if errno == 0 && n.b.want[semevent.KindFileRead] {
		size := int64(len(dest))
		if res != nil {
			size = int64(res.Size())
		}
		n.emit(ctx, semevent.KindFileRead, n.path(), "read", func(ev *semevent.Event) { ev.Offset, ev.Size = off, size })
	}
	return res, errno
}

func (n *eventNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	uf := unwrapFile(f)
	var w uint32
	var errno syscall.Errno
	if wr, ok := n.InodeEmbedder.(fs.NodeWriter); ok {
		w, errno = wr.Write(ctx, uf, data, off)
	} else if wr, ok := n.InodeEmbedder.(fs.NodeWritever); ok {
		w, errno = wr.Writev(ctx, uf, [][]byte{data}, off)
	} else if wr, ok := uf.(fs.FileWriter); ok {
		w, errno = wr.Write(ctx, data, off)
	} else if wr, ok := uf.(fs.FileWritever); ok {
		w, errno = wr.Writev(ctx, [][]byte{data}, off)
	} else {
		return 0, syscall.ENOTSUP
	}
	if errno == 0 {
		n.wrote(ctx, f, off, int64(w))
	}
	return w, errno
}

func (n *eventNode) Writev(ctx context.Context, f fs.FileHandle, data [][]byte, off int64) (uint32, syscall.Errno) {
	uf := unwrapFile(f)
	var w uint32
	var errno syscall.Errno
	if wr, ok := n.InodeEmbedder.(fs.NodeWritever); ok {
		w, errno = wr.Writev(ctx, uf, data, off)
	} else if wr, ok := uf.(fs.FileWritever); ok {
		w, errno = wr.Writev(ctx, data, off)
	} else {
		var flat []byte
		for _, d := range data {
			flat = append(flat, d...)
		}
		return n.Write(ctx, f, flat, off)
	}
	if errno == 0 {
		n.wrote(ctx, f, off, int64(w))
	}
	return w, errno
}

// wrote records a successful write of size bytes at off through f.
func (n *eventNode) wrote(ctx context.Context, f fs.FileHandle, off, size int64) {
	ef := eventFileOf(f)
	n.modified(ef)
	if ef != nil {
		ef.wrote(off, size)
	}
	if n.b.opts.Writes != WriteSessions {
		n.emit(ctx, semevent.KindFileWrite, n.path(), "write", func(ev *semevent.Event) { ev.Offset, ev.Size = off, size })
	}
}

func (n *eventNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno {
	uf := unwrapFile(f)
	var errno syscall.Errno
	if fl, ok := n.InodeEmbedder.(fs.NodeFlusher); ok {
		errno = fl.Flush(ctx, uf)
	} else if fl, ok := uf.(fs.FileFlusher); ok {
		errno = fl.Flush(ctx)
	}
	if errno == 0 {
		n.emit(ctx, semevent.KindFileClose, n.path(), "flush", nil)
	}
	return errno
}

func (n *eventNode) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	uf := unwrapFile(f)
	ef := eventFileOf(f)
	if ef != nil {
		ef.beforeRelease(ctx)
	}
	var errno syscall.Errno
	if r, ok := n.InodeEmbedder.(fs.NodeReleaser); ok {
		errno = r.Release(ctx, uf)
	} else if r, ok := uf.(fs.FileReleaser); ok {
		errno = r.Release(ctx)
	}
	if ef != nil {
		ef.released(ctx)
	}
	n.emit(ctx, semevent.KindFileClose, n.path(), "release", func(ev *semevent.Event) {
		if ef != nil {
			ef.caller(ev)
		}
	})
	return errno
}

func (n *eventNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	uf := unwrapFile(f)
	if s, ok := n.InodeEmbedder.(fs.NodeFsyncer); ok {
		return s.Fsync(ctx, uf, flags)
	}
	if s, ok := uf.(fs.FileFsyncer); ok {
		return s.Fsync(ctx, flags)
	}
	return syscall.ENOTSUP
}

func (n *eventNode) Lseek(ctx context.Context, f fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	uf := unwrapFile(f)
	if s, ok := n.InodeEmbedder.(fs.NodeLseeker); ok {
		return s.Lseek(ctx, uf, off, whence)
	}
	if s, ok := uf.(fs.FileLseeker); ok {
		return s.Lseek(ctx, off, whence)
	}
	return 0, syscall.ENOTSUP
}

func (n *eventNode) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	uf := unwrapFile(f)
	var errno syscall.Errno
	if a, ok := n.InodeEmbedder.(fs.NodeAllocater); ok {
		errno = a.Allocate(ctx, uf, off, size, mode)
	} else if a, ok := uf.(fs.FileAllocater); ok {
		errno = a.Allocate(ctx, off, size, mode)
	} else {
		return syscall.ENOTSUP
	}
	if errno == 0 {
		n.modified(eventFileOf(f))
	}
	return errno
}

func (n *eventNode) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	c, ok := n.InodeEmbedder.(fs.NodeCopyFileRanger)
	if !ok {
		return 0, syscall.ENOTSUP
	}
	w, errno := c.CopyFileRange(ctx, unwrapFile(fhIn), offIn, out, unwrapFile(fhOut), offOut, length, flags)
	if errno == 0 {
		if on, ok := out.Operations().(*eventNode); ok {
			on.wrote(ctx, fhOut, int64(offOut), int64(w))
		}
	}
	return w, errno
}

func (n *eventNode) Getlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	uf := unwrapFile(f)
	if l, ok := n.InodeEmbedder.(fs.NodeGetlker); ok {
		return l.Getlk(ctx, uf, owner, lk, flags, out)
	}
	if l, ok := uf.(fs.FileGetlker); ok {
		return l.Getlk(ctx, owner, lk, flags, out)
	}
	return syscall.ENOTSUP
}

func (n *eventNode) Setlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	uf := unwrapFile(f)
	if l, ok := n.InodeEmbedder.(fs.NodeSetlker); ok {
		return l.Setlk(ctx, uf, owner, lk, flags)
	}
	if l, ok := uf.(fs.FileSetlker); ok {
		return l.Setlk(ctx, owner, lk, flags)
	}
	return syscall.ENOTSUP
}

func (n *eventNode) Setlkw(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	uf := unwrapFile(f)
	if l, ok := n.InodeEmbedder.(fs.NodeSetlkwer); ok {
		return l.Setlkw(ctx, uf, owner, lk, flags)
	}
	if l, ok := uf.(fs.FileSetlkwer); ok {
		return l.Setlkw(ctx, owner, lk, flags)
	}
	return syscall.ENOTSUP
}

func (n *eventNode) Ioctl(ctx context.Context, f fs.FileHandle, cmd uint32, arg uint64, input []byte, output []byte) (int32, syscall.Errno) {
	uf := unwrapFile(f)
	if i, ok := n.InodeEmbedder.(fs.NodeIoctler); ok {
		return i.Ioctl(ctx, uf, cmd, arg, input, output)
	}
	if i, ok := uf.(fs.FileIoctler); ok {
		return i.Ioctl(ctx, cmd, arg, input, output)
	}
	return 0, syscall.ENOTTY
}

func (n *eventNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	m, ok := n.InodeEmbedder.(fs.NodeMkdirer)
	if !ok {
		return nil, syscall.ENOTSUP
	}
	ch, errno := m.Mkdir(ctx, name, mode, out)
	if errno == 0 {
		n.emit(ctx, semevent.KindDirCreate, n.child(name), "mkdir", func(ev *semevent.Event) { ev.Inode = out.Ino })
	}
	return ch, errno
}

func (n *eventNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	m, ok := n.InodeEmbedder.(fs.NodeMknoder)
	if !ok {
		return nil, syscall.ENOTSUP
	}
	ch, errno := m.Mknod(ctx, name, mode, dev, out)
	if errno == 0 {
		n.emit(ctx, semevent.KindFileCreate, n.child(name), "mknod", func(ev *semevent.Event) {
			ev.Inode = out.Ino
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrType, Value: "node"})
		})
	}
	return ch, errno
}

func (n *eventNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	s, ok := n.InodeEmbedder.(fs.NodeSymlinker)
	if !ok {
		return nil, syscall.ENOTSUP
	}
	ch, errno := s.Symlink(ctx, target, name, out)
	if errno == 0 {
		n.emit(ctx, semevent.KindFileCreate, n.child(name), "symlink", func(ev *semevent.Event) {
			ev.Inode = out.Ino
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrType, Value: "symlink"})
		})
	}
	return ch, errno
}

func (n *eventNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	l, ok := n.InodeEmbedder.(fs.NodeLinker)
	if !ok {
		return nil, syscall.ENOTSUP
	}
	ch, errno := l.Link(ctx, Unwrap(target), name, out)
	if errno == 0 {
		n.emit(ctx, semevent.KindFileCreate, n.child(name), "link", func(ev *semevent.Event) {
			ev.Inode = out.Ino
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrType, Value: "link"})
		})
	}
	return ch, errno
}

func (n *eventNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if r, ok := n.InodeEmbedder.(fs.NodeReadlinker); ok {
		return r.Readlink(ctx)
	}
	return nil, syscall.ENOTSUP
}

func (n *eventNode) Unlink(ctx context.Context, name string) syscall.Errno {
	path := n.child(name)
	var errno syscall.Errno
	if u, ok := n.InodeEmbedder.(fs.NodeUnlinker); ok {
		errno = u.Unlink(ctx, name)
	}
	if errno == 0 {
		n.emit(ctx, semevent.KindFileDelete, path, "unlink", nil)
	}
	return errno
}

func (n *eventNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	path := n.child(name)
	var errno syscall.Errno
	if r, ok := n.InodeEmbedder.(fs.NodeRmdirer); ok {
		errno = r.Rmdir(ctx, name)
	}
	if errno == 0 {
		n.emit(ctx, semevent.KindDirDelete, path, "rmdir", nil)
	}
	return errno
}

func (n *eventNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	r, ok := n.InodeEmbedder.(fs.NodeRenamer)
	if !ok {
		return syscall.ENOTSUP
	}
	oldPath := n.child(name)
	newPath := "/" + newName
	if np, ok := newParent.(*eventNode); ok {
		newPath = np.child(newName)
	} else if p := newParent.EmbeddedInode().Path(nil); p != "" {
		newPath = "/" + p + "/" + newName
	}
	errno := r.Rename(ctx, name, Unwrap(newParent), newName, flags)
	if errno == 0 {
		n.emit(ctx, semevent.KindFileRename, newPath, "rename", func(ev *semevent.Event) {
			ev.OldPath = oldPath
			if flags&fs.RENAME_EXCHANGE != 0 {
				ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrExchanged, Value: "true"})
			}
		})
	}
	return errno
}

func (n *eventNode) Opendir(ctx context.Context) syscall.Errno {
	if o, ok := n.InodeEmbedder.(fs.NodeOpendirer); ok {
		return o.Opendir(ctx)
	}
	return 0
}

func (n *eventNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if r, ok := n.InodeEmbedder.(fs.NodeReaddirer); ok {
		return r.Readdir(ctx)
	}
	if o, ok := n.InodeEmbedder.(fs.NodeOpendirHandler); ok {
		fh, _, errno := o.OpendirHandle(ctx, 0)
		if errno != 0 {
			return nil, errno
		}
		return &handleDirStream{ctx: ctx, fh: fh}, 0
	}
	var list []fuse.DirEntry
	for name, ch := range n.Inode().Children() {
		list = append(list, fuse.DirEntry{Mode: ch.Mode(), Name: name, Ino: ch.StableAttr().Ino})
	}
	return fs.NewListDirStream(list), 0
}

func (n *eventNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if g, ok := n.InodeEmbedder.(fs.NodeGetxattrer); ok {
		return g.Getxattr(ctx, attr, dest)
	}
	return 0, syscall.ENODATA
}

func (n *eventNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if l, ok := n.InodeEmbedder.(fs.NodeListxattrer); ok {
		return l.Listxattr(ctx, dest)
	}
	return 0, 0
}

func (n *eventNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	s, ok := n.InodeEmbedder.(fs.NodeSetxattrer)
	if !ok {
		return syscall.ENODATA
	}
	errno := s.Setxattr(ctx, attr, data, flags)
	if errno == 0 {
		n.emit(ctx, semevent.KindFileXattr, n.path(), "setxattr", func(ev *semevent.Event) {
			ev.Size = int64(len(data))
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrXattr, Value: attr})
		})
	}
	return errno
}

func (n *eventNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	r, ok := n.InodeEmbedder.(fs.NodeRemovexattrer)
	if !ok {
		return syscall.ENODATA
	}
	errno := r.Removexattr(ctx, attr)
	if errno == 0 {
		n.emit(ctx, semevent.KindFileXattr, n.path(), "removexattr", func(ev *semevent.Event) {
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrXattr, Value: attr})
		})
	}
	return errno
}

// handleDirStream reads a directory handle from OpendirHandle as a
// DirStream, for nodes that list directories only that way.
type handleDirStream struct {
	ctx  context.Context
	fh   fs.FileHandle
	next *fuse.DirEntry
	err  syscall.Errno
	done bool
}

func (d *handleDirStream) fill() {
	if d.next != nil || d.done {
		return
	}
	r, ok := d.fh.(fs.FileReaddirenter)
	if !ok {
		d.done = true
		return
	}
	d.next, d.err = r.Readdirent(d.ctx)
	if d.next == nil || d.err != 0 {
		d.done = true
	}
}

func (d *handleDirStream) HasNext() bool { d.fill(); return d.next != nil }

func (d *handleDirStream) Next() (fuse.DirEntry, syscall.Errno) {
	d.fill()
	if d.next == nil {
		return fuse.DirEntry{}, d.err
	}
	e := *d.next
	d.next = nil
	return e, 0
}

func (d *handleDirStream) Close() {
	if r, ok := d.fh.(fs.FileReleasedirer); ok {
		r.Releasedir(d.ctx, 0)
	} else if r, ok := d.fh.(fs.FileReleaser); ok {
		r.Release(d.ctx)
	}
}
