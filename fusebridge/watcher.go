package fusebridge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/internal/kwatch"
	"github.com/vexfs/semevent/internal/logx"
)

// WatcherMode chooses the kernel interface a [Watcher] uses.
type WatcherMode uint8

const (
	// Auto uses fanotify when the kernel and privileges allow it, else
	// inotify. The default.
	Auto WatcherMode = iota
	// Fanotify reports events with the acting process's pid, with file
	// handles and names (FAN_REPORT_DFID_NAME_TARGET). Creates, deletes and
	// renames come from a filesystem mark, kept to the tree by directory
	// handle, so none is missed in a directory just created; writes and
	// attribute changes from one inode mark per directory. Needs root.
	Fanotify
	// Inotify watches each directory; events carry no pid.
	Inotify
)

func (m WatcherMode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Fanotify:
		return "fanotify"
	case Inotify:
		return "inotify"
	}
	return fmt.Sprintf("WatcherMode(%d)", uint8(m))
}

// WatcherOptions configure a [Watcher]. A nil *WatcherOptions means
// defaults.
type WatcherOptions struct {
	// Mode: Auto (default), Fanotify or Inotify.
	Mode WatcherMode

	// Kinds lists the kinds reported. Default: create, delete, rename,
	// mkdir, rmdir, write (one per close of a descriptor after the file
	// was modified) and chmod (any attribute change). Open, read and close
	// may be added; the kernel reports those for every access.
	Kinds []semevent.Kind

	// ServerPID is the pid of a FUSE server whose backing directory this
	// is. The kernel's attribute-change events caused by that process are
	// dropped: they are the loopback's own fix-ups (setting the owner of
	// each new file) or echoes of setattr calls the FUSE side reports.
	// With inotify, which carries no pid, attribute changes are then not
	// reported at all. Zero keeps them.
	ServerPID int

	// Tenant is stamped on every event.
	Tenant string

	// Principal is the watcher's own identity, carried by every publish
	// (access.WithPrincipal) so that a bus with an Authorizer accepts its
	// events; it needs access.OpPublish on the file-system topics, as
	// [Options].Principal does. Nil publishes without one.
	Principal *access.Principal

	// OnError receives problems that do not stop the watcher: a queue
	// overflow (an error wrapping [ErrOverflow]: events were lost), an
	// undecodable record (wrapping [ErrMalformedRecord]), a directory
	// that could not be watched.
	OnError func(error)

	// Logger receives the watcher's log lines (component "kwatch",
	// attribute "dir"): the mode chosen and why, at info level, and a
	// fall back from fanotify to inotify, at warning level with the
	// fanotify error as "err"; queue overflows (warning) and the other
	// problems OnError receives and refused publishes (error), each
	// logged the first time and then at most every 10s as a summary
	// whose "count" says how many occurred. nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

var defaultWatchKinds = []semevent.Kind{
	semevent.KindFileCreate, semevent.KindFileDelete, semevent.KindFileRename,
	semevent.KindDirCreate, semevent.KindDirDelete, semevent.KindFileWrite, semevent.KindFileChmod,
}

// Validate reports every problem with o in one
// *[semevent.OptionsError], which wraps [semevent.ErrInvalidOptions].
func (o *WatcherOptions) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "fusebridge.WatcherOptions"}
	if o.Mode > Inotify {
		e.Addf("Mode", "unknown mode %d", uint8(o.Mode))
	}
	for i, k := range o.Kinds {
		switch k {
		case semevent.KindFileCreate, semevent.KindFileDelete, semevent.KindFileRename,
			semevent.KindDirCreate, semevent.KindDirDelete, semevent.KindFileWrite, semevent.KindFileChmod,
			semevent.KindFileOpen, semevent.KindFileRead, semevent.KindFileClose:
		default:
			e.Addf(fmt.Sprintf("Kinds[%d]", i), "the kernel watcher cannot report %v", k)
		}
	}
	if o.ServerPID < 0 {
		e.Addf("ServerPID", "%d is negative", o.ServerPID)
	}
	return e.Err()
}

