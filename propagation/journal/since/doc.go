// Package since answers "what changed since?" from a journal: given a
// cursor (an opaque string naming a journal instance, a shard and an
// offset) and an optional path glob, [Query] returns the net change per
// path since that position — created, modified, deleted, renamed (old →
// new) — and a new cursor to continue from, like Watchman's since query.
//
// # Usage
//
//	cur := since.Now(j, 0) // remember this, e.g. with the index it describes
//	...
//	res, err := since.Query(ctx, j, cur, &since.Options{Glob: "/data/**"})
//	if err != nil {
//		return err // a bad cursor or glob, a corrupt journal
//	}
//	if res.Fresh != since.NotFresh {
//		rescan() // the journal cannot tell: see FreshReason
//	} else {
//		for _, c := range res.Changes { apply(c) }
//	}
//	cur = res.Cursor
//
// # The answer
//
// The answer compares the tree at the cursor with the tree at the end of
// the journal, path by path, as the journal's create, write, truncate,
// chmod, xattr, delete and rename events (files and directories) tell it;
// opens, reads, closes and semantic kinds change nothing. It is coalesced:
// a path created and then deleted is not listed, several writes are one
// [Modified], and a path that ends where it started (renamed away and
// back, unmodified) is not listed. Each path appears at most once, and
// renames are simultaneous: [Change.OldPath] names the tree at the
// cursor, [Change.Path] the tree now, so a swap (a→t, b→a, t→b) is two
// renames. A path that is not listed holds what its nearest listed
// ancestor implies: below a [Renamed] directory, what was at the same
// place below its OldPath; below a [Created] or [Deleted] one, nothing
// (the created tree's paths are listed one by one); with no listed
// ancestor, what it held at the cursor. So `rm -r d` is one Deleted d, and
// `mv a b` is Renamed b ← a plus Deleted a, however large the tree.
//
// One thing the journal cannot tell: whether a rename's destination held
// something that the rename replaced, when no event had named that path.
// Such a path is assumed to have held something, so that its absence
// later is reported as [Deleted] (a spurious Deleted costs a consumer a
// no-op; a missed one would leave it a stale path).
//
// The answer is never partial. A cursor that the journal cannot answer from
// — none, another journal instance (the directory was recreated), another
// shard, older than retention, past the journal's end — gives a [Result]
// whose Fresh says why, with no changes and a cursor at the journal's end:
// the caller rescans. So does a query that would track more than
// [Options.MaxPaths] paths. A corrupt record fails the query with the
// journal's *journal.CorruptError.
//
// # Guarantees, as tested
//
// TestQueryMatchesBruteForce journals random histories on a concrete model
// of a file system (creates, writes, chmods and deletes of files and
// directories, renames of files and of whole directories, over existing
// targets too, reads, another tenant's events) and checks, for every path
// either side knows, that what the answer implies equals a brute-force
// replay; that every listed change is true and every Deleted needed; and
// that a glob-filtered answer implies the same for every path the glob
// matches. 300 histories per run (SEMEVENT_SINCE_ITERS=N for more), two
// consecutive queries each.
//
// # Concurrency
//
// Query may run concurrently with appends and with other queries: it reads
// up to the last record readable when it reaches it and does not wait.
// It reads only the events of [Options.Tenant].
//
// # Errors
//
// A cursor that does not parse is a *[CursorError] wrapping
// [ErrBadCursor]; bad options, a malformed glob included, a
// *semevent.OptionsError wrapping semevent.ErrInvalidOptions.
package since
