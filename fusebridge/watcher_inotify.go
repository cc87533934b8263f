package fusebridge

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/kwatch"
)

// inMasks translates inotify mask bits to kinds, in report order.
var inMasks = []struct {
	bit  uint32
	name string
	file semevent.Kind
	dir  semevent.Kind
}{
	{unix.IN_CREATE, "IN_CREATE", semevent.KindFileCreate, semevent.KindDirCreate},
	{unix.IN_OPEN, "IN_OPEN", semevent.KindFileOpen, semevent.KindUnknown},
	{unix.IN_ACCESS, "IN_ACCESS", semevent.KindFileRead, semevent.KindUnknown},
	{unix.IN_MODIFY, "IN_MODIFY", semevent.KindFileWrite, semevent.KindUnknown},
	{unix.IN_ATTRIB, "IN_ATTRIB", semevent.KindFileChmod, semevent.KindFileChmod},
	{unix.IN_CLOSE_WRITE, "IN_CLOSE_WRITE", semevent.KindFileWrite, semevent.KindUnknown},
	{unix.IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE", semevent.KindFileClose, semevent.KindUnknown},
	{unix.IN_MOVED_FROM, "IN_MOVED_FROM", semevent.KindFileRename, semevent.KindFileRename},
	{unix.IN_MOVED_TO, "IN_MOVED_TO", semevent.KindFileRename, semevent.KindFileRename},
	{unix.IN_DELETE, "IN_DELETE", semevent.KindFileDelete, semevent.KindDirDelete},
}

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
	w.mode = Inotify
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
	ev := *w.moveFr
	w.moveFr = nil
	dir, ok := w.wds[ev.WD]
	if !ok {
		return
	}
	path := join(dir, ev.Name)
	k := semevent.KindFileDelete
	if ev.Mask&unix.IN_ISDIR != 0 {
		k = semevent.KindDirDelete
		w.inDropDirs(path)
	}
	if w.want[k] {
		w.publish(w.newEvent(k, path, 0, "IN_MOVED_FROM"))
	}
}

func (w *Watcher) inDropDirs(path string) {
	for wd, p := range w.wds {
		if p == path || len(p) > len(path) && p[:len(path)] == path && p[len(path)] == '/' {
			unix.InotifyRmWatch(w.fd, uint32(wd))
			delete(w.wds, wd)
			w.nDirs.Add(-1)
		}
	}
}

func (w *Watcher) inEvent(ev *kwatch.InEvent) {
	if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
		w.overflows.Add(1)
		w.fail(fmt.Errorf("fusebridge: inotify queue overflow: events lost"))
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
	path := join(dir, ev.Name)
	isDir := ev.Mask&unix.IN_ISDIR != 0
	if ev.Mask&unix.IN_MOVED_FROM != 0 {
		cp := *ev
		w.moveFr = &cp
		return
	}
	for _, m := range inMasks {
		if ev.Mask&m.bit == 0 || m.bit == unix.IN_MOVED_FROM {
			continue
		}
		k := m.file
		if isDir {
			k = m.dir
		}
		var oldPath string
		switch m.bit {
		case unix.IN_CREATE:
			if isDir {
				if err := walkDirs(w.root+path, w.inWatch); err != nil {
					w.fail(err)
				}
			}
		case unix.IN_DELETE:
			delete(w.dirty, path)
		case unix.IN_MODIFY:
			if _, ok := w.dirty[path]; !ok {
				w.dirty[path] = path
			}
			continue
		case unix.IN_CLOSE_WRITE:
			p, ok := w.dirty[path]
			if !ok {
				continue
			}
			delete(w.dirty, path)
			path = p
		case unix.IN_MOVED_TO:
			if w.moveFr != nil {
				fr := w.moveFr
				w.moveFr = nil
				oldPath = join(w.wds[fr.WD], fr.Name)
				if isDir {
					for wd, p := range w.wds {
						if p == oldPath {
							w.wds[wd] = path
						} else if len(p) > len(oldPath) && p[:len(oldPath)] == oldPath && p[len(oldPath)] == '/' {
							w.wds[wd] = path + p[len(oldPath):]
						}
					}
				}
				// The dirty map is by path here: move what was under oldPath,
				// keeping the path each file had when it became dirty.
				for k, v := range w.dirty {
					if k == oldPath || strings.HasPrefix(k, oldPath+"/") {
						delete(w.dirty, k)
						w.dirty[path+k[len(oldPath):]] = v
					}
				}
			} else {
				k = semevent.KindFileCreate
				if isDir {
					k = semevent.KindDirCreate
					if err := walkDirs(w.root+path, w.inWatch); err != nil {
						w.fail(err)
					}
				}
			}
		}
		if k == semevent.KindUnknown || !w.want[k] {
			continue
		}
		e := w.newEvent(k, path, 0, m.name)
		e.OldPath = oldPath
		if m.bit == unix.IN_CLOSE_WRITE {
			e.Attrs = append(e.Attrs, semevent.Attr{Key: AttrSession, Value: "kernel"})
		}
		w.publish(e)
	}
}
