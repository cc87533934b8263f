package fusebridge

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/kwatch"
)

// fanMasks translates fanotify mask bits to kinds, in the order a merged
// mask is reported: what happened first comes first.
var fanMasks = []struct {
	bit  uint64
	name string
	file semevent.Kind
	dir  semevent.Kind
}{
	{unix.FAN_CREATE, "FAN_CREATE", semevent.KindFileCreate, semevent.KindDirCreate},
	{unix.FAN_OPEN, "FAN_OPEN", semevent.KindFileOpen, semevent.KindUnknown},
	{unix.FAN_ACCESS, "FAN_ACCESS", semevent.KindFileRead, semevent.KindUnknown},
	{unix.FAN_MODIFY, "FAN_MODIFY", semevent.KindFileWrite, semevent.KindUnknown},
	{unix.FAN_ATTRIB, "FAN_ATTRIB", semevent.KindFileChmod, semevent.KindFileChmod},
	{unix.FAN_CLOSE_WRITE, "FAN_CLOSE_WRITE", semevent.KindFileWrite, semevent.KindUnknown},
	{unix.FAN_CLOSE_NOWRITE, "FAN_CLOSE_NOWRITE", semevent.KindFileClose, semevent.KindUnknown},
	{unix.FAN_RENAME, "FAN_RENAME", semevent.KindFileRename, semevent.KindFileRename},
	{unix.FAN_DELETE, "FAN_DELETE", semevent.KindFileDelete, semevent.KindDirDelete},
}

// fanDirentMask is watched on the whole filesystem: creates, deletes and
// renames keep the map of the tree's directories current, and a
// filesystem mark sees them in a directory from the instant it exists.
const fanDirentMask = unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_RENAME | unix.FAN_ONDIR

// fanMask returns the events watched through each directory's inode mark:
// those about the files in it.
func (w *Watcher) fanMask() uint64 {
	var m uint64
	if w.want[semevent.KindFileWrite] {
		m |= unix.FAN_MODIFY | unix.FAN_CLOSE_WRITE
	}
	if w.want[semevent.KindFileChmod] {
		m |= unix.FAN_ATTRIB
	}
	if w.want[semevent.KindFileOpen] {
		m |= unix.FAN_OPEN
	}
	if w.want[semevent.KindFileRead] {
		m |= unix.FAN_ACCESS
	}
	if w.want[semevent.KindFileClose] {
		m |= unix.FAN_CLOSE_NOWRITE
	}
	if m != 0 {
		m |= unix.FAN_ONDIR | unix.FAN_EVENT_ON_CHILD
	}
	return m
}

func (w *Watcher) startFanotify() error {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_UNLIMITED_QUEUE|unix.FAN_REPORT_DFID_NAME_TARGET,
		unix.O_RDONLY|unix.O_LARGEFILE)
	if err != nil {
		return fmt.Errorf("fanotify_init(FAN_REPORT_DFID_NAME_TARGET): %w", err)
	}
	w.fd = fd
	w.rootFD, err = unix.Open(w.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	w.mode = Fanotify
	w.mask = w.fanMask()
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanDirentMask, unix.AT_FDCWD, w.root); err != nil {
		return fmt.Errorf("fanotify_mark(FAN_MARK_FILESYSTEM) %s: %w", w.root, err)
	}
	return walkDirs(w.root, func(p string) error { return w.fanWatch(p) })
}

// fanWatch marks the directory at absolute path p and remembers its
// handle.
func (w *Watcher) fanWatch(p string) error {
	rel, ok := w.rel(p)
	if !ok {
		return nil
	}
	if w.mask != 0 {
		if err := unix.FanotifyMark(w.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR|unix.FAN_MARK_DONT_FOLLOW, w.mask, unix.AT_FDCWD, p); err != nil {
			return fmt.Errorf("fanotify_mark %s: %w", p, err)
		}
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, p, 0)
	if err != nil {
		return fmt.Errorf("name_to_handle_at %s: %w", p, err)
	}
	info := kwatch.FanInfo{HandleType: h.Type(), Handle: h.Bytes()}
	if _, seen := w.dirs[info.Key()]; !seen {
		w.nDirs.Add(1)
	}
	w.dirs[info.Key()] = rel
	return nil
}

// dirPath returns the tree-relative path of the directory with handle i,
// and false for a directory outside the tree. The map is complete: every
// directory of the tree entered it by the initial walk, a create or a
// rename that the filesystem mark reported, so events about any other
// directory of the filesystem are dropped without a system call.
func (w *Watcher) dirPath(i *kwatch.FanInfo) (string, bool) {
	if i == nil {
		return "", false
	}
	p, ok := w.dirs[i.Key()]
	return p, ok
}

func (w *Watcher) fanBatch(buf []byte) {
	base := 0
	for len(buf) > 0 {
		ev, rest, err := kwatch.NextFanotify(buf, base, w.infos)
		if err != nil {
			w.malformed.Add(1)
			w.fail(err)
			return
		}
		w.infos = ev.Infos
		base += len(buf) - len(rest)
		buf = rest
		w.records.Add(1)
		if ev.FD >= 0 {
			unix.Close(int(ev.FD))
		}
		w.fanEvent(&ev)
	}
}