// WatcherStats counts a Watcher's work. The counters only grow.
type WatcherStats struct {
	Mode      WatcherMode // the kernel interface in use: Fanotify or Inotify
	Records   uint64      // kernel records decoded
	Published uint64      // events published
	Failed    uint64      // events the Publisher rejected
	Ignored   uint64      // records dropped: outside the tree, server fix-ups, unwanted kinds
	Overflows uint64      // kernel queue overflows: events were lost, how many is unknown
	Malformed uint64      // kernel records that did not decode (the rest of their read is skipped)
	Dirs      int         // directories watched now
}

// Watcher reports the kernel's view of a directory tree as events with
// boundary [semevent.Kernel] and paths relative to the tree's root, in the
// same form as a [Bridge] mounted over that tree ("/a/b").
type Watcher struct {
	p      semevent.Publisher
	root   string
	opts   WatcherOptions
	want   [64]bool
	mode   WatcherMode
	reason string

	log             *slog.Logger
	overLog, errLog logx.Limiter // hold back repeated overflow and error lines
	pubLog          logx.Limiter // and refused publishes

	be     backend // fanBackend or inBackend
	fd     int     // fanotify or inotify descriptor
	rootFD int     // fanotify: the root's descriptor for open_by_handle_at
	wake   [2]int
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once

	// Used by the reading goroutine, and by NewWatcher before it starts.
	dirs   map[string]string // fanotify: dir handle key → path; inotify: unused
	wds    map[int32]string  // inotify: watch descriptor → path
	dirty  map[string]string // files modified since their last close-write (by handle or path) → path then
	nDirs  atomic.Int64
	idle   atomic.Bool // the goroutine waits in poll with nothing read
	mask   uint64
	buf    []byte
	infos  []kwatch.FanInfo
	moveFr *kwatch.InEvent // inotify: a MOVED_FROM waiting for its MOVED_TO
	// inotify: entries found in a directory when its watch was added,
	// which no event has reported: path → is a directory. See
	// inBackend.dirAppeared.
	early map[string]bool
	// gone lists deleted directories (by dirs key) that stay in dirs
	// until the kernel queue has been drained; see purgeGone.
	gone  []string
	batch []*semevent.Event // events of the read being translated; see flush

	records, published, failed, ignored, overflows, malformed atomic.Uint64
}

