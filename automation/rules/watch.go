package rules

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vexfs/semevent/internal/logx"
	"github.com/vexfs/semevent/internal/reload"
)

// WatchOptions configure [Watch]. A nil *WatchOptions means defaults.
type WatchOptions struct {
	// Interval between checks of the file. Default 1s.
	Interval time.Duration
	// AllowEmpty lets an empty or white-space-only file be loaded as an
	// empty rule set, which disables every rule. By default such a file
	// is refused with a *semevent.FileError wrapping
	// semevent.ErrEmptyFile: a truncated file would otherwise drop every
	// rule.
	AllowEmpty bool
	// OnReload is called after a changed file was loaded.
	OnReload func()
	// OnError is called when a changed file is refused, cannot be read or
	// is invalid; the current rule set keeps running, and
	// [Watcher.Stats] counts the error. Nil: the engine's
	// Options.OnError.
	OnError func(err error)
}

// Validate lists every problem in o.
func (o *WatchOptions) Validate() error {
	if o == nil {
		return nil
	}
	return (&reload.Options{Interval: o.Interval}).Validate("rules.WatchOptions")
}

// Watcher polls a rule file and reloads an [Engine] when it changes. Its
// methods are safe for concurrent use.
type Watcher struct {
	w *reload.Watcher
}

// WatchStats counts what a [Watcher] did.
type WatchStats struct {
	Reloads uint64 // changed files loaded after the first load
	Errors  uint64 // refused, unreadable or invalid files after the first load
}

// Watch loads the rule file at path into e, then checks it every Interval
// and loads it again when its contents (or owner or mode) change, until
// ctx ends or [Watcher.Close] is called. The first load is synchronous:
// its error is returned and nothing is started. A change that is refused,
// does not parse or does not compile is reported to OnError and leaves the
// active rule set in place; the next change is tried again. Replace the
// file atomically (write a temporary file, rename it over the old one), or
// Watch may load a half-written file. routing.Watch has the same shape
// and the same checks.
//
// # Security
//
// Every reload runs under ctx as it was when Watch was called: with
// Options.Guard set, the principal in ctx (an admin, typically) authorizes
// every later reload, so whoever can write the file changes the rules —
// and the actions they run — with that authority. Watch therefore
// refuses, before every load including the first, a file that is group-
// or world-writable or owned by another user than the process's or root
// (a *semevent.FileError wrapping semevent.ErrUnsafeFile), and an empty
// file unless AllowEmpty is set (semevent.ErrEmptyFile). Keep the
// directory holding the file writable by its owner only as well.
func Watch(ctx context.Context, e *Engine, path string, opts *WatchOptions) (*Watcher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	report := o.OnError
	if report == nil {
		report = e.onErr
	}
	o.OnError = func(err error) {
		e.log.LogAttrs(ctx, slog.LevelError, "rule file refused; the previous rules stay", slog.String(logx.Path, path), slog.Any(logx.Err, err))
		if report != nil {
			report(err)
		}
	}
	ro := &reload.Options{Interval: o.Interval, AllowEmpty: o.AllowEmpty, OnReload: o.OnReload, OnError: o.OnError}
	w, err := reload.Watch(ctx, func(ctx context.Context, data []byte) error {
		return e.loadData(ctx, path, data)
	}, path, ro)
	if err != nil {
		e.reloadErrs.Add(1)
		return nil, err
	}
	return &Watcher{w: w}, nil
}

// loadData parses data, the contents of the file at path, and loads it.
func (e *Engine) loadData(ctx context.Context, path string, data []byte) error {
	rs, err := ParseRuleSet(data)
	if err != nil {
		e.reloadErrs.Add(1)
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := e.LoadContext(ctx, rs); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
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
