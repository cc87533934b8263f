package fusebridge

import (
	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
)

// kop is a kernel event as both interfaces report it.
type kop uint8

const (
	kCreate kop = iota
	kOpen
	kAccess
	kModify
	kAttrib
	kCloseWrite
	kCloseNoWrite
	kRename
	kDelete
)

// kernelOps is the one translation table of both kernel interfaces: a row
// per kernel event, with its fanotify and inotify bits and names and the
// kinds it becomes for a file and for a directory. Rows are in report
// order: when the kernel merges several events of one object into one
// record, what happened first comes first. For inotify a rename is the
// pair IN_MOVED_FROM + IN_MOVED_TO, which the inotify reader joins into
// one event under the IN_MOVED_TO row.
var kernelOps = []struct {
	op      kop
	fan     uint64
	fanName string
	in      uint32
	inName  string
	file    semevent.Kind
	dir     semevent.Kind
}{
	{kCreate, unix.FAN_CREATE, "FAN_CREATE", unix.IN_CREATE, "IN_CREATE", semevent.KindFileCreate, semevent.KindDirCreate},
	{kOpen, unix.FAN_OPEN, "FAN_OPEN", unix.IN_OPEN, "IN_OPEN", semevent.KindFileOpen, semevent.KindUnknown},
	{kAccess, unix.FAN_ACCESS, "FAN_ACCESS", unix.IN_ACCESS, "IN_ACCESS", semevent.KindFileRead, semevent.KindUnknown},
	{kModify, unix.FAN_MODIFY, "FAN_MODIFY", unix.IN_MODIFY, "IN_MODIFY", semevent.KindFileWrite, semevent.KindUnknown},
	{kAttrib, unix.FAN_ATTRIB, "FAN_ATTRIB", unix.IN_ATTRIB, "IN_ATTRIB", semevent.KindFileChmod, semevent.KindFileChmod},
	{kCloseWrite, unix.FAN_CLOSE_WRITE, "FAN_CLOSE_WRITE", unix.IN_CLOSE_WRITE, "IN_CLOSE_WRITE", semevent.KindFileWrite, semevent.KindUnknown},
	{kCloseNoWrite, unix.FAN_CLOSE_NOWRITE, "FAN_CLOSE_NOWRITE", unix.IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE", semevent.KindFileClose, semevent.KindUnknown},
	{kRename, unix.FAN_RENAME, "FAN_RENAME", unix.IN_MOVED_TO, "IN_MOVED_TO", semevent.KindFileRename, semevent.KindFileRename},
	{kDelete, unix.FAN_DELETE, "FAN_DELETE", unix.IN_DELETE, "IN_DELETE", semevent.KindFileDelete, semevent.KindDirDelete},
}

// kevent is one kernel record, decoded by either interface's reader into
// the form [Watcher.translate] takes.
type kevent struct {
	fanMask uint64 // the record's bits: fanMask for fanotify,
	inMask  uint32 // inMask for inotify
	isDir   bool
	path    string // tree-relative; "" for an entry moved out of the tree
	oldPath string // renames: where it was; "" for an entry moved in
	obj     string // the object's identity for write sessions: a file handle (fanotify) or the path (inotify)
	pid     int32  // the acting process, 0 when unknown (inotify)
	known   bool   // a directory the interface watches already
}

// backend is what differs between the two interfaces: how they learn of
// the tree's directories.
type backend interface {
	// dirAppeared starts watching a directory created in (created), or
	// moved into, the tree at e.path, and the directories beneath it.
	dirAppeared(e *kevent, created bool)
	// moved updates the interface's state for an entry renamed within
	// the tree from e.oldPath to e.path.
	moved(e *kevent)
	// dirLeft stops watching a directory moved out of the tree from
	// path, and the directories beneath it.
	dirLeft(path string)
}

// translate is the path every kernel record takes to become events, for
// both interfaces: it keeps the watcher's view of the tree and of
// modified files current, turns each of the record's bits into at most
// one event in report order, and publishes them.
func (w *Watcher) translate(e *kevent) {
	for i := range kernelOps {
		r := &kernelOps[i]
		name := r.fanName
		if w.mode == Inotify {
			name = r.inName
		}
		if r.fan&e.fanMask == 0 && r.in&e.inMask == 0 {
			continue
		}
		k := r.file
		if e.isDir {
			k = r.dir
		}
		path, oldPath := e.path, ""
		switch r.op {
		case kCreate:
			if e.isDir && !e.known {
				w.be.dirAppeared(e, true)
			}
		case kDelete:
			// A deleted directory stays known to the interface until the
			// kernel queue has been drained: unread events merge, so a
			// create and a delete of one name can arrive as one event
			// ahead of events that happened between them inside the
			// directory.
			delete(w.dirty, e.obj)
			if e.isDir && e.obj != "" && w.mode == Fanotify {
				w.gone = append(w.gone, e.obj)
			}
		case kModify:
			// The first modification since the last close-after-write
			// fixes the path the session reports, as the FUSE side does.
			if _, ok := w.dirty[e.obj]; !ok && e.obj != "" {
				w.dirty[e.obj] = path
			}
			continue
		case kCloseWrite:
			p, ok := w.dirty[e.obj]
			if !ok {
				continue
			}
			delete(w.dirty, e.obj)
			path = p
		case kAttrib:
			if w.opts.ServerPID != 0 && int(e.pid) == w.opts.ServerPID {
				w.ignored.Add(1)
				continue
			}
		case kRename:
			switch {
			case e.path != "" && e.oldPath != "":
				oldPath = e.oldPath
				w.be.moved(e)
			case e.path != "":
				// Moved into the tree: a create here.
				k = semevent.KindFileCreate
				if e.isDir {
					k = semevent.KindDirCreate
					if !e.known {
						w.be.dirAppeared(e, false)
					}
				}
			default:
				// Moved out of the tree: a delete here, and its write
				// session, if any, is no longer ours to report.
				delete(w.dirty, e.obj)
				path, k = e.oldPath, semevent.KindFileDelete
				if w.mode == Inotify {
					name = "IN_MOVED_FROM"
				}
				if e.isDir {
					k = semevent.KindDirDelete
					w.be.dirLeft(e.oldPath)
				}
			}
		}
		if k == semevent.KindUnknown || !w.want[k] {
			continue
		}
		ev := w.newEvent(k, path, e.pid, name)
		ev.OldPath = oldPath
		if r.op == kCloseWrite {
			ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrSession, Value: "kernel"})
		}
		w.publish(ev)
	}
}

// moveDirty moves the write sessions keyed by the paths of files under
// oldPath to newPath, keeping the path each had when it became dirty.
func moveDirty(dirty map[string]string, oldPath, newPath string) {
	for k, v := range dirty {
		if under(k, oldPath) {
			delete(dirty, k)
			dirty[newPath+k[len(oldPath):]] = v
		}
	}
}

// under reports whether p is dir or beneath it.
func under(p, dir string) bool {
	return p == dir || len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == '/'
}
