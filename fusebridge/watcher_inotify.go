package fusebridge

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/kwatch"
)

func (w *Watcher) inMask() uint32 {
	m := uint32(unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK)
	if w.want[semevent.KindFileWrite] {
		m |= unix.IN_MODIFY | unix.IN_CLOSE_WRITE
	}
	if w.want[semevent.KindFileChmod] && w.opts.ServerPID == 0 {
		m |= unix.IN_ATTRIB
	}
	if w.want[semevent.KindFileOpen] {
		m |= unix.IN_OPEN
	}
	if w.want[semevent.KindFileRead] {
		m |= unix.IN_ACCESS
	}
	if w.want[semevent.KindFileClose] {
		m |= unix.IN_CLOSE_NOWRITE
	}
	return m
}

func (w *Watcher) startInotify() error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	w.fd = fd
	w.mode, w.be = Inotify, inBackend{w}
	return walkDirs(w.root, w.inWatch)
}

func (w *Watcher) inWatch(p string) error {
	rel, ok := w.rel(p)
	if !ok {
		return nil
	}
	wd, err := unix.InotifyAddWatch(w.fd, p, w.inMask()|unix.IN_ONLYDIR)
	if err != nil {
		return fmt.Errorf("inotify_add_watch %s: %w", p, err)
	}
	if _, seen := w.wds[int32(wd)]; !seen {
		w.nDirs.Add(1)
	}
	w.wds[int32(wd)] = rel
	return nil
}

func (w *Watcher) inBatch(buf []byte) {
	base := 0
	for len(buf) > 0 {
		ev, rest, err := kwatch.NextInotify(buf, base)
		if err != nil {
			w.malformed.Add(1)
			w.fail(err)
			return
		}
		base += len(buf) - len(rest)
		buf = rest
		w.records.Add(1)
		w.inEvent(&ev)
	}
}

// flushMove reports a MOVED_FROM whose MOVED_TO never came: the entry left
// the tree.
func (w *Watcher) flushMove() {
	if w.moveFr == nil {
		return
	}
	fr := *w.moveFr
	w.moveFr = nil
	dir, ok := w.wds[fr.WD]
	if !ok {
		return
	}
	old := join(dir, fr.Name)
	w.translate(&kevent{inMask: unix.IN_MOVED_TO, isDir: fr.Mask&unix.IN_ISDIR != 0, oldPath: old, obj: old})
}

func (w *Watcher) inEvent(ev *kwatch.InEvent) {
	if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
		w.overflow()
		return
	}
	if w.moveFr != nil && !(ev.Mask&unix.IN_MOVED_TO != 0 && ev.Cookie == w.moveFr.Cookie) {
		w.flushMove()
	}
	if ev.Mask&unix.IN_IGNORED != 0 {
		if _, ok := w.wds[ev.WD]; ok {
			delete(w.wds, ev.WD)
			w.nDirs.Add(-1)
		}
		return
	}
	dir, ok := w.wds[ev.WD]
	if !ok || ev.Name == "" {
		w.ignored.Add(1)
		return
	}
	if ev.Mask&unix.IN_MOVED_FROM != 0 {
		cp := *ev
		w.moveFr = &cp
		return
	}
	path := join(dir, ev.Name)
	e := kevent{inMask: ev.Mask, isDir: ev.Mask&unix.IN_ISDIR != 0, path: path, obj: path}
	if ev.Mask&unix.IN_MOVED_TO != 0 && w.moveFr != nil {
		fr := w.moveFr
		w.moveFr = nil
		e.oldPath = join(w.wds[fr.WD], fr.Name)
	}
	w.translate(&e)
}

// inBackend keeps inotify's watch descriptors, and moves write sessions,
// which inotify can only key by path, with their files.
type inBackend struct{ *Watcher }

func (w inBackend) dirAppeared(e *kevent) {
	if err := walkDirs(w.root+e.path, w.inWatch); err != nil {
		w.fail(err)
	}
}

func (w inBackend) moved(e *kevent) {
	if e.isDir {
		for wd, p := range w.wds {
			if under(p, e.oldPath) {
				w.wds[wd] = e.path + p[len(e.oldPath):]
			}
		}
	}
	moveDirty(w.dirty, e.oldPath, e.path)
}

func (w inBackend) dirLeft(path string) {
	for k := range w.dirty {
		if under(k, path) {
			delete(w.dirty, k)
		}
	}
	for wd, p := range w.wds {
		if under(p, path) {
			unix.InotifyRmWatch(w.fd, uint32(wd))
			delete(w.wds, wd)
			w.nDirs.Add(-1)
		}
	}
}
