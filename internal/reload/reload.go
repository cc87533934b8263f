// Package reload polls a rule file and loads it again when it changes: the
// one implementation behind routing.Watch and the automation rule engine's
// Watch.
//
// Before every load, the first included, it opens the file, checks the open
// file's owner and mode and reads it from the same descriptor: a file that
// is group- or world-writable, or owned by someone other than the process's
// user or root, is refused with a *semevent.FileError wrapping
// semevent.ErrUnsafeFile, and an empty or white-space-only file with one
// wrapping semevent.ErrEmptyFile unless Options.AllowEmpty is set. A
// refused or failed load leaves the loaded rules in place, is counted and
// is reported to Options.OnError. Every load runs with the context given to
// Watch (its principal included): whoever can write the file changes the
// rules with that authority, which is why the file's owner and mode are
// checked.
package reload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vexfs/semevent"
)

// DefaultInterval is the default [Options.Interval].
const DefaultInterval = time.Second

// MaxFileSize bounds the rule file read: a larger file is refused.
const MaxFileSize = 64 << 20

// Options configure [Watch]. The zero value and nil mean defaults. The
// public WatchOptions of routing and automation convert to it.
type Options struct {
	// Interval between checks of the file. Default 1s.
	Interval time.Duration
	// AllowEmpty lets an empty or white-space-only file be loaded (as an
	// empty rule set). By default it is refused: a truncated file would
	// otherwise drop every rule.
	AllowEmpty bool
	// OnReload is called after a changed file was loaded.
	OnReload func()
	// OnError is called with every refused file, read error and load
	// error after the first load; the loaded rules stay in place.
	OnError func(err error)
	// Tick, when set, replaces the ticker: the file is checked once per
	// value received. Tests use it.
	Tick <-chan time.Time
}

// Validate lists every problem in o; opts names the public options type in
// the error.
func (o *Options) Validate(opts string) error {
	e := &semevent.OptionsError{Options: opts}
	if o != nil && o.Interval < 0 {
		e.Addf("Interval", "%v is negative", o.Interval)
	}
	return e.Err()
}

// LoadFunc loads a file's contents. It must leave the loaded rules in place
// when it fails.
type LoadFunc func(ctx context.Context, data []byte) error

// Stats counts what a [Watcher] did.
type Stats struct {
	Reloads uint64 // changed files loaded after the first load
	Errors  uint64 // refused files, read errors and failed loads after the first load
	Checks  uint64 // times the file was looked at
}

// Watcher polls one file. Its methods are safe for concurrent use.
type Watcher struct {
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
	reloads atomic.Uint64
	errors  atomic.Uint64
	checks  atomic.Uint64
}

// Watch reads path and loads it with load, then checks it every Interval
// and loads it again when its contents, owner or mode change, until ctx
// ends or Close is called. The first load is synchronous: its error
// (a refusal included) is returned and nothing is started. Every load
// gets ctx.
func Watch(ctx context.Context, load LoadFunc, path string, opts *Options) (*Watcher, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	data, fp, err := read(path, o.AllowEmpty)
	if err != nil {
		return nil, err
	}
	if err := load(ctx, data); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &Watcher{cancel: cancel, done: make(chan struct{})}
	// Loads keep the caller's context values (its principal) but not
	// wctx's cancellation by Close, so that Close does not fail a load
	// half way: the loader's own atomic swap decides.
	go w.run(wctx, ctx, load, path, o, fp)
	return w, nil
}

func (w *Watcher) run(ctx, loadCtx context.Context, load LoadFunc, path string, o Options, last fingerprint) {
	defer close(w.done)
	tick := o.Tick
	if tick == nil {
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		tick = t.C
	}
	fail := func(err error) {
		w.errors.Add(1)
		if o.OnError != nil {
			o.OnError(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		last = w.check(loadCtx, load, path, o, last, fail)
		w.checks.Add(1)
	}
}

// check reads the file once and loads it if it changed since last; it
// returns the fingerprint the next check compares with.
func (w *Watcher) check(loadCtx context.Context, load LoadFunc, path string, o Options, last fingerprint, fail func(error)) fingerprint {
	data, fp, err := read(path, o.AllowEmpty)
	if fp == last {
		return last // nothing changed since the last attempt
	}
	if err != nil {
		fail(err)
		return fp
	}
	if err := load(context.WithoutCancel(loadCtx), data); err != nil {
		fail(err)
		return fp
	}
	w.reloads.Add(1)
	if o.OnReload != nil {
		o.OnReload()
	}
	return fp
}

// Close ends the watch and waits for its goroutine to return, or for ctx to
// end. It is idempotent.
func (w *Watcher) Close(ctx context.Context) error {
	w.once.Do(w.cancel)
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the watch has ended.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Stats returns the counts so far.
func (w *Watcher) Stats() Stats {
	return Stats{Reloads: w.reloads.Load(), Errors: w.errors.Load(), Checks: w.checks.Load()}
}

// fingerprint identifies one version of the file as last tried: the hash
// of its contents (zero when it was not read) and the error it gave. A new
// inode, mode or modification time with the same fingerprint is not loaded
// again; a refused file that was made safe is.
type fingerprint struct {
	sum [32]byte
	err string
}

// read opens path, checks the open file's owner and mode, and reads it from
// the same descriptor, so that a file swapped in between is not loaded
// unchecked. It refuses a file that is not regular, is group- or
// world-writable, is owned by another user than the process's or root, is
// larger than MaxFileSize, or (unless allowEmpty) holds only white space.
// The fingerprint identifies what was read, even on error.
func read(path string, allowEmpty bool) ([]byte, fingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fingerprint{err: err.Error()}, &semevent.FileError{Path: path, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fingerprint{err: err.Error()}, &semevent.FileError{Path: path, Err: err}
	}
	var fp fingerprint
	uid := uint32(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid = st.Uid
	}
	refuse := func(cause error, format string, args ...any) ([]byte, fingerprint, error) {
		fe := &semevent.FileError{Path: path, Msg: fmt.Sprintf(format, args...), Err: cause}
		fp.err = fe.Error()
		return nil, fp, fe
	}
	switch {
	case !fi.Mode().IsRegular():
		return refuse(semevent.ErrUnsafeFile, "not a regular file (mode %v)", fi.Mode())
	case fi.Mode().Perm()&0o022 != 0:
		return refuse(semevent.ErrUnsafeFile, "mode %#o is group- or world-writable", fi.Mode().Perm())
	case !ownerOK(uid):
		return refuse(semevent.ErrUnsafeFile, "owned by uid %d, not by uid %d or root", uid, os.Geteuid())
	case fi.Size() > MaxFileSize:
		return refuse(semevent.ErrUnsafeFile, "%d bytes, more than %d", fi.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return refuse(err, "read")
	}
	fp.sum = sha256.Sum256(data)
	if len(data) > MaxFileSize {
		return refuse(semevent.ErrUnsafeFile, "more than %d bytes", MaxFileSize)
	}
	if !allowEmpty && len(bytes.TrimSpace(data)) == 0 {
		return refuse(semevent.ErrEmptyFile, "%d bytes of white space; set AllowEmpty to load an empty rule set", len(data))
	}
	return data, fp, nil
}

func ownerOK(uid uint32) bool {
	return uid == 0 || int(uid) == os.Geteuid() || int(uid) == os.Getuid()
}
