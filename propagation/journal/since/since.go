package since

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
	"github.com/vexfs/semevent/propagation/journal"
)

// Op is the net change at one path.
type Op uint8

// The net changes.
const (
	// Created: the path holds a file or directory created after the cursor
	// (it may replace one that was there).
	Created Op = iota + 1
	// Modified: the path holds what it held at the cursor (or, below a
	// renamed directory, what that directory brought along), and it was
	// written, truncated, or had its mode or extended attributes changed.
	Modified
	// Deleted: the path held something at the cursor (as far as the
	// journal can tell) and holds nothing now. Paths below it hold nothing
	// either.
	Deleted
	// Renamed: the path holds what was at OldPath at the cursor, with
	// everything below it: OldPath/x is now Path/x unless a change for
	// Path/x says otherwise.
	Renamed
)

func (o Op) String() string {
	switch o {
	case Created:
		return "created"
	case Modified:
		return "modified"
	case Deleted:
		return "deleted"
	case Renamed:
		return "renamed"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// MarshalText returns the op's name ("created", …), as String.
func (o Op) MarshalText() ([]byte, error) {
	if o < Created || o > Renamed {
		return nil, fmt.Errorf("since: no name for %v", o)
	}
	return []byte(o.String()), nil
}

// UnmarshalText parses a name MarshalText returns.
func (o *Op) UnmarshalText(b []byte) error {
	for op := Created; op <= Renamed; op++ {
		if op.String() == string(b) {
			*o = op
			return nil
		}
	}
	return fmt.Errorf("since: unknown op %q", b)
}

// Change is the net change at one path between a cursor and now.
type Change struct {
	Op       Op     `json:"op"`
	Path     string `json:"path"`               // the path now
	OldPath  string `json:"old_path,omitempty"` // Renamed: the path at the cursor of what Path holds
	Modified bool   `json:"modified,omitempty"` // Renamed: what moved was also modified
}

// FreshReason says why a query could not answer relative to its cursor;
// the caller must rescan what it keeps and continue from [Result.Cursor].
type FreshReason uint8

// The reasons.
const (
	NotFresh FreshReason = iota
	// FreshNoCursor: the query was given no cursor (a first query).
	FreshNoCursor
	// FreshOtherInstance: the cursor names another journal instance (the
	// directory was recreated, or it is another journal).
	FreshOtherInstance
	// FreshOtherShard: the cursor names another shard.
	FreshOtherShard
	// FreshRetention: records after the cursor were deleted by retention.
	FreshRetention
	// FreshAhead: the cursor is past the journal's end; records it had
	// seen were lost (a torn tail cut after a crash, with a sync policy
	// that acknowledges before fsync).
	FreshAhead
	// FreshTooManyPaths: the changes name more paths than
	// [Options.MaxPaths].
	FreshTooManyPaths
)

func (r FreshReason) String() string {
	switch r {
	case NotFresh:
		return "not fresh"
	case FreshNoCursor:
		return "no cursor"
	case FreshOtherInstance:
		return "cursor from another journal instance"
	case FreshOtherShard:
		return "cursor from another shard"
	case FreshRetention:
		return "cursor older than the journal's retention"
	case FreshAhead:
		return "cursor past the journal's end"
	case FreshTooManyPaths:
		return "too many changed paths"
	}
	return fmt.Sprintf("FreshReason(%d)", uint8(r))
}

// Result is a query's answer.
type Result struct {
	// Fresh, when not NotFresh, says the journal cannot tell what changed
	// since the cursor: Changes is nil and the caller must rescan.
	Fresh FreshReason
	// Changes lists the net change per path, sorted by path component,
	// at most one per path. Paths the events never named are not listed;
	// they hold what their nearest listed ancestor implies.
	Changes []Change
	// Cursor is where the next query continues: after the last record
	// this query read. It is set for fresh results too.
	Cursor string
	// Records counts the journal records read.
	Records int
}

// Options configure [Query]. The zero value, and nil, mean defaults.
type Options struct {
	// Glob, when not empty, limits the answer to the paths it matches
	// (internal/glob syntax: *, ?, [a-z], ** as a whole segment), plus the
	// creations, deletions and renames of directories below which it may
	// match paths: those say what the paths below hold now.
	Glob string
	// Tenant selects the events read: only those whose Tenant equals it.
	// The empty tenant is the single-tenant case.
	Tenant string
	// Shard is the shard the journal holds (0 for a journal that is not a
	// Raft shard's). It is written into cursors and checked against them.
	Shard uint64
	// MaxPaths caps the paths (and their ancestors) the query tracks; a
	// query that needs more returns FreshTooManyPaths. Default
	// DefaultMaxPaths.
	MaxPaths int
}

// DefaultMaxPaths is the default [Options.MaxPaths].
const DefaultMaxPaths = 1 << 20

// Validate reports every problem with o as a *semevent.OptionsError.
func (o *Options) Validate() error {
	_, err := o.compile()
	return err
}

func (o *Options) compile() (*glob.Glob, error) {
	if o == nil {
		return nil, nil
	}
	e := &semevent.OptionsError{Options: "since.Options"}
	var g *glob.Glob
	if o.Glob != "" {
		var err error
		if g, err = glob.Compile(o.Glob); err != nil {
			var ge *glob.Error
			if errors.As(err, &ge) {
				e.Addf("Glob", "%q at byte %d: %s", ge.Pattern, ge.Pos, ge.Msg)
			} else {
				e.Addf("Glob", "%v", err)
			}
		}
	}
	if o.MaxPaths < 0 {
		e.Addf("MaxPaths", "%d is negative", o.MaxPaths)
	}
	return g, e.Err()
}

// Now returns a cursor at j's end: a query with it reports changes
// appended from now on.
func Now(j *journal.Journal, shard uint64) string {
	return Cursor{Instance: j.Instance(), Shard: shard, Offset: j.NextOffset()}.String()
}

// NewReader returns a reader of j's records after cursor, or, when j
// cannot answer from cursor, a nil reader and the reason (see
// [FreshReason]; an empty cursor is FreshNoCursor). It is for callers that
// want the events themselves rather than [Query]'s net change, such as a
// watch that replays what it journaled since a cursor and then goes on
// live. A cursor that does not parse is a *[CursorError].
func NewReader(j *journal.Journal, cursor string, shard uint64) (*journal.Reader, FreshReason, error) {
	if cursor == "" {
		return nil, FreshNoCursor, nil
	}
	c, err := ParseCursor(cursor)
	if err != nil {
		return nil, NotFresh, err
	}
	switch {
	case c.Instance != j.Instance():
		return nil, FreshOtherInstance, nil
	case c.Shard != shard:
		return nil, FreshOtherShard, nil
	}
	r, err := j.NewReader(c.Offset)
	if err != nil {
		var oe *journal.OffsetError
		if errors.As(err, &oe) {
			if c.Offset < oe.First {
				return nil, FreshRetention, nil
			}
			return nil, FreshAhead, nil
		}
		return nil, NotFresh, err
	}
	return r, NotFresh, nil
}

// Query reads j from cursor to its last readable record and returns the
// net change per path, and the cursor to continue from. A cursor that j
// cannot answer from (empty, another instance or shard, older than
// retention, past the end) yields a Result whose Fresh says why; it is
// never answered in part. A cursor that does not parse is a *[CursorError];
// bad options an *semevent.OptionsError; a corrupt record the journal's
// *journal.CorruptError. Query may run concurrently with appends; it
// stops at the end it finds and does not wait for more.
func Query(ctx context.Context, j *journal.Journal, cursor string, opts *Options) (*Result, error) {
	g, err := opts.compile()
	if err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxPaths == 0 {
		o.MaxPaths = DefaultMaxPaths
	}
	inst := j.Instance()
	fresh := func(r FreshReason) (*Result, error) {
		return &Result{Fresh: r, Cursor: Cursor{Instance: inst, Shard: o.Shard, Offset: j.NextOffset()}.String()}, nil
	}
	r, why, err := NewReader(j, cursor, o.Shard)
	if err != nil {
		return nil, err
	}
	if why != NotFresh {
		return fresh(why)
	}
	defer r.Close()
	t := newTree(o.MaxPaths)
	res := &Result{}
	var ev semevent.Event
	for {
		if res.Records%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		_, err := r.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			var oe *journal.OffsetError
			if errors.As(err, &oe) { // retention removed the segment under us
				return fresh(FreshRetention)
			}
			return nil, err
		}
		res.Records++
		if ev.Tenant != o.Tenant {
			continue
		}
		t.apply(&ev)
		if t.nodes > o.MaxPaths {
			return fresh(FreshTooManyPaths)
		}
	}
	res.Changes = t.changes(newFilter(g))
	res.Cursor = Cursor{Instance: inst, Shard: o.Shard, Offset: r.Offset()}.String()
	return res, nil
}
