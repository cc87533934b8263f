package fusebridge

import (
	"fmt"
	"os"
	"path"
	"sort"

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
			w.malformedRecord(err)
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
	e := kevent{inMask: unix.IN_MOVED_TO, isDir: fr.Mask&unix.IN_ISDIR != 0, oldPath: old, obj: old}
	// Its MOVED_TO may have been lost because it went into a directory
	// that was not watched yet: then the entry is among the early ones.
	if p, ok := w.claimEarly(fr.Name, e.isDir); ok {
		e.path, e.known = p, true
	}
	w.translate(&e)
}

// claimEarly finds an early entry named name, removes it and returns its
// path. Two early entries of one name in different directories cannot be
// told apart: the first in path order is taken.
func (w *Watcher) claimEarly(name string, isDir bool) (string, bool) {
	best := ""
	for p, d := range w.early {
		if d == isDir && path.Base(p) == name && (best == "" || p < best) {
			best = p
		}
	}
	if best == "" {
		return "", false
	}
	delete(w.early, best)
	return best, true
}

// flushEarly reports the early entries no rename claimed: they were
// created in their directory before its watch was added.
func (w *Watcher) flushEarly() { w.flushEarlyUnder("/") }

// flushEarlyUnder reports the early entries at or beneath dir as the
// creates they were.
func (w *Watcher) flushEarlyUnder(dir string) {
	if len(w.early) == 0 {
		return
	}
	var paths []string
	for p := range w.early {
		if dir == "/" || under(p, dir) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths) // parents first
	for _, p := range paths {
		isDir := w.early[p]
		delete(w.early, p)
		w.translate(&kevent{inMask: unix.IN_CREATE, isDir: isDir, path: p, obj: p, known: true})
	}
}

// earlyEvent settles what the early entries say about the entry at p
// before an event about it is translated: an event that reports its
// arrival (a create or a move here) replaces the early entry; any other
// event reports it first, as the create it was.
func (w *Watcher) earlyEvent(p string, mask uint32) {
	isDir, ok := w.early[p]
	if !ok {
		return
	}
	delete(w.early, p)
	if mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
		return
	}
	w.translate(&kevent{inMask: unix.IN_CREATE, isDir: isDir, path: p, obj: p, known: true})
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
		// Early entries leaving by this rename were created where they
		// were: report that before the rename.
		w.flushEarlyUnder(join(dir, ev.Name))
		cp := *ev
		w.moveFr = &cp
		return
	}
	path := join(dir, ev.Name)
	w.earlyEvent(path, ev.Mask)
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

// dirAppeared watches the new directory and those beneath it. Entries
// made in a created directory before its watch took effect come with no
// event: the walk records every entry it finds beneath it as early (a
// directory moved in from outside the tree brings its entries with it:
// no event reports those, as with fanotify). An
// unpaired MOVED_FROM of the same name claims one (the MOVED_TO into the
// unwatched directory was lost: a rename, not a delete); an event about
// an early entry settles it; the rest are reported as creates once the
// kernel queue is drained.
func (w inBackend) dirAppeared(e *kevent, created bool) {
	err := walkDirs(w.root+e.path, func(p string) error {
		if err := w.inWatch(p); err != nil || !created {
			return err
		}
		rel, _ := w.rel(p)
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil // gone already: its delete is queued
		}
		for _, de := range ents {
			w.early[join(rel, de.Name())] = de.IsDir()
		}
		return nil
	})
	if err != nil {
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
	for k := range w.early {
		if under(k, path) {
			delete(w.early, k)
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
