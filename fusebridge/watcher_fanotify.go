package fusebridge

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/kwatch"
)

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
	w.mode, w.be = Fanotify, fanBackend{w}
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
			w.malformedRecord(err)
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

// fanObjBits are the bits whose translation needs the object's identity.
const fanObjBits = unix.FAN_MODIFY | unix.FAN_CLOSE_WRITE | unix.FAN_DELETE | unix.FAN_CREATE | unix.FAN_RENAME

func (w *Watcher) fanEvent(ev *kwatch.FanEvent) {
	if ev.Mask&unix.FAN_Q_OVERFLOW != 0 {
		w.overflow()
		return
	}
	e := kevent{fanMask: ev.Mask, isDir: ev.Mask&unix.FAN_ONDIR != 0, pid: ev.PID}
	if self := ev.Info(kwatch.InfoFID); self != nil && ev.Mask&fanObjBits != 0 {
		e.obj = self.Key()
	}
	var ok bool
	if ev.Mask&unix.FAN_RENAME != 0 {
		od, nd := ev.Info(kwatch.InfoOldDFIDName), ev.Info(kwatch.InfoNewDFIDName)
		op, ok1 := w.dirPath(od)
		np, ok2 := w.dirPath(nd)
		if ok1 {
			e.oldPath = join(op, od.Name)
		}
		if ok2 {
			e.path = join(np, nd.Name)
		}
		ok = ok1 || ok2
	} else {
		d := ev.Info(kwatch.InfoDFIDName)
		var dp string
		if dp, ok = w.dirPath(d); ok {
			e.path = dp
			if d.Name != "." && d.Name != "" {
				e.path = join(dp, d.Name)
			}
		}
	}
	if !ok {
		w.ignored.Add(1)
		return
	}
	w.translate(&e)
}

// fanBackend keeps fanotify's map of the tree's directories, by handle.
type fanBackend struct{ *Watcher }

func (w fanBackend) dirAppeared(e *kevent, _ bool) {
	if e.obj != "" {
		// Known by handle at once, even if it is gone before it can be
		// marked: later events name it as a parent.
		if _, seen := w.dirs[e.obj]; !seen {
			w.nDirs.Add(1)
		}
		w.dirs[e.obj] = e.path
	}
	if err := walkDirs(w.root+e.path, w.fanWatch); err != nil {
		w.fail(err)
	}
}

func (w fanBackend) moved(e *kevent) {
	if !e.isDir {
		return
	}
	for k, p := range w.dirs {
		if under(p, e.oldPath) {
			w.dirs[k] = e.path + p[len(e.oldPath):]
		}
	}
}

func (w fanBackend) dirLeft(path string) {
	for k, p := range w.dirs {
		if under(p, path) {
			delete(w.dirs, k)
			w.nDirs.Add(-1)
		}
	}
}
