package routing

import (
	"context"
	"errors"
	"time"

	"github.com/vexfs/semevent/internal/reload"
)

// WatchOptions configure [Watch]. The zero value and nil mean defaults.
type WatchOptions struct {
	// Interval between checks of the file. Default 1s.
	Interval time.Duration
	// AllowEmpty lets an empty or white-space-only file be loaded as an
	// empty rule set, which routes every event nowhere. By default such a
	// file is refused with a *semevent.FileError wrapping
	// semevent.ErrEmptyFile: a truncated file would otherwise drop every
	// route.
	AllowEmpty bool
	// OnReload is called after a changed file was loaded, with the new
	// version.
	OnReload func(version uint64)
	// OnError is called when a changed file is refused, cannot be read or
	// is invalid; the current rule set keeps running, and
	// [Watcher.Stats] counts the error.
	OnError func(err error)
}

// Validate lists every problem in o.
func (o *WatchOptions) Validate() error {
	if o == nil {
		return nil
	}
	return (&reload.Options{Interval: o.Interval}).Validate("routing.WatchOptions")
}

// Watcher polls a rule set file and reloads a [Table] when it changes. Its
// methods are safe for concurrent use.
type Watcher struct {
	w *reload.Watcher
}

// WatchStats counts what a [Watcher] did.
type WatchStats struct {
	Reloads uint64 // changed files loaded after the first load
	Errors  uint64 // refused, unreadable or invalid files after the first load
}

// Watch loads the rule set file name into t, then checks it every
// Interval and loads it again when its contents (or owner or mode) change,
// until ctx ends or [Watcher.Close] is called. The first load is
// synchronous: its error is returned and nothing is started. Watching
// polls (read the file, compare it with the last version tried), so it
// works for editors that replace files and on every file system; rule set
// files are small. Replace the file atomically (write a temporary file,
// rename it over the old one), or Watch may load a half-written file.
//
// # Security
//
// Every reload runs under ctx as it was when Watch was called: with the
// [Options].Guard of t, the principal in ctx (an admin, typically) is the
// one that authorizes every later reload, so whoever can write the file
// changes the routes with that authority. Watch therefore refuses, before
// every load including the first, a file that is group- or world-writable
// or that is owned by another user than the process's or root (a
// *semevent.FileError wrapping semevent.ErrUnsafeFile), and an empty
// file unless AllowEmpty is set (semevent.ErrEmptyFile). Keep the
// directory holding the file writable by its owner only as well.
func Watch(ctx context.Context, t *Table, name string, opts *WatchOptions) (*Watcher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	ro := &reload.Options{Interval: o.Interval, AllowEmpty: o.AllowEmpty, OnError: o.OnError}
	if o.OnReload != nil {
		ro.OnReload = func() { o.OnReload(t.Version()) }
	}
	w, err := reload.Watch(ctx, func(ctx context.Context, data []byte) error {
		return t.loadData(ctx, name, data)
	}, name, ro)
	if err != nil {
		return nil, err
	}
	return &Watcher{w: w}, nil
}

// loadData parses data, the contents of the file name, and loads it.
// Errors in the file name it as their Source.
func (t *Table) loadData(ctx context.Context, name string, data []byte) error {
	rs, err := ParseRuleSet(data)
	if err == nil {
		err = t.LoadContext(ctx, rs)
	}
	var rse *RuleSetError
	if errors.As(err, &rse) {
		rse.Source = name
	}
	return err
}

// Close ends the watch and waits for its goroutine to return, or for ctx
// to end. It is idempotent.
func (w *Watcher) Close(ctx context.Context) error { return w.w.Close(ctx) }

// Done is closed when the watch has ended.
func (w *Watcher) Done() <-chan struct{} { return w.w.Done() }

// Stats returns the watcher's counts so far.
func (w *Watcher) Stats() WatchStats {
	s := w.w.Stats()
	return WatchStats{Reloads: s.Reloads, Errors: s.Errors}
}
