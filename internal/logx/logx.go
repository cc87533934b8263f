// Package logx holds what every semevent package shares about logging
// through log/slog: the nil rule, the attribute keys and a limiter for
// logs that would otherwise fire once per event.
//
// The rule, stated once in the root package's doc ("# Logging") and in
// each Options.Logger field: a nil *slog.Logger means slog.Default(), read
// when the component is constructed; a program silences a component with
// slog.New(slog.DiscardHandler).
package logx

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Attribute keys used by every package, so that one query finds a
// subscription's or a segment's lines wherever they come from.
const (
	Component    = "component"    // the package or part that logs: "bus", "journal", "fusebridge", …
	Err          = "err"          // the error
	Subscription = "subscription" // a bus subscription's name
	Segment      = "segment"      // a journal segment's file name
	Offset       = "offset"       // a byte offset or journal position
	Tenant       = "tenant"       // the event's tenant
	Event        = "event"        // an event's ID
	Path         = "path"         // a file path
	Dir          = "dir"          // a directory (a journal's, a watched tree's)
	Count        = "count"        // how many (drops, records, …) since the previous line
	Total        = "total"        // how many in all
	Reason       = "reason"       // why (a drop reason, a fallback reason)
	Rule         = "rule"         // a rule's or pattern's name
	Workflow     = "workflow"     // a workflow's name
	Step         = "step"         // a workflow step's name
	Shard        = "shard"        // a Raft shard
	Node         = "node"         // a cluster node id
)

// Or returns l, or slog.Default() when l is nil.
func Or(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// For returns l (or slog.Default()) with the component attribute set.
func For(l *slog.Logger, component string) *slog.Logger {
	return Or(l).With(Component, component)
}

// Enabled reports whether l logs at level; it does not allocate.
func Enabled(l *slog.Logger, level slog.Level) bool {
	return l != nil && l.Enabled(context.Background(), level)
}

// DefaultEvery is how often a [Limiter] lets a summary line through.
const DefaultEvery = 10 * time.Second

// Limiter lets the first of a stream of repeated occurrences be logged,
// then at most one line per interval, which reports how many occurred
// since the previous line. It is safe for concurrent use and does not
// allocate. The zero value logs the first occurrence and then one per
// DefaultEvery.
type Limiter struct {
	Every time.Duration // 0 means DefaultEvery

	next    atomic.Int64  // unix ns before which nothing is logged; 0 = never logged
	pending atomic.Uint64 // occurrences not yet reported
}

// Note counts one occurrence at now (Unix nanoseconds, from the
// component's clock) and reports whether to log it, with how many
// occurrences (this one included) the line stands for.
func (l *Limiter) Note(now int64) (n uint64, log bool) {
	l.pending.Add(1)
	t, next := now, l.next.Load()
	if next != 0 && t < next {
		return 0, false
	}
	every := l.Every
	if every <= 0 {
		every = DefaultEvery
	}
	if !l.next.CompareAndSwap(next, t+int64(every)) {
		return 0, false
	}
	// Take what accumulated; concurrent Notes after the swap count
	// toward the next line.
	return l.pending.Swap(0), true
}