func (w *Watcher) fanEvent(ev *kwatch.FanEvent) {
	if ev.Mask&unix.FAN_Q_OVERFLOW != 0 {
		w.overflows.Add(1)
		w.fail(fmt.Errorf("fusebridge: fanotify queue overflow: events lost"))
		return
	}
	isDir := ev.Mask&unix.FAN_ONDIR != 0
	self := ev.Info(kwatch.InfoFID)
	var path, oldPath string
	var ok bool
	if ev.Mask&unix.FAN_RENAME != 0 {
		op, ok1 := w.dirPath(ev.Info(kwatch.InfoOldDFIDName))
		np, ok2 := w.dirPath(ev.Info(kwatch.InfoNewDFIDName))
		if ok1 {
			oldPath = join(op, ev.Info(kwatch.InfoOldDFIDName).Name)
		}
		if ok2 {
			path = join(np, ev.Info(kwatch.InfoNewDFIDName).Name)
		}
		ok = ok1 || ok2
		if isDir {
			w.fanMoveDir(self, oldPath, path, ok1, ok2)
		}
	} else {
		d := ev.Info(kwatch.InfoDFIDName)
		var dp string
		dp, ok = w.dirPath(d)
		if ok {
			path = dp
			if d.Name != "." && d.Name != "" {
				path = join(dp, d.Name)
			}
		}
	}
	if !ok {
		w.ignored.Add(1)
		return
	}
	for _, m := range fanMasks {
		if ev.Mask&m.bit == 0 {
			continue
		}
		k := m.file
		if isDir {
			k = m.dir
		}
		switch m.bit {
		case unix.FAN_CREATE:
			if isDir {
				if self != nil {
					// Known by handle at once, even if it is gone before
					// it can be marked: later events name it as a parent.
					if _, seen := w.dirs[self.Key()]; !seen {
						w.nDirs.Add(1)
					}
					w.dirs[self.Key()] = path
				}
				w.fanNewDir(w.root+path, self)
			}
		case unix.FAN_DELETE:
			// A deleted directory stays in the map: unread events merge,
			// so a create and a delete of one name can arrive as one event
			// ahead of events that happened between them inside the
			// directory. Handles are not reused (they carry a generation).
			if self != nil {
				delete(w.dirty, self.Key())
			}
		case unix.FAN_MODIFY:
			if self != nil {
				if _, ok := w.dirty[self.Key()]; !ok {
					w.dirty[self.Key()] = path
				}
			}
			continue
		case unix.FAN_CLOSE_WRITE:
			if self == nil {
				continue
			}
			p, ok := w.dirty[self.Key()]
			if !ok {
				continue
			}
			delete(w.dirty, self.Key())
			path = p
		case unix.FAN_ATTRIB:
			if w.opts.ServerPID != 0 && int(ev.PID) == w.opts.ServerPID {
				w.ignored.Add(1)
				continue
			}
		}
		if k == semevent.KindUnknown || !w.want[k] {
			continue
		}
		if m.bit == unix.FAN_RENAME && (path == "" || oldPath == "") {
			// Moved into or out of the tree: a create or a delete here.
			if path == "" {
				path, k = oldPath, semevent.KindFileDelete
				if isDir {
					k = semevent.KindDirDelete
				}
			} else {
				k = semevent.KindFileCreate
				if isDir {
					k = semevent.KindDirCreate
				}
			}
			oldPath = ""
		}
		e := w.newEvent(k, path, ev.PID, m.name)
		if k == semevent.KindFileRename {
			e.OldPath = oldPath
		}
		if m.bit == unix.FAN_CLOSE_WRITE {
			e.Attrs = append(e.Attrs, semevent.Attr{Key: AttrSession, Value: "kernel"})
		}
		w.publish(e)
	}
}

// fanNewDir watches a directory that appeared, and the directories already
// inside it (created before the mark took effect).
func (w *Watcher) fanNewDir(abs string, self *kwatch.FanInfo) {
	if err := walkDirs(abs, func(p string) error { return w.fanWatch(p) }); err != nil {
		w.fail(err)
	}
}

// fanMoveDir updates the paths of a directory that moved, and of every
// directory beneath it.
func (w *Watcher) fanMoveDir(self *kwatch.FanInfo, oldPath, newPath string, inOld, inNew bool) {
	switch {
	case inOld && inNew:
		for k, p := range w.dirs {
			if p == oldPath {
				w.dirs[k] = newPath
			} else if len(p) > len(oldPath) && p[:len(oldPath)] == oldPath && p[len(oldPath)] == '/' {
				w.dirs[k] = newPath + p[len(oldPath):]
			}
		}
	case inNew:
		if self != nil {
			w.dirs[self.Key()] = newPath
			w.nDirs.Add(1)
		}
		w.fanNewDir(w.root+newPath, self)
	case inOld:
		for k, p := range w.dirs {
			if p == oldPath || len(p) > len(oldPath) && p[:len(oldPath)] == oldPath && p[len(oldPath)] == '/' {
				delete(w.dirs, k)
				w.nDirs.Add(-1)
			}
		}
	}
}