// NewWatcher starts watching the directory tree at dir and publishing to
// p (a propagation.Bus, usually). It returns once every existing
// directory is watched. Mode and Reason say which interface it chose and
// why.
func NewWatcher(p semevent.Publisher, dir string, opts *WatcherOptions) (*Watcher, error) {
	if p == nil {
		return nil, ErrNilPublisher
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	w := &Watcher{p: p, root: abs, done: make(chan struct{}), fd: -1, rootFD: -1,
		dirs: map[string]string{}, wds: map[int32]string{}, dirty: map[string]string{}, early: map[string]bool{}, buf: make([]byte, 64<<10)}
	if opts != nil {
		w.opts = *opts
	}
	w.log = logx.For(w.opts.Logger, "kwatch").With(slog.String(logx.Dir, abs))
	kinds := w.opts.Kinds
	if kinds == nil {
		kinds = defaultWatchKinds
	}
	for _, k := range kinds {
		w.want[k] = true
	}
	if err := unix.Pipe2(w.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("fusebridge: watcher pipe: %w", err)
	}
	var ferr error
	switch w.opts.Mode {
	case Auto, Fanotify:
		ferr = w.startFanotify()
		if ferr == nil {
			w.mode = Fanotify
			w.reason = "fanotify (root, kernel with FAN_REPORT_DFID_NAME_TARGET): pids, names and renames in one event; creates, deletes and renames through a filesystem mark filtered by directory handle, file events through one inode mark per directory"
			break
		}
		w.closeFDs()
		w.dirs = map[string]string{}
		w.nDirs.Store(0)
		if w.opts.Mode == Fanotify {
			unix.Close(w.wake[0])
			unix.Close(w.wake[1])
			return nil, fmt.Errorf("%w: fanotify: %v", ErrUnsupported, ferr)
		}
		fallthrough
	case Inotify:
		if err := w.startInotify(); err != nil {
			w.closeFDs()
			unix.Close(w.wake[0])
			unix.Close(w.wake[1])
			return nil, fmt.Errorf("%w: inotify: %v", ErrUnsupported, err)
		}
		w.mode = Inotify
		if ferr != nil {
			w.reason = fmt.Sprintf("inotify: fanotify unavailable (%v)", ferr)
		} else {
			w.reason = "inotify: requested"
		}
		if w.opts.ServerPID != 0 {
			w.reason += "; attribute changes not reported (inotify carries no pid to tell the FUSE server's own from others')"
		}
	}
	if ferr != nil {
		w.log.LogAttrs(context.Background(), slog.LevelWarn, "kernel watcher: fanotify unavailable, falling back to inotify",
			slog.String("mode", w.mode.String()), slog.String(logx.Reason, w.reason), slog.Any(logx.Err, ferr))
	} else {
		w.log.LogAttrs(context.Background(), slog.LevelInfo, "kernel watcher started",
			slog.String("mode", w.mode.String()), slog.String(logx.Reason, w.reason))
	}
	ctx := context.Background()
	if w.opts.Principal != nil {
		ctx = access.WithPrincipal(ctx, w.opts.Principal)
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	go w.run()
	return w, nil
}

// Mode returns the interface in use: Fanotify or Inotify.
func (w *Watcher) Mode() WatcherMode { return w.mode }

// Reason says why Mode was chosen.
func (w *Watcher) Reason() string { return w.reason }

// Stats returns the watcher's counters.
func (w *Watcher) Stats() WatcherStats {
	return WatcherStats{
		Mode: w.mode, Malformed: w.malformed.Load(), Records: w.records.Load(), Published: w.published.Load(), Failed: w.failed.Load(),
		Ignored: w.ignored.Load(), Overflows: w.overflows.Load(), Dirs: int(w.nDirs.Load()),
	}
}

// Close stops the watcher and waits for its goroutine, or for ctx to end:
// then it returns ctx's error, and the goroutine, whose publish was
// cancelled, releases the kernel descriptors as it ends. Events the
// kernel queued but the watcher had not read are lost (call Sync first to
// publish them). Calling Close again returns nil.
func (w *Watcher) Close(ctx context.Context) error {
	first := false
	w.once.Do(func() {
		first = true
		unix.Write(w.wake[1], []byte{0})
		w.cancel()
	})
	if !first {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sync returns once the watcher has read and published every event the
// kernel queued before the call (it waits until the queue is empty), or
// ctx ends. It returns an error wrapping [semevent.ErrClosed] after Close.
func (w *Watcher) Sync(ctx context.Context) error {
	for {
		select {
		case <-w.done:
			return fmt.Errorf("fusebridge: watcher sync: %w", semevent.ErrClosed)
		default:
		}
		var n int32
		if err := ioctlFIONREAD(w.fd, &n); err != nil {
			return err
		}
		if n == 0 && w.idle.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func ioctlFIONREAD(fd int, n *int32) error {
	v, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
	*n = int32(v)
	return err
}

func (w *Watcher) closeFDs() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
	if w.rootFD >= 0 {
		unix.Close(w.rootFD)
		w.rootFD = -1
	}
}

// purgeGone forgets the deleted directories once the kernel queue is
// empty: every event from inside them has been read. So the map of
// directories holds the live tree, not every directory that ever existed.
func (w *Watcher) purgeGone() {
	if len(w.gone) == 0 {
		return
	}
	if n, err := unix.IoctlGetInt(w.fd, unix.TIOCINQ); err != nil || n > 0 {
		return
	}
	for _, k := range w.gone {
		if _, ok := w.dirs[k]; ok {
			delete(w.dirs, k)
			w.nDirs.Add(-1)
		}
	}
	w.gone = w.gone[:0]
}

// overflow counts and reports a kernel queue overflow.
func (w *Watcher) overflow() {
	w.overflows.Add(1)
	w.fail(fmt.Errorf("fusebridge: %v: %w", w.mode, ErrOverflow))
}

// malformedRecord counts and reports a kernel record that did not decode;
// the rest of that read is skipped.
func (w *Watcher) malformedRecord(err error) {
	w.malformed.Add(1)
	w.fail(fmt.Errorf("fusebridge: %v: %w: %w", w.mode, ErrMalformedRecord, err))
}

func (w *Watcher) fail(err error) {
	lv, msg, lim := slog.LevelError, "kernel watcher problem", &w.errLog
	if errors.Is(err, ErrOverflow) {
		lv, msg, lim = slog.LevelWarn, "kernel queue overflow: events were lost", &w.overLog
	}
	lg := w.log
	if lg == nil { // a Watcher built by hand in an internal test
		lg = logx.For(nil, "kwatch")
	}
	if lg.Enabled(context.Background(), lv) {
		if n, ok := lim.Note(semevent.Now()); ok {
			lg.LogAttrs(context.Background(), lv, msg, slog.String("mode", w.mode.String()), slog.Any(logx.Err, err), slog.Uint64(logx.Count, n))
		}
	}
	if w.opts.OnError != nil {
		w.opts.OnError(err)
	}
}

// rel returns the tree-relative form of the absolute path p, and false
// when p is outside the tree.
func (w *Watcher) rel(p string) (string, bool) {
	if p == w.root {
		return "/", true
	}
	if strings.HasPrefix(p, w.root+"/") {
		return p[len(w.root):], true
	}
	return "", false
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func (w *Watcher) run() {
	defer func() {
		// Close without clearing the fields: Sync may read w.fd
		// concurrently (it sees w.done closed and stops).
		unix.Close(w.fd)
		if w.rootFD >= 0 {
			unix.Close(w.rootFD)
		}
		unix.Close(w.wake[0])
		unix.Close(w.wake[1])
		close(w.done)
	}()
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.wake[0]), Events: unix.POLLIN}}
	for {
		// With a rename half or early entries pending, wait a little for
		// the rest, then report them; Sync waits for that too.
		w.purgeGone()
		pending := w.moveFr != nil || len(w.early) > 0
		w.idle.Store(!pending)
		timeout := -1
		if pending {
			timeout = 20
		}
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			w.fail(fmt.Errorf("fusebridge: watcher poll: %w", err))
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if n == 0 {
			w.flushMove()
			w.flushEarly()
			w.flush()
			continue
		}
		w.idle.Store(false)
		nr, err := unix.Read(w.fd, w.buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			w.fail(fmt.Errorf("fusebridge: watcher read: %w", err))
			return
		}
		if w.mode == Fanotify {
			w.fanBatch(w.buf[:nr])
		} else {
			w.inBatch(w.buf[:nr])
		}
		w.flush()
	}
}

// publish queues ev for the batch that flush sends once the read it came
// from is translated; publishing blocks under the bus's backpressure,
// which only lets the kernel queue grow.
func (w *Watcher) publish(ev *semevent.Event) {
	w.batch = append(w.batch, ev)
}

// flush publishes the events made from one read of the kernel queue as
// one batch.
func (w *Watcher) flush() {
	if len(w.batch) == 0 {
		return
	}
	ok, failed, err := publishAll(w.ctx, w.p, w.batch)
	w.published.Add(ok)
	w.failed.Add(failed)
	if failed > 0 && w.log != nil {
		logFailed(w.log, &w.pubLog, failed, w.failed.Load(), err)
	}
	clear(w.batch)
	w.batch = w.batch[:0]
}

func (w *Watcher) newEvent(k semevent.Kind, path string, pid int32, op string) *semevent.Event {
	return &semevent.Event{
		Kind: k, Boundary: semevent.Kernel, Seen: semevent.Boundaries(semevent.Kernel),
		Tenant: w.opts.Tenant, Path: path, PID: uint32(max(pid, 0)), Time: time.Now().UnixNano(),
		Attrs: []semevent.Attr{{Key: AttrOp, Value: op}, {Key: AttrWatcher, Value: w.mode.String()}},
	}
}

// walk calls fn for dir and every directory beneath it.
func walkDirs(dir string, fn func(path string) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return fn(p)
		}
		return nil
	})
}
