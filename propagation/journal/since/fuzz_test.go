package since_test

import (
	"context"
	"errors"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

// FuzzParseCursor checks that any string either parses or yields a
// *CursorError, and that what parses survives a round trip.
func FuzzParseCursor(f *testing.F) {
	f.Add(since.Cursor{}.String())
	f.Add(since.Cursor{Instance: [16]byte{0xde, 0xad}, Shard: 3, Offset: 1 << 33}.String())
	f.Add("c1.")
	f.Add("c1.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := since.ParseCursor(s)
		if err != nil {
			var ce *since.CursorError
			if !errors.As(err, &ce) || !errors.Is(err, since.ErrBadCursor) {
				t.Fatalf("ParseCursor(%q) = %v, want a *CursorError", s, err)
			}
			return
		}
		back, err := since.ParseCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseCursor(%q) = %#v; its String %q parses as %#v, %v", s, c, c.String(), back, err)
		}
	})
}

// FuzzQuery checks that any glob and cursor either yield a typed error or
// an answer whose changes all match the glob (or lie on the way to paths
// it may match), and never panic.
func FuzzQuery(f *testing.F) {
	j, err := journal.Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer j.Close(context.Background())
	start := since.Now(j, 0)
	evs := []*semevent.Event{
		{Kind: semevent.KindDirCreate, Path: "/d/n"},
		{Kind: semevent.KindFileCreate, Path: "/d/n/f.txt"},
		{Kind: semevent.KindFileWrite, Path: "/d/a/g.txt"},
		{Kind: semevent.KindFileRename, Path: "/d/b", OldPath: "/d/a"},
		{Kind: semevent.KindFileDelete, Path: "/e/x"},
		{Kind: semevent.KindFileRename, Path: "rel/y", OldPath: "rel/x"},
	}
	if _, err := j.AppendBatch(context.Background(), evs); err != nil {
		f.Fatal(err)
	}
	f.Add("/d/**", start)
	f.Add("**/*.txt", start)
	f.Add("/d/[a-c]/*", start)
	f.Add("/d/[", start)
	f.Add("rel/?", "c1.x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, g, cursor string) {
		res, err := since.Query(context.Background(), j, cursor, &since.Options{Glob: g})
		if err != nil {
			if !errors.Is(err, semevent.ErrInvalidOptions) && !errors.Is(err, since.ErrBadCursor) {
				t.Fatalf("Query(glob %q, cursor %q): untyped error %v", g, cursor, err)
			}
			return
		}
		if _, err := since.ParseCursor(res.Cursor); err != nil {
			t.Fatalf("Query returned cursor %q that does not parse: %v", res.Cursor, err)
		}
		all, err := since.Query(context.Background(), j, cursor, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Changes) > len(all.Changes) || res.Fresh != all.Fresh {
			t.Fatalf("glob %q: %d changes (fresh %v), without it %d (fresh %v)", g, len(res.Changes), res.Fresh, len(all.Changes), all.Fresh)
		}
	})
}
